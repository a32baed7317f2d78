"""A cascade plan as one Query API request: an engine-neutral tree of nested prefetches, run by either adapter.

Qdrant runs a query's prefetches first and its own query over what they return, so a cascade nests:

    final     Formula(w_c * $score[0] + w_b * $score[1] ...)       (or: one rerank space's Nearest)
    norm      DBSF over one list (scales it mean +- 3 sd -> 0..1)
    rerank    Nearest(body) over the candidates                    (stage 2, exact MaxSim)
    stage 1   the candidate spaces fused, limit `candidates`:
              unweighted DBSF or weighted RRF natively; weighted DBSF as a Formula over each
              space's list normalised by a one-list DBSF (exactly app.domain.fusion.dbsf)

The stage-1 subtree is repeated under each branch that needs it (a tree has no shared nodes): the
candidate searches run once per rerank space, plus once when the final formula weighs stage 1.

A plan can instead run `staged` (the default, `search.cascade_requests`): each stage-1 space's own list,
fused here (app.domain.cascade.first_stage, which normalises a sparse list as complete: no engine request
can, so such a stage 1 always runs staged), then each rerank space scores exactly those candidates
(`Among`: a has-id filter, no index search) in a second batch, and the final formula is computed here with
the same math (app.domain.cascade.final_scores). Two requests instead of one, but the candidate searches
run once (benchmarks/results/cascade-100k-staged).

Each adapter translates the tree into its engine's types (app.store.edge_query, app.store.qdrant_query).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.domain.cascade import CANDIDATES, final_scores, first_stage
from app.domain.plan import QueryPlan, SpaceQuery
from app.store.runner import TIE_SLACK, ranked, tie_cut
from app.store.types import Hit, QueryResult, StoredPoint, with_payloads


@dataclass(frozen=True)
class Search:
    """A space's own nearest-neighbour search (through its index)."""

    space: SpaceQuery
    limit: int


@dataclass(frozen=True)
class Fuse:
    """The engine's own fusion of its children: `dbsf` (unweighted) or `rrf` (k, weights)."""

    children: tuple[Node, ...]
    method: str
    limit: int
    k: int = 60
    weights: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Rescore:
    """A space's exact score of the points its child returns (no index search)."""

    child: Node
    space: SpaceQuery
    limit: int


@dataclass(frozen=True)
class WeightedSum:
    """Score formula: the sum of weight * the child's score, 0 where a child lacks the point; with
    `max_demotion` (d), every child after the first counts at least the first's score - d."""

    children: tuple[Node, ...]
    weights: tuple[float, ...]
    limit: int
    max_demotion: float | None = None


@dataclass(frozen=True)
class Among:
    """A space's exact score of the listed points only (a has-id filter; no index search)."""

    ids: tuple[str, ...]
    space: SpaceQuery
    limit: int


Node = Search | Fuse | Rescore | WeightedSum | Among
# (tree, limit, with payload) per request -> each request's hits, in the engine's order
BatchRunner = Callable[[list[tuple[Node, int, bool]]], list[list[Hit]]]
Retrieve = Callable[[list[str]], list[StoredPoint]]


def normalized(node: Node) -> Fuse:
    """`node`'s scores scaled as DBSF scales one list (a one-list DBSF)."""
    return Fuse((node,), "dbsf", node.limit)


def stage_one(plan: QueryPlan) -> Node:
    """The candidates: the plan's spaces fused, at most `plan.candidates` points."""
    if len(plan.spaces) == 1:
        return Search(plan.spaces[0], plan.candidates)
    leaves = tuple(Search(s, plan.prefetch_limit) for s in plan.spaces)
    weights = tuple(s.weight for s in plan.spaces)
    if plan.fusion == "rrf":
        return Fuse(leaves, "rrf", plan.candidates, k=plan.rrf_k, weights=weights)
    if not plan.weighted:
        return Fuse(leaves, "dbsf", plan.candidates)
    return WeightedSum(tuple(normalized(leaf) for leaf in leaves), weights, plan.candidates)


def cascade_tree(plan: QueryPlan, limit: int) -> Node:
    """The whole cascade: stage 1, its rescoring, and the final stage, `limit` hits (the formula of
    app.domain.cascade.final_scores: with `max_demotion`, stage 1's normalised score is the first term
    even at weight 0, as the floor of the others)."""
    first = stage_one(plan)
    if not plan.formula:
        return Rescore(first, plan.rerank[0], limit)
    with_first = plan.candidates_weight > 0 or plan.max_demotion is not None
    children: list[Node] = [normalized(first)] if with_first else []
    weights = [plan.candidates_weight] if with_first else []
    for s in plan.rerank:
        children.append(normalized(Rescore(first, s, plan.candidates)))
        weights.append(s.weight)
    return WeightedSum(tuple(children), tuple(weights), limit, plan.max_demotion)


