"""What `explain` adds to each hit: every space's rank, score and contribution, and a cascade's stages."""

from __future__ import annotations

from typing import Any

from app.domain.cascade import CANDIDATES, FINAL, rerank_contributions, stage_ranks
from app.domain.fusion import contributions
from app.domain.learned import learned_contributions
from app.domain.plan import QueryPlan
from app.store.base import QueryResult


def explain_hits(plan: QueryPlan, result: QueryResult, hits: list[dict[str, Any]]) -> None:
    """Add `explain` to each hit (a dict with `point_id` and `score`), in place.

    `hit["explain"]`: space -> `{"rank", "score", "weight", "contribution"}` for every listed space
    (app.domain.fusion.contributions; under a learned scorer also its `features` and `terms`,
    app.domain.learned.learned_contributions); in a cascade each entry also says its `stage` (`candidates`
    or `rerank`: rank and raw score among the candidates, app.domain.cascade.rerank_contributions),
    and `hit["stages"]` gives the hit's rank and score at every stage: `candidates`, each rerank
    space, `final` (None where a stage did not hold it).
    """
    pids = [hit["point_id"] for hit in hits]
    per_space = {space: [(h.id, h.score) for h in ranked] for space, ranked in result.per_space.items()}
    explained = contributions(plan, per_space, pids)
    if plan.scorer is not None:  # a learned scorer's spaces show their features and terms too
        for pid, entries in learned_contributions(per_space, plan.scorer, pids).items():
            explained[pid].update(entries)
    ranks: dict[str, dict[str, dict[str, object]]] = {}
    if plan.cascade:
        stages = {name: [(h.id, h.score) for h in ranked] for name, ranked in result.stages.items()}
        for entries in explained.values():
            for entry in entries.values():
                entry["stage"] = CANDIDATES
        for pid, entries in rerank_contributions(plan, stages, pids).items():
            explained[pid].update(entries)
        ranks = stage_ranks({**stages, FINAL: [(hit["point_id"], hit["score"]) for hit in hits]}, pids)
    for hit in hits:
        hit["explain"] = explained[hit["point_id"]]
        if plan.cascade:
            hit["stages"] = ranks[hit["point_id"]]
