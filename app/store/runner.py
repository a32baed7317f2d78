"""Run a query plan on an engine: one batch request, ties ordered by point id, fused by whoever can."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from app.domain.fusion import fused_in, needs_per_space
from app.domain.learned import fuse_plan
from app.domain.plan import QueryPlan
from app.store.base import Hit, QueryResult, StoredPoint
from app.store.types import with_payloads

BatchRunner = Callable[[QueryPlan, bool, bool], tuple[list[Hit] | None, list[list[Hit]]]]


def ranked(hits: Sequence[Hit]) -> list[Hit]:
    """Best first; equal scores by point id, so ties come back in the same order on every adapter."""
    return sorted(hits, key=lambda h: (-h.score, h.id))


def run_plan(
    plan: QueryPlan,
    fusions: frozenset[str],
    batch: BatchRunner,
    retrieve: Callable[[list[str]], list[StoredPoint]],
) -> QueryResult:
    """Run a plan as one batch request and shape the answer; shared by both adapters.

    Args:
        plan: what to search.
        fusions: the fusions the adapter's engine runs itself (`Store.fusions`).
        batch: `batch(plan, main, per_space)` sends one request holding the fused (or single-space)
            query when `main`, and each space's own query when `per_space`; it returns (main hits
            or None, per-space hits in `plan.listed` order).
        retrieve: point ids -> stored points, for the payloads of hits fused here.

    Returns:
        The hits (at most `plan.limit`, best first, equal scores by point id), and each space's own
        list when explaining or fusing here. When the store does not fuse the plan
        (app.domain.fusion.fused_in), the per-space lists are fused here with Qdrant's formulas (or
        the plan's learned scorer),
        and the winners' payloads fetched in one retrieve.

    Ties: the engine orders equal scores arbitrarily (and may cut a tie at `limit` anywhere), so
    the main query asks for more than `limit` and, while the tie at the cut reaches the end of
    what came back, for more again; hits are then ordered by score, then point id.
    """
    where = fused_in(plan, fusions)
    in_store = where == "store"
    main_query = in_store or (where == "n/a" and len(plan.spaces) == 1)  # one space, no scorer: its own query
    fetch = replace(plan, limit=plan.limit + TIE_SLACK)
    while True:
        main, lists = batch(fetch, main_query, needs_per_space(plan, fusions))
        if main is None or not tie_cut(ranked(main), plan.limit, fetch.limit):
            break
        fetch = replace(fetch, limit=fetch.limit * 2)
    lists = [ranked(hits) for hits in lists]
    per_space = {s.space: hits for s, hits in zip(plan.listed, lists, strict=False)}
    if main is None:
        fused = fuse_plan(plan, [[(h.id, h.score) for h in hits] for hits in lists[: len(plan.spaces)]])
        main = with_payloads(fused, plan.limit, retrieve)
    else:
        main = ranked(main)[: plan.limit]
    return QueryResult(hits=main, per_space=per_space if plan.explain or not in_store else {})


TIE_SLACK = 8  # extra hits asked for, so a tie at the cut is seen whole


def tie_cut(hits: list[Hit], limit: int, asked: int) -> bool:
    """True when the engine may have cut a tie at `limit` short: the hit at the cut ties with the
    last one returned, and the engine returned all that was asked (so more may tie)."""
    return len(hits) >= asked and len(hits) > limit and hits[limit - 1].score == hits[-1].score
