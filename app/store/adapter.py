"""What both store adapters share beyond the port: translating every engine error into our table, and
refusing a rerank-only named vector added in place."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from app.errors import AppError, InvalidInput
from app.store.base import port_methods
from app.store.types import VectorSpec


def refuse_in_place_rerank(name: str, spec: VectorSpec) -> None:
    """Raises: InvalidInput when `spec` is rerank-only (see `Store.add_vector`)."""
    if spec.index == "rerank":
        raise InvalidInput(f"named vector {name!r} is rerank-only (no HNSW graph): it cannot be added to a live "
                           "collection in place; add it with an HNSW index, then rebuild with Rebuild(index=...)")


def translate_errors(cls: type, translate: Callable[[BaseException, str], AppError]) -> None:
    """Wrap every port method of adapter class `cls` so any engine error leaves it as one of ours.

    `translate(error, what)` maps an engine error to an `AppError`; ours pass through untouched,
    and so do KeyboardInterrupt, SystemExit and GeneratorExit.
    """
    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (KeyboardInterrupt, SystemExit, GeneratorExit, AppError):
                raise
            except BaseException as e:
                raise translate(e, name) from e
        return call

    for name in port_methods():
        setattr(cls, name, wrap(name, getattr(cls, name)))
