"""A cascade's request tree (app.store.cascade) in qdrant-client's types: nested `Prefetch`, `FormulaQuery`, fusions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qdrant_client import models as qm

from app.domain.plan import SpaceQuery
from app.store.cascade import Among, Fuse, Node, Rescore, Search
from app.store.translate import to_vector
from app.store.types import Hit, VectorValue


class QdrantTrees:
    """Translates trees for one query: its vectors, payload filter and search params.

    Args:
        vectors: vector name -> the query's embedding.
        flt: the payload filter (or None), set on every level.
        params: search params for dense vectors (quantization rescoring), or None.
    """

    def __init__(self, vectors: dict[str, VectorValue], flt: qm.Filter | None, params: qm.SearchParams | None) -> None:
        self.vectors, self.flt, self.params = vectors, flt, params

    def vector(self, s: SpaceQuery) -> Any:
        """The query's vector for space `s` (a multivector query is one vector here)."""
        v = to_vector(qm, self.vectors[s.vector_name])
        return [v] if s.kind == "multi" else v

    def space_params(self, s: SpaceQuery) -> qm.SearchParams | None:
        """Search params for space `s`: rescoring of quantized dense vectors (None for sparse)."""
        return None if s.kind == "sparse" else self.params

    def _parts(self, node: Node) -> dict[str, Any]:
        """The fields a `Prefetch` and a `QueryRequest` share: query, using, prefetch, params, filter."""
        parts: dict[str, Any] = {"filter": self.flt}
        if isinstance(node, Among):  # the listed points only (stage 1 applied the payload filter already)
            parts["filter"] = qm.Filter(must=[qm.HasIdCondition(has_id=list(node.ids))])
        if isinstance(node, Search | Rescore | Among):
            parts |= {"query": self.vector(node.space), "using": node.space.vector_name,
                      "params": self.space_params(node.space)}
            if isinstance(node, Rescore):
                parts["prefetch"] = [self.prefetch(node.child)]
            return parts
        parts["prefetch"] = [self.prefetch(k) for k in node.children]
        if isinstance(node, Fuse):
            parts["query"] = (qm.RrfQuery(rrf=qm.Rrf(k=node.k, weights=list(node.weights or ())))
                              if node.method == "rrf" else qm.FusionQuery(fusion=qm.Fusion.DBSF))
        else:
            score: list[Any] = [f"$score[{i}]" for i in range(len(node.weights))]
            if node.max_demotion is not None:  # each term after the first: max(its score, the first's - d)
                floor = qm.SumExpression(sum=[score[0], -node.max_demotion])
                score[1:] = [qm.MaxExpression(max=[x, floor]) for x in score[1:]]
            terms: list[Any] = [qm.MultExpression(mult=[w, x]) for w, x in zip(node.weights, score, strict=True)]
            parts["query"] = qm.FormulaQuery(formula=qm.SumExpression(sum=terms),
                                             defaults={f"$score[{i}]": 0.0 for i in range(len(terms))})
        return parts

    def prefetch(self, node: Node) -> qm.Prefetch:
        """`node` as a `Prefetch` (its children nested)."""
        return qm.Prefetch(limit=node.limit, **self._parts(node))

    def request(self, node: Node, limit: int, payload: bool) -> qm.QueryRequest:
        """`node` as the top of a `QueryRequest` answering `limit` points."""
        return qm.QueryRequest(limit=limit, with_payload=payload, **self._parts(node))


def qdrant_batch(client: Any, collection: str, trees: QdrantTrees
                 ) -> Callable[[list[tuple[Node, int, bool]]], list[list[Hit]]]:
    """A `BatchRunner` (app.store.cascade) sending every tree in one `query_batch_points`."""
    def run(requests: list[tuple[Node, int, bool]]) -> list[list[Hit]]:
        responses = client.query_batch_points(collection, [trees.request(n, limit, p) for n, limit, p in requests])
        return [[Hit(id=str(p.id), score=float(p.score), payload=p.payload) for p in r.points] for r in responses]
    return run
