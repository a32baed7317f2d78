"""One call at a time into an object that is not thread-safe (qdrant-client's in-memory mode)."""

from __future__ import annotations

import threading
from typing import Any


class Serialized:
    """Every method call on `inner` holds one lock: qdrant-client's local (`:memory:`) collections are
    plain numpy arrays, and a search during an upsert can see them half-grown ("operands could not be
    broadcast together"). A real server needs no such lock."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return call
