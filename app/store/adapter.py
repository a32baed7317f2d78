"""What both store adapters share beyond the port: translating every engine error into our table, how a
named vector is added in place (stored at its space's datatype), and the bound on every payload they write."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from app.domain.bounds import nested_past
from app.domain.fusion import DBSF
from app.errors import AppError, CollectionChanged, InvalidInput
from app.store.base import port_methods
from app.store.types import CollectionConfig, VectorStorage

# What both engines (qdrant-edge and a Qdrant server) fuse themselves (`Store.fusions`): unweighted DBSF (its
# score depends on scores only, so equal scores stay equal and are ordered by point id afterwards). RRF depends
# on ranks, and the engine ranks equal scores in its own order, so RRF is fused by the service from lists ordered
# by score then point id; weighted DBSF the engines do not offer.
IN_STORE_FUSIONS: frozenset[str] = frozenset({DBSF})
# qdrant-edge (and Qdrant's storage) cannot read back a payload nested 127 levels or more, and a shard whose WAL
# holds one can no longer be replayed: the collection is unreadable after a restart
STORE_MAX_DEPTH = 100
P = TypeVar("P", bound=Mapping[str, Any] | None)


def storable(payload: P, what: str) -> P:
    """`payload`, when the engine can read it back after a restart: nested at most `STORE_MAX_DEPTH` levels
    (objects and arrays). Checked on every payload an adapter writes (points, `set_payload`, meta values),
    whoever wrote it: the API bounds request bodies lower, but scripts, ranking profiles and migrations reach
    the store without passing it (a profile installed with a `fitted_on` 130 levels deep made the registry's
    collection unreadable: a break test).

    Raises:
        InvalidInput: nested deeper, naming `what` and where; nothing is written.
    """
    where = nested_past(payload, STORE_MAX_DEPTH) if payload else None
    if where is not None:
        raise InvalidInput(f"{what} is nested more than {STORE_MAX_DEPTH} levels deep (at {where}): the store "
                           "could not read it back after a restart", {"what": what})
    return payload


def in_place_storage(config: CollectionConfig, name: str, held: dict[str, str]) -> VectorStorage:
    """How a named vector added to a live collection is stored: as the settings say (`config`), except its
    datatype, which is its space's in that collection when the other versions of the space there share one
    (`held`: vector name -> datatype, as `Store.vector_datatypes` reports): a collection keeps the layout it
    was made with until a rebuild changes it, so a float32 install made before float16 became the default
    stays so."""
    space = name.split(".")[0]
    kept = {d for n, d in held.items() if n.split(".")[0] == space and n != name}
    storage = config.for_vector(name)
    return replace(storage, datatype=kept.pop()) if len(kept) == 1 else storage


# how the engines refuse a vector name the collection lacks: edge and a Qdrant server (writes and queries), and
# the in-memory client's query ("Dense vector <name> is not found in the collection")
_MISSING_VECTOR = re.compile(r"Not existing vector name error: ([^\s'\"\\]+)|"
                             r"\b[Vv]ector ([^\s'\"\\]+) is not found in the collection")


def missing_vector(text: str, what: str) -> CollectionChanged | None:
    """The engine's refusal of a vector name the collection does not have, as `CollectionChanged` naming the
    vector and the likely cause (the collection replaced under the request); None for any other error text."""
    found = _MISSING_VECTOR.search(text)
    if found is None:
        return None
    name = found.group(1) or found.group(2)
    return CollectionChanged(f"the collection has no vector {name!r} that this {what} named: a restore or a "
                             "migration replaced it after the request read the registry; retry the request",
                             {"vector": name})


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
