"""A cascade's request tree (app.store.cascade) in qdrant-edge's types: nested `Prefetch`, `Formula`, fusions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import qdrant_edge as qe

from app.domain.plan import QueryPlan, SpaceQuery
from app.store.cascade import Among, Fuse, Node, Rescore, Search
from app.store.translate import to_vector
from app.store.types import Hit, VectorValue


class EdgeTrees:
    """Translates trees for one query: its vectors, payload filter and search params.

    Args:
        vectors: vector name -> the query's embedding.
        flt: the engine's filter (or None), set on every level.
        params: search params for dense vectors (quantization rescoring), or None.
    """

    def __init__(self, vectors: dict[str, VectorValue], flt: Any, params: Any) -> None:
        self.vectors, self.flt, self.params = vectors, flt, params
        self._among: dict[tuple[str, ...], Any] = {}  # candidate ids -> their has-id filter (built once per query)

    def nearest(self, s: SpaceQuery) -> Any:
        """The query's nearest-neighbour query on space `s` (a multivector query is one vector here)."""
        vec = to_vector(qe, self.vectors[s.vector_name])
        return qe.Query.Nearest([vec] if s.kind == "multi" else vec, using=s.vector_name)

    def space_params(self, s: SpaceQuery) -> Any:
        """Search params for space `s`: rescoring of quantized dense vectors (None for sparse)."""
        return None if s.kind == "sparse" else self.params

    def _params(self, node: Node) -> Any:
        return self.space_params(node.space) if isinstance(node, Search | Rescore | Among) else None

    def _filter(self, node: Node) -> Any:
        # the listed points only (stage 1 applied the payload filter already)
        if not isinstance(node, Among):
            return self.flt
        if node.ids not in self._among:
            self._among[node.ids] = qe.Filter(must=[qe.HasIdCondition(set(node.ids))])
        return self._among[node.ids]

    def _query(self, node: Node) -> Any:
        if isinstance(node, Search | Rescore | Among):
            return self.nearest(node.space)
        if isinstance(node, Fuse):
            return qe.Fusion.Rrf(k=node.k, weights=list(node.weights or ())) if node.method == "rrf" \
                else qe.Fusion.Dbsf()
        score = [qe.Expression.Variable(f"$score[{i}]") for i in range(len(node.weights))]
        if node.max_demotion is not None:  # each term after the first: max(its score, the first's - d)
            floor = qe.Expression.Sum([score[0], qe.Expression.Constant(-node.max_demotion)])
            score[1:] = [qe.Expression.Max([x, floor]) for x in score[1:]]
        terms = [qe.Expression.Mult([qe.Expression.Constant(w), x]) for w, x in zip(node.weights, score, strict=True)]
        return qe.Formula(qe.Expression.Sum(terms), defaults={f"$score[{i}]": 0.0 for i in range(len(terms))})

    def _children(self, node: Node) -> list[Any] | None:
        if isinstance(node, Search | Among):
            return None
        kids = [node.child] if isinstance(node, Rescore) else list(node.children)
        return [self.prefetch(k) for k in kids]

    def prefetch(self, node: Node) -> Any:
        """`node` as an edge `Prefetch` (its children nested)."""
        return qe.Prefetch(limit=node.limit, query=self._query(node), prefetches=self._children(node),
                           params=self._params(node), filter=self._filter(node))

    def request(self, node: Node, limit: int, payload: bool) -> Any:
        """`node` as the top of an edge `QueryRequest` answering `limit` points."""
        return qe.QueryRequest(limit=limit, query=self._query(node), prefetches=self._children(node),
                               params=self._params(node), filter=self._filter(node), with_payload=payload)


def edge_hits(points: list[Any]) -> list[Hit]:
    """Edge's scored points as hits (id as a string, float score, payload when asked for)."""
    return [Hit(id=str(p.id), score=float(p.score), payload=p.payload) for p in points]


def edge_batch(shard: Any, trees: EdgeTrees) -> Callable[[list[tuple[Node, int, bool]]], list[list[Hit]]]:
    """A `BatchRunner` (app.store.cascade) sending every tree in one `query_batch` on `shard`."""
    def run(requests: list[tuple[Node, int, bool]]) -> list[list[Hit]]:
        batch = qe.QueryBatchRequest([trees.request(node, limit, payload) for node, limit, payload in requests])
        return [edge_hits(points) for points in shard.query_batch(batch)]
    return run


PlanBatch = Callable[[QueryPlan, bool, bool], tuple[list[Hit] | None, list[list[Hit]]]]  # app.store.runner's batch


def plan_batch(shard: Any, trees: EdgeTrees) -> PlanBatch:
    """The batch `run_plan` (app.store.runner) sends for a plan that is not a cascade, in one `query_batch`:
    with `main`, the plan's answer (one space's search, or its spaces prefetched and fused by the engine);
    with `per_space`, each listed space's own list (explain, service-side fusion)."""
    nearest, params, flt = trees.nearest, trees.space_params, trees.flt

    def batch(plan: QueryPlan, main: bool, per_space: bool) -> tuple[list[Hit] | None, list[list[Hit]]]:
        requests = []
        if main:
            if len(plan.spaces) == 1:
                requests.append(qe.QueryRequest(limit=plan.limit, query=nearest(plan.spaces[0]), filter=flt,
                                                with_payload=True, params=params(plan.spaces[0])))
            else:
                fusion: Any = (qe.Fusion.Rrf(k=plan.rrf_k, weights=[s.weight for s in plan.spaces])
                               if plan.fusion == "rrf" else qe.Fusion.Dbsf())
                prefetches = [qe.Prefetch(limit=plan.prefetch_limit, query=nearest(s), filter=flt,
                                          params=params(s)) for s in plan.spaces]
                requests.append(qe.QueryRequest(limit=plan.limit, prefetches=prefetches, query=fusion,
                                                filter=flt, with_payload=True))
        if per_space:
            requests += [qe.QueryRequest(limit=plan.prefetch_limit, query=nearest(s), filter=flt,
                                         with_payload=False, params=params(s)) for s in plan.listed]
        results = shard.query_batch(qe.QueryBatchRequest(requests))
        first = edge_hits(results[0]) if main else None
        return first, [edge_hits(r) for r in results[1 if main else 0:]]
    return batch
