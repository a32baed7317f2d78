"""Query plans as data: which spaces, which vector versions, what fusion; and payload filters."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from app.domain.bounds import check_int, check_text
from app.domain.versions import Registry, SpaceKind
from app.errors import InvalidInput

Fusion = Literal["rrf", "dbsf"]
Scalar = str | int | bool  # what Qdrant can match exactly (no floats)


@dataclass(frozen=True)
class Match:
    """Payload `key` equals `value` (or, for an array, contains it)."""

    key: str
    value: Scalar


@dataclass(frozen=True)
class MatchAny:
    key: str
    values: tuple[Scalar, ...]


Condition = Match | MatchAny


@dataclass(frozen=True)
class Filter:
    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.must or self.must_not)


# A filter key is a metadata name, or a dotted path into nested metadata: `year`, `author.country`.
# Each name is letters (any script), digits, `_` or `-`; any but plain ASCII names are quoted in the
# Qdrant path, and no other JSON-path syntax (`[]`, quotes, spaces) can reach the store.
FILTER_KEY = re.compile(r"^[\w-]+(\.[\w-]+)*$")
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # needs no quotes in a Qdrant path
MAX_RRF_K = 10_000
MAX_WEIGHT = 1_000.0


def filter_path(key: str) -> str:
    """The Qdrant payload path of a metadata filter key: `author.country` -> `metadata."author"."country"`.

    Raises: InvalidInput when `key` is not a name or dotted path of names.
    """
    if len(key) > 256 or not FILTER_KEY.fullmatch(key):
        raise InvalidInput(
            f"filter key {key[:60]!r} is not a metadata name or a dotted path of names (letters, digits, `_`, `-`;"
            " `a.b` reads key `b` inside object `a`)")
    return "metadata." + ".".join(part if _PLAIN.fullmatch(part) else f'"{part}"' for part in key.split("."))


def _filter_value(key: str, value: object, max_chars: int) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        check_int(value, f"filter {key!r}")
    elif isinstance(value, str):
        check_text(value, f"filter {key!r}", max_chars)
    else:
        raise InvalidInput(f"filter {key!r}: {type(value).__name__} values cannot be matched (strings, integers or"
                           " booleans only)")


def metadata_filter(values: dict[str, Scalar | list[Scalar]] | None, *, max_conditions: int = 16,
                    max_values: int = 256, max_chars: int = 8_192) -> Filter:
    """`{"lang": "en", "year": [2020, 2021]}` -> all of them must match (a list means any of).

    Raises: InvalidInput naming the key: not a name or dotted path, too many conditions or values,
        an integer outside signed 64 bits, a float, a mixed or empty list.
    """
    if not values:
        return Filter()
    if len(values) > max_conditions:
        raise InvalidInput(f"filter has {len(values)} keys, over the limit of {max_conditions}")
    conds: list[Condition] = []
    for key, value in values.items():
        path = filter_path(key)
        if isinstance(value, list):
            if not value:
                raise InvalidInput(f"filter {key!r}: empty list matches nothing")
            if len(value) > max_values:
                raise InvalidInput(f"filter {key!r}: {len(value)} values, over the limit of {max_values}")
            if len({type(v) for v in value}) > 1 or isinstance(value[0], bool):
                raise InvalidInput(f"filter {key!r}: a list must hold only strings or only integers")
            for v in value:
                _filter_value(key, v, max_chars)
            conds.append(MatchAny(path, tuple(value)))
        else:
            _filter_value(key, value, max_chars)
            conds.append(Match(path, value))
    return Filter(must=tuple(conds))


@dataclass(frozen=True)
class SpaceQuery:
    """One prefetch: a space searched through one named vector."""

    space: str
    vector_name: str
    kind: SpaceKind
    model: str
    weight: float


@dataclass(frozen=True)
class QueryPlan:
    """Everything a store needs to run one search; a test can compare it, `explain` shows it."""

    spaces: tuple[SpaceQuery, ...]
    fusion: Fusion
    rrf_k: int
    limit: int
    prefetch_limit: int
    filter: Filter
    explain: bool = False
    # Spaces weighted to zero: not fused, but with `explain` their own lists are still shown.
    observed: tuple[SpaceQuery, ...] = ()

    @property
    def listed(self) -> tuple[SpaceQuery, ...]:
        """The spaces whose own ranked lists a store returns (app.domain.fusion.needs_per_space)."""
        return self.spaces + self.observed

    @property
    def weighted(self) -> bool:
        """True when some fused space weighs other than 1.0."""
        return any(s.weight != 1.0 for s in self.spaces)

    def describe(self, fused_in: str) -> dict[str, object]:
        """The plan as `explain` shows it; `fused_in` is who fuses it (app.domain.fusion.fused_in)."""
        return {
            "spaces": [
                {"space": s.space, "vector": s.vector_name, "kind": s.kind, "model": s.model, "weight": s.weight}
                for s in self.spaces
            ],
            "fusion": self.fusion if len(self.spaces) > 1 else "none",
            "rrf_k": self.rrf_k if self.fusion == "rrf" else None,
            "fused_in": fused_in,
            "limit": self.limit,
            "prefetch_limit": self.prefetch_limit,
            "observed_only": [s.space for s in self.observed],
        }


def build_plan(
    registry: Registry,
    *,
    fields: list[str] | None,
    fusion: Fusion,
    rrf_k: int,
    weights: dict[str, float],
    limit: int,
    prefetch_limit: int,
    filter: Filter,
    explain: bool = False,
    versions: dict[str, str] | None = None,
) -> QueryPlan:
    """Resolve spaces to their live vector versions (or pinned `versions`), validate weights. With no
    `fields`, the live spaces are searched, and any space that has no live version but is pinned.

    Raises:
        UnknownSpace: a field or weight names a space that does not exist.
        InvalidInput: weights are negative or all zero.
    """
    # by default the live spaces, and a space pinned before it has a live version (validating a new space)
    names = list(fields) if fields else registry.live_spaces() + [
        s for s in (versions or {}) if s in registry.spaces and registry.spaces[s].live is None]
    if not names:
        raise InvalidInput("no spaces to search")
    if len(set(names)) != len(names):
        raise InvalidInput(f"fields lists a space twice: {names}")
    for name in weights:
        if name not in registry.spaces:
            registry.space(name)  # raises UnknownSpace naming it
    spaces: list[SpaceQuery] = []
    for name in names:
        pinned = (versions or {}).get(name)
        version = registry.find(pinned) if pinned else registry.live_version(name)
        if version.space != name:
            raise InvalidInput(f"version {pinned!r} is not a version of space {name!r}")
        weight = float(weights.get(name, 1.0))
        if weight < 0:
            raise InvalidInput(f"weight of {name!r} is negative: {weight}")
        if not (math.isfinite(weight) and weight <= MAX_WEIGHT):
            raise InvalidInput(f"weight of {name!r} is {weight}: weights are finite numbers from 0 to {MAX_WEIGHT:g}")
        spaces.append(SpaceQuery(name, version.name, version.kind, version.model, weight))
    if not 1 <= rrf_k <= MAX_RRF_K:
        raise InvalidInput(f"rrf_k {rrf_k} is outside 1..{MAX_RRF_K}")
    if all(s.weight == 0 for s in spaces):
        raise InvalidInput("all weights are zero: the searched spaces (" + ", ".join(names) + ") all weigh 0")
    # A zero-weighted space contributes nothing: no prefetch; with explain, its own list is shown.
    observed = tuple(s for s in spaces if s.weight == 0) if explain else ()
    return QueryPlan(
        spaces=tuple(s for s in spaces if s.weight > 0),
        observed=observed,
        fusion=fusion,
        rrf_k=rrf_k,
        limit=limit,
        prefetch_limit=max(prefetch_limit, limit),
        filter=filter,
        explain=explain,
    )