def stage_trees(plan: QueryPlan) -> list[tuple[str, Node]]:
    """What `explain` asks for beside the answer: stage 1's list and each rerank space's over it."""
    first = stage_one(plan)
    return [(CANDIDATES, first)] + [(s.space, Rescore(first, s, plan.candidates)) for s in plan.rerank]


def run_cascade(plan: QueryPlan, batch: BatchRunner, retrieve: Retrieve) -> QueryResult:
    """Run a cascade plan, staged (`plan.staged`: two batches) or as one nested request; shared by
    both adapters.

    Args:
        plan: a cascade plan (`plan.rerank` not empty).
        batch: runs (tree, limit, with payload) requests in one engine batch, in order.
        retrieve: point ids -> stored points, for the payloads of a staged plan's hits.

    Returns:
        The hits (at most `plan.limit`, best first, equal scores by point id); with `explain`, each
        listed space's own list (`per_space`) and each stage's list (`stages`: `candidates` and each
        rerank space, over the candidates), from extra requests in the same batch.

    Ties: as app.store.runner.run_plan, the final stage asks for more than `limit` and, while a tie
    reaches the end of what came back, for more again. A tie at stage 1's cut is cut by the engine.
    """
    if plan.staged or plan.normalises_sparse:  # no engine request normalises a sparse list as the service does
        return run_staged(plan, batch, retrieve)
    extra: list[tuple[Node, int, bool]] = []
    if plan.explain:
        extra += [(Search(s, plan.prefetch_limit), plan.prefetch_limit, False) for s in plan.listed]
        extra += [(tree, plan.candidates, False) for _, tree in stage_trees(plan)]
    asked = plan.limit + TIE_SLACK
    while True:
        results = batch([(cascade_tree(plan, asked), asked, True), *extra])
        main = ranked(results[0])
        if not tie_cut(main, plan.limit, asked):
            break
        asked *= 2
    lists = [ranked(hits) for hits in results[1:]]
    per_space = dict(zip((s.space for s in plan.listed), lists, strict=False)) if plan.explain else {}
    names = [name for name, _ in stage_trees(plan)] if plan.explain else []
    stages = dict(zip(names, lists[len(plan.listed):], strict=True)) if plan.explain else {}
    return QueryResult(hits=main[: plan.limit], per_space=per_space, stages=stages)


def run_staged(plan: QueryPlan, batch: BatchRunner, retrieve: Retrieve) -> QueryResult:
    """A cascade in two batches: each stage-1 space's own list (with `explain`, every listed space's), fused
    here (app.domain.cascade.first_stage: a sparse list normalised at its depth, which no engine request
    does), then every rerank space's exact score of the candidates; the final stage is
    app.domain.cascade.final_scores over them, and the winners' payloads come in one retrieve.

    Returns:
        As `run_cascade`; every stage is at hand, so `explain` costs no extra search.
    """
    depth = plan.candidates if len(plan.spaces) == 1 else plan.prefetch_limit  # what first_stage reads
    searched = [(s, depth) for s in plan.spaces]
    if plan.explain:  # each listed space's own top `prefetch_limit`, reusing stage 1's where it is that
        searched += [(s, plan.prefetch_limit) for s in plan.listed if (s, plan.prefetch_limit) not in searched]
    lists = batch([(Search(s, n), n, False) for s, n in searched])
    own = {(s.space, n): ranked(hits) for (s, n), hits in zip(searched, lists, strict=True)}
    first = first_stage(plan, {s.space: [(h.id, h.score) for h in own[(s.space, depth)]] for s in plan.spaces})
    ids = tuple(pid for pid, _ in first)
    rescored = batch([(Among(ids, s, len(ids)), len(ids), False) for s in plan.rerank]) if ids else \
        [[] for _ in plan.rerank]
    stages = {CANDIDATES: [Hit(id=pid, score=score) for pid, score in first]} | \
        {s.space: ranked(hits) for s, hits in zip(plan.rerank, rescored, strict=True)}
    final = final_scores(plan, {name: [(h.id, h.score) for h in hits] for name, hits in stages.items()})
    hits = with_payloads(final, plan.limit, retrieve)
    if not plan.explain:
        return QueryResult(hits=hits)
    per_space = {s.space: own[(s.space, plan.prefetch_limit)] for s in plan.listed}
    return QueryResult(hits=hits, per_space=per_space, stages=stages)
