"""Cascade math: what each stage of a cascade plan ranks, computed from the spaces' own scores.

The store runs a cascade as one Query API request (app.store.cascade); this module says, with the
same formulas, what that request computes, so that `explain` can show every stage, the evaluation
harness can try cascade variants offline, and the contract tests can check both store adapters
against it:

- stage 1 (`candidates`): the plan's spaces fused (weighted DBSF or RRF, app.domain.fusion), cut
  to `plan.candidates`, equal scores ordered by point id;
- stage 2: each rerank space's own score of every candidate (a candidate without that vector
  drops out of its list);
- final: one rerank space's score alone, or the score formula
  `w_c * norm(candidates) + sum(w_s * norm(s))`, where `norm` scales a stage's scores over the
  candidates as DBSF does (mean +- 3 sd -> 0..1) and a candidate missing from a stage adds 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.domain.fusion import Ranked, dbsf_normalize, fuse, zero_floors
from app.domain.plan import QueryPlan

CANDIDATES, FINAL = "candidates", "final"  # stage names beside the rerank spaces' own


def by_score(items: Mapping[str, float]) -> list[tuple[str, float]]:
    """(id, score) best first, equal scores by id: the order every stage is read in."""
    return sorted(items.items(), key=lambda item: (-item[1], item[0]))


def first_stage(plan: QueryPlan, lists: Mapping[str, Ranked]) -> list[tuple[str, float]]:
    """Stage 1: the plan's spaces' own lists (each its top `prefetch_limit`) fused, top `candidates`;
    one space alone gives its own top `candidates`.

    Args:
        plan: a cascade plan.
        lists: space -> its own ranked (id, score) list, best first.
    """
    if len(plan.spaces) == 1:
        ranked = by_score(dict(lists.get(plan.spaces[0].space, [])))
    else:
        own = [list(lists.get(s.space, []))[: plan.prefetch_limit] for s in plan.spaces]
        ranked = fuse(own, method=plan.fusion, k=plan.rrf_k, weights=[s.weight for s in plan.spaces],
                      depths=zero_floors([s.kind == "sparse" for s in plan.spaces], own, plan.prefetch_limit))
        ranked = by_score(dict(ranked))
    return ranked[: plan.candidates]


def final_scores(plan: QueryPlan, stages: Mapping[str, Ranked]) -> list[tuple[str, float]]:
    """The final stage from the others: `stages` holds `candidates` and each rerank space's list
    over the candidates (best first); returns (id, final score) best first, ties by id: one rerank
    space's own score, or the sum of each candidate's `formula_terms`."""
    if not plan.formula:
        return by_score(dict(stages.get(plan.rerank[0].space, [])))
    total: dict[str, float] = {}
    for pid, terms in formula_terms(plan, stages).items():
        total[pid] = 0.0
        for term in terms.values():  # stage 1's term first, then each rerank space's, in plan order
            total[pid] += term
    return by_score(total)


def formula_terms(plan: QueryPlan, stages: Mapping[str, Ranked]) -> dict[str, dict[str, float]]:
    """Each candidate's terms of the final formula (a plan with `formula`), which sum to its final score:
    `candidates` -> `w_c * norm(candidates)` (when w_c > 0), each rerank space s -> `w_s * norm(s)` (none where
    s has no vector for it), `norm` being a stage's scores over the candidates scaled as DBSF does.

    With `plan.max_demotion` (d), a rerank space's term is `w_s * max(norm(s), norm(candidates) - d)` (a missing
    vector counting 0): a rerank space may lower a candidate at most d (in DBSF units: 1 is 6 sd) below its
    stage-1 standing, and raise it without bound. Stage 1 ranks the one document holding a rare query word
    first, but `body`'s passages may sit far from the query's other words ("hamadryas information retrieval"),
    so that, unbounded, `body` pulled it from 1st to 15th-46th; the bound keeps it, while no judged query's top
    10 moves at 0.7 (docs/evaluation.md#rare-words).

    Returns:
        point id -> stage name (`candidates` or a rerank space) -> its term.
    """
    floor = dict(dbsf_normalize(list(stages.get(CANDIDATES, []))))
    terms: dict[str, dict[str, float]] = {pid: {} for pid, _ in stages.get(CANDIDATES, [])}
    if plan.candidates_weight > 0:
        for pid, norm in floor.items():
            terms[pid][CANDIDATES] = plan.candidates_weight * norm
    for s in plan.rerank:
        normed = dict(dbsf_normalize(list(stages.get(s.space, []))))
        if plan.max_demotion is not None:
            normed = {pid: max(normed.get(pid, 0.0), floor[pid] - plan.max_demotion) for pid in terms}
        for pid, norm in normed.items():
            terms.setdefault(pid, {})[s.space] = s.weight * norm
    return terms


def cascade_stages(plan: QueryPlan, lists: Mapping[str, Ranked],
                   scores: Mapping[str, Mapping[str, float]]) -> dict[str, list[tuple[str, float]]]:
    """Every stage of `plan` from the spaces' own scores: the reference a store's answer must match.

    Args:
        plan: a cascade plan.
        lists: each stage-1 space's own ranked list (at least its top `prefetch_limit`).
        scores: each rerank space -> point id -> its score, for (at least) every candidate; a
            candidate it has no score for lacks the vector and drops out of that stage.

    Returns:
        `candidates`, each rerank space, and `final`: (id, score) best first, equal scores by id.
    """
    stages = {CANDIDATES: first_stage(plan, lists)}
    for s in plan.rerank:
        own = scores.get(s.space, {})
        stages[s.space] = by_score({pid: own[pid] for pid, _ in stages[CANDIDATES] if pid in own})
    stages[FINAL] = final_scores(plan, stages)
    return stages


def stage_ranks(stages: Mapping[str, Sequence[tuple[str, float]]],
                pids: Sequence[str]) -> dict[str, dict[str, dict[str, object]]]:
    """For each hit, its 1-based rank and score at every stage (None where the stage lacks it).

    Returns:
        point id -> stage name -> `{"rank", "score"}`.
    """
    where = {name: {pid: (pos + 1, score) for pos, (pid, score) in enumerate(ranked)}
             for name, ranked in stages.items()}
    return {pid: {name: dict(zip(("rank", "score"), found.get(pid, (None, None)), strict=True))
                  for name, found in where.items()} for pid in pids}


def rerank_contributions(plan: QueryPlan, stages: Mapping[str, Ranked], pids: Sequence[str],
                         terms: Mapping[str, Mapping[str, float]] | None = None
                         ) -> dict[str, dict[str, dict[str, object]]]:
    """For each hit, each rerank space's rank and raw score among the candidates, its weight, and
    what it added to the final score (its raw score when it alone orders the hits); `terms`: the plan's
    `formula_terms` over `stages`, when the caller has them already.

    Returns:
        point id -> rerank space -> `{"rank", "score", "weight", "contribution", "stage": "rerank"}`.
    """
    out: dict[str, dict[str, dict[str, object]]] = {pid: {} for pid in pids}
    if terms is None:
        terms = formula_terms(plan, stages) if plan.formula else {}
    for s in plan.rerank:
        position = {pid: (pos, score) for pos, (pid, score) in enumerate(stages.get(s.space, []))}
        for pid in pids:
            found = position.get(pid)
            entry: dict[str, object] = {"rank": None, "score": None, "weight": s.weight, "contribution": 0.0,
                                        "stage": "rerank"}
            if found is not None:
                entry["rank"], entry["score"], entry["contribution"] = found[0] + 1, found[1], found[1]
            if plan.formula:
                entry["contribution"] = terms.get(pid, {}).get(s.space, 0.0)
            out[pid][s.space] = entry
    return out
