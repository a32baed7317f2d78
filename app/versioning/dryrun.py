"""A dry run of `apply` that is the real run on a copy-on-write view of the store: its writes stay in memory,
so a chain of migrations is previewed with each one seeing what the ones before it would have done."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, cast

from app.errors import Conflict
from app.repos.migrations import MigrationRecords
from app.repos.registry import RegistryRepo
from app.store.base import CollectionConfig, Store, VectorSpec
from app.versioning.steps import Context

# what `apply` may read from the store; writes it makes are the methods DryRunStore defines
READS = frozenset({"ping", "vector_datatypes", "retrieve", "scroll", "query", "get_alias", "list_aliases"})


class DryRunStore:
    """Reads from `inner`; keeps meta writes, new collections and new named vectors in memory.

    Any other write (`upsert`, `delete_vector`, `set_alias`, ...) raises: a step that would make one
    in `apply` is a bug to see, not a write to let through.
    """

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.kind, self.fusions = inner.kind, inner.fusions
        self.meta: dict[str, dict[str, Any]] = {}
        self.created: dict[str, dict[str, VectorSpec]] = {}
        self.added: dict[str, dict[str, VectorSpec]] = {}

    def __getattr__(self, name: str) -> Any:
        if name in READS:
            return getattr(self.inner, name)
        raise AttributeError(f"a dry run does not call Store.{name}")

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """The value as the writes so far left it."""
        return copy.deepcopy(self.meta[key]) if key in self.meta else self.inner.get_meta(key)

    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        """Keep the write in memory, compare-and-set as the store does.

        Raises:
            Conflict: the revision (as the writes so far left it) is not `expect_revision`.
        """
        if expect_revision is None:
            self.meta[key] = copy.deepcopy(value)
            return None
        found = int((self.get_meta(key) or {}).get("revision", 0))
        if found != expect_revision:
            raise Conflict(f"{key} changed meanwhile (revision {found}, expected {expect_revision})")
        self.meta[key] = {**copy.deepcopy(value), "revision": expect_revision + 1}
        return expect_revision + 1

    def collection_exists(self, name: str) -> bool:
        """True when it exists or a write so far created it."""
        return name in self.created or self.inner.collection_exists(name)

    def list_collections(self) -> list[str]:
        """The store's collections and those created so far."""
        return sorted({*self.inner.list_collections(), *self.created})

    def create_collection(self, name: str, vectors: dict[str, VectorSpec],
                          config: CollectionConfig | None = None) -> None:
        """Remember the collection (nothing if it exists)."""
        if not self.collection_exists(name):
            self.created[name] = dict(vectors)

    def vector_specs(self, name: str) -> dict[str, VectorSpec]:
        """The named vectors, with those added so far."""
        base = self.created[name] if name in self.created else self.inner.vector_specs(name)
        return {**base, **self.added.get(name, {})}

    def add_vector(self, collection: str, name: str, spec: VectorSpec) -> None:
        """Remember the named vector."""
        self.added.setdefault(collection, {})[name] = spec

    def count(self, collection: str, filter: Any = None) -> int:
        """Points as the store has them (a collection created here has none)."""
        return 0 if collection in self.created else self.inner.count(collection, filter)


def dry_context(ctx: Context) -> Context:
    """`ctx` with its store, registry and records on a fresh `DryRunStore` over `ctx.store`."""
    store = cast(Store, DryRunStore(ctx.store))
    return replace(ctx, store=store, registry=RegistryRepo(store=store, alias=ctx.alias),
                   records=MigrationRecords(store=store, alias=ctx.alias))
