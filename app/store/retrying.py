"""Bounded retries for any Store: a wrapper that implements the port by delegating every method."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tenacity import retry, retry_if_exception_type, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from app.domain.plan import Filter, QueryPlan
from app.errors import DiskFull, StoreUnavailable
from app.store.base import (
    CollectionConfig,
    Payload,
    PayloadCheck,
    PointWrite,
    QueryResult,
    Selector,
    Store,
    StoredPoint,
    VectorSpec,
    VectorValue,
)

T = TypeVar("T")


def with_retries(fn: Callable[..., T], *, attempts: int, wait_s: float, max_wait_s: float | None = None
                 ) -> Callable[..., T]:
    """`fn`, retried on StoreUnavailable (but a full disk, `DiskFull`) up to `attempts` calls in all, then
    re-raising it.

    Args:
        fn: the call to retry.
        attempts: calls in all, >= 1.
        wait_s: the first wait in seconds; it doubles, up to `max_wait_s` (default 8 x `wait_s`).
    """
    return retry(
        retry=retry_if_exception_type(StoreUnavailable) & retry_if_not_exception_type(DiskFull),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=wait_s, max=wait_s * 8 if max_wait_s is None else max_wait_s),
        reraise=True,
    )(fn)


class RetryingStore(Store):
    """A Store whose every port method retries the wrapped store's StoreUnavailable a bounded
    number of times (other errors, e.g. Conflict or CollectionNotFound, pass at once).

    Every port method is written out here, so a method added to the port and not here fails the
    port test (tests/unit/test_store_port.py) rather than silently going without retries. Anything
    else (an adapter's own attributes) is read from the wrapped store.
    """

    def __init__(self, inner: Store, *, attempts: int = 3, wait_s: float = 0.2) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.fusions = inner.fusions
        self._attempts, self._wait_s = max(1, attempts), wait_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on `with_retries`' schedule (`attempts` calls in all; waits of `wait_s`,
        doubling up to 8 x `wait_s`). The first call is made directly: building tenacity's retry state
        cost each store call ~30 us (several a search), and almost every call succeeds at once."""
        try:
            return fn(*args, **kwargs)
        except DiskFull:
            raise
        except StoreUnavailable:
            if self._attempts == 1:
                raise
        time.sleep(self._wait_s)
        return with_retries(fn, attempts=self._attempts - 1, wait_s=self._wait_s * 2,
                            max_wait_s=self._wait_s * 8)(*args, **kwargs)

    def ping(self) -> None:
        """See `Store.ping`."""
        self._call(self.inner.ping)

    def close(self) -> None:
        """See `Store.close`."""
        self._call(self.inner.close)

    def create_collection(self, name: str, vectors: dict[str, VectorSpec],
                          config: CollectionConfig | None = None) -> None:
        """See `Store.create_collection`."""
        self._call(self.inner.create_collection, name, vectors, config)

    def collection_exists(self, name: str) -> bool:
        """See `Store.collection_exists`."""
        return self._call(self.inner.collection_exists, name)

    def delete_collection(self, name: str) -> None:
        """See `Store.delete_collection`."""
        self._call(self.inner.delete_collection, name)

    def list_collections(self) -> list[str]:
        """See `Store.list_collections`."""
        return self._call(self.inner.list_collections)

    def vector_specs(self, name: str) -> dict[str, VectorSpec]:
        """See `Store.vector_specs`."""
        return self._call(self.inner.vector_specs, name)

    def vector_datatypes(self, name: str) -> dict[str, str]:
        """See `Store.vector_datatypes`."""
        return self._call(self.inner.vector_datatypes, name)

    def add_vector(self, collection: str, name: str, spec: VectorSpec) -> None:
        """See `Store.add_vector`."""
        self._call(self.inner.add_vector, collection, name, spec)

    def delete_vector(self, collection: str, name: str) -> None:
        """See `Store.delete_vector`."""
        self._call(self.inner.delete_vector, collection, name)

    def optimize(self, collection: str) -> None:
        """See `Store.optimize`."""
        self._call(self.inner.optimize, collection)

    def upsert(self, collection: str, points: Sequence[PointWrite], *, insert_only: bool = False) -> None:
        """See `Store.upsert`."""
        self._call(self.inner.upsert, collection, points, insert_only=insert_only)

    def update_vectors(self, collection: str, vectors: dict[str, dict[str, VectorValue]], *,
                       only_if: Filter | None = None) -> None:
        """See `Store.update_vectors`."""
        self._call(self.inner.update_vectors, collection, vectors, only_if=only_if)

    def set_payload(self, collection: str, ids: Sequence[str], payload: Payload) -> None:
        """See `Store.set_payload`."""
        self._call(self.inner.set_payload, collection, ids, payload)

    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: Selector = False) -> list[StoredPoint]:
        """See `Store.retrieve`."""
        return self._call(self.inner.retrieve, collection, ids, with_vectors)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """See `Store.delete`."""
        self._call(self.inner.delete, collection, ids)

    def scroll(self, collection: str, *, filter: Filter | None, limit: int, offset: str | None,
               with_vectors: Selector = False) -> tuple[list[StoredPoint], str | None]:
        """See `Store.scroll`."""
        return self._call(self.inner.scroll, collection, filter=filter, limit=limit, offset=offset,
                          with_vectors=with_vectors)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        """See `Store.count`."""
        return self._call(self.inner.count, collection, filter)

    def query(self, collection: str, plan: QueryPlan, vectors: dict[str, VectorValue]) -> QueryResult:
        """See `Store.query`."""
        return self._call(self.inner.query, collection, plan, vectors)

    def set_alias(self, alias: str, collection: str) -> None:
        """See `Store.set_alias`."""
        self._call(self.inner.set_alias, alias, collection)

    def get_alias(self, alias: str) -> str | None:
        """See `Store.get_alias`."""
        return self._call(self.inner.get_alias, alias)

    def list_aliases(self) -> dict[str, str]:
        """See `Store.list_aliases`."""
        return self._call(self.inner.list_aliases)

    def delete_alias(self, alias: str) -> None:
        """See `Store.delete_alias`."""
        self._call(self.inner.delete_alias, alias)

    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        """See `Store.put_meta` (a retried write that went through is recognised by its token)."""
        return self._call(self.inner.put_meta, key, value, expect_revision=expect_revision)

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """See `Store.get_meta`."""
        return self._call(self.inner.get_meta, key)

    def snapshot(self, collection: str, folder: Path) -> str | None:
        """See `Store.snapshot`."""
        return self._call(self.inner.snapshot, collection, folder)

    def stage_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                       points: int | None = None, check: PayloadCheck | None = None) -> None:
        """See `Store.stage_snapshot` (it starts over, so a retry does too)."""
        self._call(self.inner.stage_snapshot, collection, path, vectors, points=points, check=check)

    def restore_snapshot(self, collection: str, path: Path, vectors: dict[str, VectorSpec], *,
                         points: int | None = None) -> None:
        """See `Store.restore_snapshot` (it replaces the collection, so a retry starts over)."""
        self._call(self.inner.restore_snapshot, collection, path, vectors, points=points)

    def reserve(self, what: str, need_bytes: int) -> None:
        """See `Store.reserve` (a full disk is not retried: it does not clear in a second)."""
        self.inner.reserve(what, need_bytes)
