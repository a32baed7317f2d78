"""A store that refuses every write once frozen, for the fixtures that several read-only tests share."""

from __future__ import annotations

from typing import Any

from app.store.base import Store, port_methods

# The port methods that leave the store as it was; every other one (and any method added to the port later)
# counts as a write. `snapshot` writes a file outside the store and changes nothing in it; `reserve` only checks.
READS = frozenset({"ping", "close", "collection_exists", "list_collections", "vector_specs", "vector_datatypes",
                   "retrieve", "scroll", "count", "query", "get_alias", "list_aliases", "get_meta", "snapshot",
                   "reserve"})
WRITES = frozenset(port_methods()) - READS


class WriteOnSharedStore(AssertionError):
    """A test changed a store other tests share: it must take a fixture of its own (`loaded`)."""


class FreezableStore:
    """Implements the Store port by passing every call to `inner` (a real adapter); after `freeze()`
    a write (`WRITES`) raises `WriteOnSharedStore` naming the method, before it reaches the store, so
    a test that writes to a shared store fails on its own, never the tests that run after it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.frozen = False

    def freeze(self) -> None:
        """Refuse every write from now on."""
        self.frozen = True

    def __getattr__(self, name: str) -> Any:
        if name in WRITES and self.frozen:
            raise WriteOnSharedStore(f"{name}() on a store shared by several tests: a test that changes the "
                                     "store takes a fixture of its own (`loaded`, not `shared_loaded`)")
        return getattr(self.inner, name)
