"""Server store on qdrant-client: a Qdrant server or cluster (>= 1.18), or `:memory:` in tests.

Every call is translated at this edge: qdrant exceptions become StoreUnavailable (retried a
bounded number of times by app.store.retrying.RetryingStore) or CollectionNotFound; nothing above imports
qdrant types.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from app.domain.documents import point_id
from app.domain.plan import Filter, QueryPlan
from app.errors import AppError, CollectionNotFound, InvalidInput, StoreUnavailable
from app.store.adapter import IN_STORE_FUSIONS, in_place_storage, missing_vector, storable, translate_errors
from app.store.base import CollectionConfig, Hit, PointWrite, QueryResult, Store, StoredPoint, VectorSpec, VectorValue
from app.store.cascade import run_cascade
from app.store.meta import META_COLLECTION, META_REVISION, confirm_meta_write, prepare_meta_write
from app.store.qdrant_config import (
    RERANK_META,
    collection_params,
    rerank_only,
    search_params,
    specs_of,
    stored_datatypes,
    vector_name_config,
)
from app.store.qdrant_query import QdrantTrees, qdrant_batch
from app.store.runner import run_plan
from app.store.serialized import Serialized
from app.store.translate import from_vector, to_filter, to_vector

MIN_SERVER = (1, 18)


def engine_error(e: BaseException, what: str) -> AppError:
    """qdrant-client's exceptions (and the in-memory client's) as ours: 404 -> CollectionNotFound,
    5xx/408/429/transport -> StoreUnavailable (retried), other 4xx and value errors -> InvalidInput."""
    text = " ".join(str(e).split())[:300]
    if changed := missing_vector(f"{text} {getattr(e, 'content', b'')!r}", what):
        return changed
    if isinstance(e, UnexpectedResponse):
        if e.status_code == 404:
            return CollectionNotFound(f"not found: {e.content[:200]!r}")
        if (e.status_code is not None and e.status_code >= 500) or e.status_code in (408, 429):
            return StoreUnavailable(f"Qdrant answered {e.status_code} on {what}")
        return InvalidInput(f"Qdrant refused the {what}: {e.content[:300]!r}")
    if isinstance(e, ResponseHandlingException | httpx.TransportError | ConnectionError | TimeoutError):
        return StoreUnavailable(f"Qdrant is unreachable: {text}")
    if isinstance(e, ValueError) and "not found" in text.lower():  # the in-memory client's missing collection
        return CollectionNotFound(text)
    if isinstance(e, TypeError | ValueError | OverflowError | UnicodeError):
        return InvalidInput(f"the store refused the {what}: {text}")
    return StoreUnavailable(f"the store failed on {what}: {type(e).__name__}: {text}")


class QdrantStore(Store):
    """The server adapter (also runs on qdrant-client's in-memory mode).

    Each port method is documented on `Store` (inspect.getdoc reads it from there).
    """

    kind = "qdrant"
    fusions = IN_STORE_FUSIONS

    def __init__(self, url: str, *, api_key: str | None = None, timeout_s: float = 10.0,
                 config: CollectionConfig | None = None) -> None:
        self.config = config or CollectionConfig()
        self._search_params = search_params(self.config)
        self._local = url == ":memory:"
        self._url, self._api_key, self._timeout_s = url.rstrip("/"), api_key, timeout_s
        self._client: Any  # a QdrantClient, or in local mode one behind a lock (it is not thread-safe)
        if self._local:
            self._client = Serialized(QdrantClient(location=":memory:"))
        else:
            self._client = QdrantClient(url=url, api_key=api_key, timeout=int(max(1, timeout_s)))

    def ping(self) -> None:
        """Reachable, and new enough: adding a named vector to a live collection needs 1.18."""
        if self._local:
            self._client.get_collections()
            return
        version = self._client.info().version
        major, minor = (int(x) for x in version.split(".")[:2])
        if (major, minor) < MIN_SERVER:
            raise StoreUnavailable(f"Qdrant {version} is too old: multivec needs >= {MIN_SERVER[0]}.{MIN_SERVER[1]}")

    def close(self) -> None:
        self._client.close()

    # -- collections -----------------------------------------------------------------------
    def create_collection(self, name: str, vectors: dict[str, VectorSpec],
                          config: CollectionConfig | None = None) -> None:
        if self._client.collection_exists(name):
            return
        self._client.create_collection(name, **collection_params(vectors, config or self.config))
        if not self._local:  # the in-memory client has no payload indexes (and warns)
            self._client.create_payload_index(name, "doc_id", qm.PayloadSchemaType.KEYWORD)
            self._client.create_payload_index(name, "vector_versions", qm.PayloadSchemaType.KEYWORD)

    def collection_exists(self, name: str) -> bool:
        return bool(self._client.collection_exists(name))

    def delete_collection(self, name: str) -> None:
        self._client.delete_collection(name)

    def list_collections(self) -> list[str]:
        return sorted(c.name for c in self._client.get_collections().collections)

    def vector_specs(self, name: str) -> dict[str, VectorSpec]:
        return specs_of(self._client.get_collection(name).config)

    def vector_datatypes(self, name: str) -> dict[str, str]:
        return stored_datatypes(self._client.get_collection(name).config.params)

    def add_vector(self, collection: str, name: str, spec: VectorSpec) -> None:
        if name in self.vector_specs(collection):
            return
        # Qdrant >= 1.18: a named vector can be added to a live collection (not via update_collection).
        storage = in_place_storage(self.config, name, self.vector_datatypes(collection))
        self._client.create_vector_name(collection, name, vector_name_config(spec, storage))
        if spec.index == "rerank":  # create_vector_name takes no HNSW config: m = 0 before any point has it
            self._client.update_collection(collection, **rerank_only(name))

    def delete_vector(self, collection: str, name: str) -> None:
        if name in self.vector_specs(collection):
            self._client.delete_vector_name(collection, name)
            if RERANK_META + name in (self._client.get_collection(collection).config.metadata or {}):
                self._client.update_collection(collection, metadata={RERANK_META + name: False})

    def optimize(self, collection: str) -> None:
        """The server builds its HNSW indexes in the background; nothing to do."""

    # -- points ----------------------------------------------------------------------------
    def upsert(self, collection: str, points: Sequence[PointWrite], *, insert_only: bool = False) -> None:
        """`insert_only` leaves points that already exist untouched (a copy must not undo a newer write)."""
        if points:
            self._client.upsert(collection, [
                qm.PointStruct(id=p.id, vector={n: to_vector(qm, v) for n, v in p.vectors.items()},
                               payload=storable(p.payload, f"point {p.id}'s payload")) for p in points],
                wait=True, update_mode=qm.UpdateMode.INSERT_ONLY if insert_only else None)

    def update_vectors(self, collection: str, vectors: dict[str, dict[str, VectorValue]], *,
                       only_if: Filter | None = None) -> None:
        """`only_if`: update only the points that still match (a conditional update, atomic per point)."""
        if vectors:
            self._client.update_vectors(collection, [
                qm.PointVectors(id=pid, vector={n: to_vector(qm, v) for n, v in vecs.items()})
                for pid, vecs in vectors.items()], wait=True, update_filter=to_filter(qm, only_if))

    def set_payload(self, collection: str, ids: Sequence[str], payload: dict[str, Any]) -> None:
        if ids:
            self._client.set_payload(collection, payload=storable(payload, "a payload set"), points=list(ids),
                                     wait=True)

    @staticmethod
    def _record(r: Any) -> StoredPoint:
        vectors = {n: from_vector(qm, v) for n, v in r.vector.items()} if isinstance(r.vector, dict) else {}
        return StoredPoint(id=str(r.id), payload=dict(r.payload or {}), vectors=vectors)

    def retrieve(
        self, collection: str, ids: Sequence[str], with_vectors: bool | Sequence[str] = False
    ) -> list[StoredPoint]:
        if not ids:
            return []
        wv = with_vectors if isinstance(with_vectors, bool) else list(with_vectors)
        records = self._client.retrieve(collection, list(ids), with_payload=True, with_vectors=wv)
        return [self._record(r) for r in records]

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            self._client.delete(collection, points_selector=qm.PointIdsList(points=list(ids)), wait=True)

    def scroll(self, collection: str, *, filter: Filter | None, limit: int, offset: str | None,
               with_vectors: bool | Sequence[str] = False) -> tuple[list[StoredPoint], str | None]:
        wv = with_vectors if isinstance(with_vectors, bool) else list(with_vectors)
        records, nxt = self._client.scroll(collection, scroll_filter=to_filter(qm, filter), limit=limit, offset=offset,
                                           with_payload=True, with_vectors=wv)
        return [self._record(r) for r in records], (str(nxt) if nxt is not None else None)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        return int(self._client.count(collection, count_filter=to_filter(qm, filter), exact=True).count)

    # -- search ----------------------------------------------------------------------------
    def query(self, collection: str, plan: QueryPlan, vectors: dict[str, VectorValue]) -> QueryResult:
        flt = to_filter(qm, plan.filter)
        trees = QdrantTrees(vectors, flt, self._search_params)
        if plan.cascade:
            return run_cascade(plan, qdrant_batch(self._client, collection, trees),
                               lambda ids: self.retrieve(collection, ids))
        vec, params = trees.vector, trees.space_params

        def hits(resp: Any) -> list[Hit]:
            return [Hit(id=str(p.id), score=float(p.score), payload=p.payload) for p in resp.points]

        def batch(plan: QueryPlan, main: bool, per_space: bool) -> tuple[list[Hit] | None, list[list[Hit]]]:
            requests: list[qm.QueryRequest] = []
            if main:
                if len(plan.spaces) == 1:
                    s = plan.spaces[0]
                    requests.append(qm.QueryRequest(query=vec(s), using=s.vector_name, limit=plan.limit,
                                                    filter=flt, with_payload=True, params=params(s)))
                else:
                    fusion: Any = (qm.RrfQuery(rrf=qm.Rrf(k=plan.rrf_k, weights=[s.weight for s in plan.spaces]))
                                   if plan.fusion == "rrf" else qm.FusionQuery(fusion=qm.Fusion.DBSF))
                    prefetch = [qm.Prefetch(query=vec(s), using=s.vector_name, limit=plan.prefetch_limit, filter=flt,
                                            params=params(s)) for s in plan.spaces]
                    requests.append(qm.QueryRequest(prefetch=prefetch, query=fusion, limit=plan.limit, filter=flt,
                                                    with_payload=True))
            if per_space:
                requests += [qm.QueryRequest(query=vec(s), using=s.vector_name, limit=plan.prefetch_limit,
                                             filter=flt, with_payload=False, params=params(s)) for s in plan.listed]
            responses = self._client.query_batch_points(collection, requests)
            first = hits(responses[0]) if main else None
            return first, [hits(r) for r in responses[1 if main else 0:]]

        return run_plan(plan, self.fusions, batch, lambda ids: self.retrieve(collection, ids))

    # -- aliases ---------------------------------------------------------------------------
    def set_alias(self, alias: str, collection: str) -> None:
        if not self._client.collection_exists(collection):
            raise CollectionNotFound(f"collection {collection!r} does not exist")
        ops: list[Any] = []
        if self.get_alias(alias) is not None:
            ops.append(qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=alias)))
        ops.append(qm.CreateAliasOperation(create_alias=qm.CreateAlias(collection_name=collection, alias_name=alias)))
        self._client.update_collection_aliases(ops)  # one request: Qdrant applies it atomically

    def get_alias(self, alias: str) -> str | None:
        for a in self._client.get_aliases().aliases:
            if a.alias_name == alias:
                return str(a.collection_name)
        return None

    def list_aliases(self) -> dict[str, str]:
        return dict(sorted((a.alias_name, a.collection_name) for a in self._client.get_aliases().aliases))

    def delete_alias(self, alias: str) -> None:
        if self.get_alias(alias) is not None:
            self._client.update_collection_aliases(
                [qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=alias))])

    # -- meta (the version registry lives here) ----------------------------------------------
    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        """See `Store.put_meta`: with `expect_revision`, a compare-and-set on the value's revision.

        Qdrant does it server-side: an upsert with `update_filter` on the stored revision changes
        the point only if it still matches (atomic per point), and `INSERT_ONLY` creates it only if
        absent. The writer token read back afterwards tells whether this write was the one applied.

        Raises:
            Conflict: the stored revision is not `expect_revision`.
        """
        storable({"key": key, "value": value}, f"meta value {key!r}")
        if not self._client.collection_exists(META_COLLECTION):
            self._client.create_collection(META_COLLECTION, vectors_config={})
        pid = point_id(f"meta:{key}")
        if expect_revision is None:
            self._client.upsert(META_COLLECTION, [qm.PointStruct(id=pid, vector={},
                                                                 payload={"key": key, "value": value})], wait=True)
            return None
        write = prepare_meta_write(key, value, expect_revision, self._meta_payload(pid))
        if write.done:
            return expect_revision + 1
        condition = qm.Filter(must=[qm.FieldCondition(key=META_REVISION, match=qm.MatchValue(value=expect_revision))])
        self._client.upsert(META_COLLECTION, [qm.PointStruct(id=pid, vector={}, payload=write.payload)], wait=True,
                            update_filter=None if expect_revision == 0 else condition,
                            update_mode=qm.UpdateMode.INSERT_ONLY if expect_revision == 0 else None)
        return confirm_meta_write(write, self._meta_payload(pid))

    def _meta_payload(self, pid: str) -> dict[str, Any] | None:
        records = self._client.retrieve(META_COLLECTION, [pid], with_payload=True)
        return dict(records[0].payload) if records and records[0].payload else None

    def get_meta(self, key: str) -> dict[str, Any] | None:
        # Read on every search (the registry says which version is live): one request, not two.
        try:
            records = self._client.retrieve(META_COLLECTION, [point_id(f"meta:{key}")], with_payload=True)
        except UnexpectedResponse as e:
            if e.status_code == 404:
                return None
            raise
        except ValueError as e:  # the in-memory client's "collection not found"
            if "not found" in str(e).lower():
                return None
            raise
        return dict(records[0].payload["value"]) if records and records[0].payload else None

    # -- snapshots -------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        """A plain HTTP client for the snapshot file transfers qdrant-client does not do (download, upload)."""
        headers = {"api-key": self._api_key} if self._api_key else {}
        return httpx.Client(base_url=self._url, headers=headers, timeout=max(600.0, self._timeout_s))

    def reserve(self, what: str, need_bytes: int) -> None:
        return None  # the server guards its own disk

    def snapshot(self, collection: str, folder: Path) -> str | None:
        """See `Store.snapshot`: the server's collection snapshot, created, downloaded, then deleted there.
        The in-memory client has no snapshots (qdrant-client raises NotImplementedError): None."""
        if self._local:
            self._client.get_collection(collection)  # CollectionNotFound as on the server
            return None
        made = self._client.create_snapshot(collection, wait=True)
        if made is None:
            raise StoreUnavailable(f"Qdrant made no snapshot of {collection!r}")
        name = f"{collection}.qdrant-snapshot"
        try:
            with self._http() as http, http.stream("GET", f"/collections/{collection}/snapshots/{made.name}") as r:
                r.raise_for_status()
                with (Path(folder) / name).open("wb") as out:
                    for chunk in r.iter_bytes(1 << 20):
                        out.write(chunk)
        finally:
            self._client.delete_snapshot(collection, made.name, wait=True)
        return name

    def stage_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                       points: int | None = None, check: Any = None) -> None:  # unused: nothing is staged
        """See `Store.stage_snapshot`: the server reads the upload when it restores it (nothing to stage)."""
        if self._local:
            raise InvalidInput("the in-memory client takes no snapshots: restore from a points export")

    def restore_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                         points: int | None = None) -> None:
        """See `Store.restore_snapshot`: uploads the file to the server's snapshot recovery with
        `priority=snapshot` (the snapshot's data replaces the collection's, or makes it). The server unpacks
        and reads the upload in a folder of its own before it touches the collection, so one it refuses (a
        4xx here) leaves the collection as it was; `points` is checked by the caller once restored."""
        if self._local:
            raise InvalidInput("the in-memory client takes no snapshots: restore from a points export")
        with self._http() as http, Path(path).open("rb") as f:
            r = http.post(f"/collections/{collection}/snapshots/upload",
                          params={"priority": "snapshot", "wait": "true"},
                          files={"snapshot": (Path(path).name, f, "application/octet-stream")})
        if r.status_code >= 500:
            raise StoreUnavailable(f"Qdrant answered {r.status_code} restoring {collection!r}: {r.text[:300]}")
        if r.status_code >= 400:
            raise InvalidInput(f"Qdrant refused the snapshot {path} for {collection!r}: {r.text[:300]}",
                               {"path": str(path)})


translate_errors(QdrantStore, engine_error)
