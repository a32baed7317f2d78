"""Search: plan -> encode the query once per model -> one store request -> hits, explained."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from app.domain.fusion import dbsf_normalize
from app.domain.plan import Filter, QueryPlan, build_plan
from app.encoders.fastembed_encoder import EncoderPool
from app.services.registry import RegistryRepo
from app.settings import Settings
from app.store.base import QueryResult, Store


@dataclass(frozen=True)
class SearchRequest:
    query: str
    limit: int | None = None
    fields: list[str] | None = None
    fusion: str | None = None
    weights: dict[str, float] | None = None
    filter: Filter = field(default_factory=Filter)
    explain: bool = False
    rrf_k: int | None = None
    versions: dict[str, str] | None = None  # pin a space to a version (validation, A/B)


@dataclass
class SearchResponse:
    hits: list[dict[str, Any]]
    plan: dict[str, Any] | None = None
    timings_ms: dict[str, float] | None = None


class SearchService:
    def __init__(self, *, store: Store, encoders: EncoderPool, registry: RegistryRepo, settings: Settings) -> None:
        self.store = store
        self.encoders = encoders
        self.registry = registry
        self.settings = settings

    def plan(self, req: SearchRequest) -> QueryPlan:
        s = self.settings.search
        # Explicit weights replace the defaults; defaults apply only to a search that names none.
        weights = req.weights if req.weights is not None else dict(s.weights)
        return build_plan(
            self.registry.get(),
            fields=req.fields or s.default_fields,
            fusion=(req.fusion or s.fusion),  # type: ignore[arg-type]
            rrf_k=req.rrf_k or s.rrf_k,
            weights=weights,
            limit=req.limit or s.default_limit,
            prefetch_limit=s.prefetch_limit,
            filter=req.filter,
            explain=req.explain,
            versions=req.versions,
        )

    def encode_query(self, plan: QueryPlan, text: str) -> dict[str, Any]:
        """One query embedding per model, shared by every space of that model."""
        by_model: dict[str, Any] = {}
        vectors: dict[str, Any] = {}
        for s in plan.spaces:
            if s.model not in by_model:
                by_model[s.model] = self.encoders.get(s.model).embed_query(text)
            vectors[s.vector_name] = by_model[s.model]
        return vectors

    def run(self, plan: QueryPlan, text: str) -> tuple[QueryResult, dict[str, float]]:
        t0 = time.perf_counter()
        vectors = self.encode_query(plan, text)
        t1 = time.perf_counter()
        result = self.store.query(self.registry.alias, plan, vectors)
        t2 = time.perf_counter()
        return result, {"encode": (t1 - t0) * 1000, "store": (t2 - t1) * 1000}

    def search(self, req: SearchRequest) -> SearchResponse:
        t0 = time.perf_counter()
        plan = self.plan(req)
        result, timings = self.run(plan, req.query)
        hits = [self._hit(h.id, h.score, h.payload or {}) for h in result.hits]
        if not plan.explain:
            return SearchResponse(hits=hits)
        for hit in hits:
            hit["explain"] = explain_hit(plan, result, hit["point_id"])
        timings["total"] = (time.perf_counter() - t0) * 1000
        return SearchResponse(hits=hits, plan=plan.describe(), timings_ms={k: round(v, 2) for k, v in timings.items()})

    @staticmethod
    def _hit(pid: str, score: float, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": payload.get("doc_id"),
            "point_id": pid,
            "score": score,
            "title": payload.get("title"),
            "summary": payload.get("summary"),
            "metadata": payload.get("metadata", {}),
        }


def explain_hit(plan: QueryPlan, result: QueryResult, pid: str) -> dict[str, Any]:
    """Each space's rank and raw score for the hit, and what it added to the fused score."""
    out: dict[str, Any] = {}
    for s in plan.spaces:
        ranked = result.per_space.get(s.space, [])
        entry: dict[str, Any] = {"rank": None, "score": None, "contribution": 0.0}
        for pos, h in enumerate(ranked):
            if h.id == pid:
                entry["rank"], entry["score"] = pos + 1, h.score
                if plan.fusion == "rrf":
                    entry["contribution"] = 1.0 / ((pos + 1.0) / s.weight + plan.rrf_k - 1.0)
                else:
                    norm = dict(dbsf_normalize([(x.id, x.score) for x in ranked]))
                    entry["contribution"] = s.weight * norm[pid]
                break
        out[s.space] = entry
    return out
