"""Domain filters and vectors to Qdrant types, for both adapters.

qdrant-client's `models` and `qdrant_edge` name these classes alike (Filter, FieldCondition,
MatchValue, MatchAny, SparseVector), so one translation serves both, given the module.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from app.domain.plan import Condition, Filter, Match
from app.encoders.fastembed_encoder import SparseVec
from app.store.base import VectorValue


def to_filter(mod: ModuleType, f: Filter | None) -> Any:
    if not f:
        return None

    def cond(c: Condition) -> Any:
        match = mod.MatchValue(value=c.value) if isinstance(c, Match) else mod.MatchAny(any=list(c.values))
        return mod.FieldCondition(key=c.key, match=match)

    return mod.Filter(must=[cond(c) for c in f.must] or None, must_not=[cond(c) for c in f.must_not] or None)


def to_vector(mod: ModuleType, value: VectorValue) -> Any:
    """numpy arrays (or lists of them, for a multivector) to lists; SparseVec to the module's type."""
    if isinstance(value, SparseVec):
        return mod.SparseVector(indices=list(value.indices), values=list(value.values))
    if hasattr(value, "tolist"):
        return value.tolist()
    if value and hasattr(value[0], "tolist"):
        return [v.tolist() for v in value]
    return value


def from_vector(mod: ModuleType, value: Any) -> VectorValue:
    if isinstance(value, mod.SparseVector):
        return SparseVec(tuple(value.indices), tuple(value.values))
    return value
