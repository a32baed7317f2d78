"""Calibrated similarity thresholds on a search's hits: keep those some searched space scored high enough."""

from __future__ import annotations

from typing import Any

from app.domain.plan import QueryPlan
from app.domain.profiles import passes
from app.store.base import QueryResult


def apply_thresholds(plan: QueryPlan, result: QueryResult, hits: list[dict[str, Any]],
                     thresholds: dict[str, float]) -> tuple[list[dict[str, Any]], str | None]:
    """Keep the hits some searched space scored at or above its version's threshold.

    Args:
        plan: the plan searched (its fused spaces vote).
        result: the store's answer, with each space's own list (raw scores).
        hits: the answer's hits (dicts with `point_id`), best first.
        thresholds: vector version -> calibrated threshold (app.domain.profiles.voting_thresholds).

    Returns:
        The hits kept, and a note saying what was dropped, or why nothing could be (None: nothing to say).
    """
    if not thresholds:
        return hits, ("no calibrated threshold for the searched vector versions ("
                      + ", ".join(s.vector_name for s in plan.spaces) + "): hits are not filtered")
    scores = {s.vector_name: {h.id: h.score for h in result.per_space.get(s.space, [])} for s in plan.spaces}
    kept = [h for h in hits if passes({v: by_id.get(h["point_id"]) for v, by_id in scores.items()}, thresholds)]
    rule = ", ".join(f"{v} >= {t:.4g}" for v, t in thresholds.items())
    if not kept and hits:
        return [], (f"no hit passed the similarity threshold (any of: {rule}); "
                    f"{len(hits)} hit(s) below it were dropped")
    if len(kept) < len(hits):
        return kept, f"{len(hits) - len(kept)} hit(s) below the similarity threshold dropped (any of: {rule})"
    return kept, None
