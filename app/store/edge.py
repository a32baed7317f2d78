"""Embedded store on qdrant-edge: Qdrant's engine in-process, one shard folder per collection.

Edge has shards, not collections or aliases, so this adapter emulates them: a collection is a shard folder
under `collections/`, an alias is an entry in `aliases.json` replaced atomically (write a temp file,
`os.replace`), the folder is locked so one process owns it, and a write that could fill the disk is refused."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from app.domain.documents import point_id
from app.domain.plan import Filter, QueryPlan
from app.errors import CollectionNotFound, InvalidInput, StoreUnavailable
from app.store.adapter import IN_STORE_FUSIONS, in_place_storage, storable, translate_errors
from app.store.base import CollectionConfig, PointWrite, QueryResult, Store, StoredPoint, VectorSpec, VectorValue
from app.store.cascade import run_cascade
from app.store.edge_config import (
    add_vector_op,
    drop_graph,
    edge_config,
    ignored_settings,
    search_params,
    stored_datatypes,
)
from app.store.edge_disk import WAL_SEGMENT, WRITE_OVERHEAD, DiskGuard, folder_bytes, vector_bytes
from app.store.edge_meta import write_meta
from app.store.edge_query import EdgeTrees, edge_batch, plan_batch
from app.store.edge_snapshot import (
    SPECS,
    Staging,
    WalFlusher,
    engine_error,
    open_shard,
    put_back,
    write_specs,
    write_tar,
)
from app.store.folder import AliasFile, FolderLock
from app.store.meta import META_COLLECTION
from app.store.runner import run_plan
from app.store.translate import from_vector, to_filter, to_vector

log = logging.getLogger("multivec.store")


class EdgeStore(Store):
    """The embedded adapter. Thread-safe within the one process that owns the folder.

    Each port method is documented on `Store` (inspect.getdoc reads it from there).
    """

    kind = "edge"
    fusions = IN_STORE_FUSIONS

    def __init__(self, root: Path, *, config: CollectionConfig | None = None, min_free_mb: int = 0) -> None:
        self.config = config or CollectionConfig()
        self._search_params = search_params(self.config)
        ignored = ignored_settings(self.config)
        if ignored:  # once, when the store opens (the service's startup)
            log.warning("the embedded store has one local shard: ignoring %s (Qdrant server settings; "
                        "on-disk and quantization settings apply)", ", ".join(ignored))
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "collections").mkdir(exist_ok=True)
        self._lock = FolderLock(self.root)  # raises StoreLocked naming the holder
        put_back(self.root / "collections")  # a restore that crashed mid-swap
        self._staging = Staging()
        self._shards: dict[str, Any] = {}
        self._mutex = threading.RLock()
        self._closed = False
        self._aliases = AliasFile(self.root)
        self._flusher = WalFlusher()
        self._disk = DiskGuard(self.root, min_free_mb)  # writes that could fill the disk are refused

    # -- lifecycle -------------------------------------------------------------------------
    def ping(self) -> None:
        if self._closed:
            raise StoreUnavailable("embedded store is closed")

    def close(self) -> None:
        with self._mutex:
            for shard in self._shards.values():
                shard.flush()
                shard.close()
            self._shards.clear()
            self._closed = True
            self._lock.release()

    # -- collections -----------------------------------------------------------------------
    def _dir(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise InvalidInput(f"bad collection name {name!r}")
        return self.root / "collections" / name

    def _resolve(self, name: str) -> str:
        """Data calls may name an alias, as on a Qdrant server."""
        return self._aliases.resolve(name)

    def _spec_path(self, name: str) -> Path:
        return self._dir(self._resolve(name)) / SPECS

    def _shard(self, name: str) -> Any:
        name = self._resolve(name)
        shard = self._shards.get(name)
        if shard is not None:
            return shard
        with self._mutex:
            if name not in self._shards:
                self._disk.check_open(name, self._dir(name) / "shard")
                self._shards[name] = open_shard(name, self._dir(name) / "shard")
            return self._shards[name]

    def create_collection(self, name: str, vectors: dict[str, VectorSpec],
                          config: CollectionConfig | None = None) -> None:
        with self._mutex:
            if self.collection_exists(name):
                return
            self._disk.check("a new collection")
            folder = self._dir(name)
            folder.mkdir(parents=True, exist_ok=True)
            # edge needs a named vector: payload-only collections (a server's meta) get our meta's placeholder
            shard_config = edge_config(vectors or {"_": VectorSpec("dense", 1)}, config or self.config)
            self._shards[name] = qe.EdgeShard.create(str(folder / "shard"), shard_config)
            write_specs(self._spec_path(name), vectors)

    def collection_exists(self, name: str) -> bool:
        return self._spec_path(name).exists()

    def delete_collection(self, name: str) -> None:
        with self._mutex:
            self._close(name)
            shutil.rmtree(self._dir(name), ignore_errors=True)

    def list_collections(self) -> list[str]:
        return sorted(p.name for p in (self.root / "collections").iterdir()
                      if (p / SPECS).exists() and not p.name.startswith("."))  # not a restore's staged folders

    def vector_specs(self, name: str) -> dict[str, VectorSpec]:
        if not self.collection_exists(name):
            raise CollectionNotFound(f"collection {name!r} does not exist")
        data = json.loads(self._spec_path(name).read_text())
        return {n: VectorSpec(**s) for n, s in data.items()}

    def vector_datatypes(self, name: str) -> dict[str, str]:
        if not self.collection_exists(name):
            raise CollectionNotFound(f"collection {name!r} does not exist")
        return stored_datatypes(self._dir(self._resolve(name)) / "shard")

    def add_vector(self, collection: str, name: str, spec: VectorSpec) -> None:
        with self._mutex:
            specs = self.vector_specs(collection)
            if name in specs:
                return
            self._disk.check("a new named vector")
            op = add_vector_op(name, spec, in_place_storage(self.config, name, self.vector_datatypes(collection)))
            shard = self._shard(collection)
            shard.update(op)
            if spec.index == "rerank":  # edge's create_dense_vector takes no HNSW config: reopen with m = 0
                physical = self._resolve(collection)
                shard.flush()
                shard.close()
                self._shards.pop(physical)
                try:
                    drop_graph(self._dir(physical) / "shard", name)
                finally:  # the shard opens again whatever happened to its config
                    self._shards[physical] = open_shard(physical, self._dir(physical) / "shard")
            write_specs(self._spec_path(collection), {**specs, name: spec})

    def delete_vector(self, collection: str, name: str) -> None:
        with self._mutex:
            specs = self.vector_specs(collection)
            if name not in specs:
                return
            self._shard(collection).update(qe.UpdateOperation.delete_vector_name(name))
            write_specs(self._spec_path(collection), {n: s for n, s in specs.items() if n != name})

    def optimize(self, collection: str) -> None:
        with self._mutex:  # segments are rewritten: no snapshot meanwhile
            self._disk.check("an optimisation", folder_bytes(self._dir(self._resolve(collection))))
            shard = self._shard(collection)
            shard.optimize()
            shard.flush()

    # -- points ----------------------------------------------------------------------------
    def _update(self, collection: str, operation: Any, need_bytes: int = 0, keep_bytes: int | None = None) -> None:
        """Every point write goes through here, under the mutex, so a snapshot copies a shard no write is
        changing (searches and reads do not wait); refused when the disk may not hold it (`need_bytes`)."""
        with self._mutex:
            self._disk.check("a write", need_bytes, keep_bytes=keep_bytes)
            shard = self._shard(collection)
            shard.update(operation)
            self._flusher.wrote(self._resolve(collection), shard)

    def upsert(self, collection: str, points: Sequence[PointWrite], *, insert_only: bool = False) -> None:
        """`insert_only` leaves points that already exist untouched (a copy must not undo a newer write)."""
        if not points:
            return
        pts = [qe.Point(id=p.id, vector={n: to_vector(qe, v) for n, v in p.vectors.items()},
                        payload=storable(p.payload, f"point {p.id}'s payload")) for p in points]
        mode = qe.UpdateMode.InsertOnly if insert_only else None
        self._update(collection, qe.UpdateOperation.upsert_points(pts, update_mode=mode),
                     WRITE_OVERHEAD * vector_bytes(v for p in points for v in p.vectors.values()))

    def update_vectors(self, collection: str, vectors: dict[str, dict[str, VectorValue]], *,
                       only_if: Filter | None = None) -> None:
        """`only_if`: update only the points that still match (a conditional update, atomic per point)."""
        if not vectors:
            return
        pvs = [qe.PointVectors(id=pid, vector={n: to_vector(qe, v) for n, v in vecs.items()})
               for pid, vecs in vectors.items()]
        self._update(collection, qe.UpdateOperation.update_vectors(pvs, condition=to_filter(qe, only_if)),
                     WRITE_OVERHEAD * vector_bytes(v for vecs in vectors.values() for v in vecs.values()))

    def set_payload(self, collection: str, ids: Sequence[str], payload: dict[str, Any]) -> None:
        if ids:
            self._update(collection, qe.UpdateOperation.set_payload(list(ids), storable(payload, "a payload set")))

    @staticmethod
    def _record(r: Any) -> StoredPoint:
        vectors = {n: from_vector(qe, v) for n, v in (r.vector or {}).items()} if isinstance(r.vector, dict) else {}
        return StoredPoint(id=str(r.id), payload=dict(r.payload or {}), vectors=vectors)

    def retrieve(
        self, collection: str, ids: Sequence[str], with_vectors: bool | Sequence[str] = False
    ) -> list[StoredPoint]:
        if not ids:
            return []
        wv = with_vectors if isinstance(with_vectors, bool) else list(with_vectors)
        records = self._shard(collection).retrieve(list(ids), with_payload=True, with_vector=wv)
        return [self._record(r) for r in records]

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            self._update(collection, qe.UpdateOperation.delete_points(list(ids)), keep_bytes=WAL_SEGMENT)

    def scroll(self, collection: str, *, filter: Filter | None, limit: int, offset: str | None,
               with_vectors: bool | Sequence[str] = False) -> tuple[list[StoredPoint], str | None]:
        wv = with_vectors if isinstance(with_vectors, bool) else list(with_vectors)
        records, nxt = self._shard(collection).scroll(
            qe.ScrollRequest(offset=offset, limit=limit, filter=to_filter(qe, filter), with_payload=True,
                             with_vector=wv)
        )
        return [self._record(r) for r in records], (str(nxt) if nxt is not None else None)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        return int(self._shard(collection).count(qe.CountRequest(filter=to_filter(qe, filter), exact=True)))

    # -- search ----------------------------------------------------------------------------
    def query(self, collection: str, plan: QueryPlan, vectors: dict[str, VectorValue]) -> QueryResult:
        shard = self._shard(collection)
        flt = to_filter(qe, plan.filter)
        trees = EdgeTrees(vectors, flt, self._search_params)
        if plan.cascade:
            return run_cascade(plan, edge_batch(shard, trees), lambda ids: self.retrieve(collection, ids))
        return run_plan(plan, self.fusions, plan_batch(shard, trees), lambda ids: self.retrieve(collection, ids))

    def reserve(self, what: str, need_bytes: int) -> None:
        self._disk.check(what, need_bytes)

    # -- aliases ---------------------------------------------------------------------------
    def set_alias(self, alias: str, collection: str) -> None:
        with self._mutex:
            if not self.collection_exists(collection):
                raise CollectionNotFound(f"collection {collection!r} does not exist")
            self._aliases.set(alias, collection)

    def get_alias(self, alias: str) -> str | None:
        return self._aliases.get(alias)

    def list_aliases(self) -> dict[str, str]:
        return dict(sorted(self._aliases.map.items()))

    def delete_alias(self, alias: str) -> None:
        with self._mutex:
            self._aliases.delete(alias)

    # -- meta (the version registry lives here) ----------------------------------------------
    def _meta(self) -> Any:
        shard = self._shards.get(META_COLLECTION)  # open: it exists (every search reads the registry here)
        if shard is not None:
            return shard
        with self._mutex:
            if not self.collection_exists(META_COLLECTION):
                self.create_collection(META_COLLECTION, {"_": VectorSpec("dense", 1)})
        return self._shard(META_COLLECTION)

    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        """See `Store.put_meta`: with `expect_revision`, a compare-and-set on the value's revision.

        One process owns the folder, so only its threads (steps, the admin API) can race: the mutex
        orders them, and the write itself is still conditional (edge's upsert `condition`), so a
        stale write changes nothing even if it got past the check.

        Raises:
            Conflict: the stored revision is not `expect_revision`.
        """
        with self._mutex:
            self._disk.check("a registry write", keep_bytes=WAL_SEGMENT)  # small, like a delete, but never unchecked
            return write_meta(self._meta(), point_id(f"meta:{key}"), key, value, expect_revision)

    def get_meta(self, key: str) -> dict[str, Any] | None:
        records = self._meta().retrieve([point_id(f"meta:{key}")], with_payload=True, with_vector=False)
        return dict(records[0].payload["value"]) if records else None

    # -- snapshots -------------------------------------------------------------------------
    def snapshot(self, collection: str, folder: Path) -> str | None:
        """See `Store.snapshot`: edge can read a shard snapshot (`EdgeShard.unpack_snapshot`) but not make
        one, so this flushes the shard and tars its folder (segments, WAL, edge_config.json: the layout
        of Qdrant's shard snapshots) while holding the mutex every write takes."""
        with self._mutex:
            if not self.collection_exists(collection) or self._resolve(collection) != collection:
                raise CollectionNotFound(f"collection {collection!r} does not exist")
            self._disk.check("a snapshot", keep_bytes=WAL_SEGMENT)  # the flush first writes a little here
            self._shard(collection).flush()
            self._disk.check_target("a snapshot", Path(folder), folder_bytes(self._dir(collection) / "shard"))
            name = f"{collection}.edge-snapshot.tar"
            write_tar(self._dir(collection) / "shard", Path(folder) / name)
            return name

    def stage_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                       points: int | None = None, check: Any = None) -> None:  # check: a PayloadCheck
        with self._mutex:
            self._staging.stage(self._dir(collection), Path(path), vectors, points, check,  # unpacked; old kept:
                                room=lambda: self._disk.check("a restore", 2 * Path(path).stat().st_size))

    def restore_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                         points: int | None = None) -> None:
        """See `Store.restore_snapshot`: staged (`stage_snapshot`) unless it was, then swapped in (`Staging`);
        under the mutex, so no write runs meanwhile."""
        with self._mutex:
            if not self._staging.holds(self._dir(collection), Path(path)):
                self.stage_snapshot(collection, path, vectors, points=points)
            self._close(collection)
            self._shards[collection] = self._staging.swap_in(self._dir(collection), open_shard)

    def _close(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()


translate_errors(EdgeStore, engine_error)
