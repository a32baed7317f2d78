"""Fakes for fast service tests: an in-memory Store and an encoder pool of hashed bags of words.

`FakeStore` implements the Store port on dicts: points with payloads and named vectors, exact-match
filters on payload paths, brute-force search per space (cosine, MaxSim, sparse dot) fused exactly as
the real adapters fuse (app.store.runner.run_plan), aliases, and meta with compare-and-set.
`FakeEncoderPool` turns text into small deterministic vectors, so no ONNX model is loaded.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np

from app.domain.cascade import FINAL, cascade_stages
from app.domain.fusion import DBSF, dbsf
from app.domain.plan import Condition, Filter, HasId, Match, QueryPlan
from app.encoders.fastembed_encoder import SparseVec
from app.errors import CollectionNotFound, InvalidInput, StoreUnavailable
from app.settings import ModelSettings
from app.store.base import (
    CollectionConfig,
    Hit,
    PointWrite,
    QueryResult,
    Selector,
    StoredPoint,
    VectorSpec,
    VectorValue,
)
from app.store.meta import lost_race
from app.store.runner import run_plan

_WORD = re.compile(r"\w+")


def _bucket(word: str, dim: int) -> int:
    return int.from_bytes(hashlib.blake2b(word.lower().encode(), digest_size=4).digest(), "big") % dim


class FakeEncoder:
    """A hashed bag of words: dense `(dim,)` float32, unit length; or sparse word-bucket counts."""

    def __init__(self, name: str, kind: str, dim: int) -> None:
        self.name, self.kind, self.dim = name, kind, (dim if kind == "dense" else None)
        self._buckets = dim if kind == "dense" else 1 << 16
        self.calls: list[list[str]] = []  # each embed call's texts, so a test can count encodes

    def _counts(self, text: str) -> dict[int, float]:
        counts: dict[int, float] = {}
        for word in _WORD.findall(text):
            b = _bucket(word, self._buckets)
            counts[b] = counts.get(b, 0.0) + 1.0
        return counts

    def _one(self, text: str) -> Any:
        counts = self._counts(text)
        if self.kind == "sparse":
            keys = sorted(counts)
            return SparseVec(tuple(keys), tuple(counts[k] for k in keys))
        v = np.zeros(self._buckets, dtype=np.float32)
        for b, c in counts.items():
            v[b] = c
        norm = float(np.linalg.norm(v))
        if norm == 0:
            v[0] = 1.0
            return v
        return v / norm

    def embed(self, texts: Sequence[str]) -> list[Any]:
        self.calls.append(list(texts))
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> Any:
        return self._one(text)


class FakeEncoderPool:
    """The EncoderPool interface over FakeEncoders: `models` alias -> `dense` or `sparse`."""

    def __init__(self, models: dict[str, str] | dict[str, ModelSettings] | None = None, *, dim: int = 16) -> None:
        models = models or {"minilm-l6-int8": "dense", "minilm-l6-int8-shared": "dense",
                            "minilm-l6-int8-shared-mentions": "dense", "paraphrase-minilm-l3": "dense",
                            "bm25": "sparse", "bm25-multilingual": "sparse", "bm25-multilingual-numbers": "sparse",
                            "bm25-multilingual-scripts": "sparse"}
        self._encoders = {alias: FakeEncoder(f"fake-{alias}", m if isinstance(m, str) else m.kind, dim)
                          for alias, m in models.items()}

    def get(self, alias: str) -> FakeEncoder:
        """The encoder configured as `alias`.

        Raises:
            KeyError: no such model.
        """
        return self._encoders[alias]

    def model_id(self, alias: str) -> str:
        return self._encoders[alias].name

    def dim(self, alias: str) -> int | None:
        return self._encoders[alias].dim

    def idf(self, alias: str) -> bool:
        return True  # the fakes' sparse vectors are term counts, like BM25's


def _path(key: str) -> list[str]:
    """`metadata."author"."country"` -> [metadata, author, country]."""
    return [p.strip('"') for p in re.findall(r'"[^"]*"|[^.]+', key)]


def _values(payload: dict[str, Any], key: str) -> list[Any]:
    value: Any = payload
    for part in _path(key):
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    return value if isinstance(value, list) else [value]


def _matches(payload: dict[str, Any], f: Filter | None, pid: str = "") -> bool:
    def hit(c: Condition) -> bool:
        if isinstance(c, HasId):
            return pid in c.ids
        wanted = [c.value] if isinstance(c, Match) else list(c.values)
        found = _values(payload, c.key)
        # exact match, as Qdrant: True is not 1
        return any(type(v) is type(w) and v == w for v in found for w in wanted)

    if not f:
        return True
    return all(hit(c) for c in f.must) and not any(hit(c) for c in f.must_not)


def _as_list(v: VectorValue) -> Any:
    if isinstance(v, SparseVec) or not hasattr(v, "__len__"):
        return v
    if hasattr(v, "tolist"):
        return v.tolist()
    return [x.tolist() if hasattr(x, "tolist") else x for x in v]


def _cos(a: Sequence[float], b: Sequence[float]) -> float:
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb) if na and nb else 0.0


class FakeStore:
    """The Store port in memory. `fail_next` makes the next N calls raise StoreUnavailable."""

    kind = "fake"
    fusions: frozenset[str] = frozenset({DBSF})  # as the real adapters declare

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, Any]] = {}  # name -> {"specs": {...}, "points": {...}}
        self.aliases: dict[str, str] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.fail_next = 0
        self.closed = False

    def _check(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise StoreUnavailable("fake store: injected failure")

    def _col(self, name: str) -> dict[str, Any]:
        self._check()
        col = self.collections.get(self.aliases.get(name, name))
        if col is None:
            raise CollectionNotFound(f"collection {name!r} does not exist")
        return col

    def ping(self) -> None:
        self._check()
        if self.closed:
            raise StoreUnavailable("fake store is closed")

    def close(self) -> None:
        self.closed = True

    def create_collection(self, name: str, vectors: dict[str, VectorSpec],
                          config: CollectionConfig | None = None) -> None:
        self._check()
        self.collections.setdefault(name, {"specs": dict(vectors), "points": {}, "config": config})

    def collection_exists(self, name: str) -> bool:
        self._check()
        return name in self.collections

    def delete_collection(self, name: str) -> None:
        self._check()
        self.collections.pop(name, None)

    def list_collections(self) -> list[str]:
        self._check()
        return sorted(self.collections)

    def vector_specs(self, name: str) -> dict[str, VectorSpec]:
        return dict(self._col(name)["specs"])

    def vector_datatypes(self, name: str) -> dict[str, str]:
        col = self._col(name)
        config = col["config"] or CollectionConfig()
        return {n: config.for_vector(n).datatype for n, s in col["specs"].items() if s.kind != "sparse"}

    def add_vector(self, collection: str, name: str, spec: VectorSpec) -> None:
        self._col(collection)["specs"].setdefault(name, spec)

    def delete_vector(self, collection: str, name: str) -> None:
        col = self._col(collection)
        col["specs"].pop(name, None)
        for point in col["points"].values():
            point["vectors"].pop(name, None)

    def optimize(self, collection: str) -> None:
        self._col(collection)

    def _vectors(self, col: dict[str, Any], vectors: dict[str, VectorValue]) -> dict[str, Any]:
        unknown = set(vectors) - set(col["specs"])
        if unknown:
            raise InvalidInput(f"fake store: no vector named {sorted(unknown)}")
        return {n: _as_list(v) for n, v in vectors.items()}

    def upsert(self, collection: str, points: Sequence[PointWrite], *, insert_only: bool = False) -> None:
        col = self._col(collection)
        for p in points:
            if insert_only and p.id in col["points"]:
                continue
            col["points"][p.id] = {"payload": deepcopy(p.payload), "vectors": self._vectors(col, p.vectors)}

    def update_vectors(self, collection: str, vectors: dict[str, dict[str, VectorValue]], *,
                       only_if: Filter | None = None) -> None:
        col = self._col(collection)
        for pid, vecs in vectors.items():
            point = col["points"].get(pid)
            if point is not None and _matches(point["payload"], only_if, pid):
                point["vectors"].update(self._vectors(col, vecs))

    def set_payload(self, collection: str, ids: Sequence[str], payload: dict[str, Any]) -> None:
        col = self._col(collection)
        for pid in ids:
            if pid in col["points"]:
                col["points"][pid]["payload"].update(deepcopy(payload))

    def _stored(self, pid: str, point: dict[str, Any], with_vectors: Selector) -> StoredPoint:
        names = point["vectors"] if with_vectors is True else (with_vectors or [])
        vectors = {n: point["vectors"][n] for n in names if n in point["vectors"]}
        return StoredPoint(id=pid, payload=deepcopy(point["payload"]), vectors=vectors)

    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: Selector = False) -> list[StoredPoint]:
        points = self._col(collection)["points"]
        return [self._stored(pid, points[pid], with_vectors) for pid in dict.fromkeys(ids) if pid in points]

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        points = self._col(collection)["points"]
        for pid in ids:
            points.pop(pid, None)

    def scroll(self, collection: str, *, filter: Filter | None, limit: int, offset: str | None,
               with_vectors: Selector = False) -> tuple[list[StoredPoint], str | None]:
        points = self._col(collection)["points"]
        ids = [pid for pid in sorted(points) if (offset is None or pid >= offset)
               and _matches(points[pid]["payload"], filter, pid)]
        page = [self._stored(pid, points[pid], with_vectors) for pid in ids[:limit]]
        return page, (ids[limit] if len(ids) > limit else None)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        return sum(_matches(p["payload"], filter, pid) for pid, p in self._col(collection)["points"].items())

    def _score(self, spec: VectorSpec, stored: Any, query: Any) -> float:
        if spec.kind == "sparse":
            weights = dict(zip(stored.indices, stored.values, strict=True))
            return float(sum(weights.get(i, 0.0) * v for i, v in zip(query.indices, query.values, strict=True)))
        if spec.kind == "multi":
            return max(_cos(row, query) for row in stored)
        return _cos(stored, query)

    def query(self, collection: str, plan: QueryPlan, vectors: dict[str, VectorValue]) -> QueryResult:
        col = self._col(collection)

        def search(name: str, limit: int, payload: bool) -> list[Hit]:
            spec, query = col["specs"][name], _as_list(vectors[name])
            hits = [Hit(id=pid, score=self._score(spec, p["vectors"][name], query),
                        payload=deepcopy(p["payload"]) if payload else None)
                    for pid, p in col["points"].items()
                    if name in p["vectors"] and _matches(p["payload"], plan.filter, pid)]
            return sorted(hits, key=lambda h: (-h.score, h.id))[:limit]

        def batch(plan: QueryPlan, main: bool, per_space: bool) -> tuple[list[Hit] | None, list[list[Hit]]]:
            first = None
            if main:
                if len(plan.spaces) == 1:
                    first = search(plan.spaces[0].vector_name, plan.limit, True)
                else:  # the one fusion declared: unweighted DBSF over each space's prefetch
                    lists = [[(h.id, h.score) for h in search(s.vector_name, plan.prefetch_limit, False)]
                             for s in plan.spaces]
                    payloads = col["points"]
                    first = [Hit(id=str(pid), score=score, payload=deepcopy(payloads[str(pid)]["payload"]))
                             for pid, score in dbsf(lists)[: plan.limit]]
            lists_out = [search(s.vector_name, plan.prefetch_limit, False) for s in plan.listed] if per_space else []
            return first, lists_out

        if plan.cascade:  # the domain's reference cascade over exact scores (both adapters must match it)
            own = {s.space: [(h.id, h.score) for h in search(s.vector_name, plan.prefetch_limit, False)]
                   for s in plan.listed}
            every = len(col["points"])
            exact = {s.space: {h.id: h.score for h in search(s.vector_name, every, False)} for s in plan.rerank}
            stages = cascade_stages(plan, own, exact)
            hits = [Hit(id=pid, score=score, payload=deepcopy(col["points"][pid]["payload"]))
                    for pid, score in stages.pop(FINAL)[: plan.limit]]
            if not plan.explain:
                return QueryResult(hits=hits)
            return QueryResult(hits=hits, per_space={n: [Hit(id=p, score=x) for p, x in r] for n, r in own.items()},
                               stages={n: [Hit(id=p, score=x) for p, x in r] for n, r in stages.items()})
        return run_plan(plan, self.fusions, batch, lambda ids: self.retrieve(collection, ids))

    def set_alias(self, alias: str, collection: str) -> None:
        self._check()
        if collection not in self.collections:
            raise CollectionNotFound(f"collection {collection!r} does not exist")
        self.aliases[alias] = collection

    def get_alias(self, alias: str) -> str | None:
        self._check()
        return self.aliases.get(alias)

    def list_aliases(self) -> dict[str, str]:
        self._check()
        return dict(sorted(self.aliases.items()))

    def delete_alias(self, alias: str) -> None:
        self._check()
        self.aliases.pop(alias, None)

    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        self._check()
        if expect_revision is None:
            self.meta[key] = deepcopy(value)
            return None
        found = int((self.meta.get(key) or {}).get("revision", 0))
        if found != expect_revision or (key in self.meta) != (expect_revision != 0):
            raise lost_race(key, expect_revision, found)
        self.meta[key] = {**deepcopy(value), "revision": expect_revision + 1}
        return expect_revision + 1

    def get_meta(self, key: str) -> dict[str, Any] | None:
        self._check()
        value = self.meta.get(key)
        return deepcopy(value) if value is not None else None

    def reserve(self, what: str, need_bytes: int) -> None:
        self._check()

    def snapshot(self, collection: str, folder: Path) -> str | None:
        """Like the in-memory client: no snapshots (a backup exports the points instead)."""
        self._col(collection)
        return None

    def stage_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                       points: int | None = None, check: Any = None) -> None:
        self._check()
        raise InvalidInput("the fake store takes no snapshots")

    def restore_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                         points: int | None = None) -> None:
        self._check()
        raise InvalidInput("the fake store takes no snapshots")
