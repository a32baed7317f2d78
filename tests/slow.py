"""A store that is slow for chosen spaces: every call goes to a real store, but `query` waits first for
a plan that lists a slow space, as a space whose index is overloaded would."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from app.domain.plan import QueryPlan
from app.errors import StoreUnavailable
from app.services.search import SearchService
from app.store.base import QueryResult, Store, VectorValue


class SlowSpaces:
    """Implements the Store port by delegating to `inner`; `query` of a plan listing one of `slow`
    sleeps up to `sleep_s` first (the space is read from the plan passed in), and one listing one of
    `failing` raises StoreUnavailable. `release()` wakes every sleeper at once, so a test never waits
    for them at teardown; until then a slow query cannot have finished (`finished` says which did)."""

    def __init__(self, inner: Store, *, slow: Iterable[str] = (), failing: Iterable[str] = (),
                 sleep_s: float = 30.0) -> None:
        self.inner = inner
        self.kind, self.fusions = inner.kind, inner.fusions
        self.slow, self.failing, self.sleep_s = set(slow), set(failing), sleep_s
        self.queried: list[set[str]] = []  # the spaces each query listed
        self.finished: list[set[str]] = []  # the same, for the queries that returned
        self._released = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def query(self, collection: str, plan: QueryPlan, vectors: dict[str, VectorValue]) -> QueryResult:
        """See `Store.query`; slow or failing for the spaces chosen."""
        listed = {s.space for s in plan.listed}
        self.queried.append(listed)
        if listed & self.failing:
            raise StoreUnavailable(f"the index of {sorted(listed & self.failing)} is down")
        if listed & self.slow:
            self._released.wait(self.sleep_s)
        result = self.inner.query(collection, plan, vectors)
        self.finished.append(listed)
        return result

    def release(self) -> None:
        """Wake every sleeping query now (they then run on the real store)."""
        self._released.set()

    def reset(self, *, slow: Iterable[str] = (), failing: Iterable[str] = ()) -> None:
        """Wake the sleepers of the last test, then make these spaces slow or failing."""
        self.release()
        self._released = threading.Event()
        self.slow, self.failing = set(slow), set(failing)


@contextmanager
def slow_search(search: SearchService, *, slow: Iterable[str] = (), failing: Iterable[str] = (),
                **search_settings: Any) -> Iterator[tuple[SearchService, SlowSpaces]]:
    """A search service over `search`'s data whose store is slow (or failing) for these spaces, with its own
    fan-out pool and these search settings changed (e.g. `deadlines_ms`); sleepers are woken and the pool
    closed on exit."""
    store = SlowSpaces(search.store, slow=slow, failing=failing)
    settings = search.settings.model_copy(
        update={"search": search.settings.search.model_copy(update=search_settings)})
    service = SearchService(store=store, encoders=search.encoders, registry=search.registry,  # type: ignore[arg-type]
                            settings=settings, profiles=search.profiles)
    try:
        yield service, store
    finally:
        store.release()
        service.fanout.close()
