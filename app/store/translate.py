"""Domain filters and vectors to Qdrant types, for both adapters.

qdrant-client's `models` and `qdrant_edge` name these classes alike (Filter, FieldCondition,
MatchValue, MatchAny, SparseVector), so one translation serves both, given the module.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from app.domain.plan import Condition, Filter, HasId, Match
from app.encoders.fastembed_encoder import SparseVec
from app.store.base import VectorValue


def _value(mod: ModuleType, value: Any) -> Any:
    """qdrant-edge 0.9 reads a Python bool as the integer 1 (bool is an int), which matches no
    boolean payload; numpy's `bool_` is not an int, so it reaches the engine as a boolean."""
    if isinstance(value, bool) and mod.__name__ == "qdrant_edge":
        import numpy as np

        return np.bool_(value)
    return value


def to_filter(mod: ModuleType, f: Filter | None) -> Any:
    """Our filter as `mod.Filter` (exact matches or point ids, all must hold, none of must_not), or None."""
    if not f:
        return None

    def cond(c: Condition) -> Any:
        if isinstance(c, HasId):  # edge takes a set of ids, qdrant-client a list
            return mod.HasIdCondition(set(c.ids)) if mod.__name__ == "qdrant_edge" else mod.HasIdCondition(
                has_id=list(c.ids))
        match = mod.MatchValue(value=_value(mod, c.value)) if isinstance(c, Match) else mod.MatchAny(any=list(c.values))
        return mod.FieldCondition(key=c.key, match=match)

    return mod.Filter(must=[cond(c) for c in f.must] or None, must_not=[cond(c) for c in f.must_not] or None)


def to_vector(mod: ModuleType, value: VectorValue) -> Any:
    """numpy arrays (or lists of them, for a multivector) to lists; SparseVec to the module's type.

    Returns:
        A list of floats (dense, (d,)), a list of lists (multivector, (n, d)), or `mod.SparseVector`.
    """
    if isinstance(value, SparseVec):
        return mod.SparseVector(indices=list(value.indices), values=list(value.values))
    if isinstance(value, np.ndarray):
        return value.tolist()
    return [v.tolist() if isinstance(v, np.ndarray) else v for v in value]


def from_vector(mod: ModuleType, value: Any) -> VectorValue:
    """An engine's vector as ours: its SparseVector as SparseVec, lists as they are."""
    if isinstance(value, mod.SparseVector):
        return SparseVec(tuple(value.indices), tuple(value.values))
    return value
