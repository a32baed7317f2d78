"""The Store port: what the services need from a vector store, in domain types only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from app.domain.plan import Filter, QueryPlan
from app.store.types import (
    QUANTIZATIONS,
    CollectionConfig,
    DenseVector,
    Hit,
    MultiVector,
    Payload,
    PayloadCheck,
    PointWrite,
    QueryResult,
    Selector,
    StoredPoint,
    VectorSpec,
    VectorStorage,
    VectorValue,
)

# The value types live in app.store.types; they are named here too, so `from app.store.base import X` works.
__all__ = [
    "QUANTIZATIONS", "CollectionConfig", "DenseVector", "Hit", "MultiVector", "Payload", "PayloadCheck", "PointWrite",
    "QueryResult", "Selector", "Store", "StoredPoint", "VectorSpec", "VectorStorage", "VectorValue",
    "port_methods",
]


class Store(Protocol):
    """One interface, two backends (embedded edge shards; a Qdrant server or in-memory client).

    Every method raises only our errors (`translate_errors` wraps each adapter): StoreUnavailable
    when the engine fails or cannot be reached (the one a `RetryingStore` retries),
    CollectionNotFound for a missing collection, InvalidInput for a value the engine refuses.
    Data calls may name an alias wherever they name a collection.
    """

    kind: str
    """`edge` or `qdrant`."""
    fusions: frozenset[str]
    """The fusions this engine runs itself with the same result as app.domain.fusion (ties by point
    id included), named as there (`dbsf`, `rrf:weighted`, ...); any other is fused by the service."""

    def ping(self) -> None:
        """Check the store answers (and, for a server, is new enough).

        Raises:
            StoreUnavailable: closed, unreachable, or a server older than 1.18.
        """
        ...

    def close(self) -> None:
        """Flush and release the store (the embedded adapter's folder lock included)."""
        ...

    def create_collection(self, name: str, vectors: dict[str, VectorSpec],
                          config: CollectionConfig | None = None) -> None:
        """Create collection `name` with these named vectors; nothing if it exists already.

        Args:
            name: the collection.
            vectors: vector name -> spec.
            config: shards, replicas, write consistency, on-disk payload, and each space's on-disk
                vectors, quantization and datatype; None: the adapter's own (settings, `MULTIVEC_COLLECTION__*`).
                The embedded store applies on-disk, quantization and datatype, and ignores the cluster fields.

        Raises:
            InvalidInput: a bad collection name.
        """
        ...

    def collection_exists(self, name: str) -> bool:
        """True when collection `name` exists."""
        ...

    def delete_collection(self, name: str) -> None:
        """Delete collection `name` and its points; nothing if it does not exist."""
        ...

    def list_collections(self) -> list[str]:
        """Every collection's name, sorted (the meta collection included)."""
        ...

    def vector_specs(self, name: str) -> dict[str, VectorSpec]:
        """The named vectors of collection (or alias) `name`.

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def vector_datatypes(self, name: str) -> dict[str, str]:
        """How collection (or alias) `name` stores each dense and multivector named vector, as the engine
        reports it: `float32` or `float16` (sparse vectors are not listed: their weights are float32).

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def add_vector(self, collection: str, name: str, spec: VectorSpec) -> None:
        """Add named vector `name` to a live collection, stored as the store's settings say for its space
        (datatype included); existing points do not have it until written. Nothing if it exists already.

        A rerank-only spec (`index: rerank`) is added without an HNSW graph (m = 0), as at creation.

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def delete_vector(self, collection: str, name: str) -> None:
        """Remove named vector `name` from the collection and every point; nothing if absent.

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def optimize(self, collection: str) -> None:
        """Build the indexes now (embedded: merge segments, build HNSW); a server does it itself.

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def upsert(self, collection: str, points: Sequence[PointWrite], *, insert_only: bool = False) -> None:
        """Write whole points (vectors and payload), replacing those with the same id.

        Args:
            collection: collection or alias.
            points: the points; each vector as its spec's kind says (dense (d,), multi (n, d), sparse).
            insert_only: leave points that already exist untouched (a copy must not undo a newer write).

        Raises:
            CollectionNotFound: no such collection.
            InvalidInput: a vector of the wrong shape or an unknown vector name.
        """
        ...

    def update_vectors(
        self, collection: str, vectors: dict[str, dict[str, VectorValue]], *, only_if: Filter | None = None
    ) -> None:
        """Set some named vectors of existing points, keeping their other vectors and payload.

        Args:
            collection: collection or alias.
            vectors: point id -> vector name -> value.
            only_if: update only the points that still match this filter (atomic per point); a point
                that no longer matches is silently left as it is.

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def set_payload(self, collection: str, ids: Sequence[str], payload: Payload) -> None:
        """Merge `payload`'s keys into each point's payload (other keys kept).

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: Selector = False) -> list[StoredPoint]:
        """The points with these ids that exist (missing ids are skipped), with payloads and the
        vectors `with_vectors` selects.

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """Delete these points; missing ids are ignored.

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def scroll(
        self, collection: str, *, filter: Filter | None, limit: int, offset: str | None,
        with_vectors: Selector = False,
    ) -> tuple[list[StoredPoint], str | None]:
        """One page of points matching `filter`, in point id order.

        Args:
            collection: collection or alias.
            filter: only points matching it (None: all).
            limit: the page size, >= 1.
            offset: the point id to start at (the previous page's next offset), or None.
            with_vectors: which named vectors to return.

        Returns:
            (points, next offset or None after the last page).

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def count(self, collection: str, filter: Filter | None = None) -> int:
        """The exact number of points matching `filter` (all points when None).

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def query(self, collection: str, plan: QueryPlan, vectors: dict[str, VectorValue]) -> QueryResult:
        """Run `plan` as one batch request: a query per space, fused by the store when it declares
        the plan's fusion in `fusions`, else by app.domain.fusion from the per-space lists.

        Args:
            collection: collection or alias.
            plan: spaces, fusion, limits, filter.
            vectors: vector name -> the query vector (a multivector space takes a dense one).

        Returns:
            At most `plan.limit` hits with payloads, best first, equal scores by point id; each
            space's own list (ids and scores, best first) when explaining or fusing here.

        Raises:
            CollectionNotFound: no such collection.
            InvalidInput: a vector name the collection lacks.
        """
        ...

    def set_alias(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection`, atomically replacing what it pointed at.

        Raises:
            CollectionNotFound: `collection` does not exist.
        """
        ...

    def get_alias(self, alias: str) -> str | None:
        """The collection `alias` points at, or None."""
        ...

    def list_aliases(self) -> dict[str, str]:
        """Every alias and the collection it points at, sorted by alias."""
        ...

    def delete_alias(self, alias: str) -> None:
        """Remove `alias`; nothing if it does not exist."""
        ...

    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        """Store `value` under `key`; with `expect_revision`, only if nobody changed it since it was read.

        Compare-and-set on the stored value's `revision` (the registry carries one): the write goes
        through only when the stored value's `revision` still equals `expect_revision` (0: no value
        yet), and stores `value` with `revision` set to `expect_revision + 1`. Without it, the write
        is unconditional (meta that no two steps update from a read: verdicts, profiles).

        Args:
            key: the meta key, e.g. `registry:documents`.
            value: a JSON-able mapping.
            expect_revision: the revision the caller read, or None for an unconditional write.

        Returns:
            The revision now stored (`expect_revision + 1`), or None for an unconditional write.

        Raises:
            Conflict: the stored revision is not `expect_revision` (another step changed it since it
                was read); nothing is written.
        """
        ...

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """The value stored under `key`, or None."""
        ...

    def snapshot(self, collection: str, folder: Path) -> str | None:
        """Write a snapshot of `collection` (a collection, not an alias) into `folder`, as it is at one moment.

        Embedded: the flushed shard folder in the layout of Qdrant's shard snapshots (a tar edge's
        `EdgeShard.unpack_snapshot` reads), taken while no write runs. Server: the server's own collection
        snapshot (created, downloaded, then deleted on the server).

        Args:
            collection: the collection's name.
            folder: an existing local folder; the file is written there.

        Returns:
            The file's name in `folder`, or None when this store takes no snapshots (qdrant-client's
            in-memory mode): the caller then exports the points with `scroll` instead.

        Raises:
            CollectionNotFound: no such collection.
        """
        ...

    def stage_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                       points: int | None = None, check: PayloadCheck | None = None) -> None:
        """Check a snapshot before a restore changes anything, as far as this store can (arguments and errors
        as `restore_snapshot`'s; DiskFull when it cannot be unpacked). Embedded: unpacked, opened, counted, each
        payload passed to `check` (a problem: BackupInvalid), beside `collection`'s folder for `restore_snapshot`
        to take (one that fails discards every one staged). Server: nothing (it reads the upload to restore it)."""
        ...

    def restore_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                         points: int | None = None) -> None:
        """Make `collection` what a snapshot file that `snapshot` wrote (on a store of the same kind) holds,
        replacing the collection if it exists (the caller decides whether it may), in one step. A snapshot
        that cannot be restored leaves the collection as it was: embedded, the snapshot is unpacked, opened
        and counted in a folder of its own, then swapped in; a server reads the upload aside before it
        replaces the collection's data (Qdrant's snapshot recovery).

        Args:
            collection: the collection to create or replace.
            path: the snapshot file.
            vectors: the collection's named vectors, as `vector_specs` read them when the snapshot was taken.
            points: the points the snapshot must hold (None: any); embedded, checked before the swap.

        Raises:
            InvalidInput: this store takes no snapshots. BackupInvalid: the file is not one it reads.
            BackupInvalid: (embedded) the snapshot holds another number of points than `points`.
        """
        ...

    def reserve(self, what: str, need_bytes: int) -> None:
        """Refuse, before anything changes, work that would write about `need_bytes` into the store (a whole
        restore is checked before its first collection is replaced).

        Embedded: its disk must keep `MULTIVEC_STORE__MIN_FREE_MB` free beyond it (app.store.edge_disk).
        Server: nothing to check here (the server guards its own disk and answers with an error).

        Args:
            what: the work, for the message ("a restore").
            need_bytes: its estimated size in bytes.

        Raises:
            DiskFull: the embedded store's disk could not hold it.
        """
        ...


def port_methods() -> list[str]:
    """The names of the Store port's methods (from the protocol itself, so none can be forgotten)."""
    return sorted(n for n, v in vars(Store).items() if callable(v) and not n.startswith("_"))
