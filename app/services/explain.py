"""What `explain` adds to each hit: every space's rank, score and contribution, and a cascade's stages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from app.domain.cascade import CANDIDATES, FINAL, formula_terms, rerank_contributions, stage_ranks
from app.domain.fusion import contributions
from app.domain.learned import learned_contributions
from app.domain.plan import QueryPlan, among
from app.store.base import QueryResult, Store, VectorValue

Scores = dict[str, list[tuple[str, float]]]  # space -> (point id, score), best first


def score_hits(store: Store, collection: str, plan: QueryPlan, vectors: Mapping[str, VectorValue],
               ids: Sequence[str]) -> Scores:
    """Each of `plan.scored` (rerank-only spaces weighted 0, which have no list of their own) scores exactly
    the hits `ids`: one request, a has-id filter, no index search (as a staged cascade's rerank does).

    Args:
        vectors: vector name -> the query's vector, for every space in `plan.all_spaces`.
        ids: the answer's point ids.

    Returns:
        space -> the hits that have a vector in it, with its score (cosine or MaxSim), best first.

    Raises:
        StoreUnavailable, CollectionNotFound: from the store.
    """
    if not plan.scored or not ids:
        return {}
    scoring = replace(among(plan, ids), spaces=(), observed=plan.scored, rerank=(), scored=(), scorer=None,
                      explain=True, limit=len(ids), candidates=0, candidates_weight=0.0)
    result = store.query(collection, scoring, dict(vectors))
    return {s.space: [(h.id, h.score) for h in result.per_space.get(s.space, [])] for s in plan.scored}


def scored_entries(plan: QueryPlan, scored: Scores, pids: Sequence[str]) -> dict[str, dict[str, dict[str, object]]]:
    """point id -> scored space -> `{"rank", "score", "weight": 0, "contribution": 0, "ranked_among": "hits"}`:
    the rank is among the answer's hits (1-based, by that space's score), None where the hit has no vector there.
    A space missing from `scored` (it missed its fan-out deadline) is left out: no list is not a list of none."""
    out: dict[str, dict[str, dict[str, object]]] = {pid: {} for pid in pids}
    shown = set(pids)
    for s in (s for s in plan.scored if s.space in scored):
        among = [(pid, score) for pid, score in scored[s.space] if pid in shown]  # not hits a threshold dropped
        position = {pid: (pos, score) for pos, (pid, score) in enumerate(among)}
        for pid in pids:
            pos, score = position.get(pid, (None, None))
            out[pid][s.space] = {"rank": None if pos is None else pos + 1, "score": score, "weight": 0.0,
                                 "contribution": 0.0, "ranked_among": "hits"}
    return out


def share_stage_one(entries: dict[str, dict[str, object]], candidates_term: float) -> None:
    """A cascade's stage-1 spaces, in place: each keeps what it added to the candidates' fused score as
    `stage_contribution`, and its `contribution` becomes its share of the candidates' term of the final
    score (`candidates_term`, split as they built that score; evenly when it is 0), so every space's
    contribution adds up to the hit's score as in any plan (a tester: document 1.05 + keywords 1.59 + body
    0.94 = 3.58 beside a score of 1.96; the stage-1 numbers were contributions to another score)."""
    own = {name: _number(e["contribution"]) for name, e in entries.items()}
    total = sum(own.values())
    for name, entry in entries.items():
        entry["stage"], entry["stage_contribution"] = CANDIDATES, own[name]
        entry["contribution"] = candidates_term * own[name] / total if total else candidates_term / len(entries)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def explain_hits(plan: QueryPlan, result: QueryResult, hits: list[dict[str, Any]], scored: Scores | None = None
                 ) -> None:
    """Add `explain` to each hit (a dict with `point_id` and `score`), in place.

    `hit["explain"]`: space -> `{"rank", "score", "weight", "contribution"}` for every listed space
    (app.domain.fusion.contributions; under a learned scorer also its `features` and `terms`,
    app.domain.learned.learned_contributions); in a cascade each entry also says its `stage` (`candidates`
    or `rerank`: rank and raw score among the candidates, app.domain.cascade.rerank_contributions), and a
    stage-1 space its `stage_contribution` to the candidates' score, its `contribution` being its share of
    their term (`share_stage_one`): every space's contribution adds up to the score in every plan,
    and `hit["stages"]` gives the hit's rank and score at every stage: `candidates`, each rerank
    space, `final` (None where a stage did not hold it), and each stage but `final` its `contribution`: its
    term of the final formula (app.domain.cascade.formula_terms), which sum to the final score. A rerank-only
    space weighted 0 (`plan.scored`) is shown by `scored` (`score_hits`): its score of each hit, ranked among
    the hits.
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
        formula = formula_terms(plan, stages) if plan.formula else None  # once: the entries and the stages
        ranks = stage_ranks({**stages, FINAL: [(hit["point_id"], hit["score"]) for hit in hits]}, pids)
        terms = formula if formula is not None else \
            {pid: {plan.rerank[0].space: ranks[pid][plan.rerank[0].space]["score"] or 0.0} for pid in pids}
        for pid, entries in explained.items():
            share_stage_one(entries, _number(terms.get(pid, {}).get(CANDIDATES, 0.0)))
        for pid, entries in rerank_contributions(plan, stages, pids, formula).items():
            explained[pid].update(entries)
        for pid in pids:  # what each stage adds to the final score (they sum to it)
            for name, at in ranks[pid].items():
                if name != FINAL:
                    at["contribution"] = terms.get(pid, {}).get(name, 0.0)
    for pid, entries in scored_entries(plan, scored or {}, pids).items():
        explained[pid].update(entries)
    for hit in hits:
        hit["explain"] = explained[hit["point_id"]]
        if plan.cascade:
            hit["stages"] = ranks[hit["point_id"]]
