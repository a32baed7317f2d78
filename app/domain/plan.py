"""Query plans as data: which spaces, which vector versions, what fusion; and payload filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


def metadata_filter(values: dict[str, Scalar | list[Scalar]] | None) -> Filter:
    """`{"lang": "en", "year": [2020, 2021]}` -> all of them must match (a list means any of)."""
    if not values:
        return Filter()
    conds: list[Condition] = []
    for key, value in values.items():
        path = f"metadata.{key}"
        if isinstance(value, list):
            if not value:
                raise InvalidInput(f"filter {key!r}: empty list matches nothing")
            if len({type(v) for v in value}) > 1 or isinstance(value[0], bool):
                raise InvalidInput(f"filter {key!r}: a list must hold only strings or only integers")
            conds.append(MatchAny(path, tuple(value)))
        else:
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
        """The spaces whose own ranked lists a store returns (when `needs_per_space`)."""
        return self.spaces + self.observed

    @property
    def weighted(self) -> bool:
        return any(s.weight != 1.0 for s in self.spaces)

    @property
    def fuse_in_store(self) -> bool:
        """Qdrant fuses RRF (weighted) and DBSF (unweighted) itself; weighted DBSF is ours."""
        return len(self.spaces) > 1 and not (self.fusion == "dbsf" and self.weighted)

    @property
    def needs_per_space(self) -> bool:
        return self.explain or (len(self.spaces) > 1 and not self.fuse_in_store)

    def describe(self) -> dict[str, object]:
        return {
            "spaces": [
                {"space": s.space, "vector": s.vector_name, "kind": s.kind, "model": s.model, "weight": s.weight}
                for s in self.spaces
            ],
            "fusion": self.fusion if len(self.spaces) > 1 else "none",
            "rrf_k": self.rrf_k if self.fusion == "rrf" else None,
            "fused_in": "store" if self.fuse_in_store else ("client" if len(self.spaces) > 1 else "n/a"),
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
    """Resolve spaces to their live vector versions (or pinned `versions`), validate weights.

    Raises:
        UnknownSpace: a field or weight names a space that does not exist.
        InvalidInput: weights are negative or all zero.
    """
    names = list(fields) if fields else registry.live_spaces()
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
        spaces.append(SpaceQuery(name, version.name, version.kind, version.model, weight))
    if all(s.weight == 0 for s in spaces):
        raise InvalidInput("all weights are zero")
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
