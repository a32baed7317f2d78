"""Spaces and their vector versions: names, lifecycle, and which version of each space is live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from app.domain.bounds import shown
from app.errors import Conflict, UnknownSpace

MAX_NAME_CHARS = 200  # a space's or a model's name: 1 to this many characters (settings, migrations, requests)

SpaceKind = Literal["dense", "multi", "sparse"]
Status = Literal["shadow", "backfilling", "ready", "live", "retired"]
# `hnsw`: searched on its own through an HNSW graph; `rerank`: stored without a graph (m = 0) and only
# used to rescore another stage's candidates (Qdrant's advice for rerank-only multivectors).
IndexKind = Literal["hnsw", "rerank"]

# Versions that are written on every ingest (shadow write): all but retired.
WRITTEN: frozenset[str] = frozenset({"shadow", "backfilling", "ready", "live"})


def vector_name(space: str, model: str, version: int) -> str:
    """`body.minilm-l6-int8.v1`: space, model and version, readable in Qdrant's dashboard."""
    return f"{space}.{model}.v{version}"


@dataclass(frozen=True)
class VectorVersion:
    """One named vector in the collection: a space encoded by one model."""

    space: str
    field: str
    kind: SpaceKind
    model: str
    version: int
    dim: int | None  # None for sparse
    distance: str = "cosine"
    idf: bool = True  # sparse only: the engine's IDF modifier (BM25); False for learned weights (SPLADE)
    status: Status = "shadow"
    index: IndexKind = "hnsw"
    created: str = ""
    status_changed: str = ""

    @property
    def name(self) -> str:
        """The named vector's name, `<space>.<model>.v<version>` (app.domain.versions.vector_name)."""
        return vector_name(self.space, self.model, self.version)


@dataclass(frozen=True)
class Rollout:
    """A gradual rollout: `percent` of live searches (picked by a hash of the query) use `version`
    for its space instead of the live version; started at `started` (ISO)."""

    version: str
    percent: int
    started: str = ""


@dataclass(frozen=True)
class SpaceState:
    """A space: its versions and which one is live (the space's alias)."""

    name: str
    live: str | None
    versions: dict[str, VectorVersion] = field(default_factory=dict)
    previous: str | None = None  # the version `rollback` returns to
    rollout: Rollout | None = None  # a share of searches sent to another version (promote --percent)

    @property
    def live_said(self) -> str:
        """Which version is live, for a person: `live is <version>`, or `space '<name>' has no live version`."""
        return f"live is {self.live}" if self.live else f"space {self.name!r} has no live version"


@dataclass(frozen=True)
class Registry:
    """The state of every space; stored in Qdrant so every replica reads the same."""

    spaces: dict[str, SpaceState]
    revision: int = 0

    def space(self, name: str) -> SpaceState:
        """The state of space `name`.

        Raises:
            UnknownSpace: naming it, with the known spaces in `detail`.

        """
        try:
            return self.spaces[name]
        except KeyError:
            raise UnknownSpace(
                f"unknown space {shown(name)}", {"known": sorted(self.spaces)}
            ) from None

    def live_version(self, space: str) -> VectorVersion:
        """The version searches of `space` use (the space's alias).

        Raises:
            UnknownSpace: no such space.
            Conflict: the space has no live version yet.

        """
        state = self.space(space)
        if state.live is None:
            raise Conflict(f"space {space!r} has no live version")
        return state.versions[state.live]

    def live_spaces(self) -> list[str]:
        """Names of the spaces that have a live version, in registry order."""
        return [name for name, s in self.spaces.items() if s.live is not None]

    def indexed(self, spaces: Sequence[str], pins: Mapping[str, str] | None = None) -> list[str]:
        """`spaces` less the rerank-only ones (no HNSW graph) at the version searched (`pins`: space -> version
        name; else the live one): the spaces a fused search finds candidates in."""
        return [s for s in spaces if (self.find(pins[s]) if pins and s in pins else self.live_version(s)).index
                != "rerank"]

    def sparse(self) -> frozenset[str]:
        """The spaces whose vectors are sparse: their lists are complete, and DBSF normalises them so
        (app.domain.fusion.zero_floors)."""
        return frozenset(s.name for s in self.spaces.values() if any(v.kind == "sparse" for v in s.versions.values()))

    def written_versions(self) -> list[VectorVersion]:
        """Every version that ingest must write: the live ones and those being built."""
        return [v for s in self.spaces.values() for v in s.versions.values() if v.status in WRITTEN]

    def find(self, name: str) -> VectorVersion:
        """The version with vector name `name`, in any space.

        Raises:
            UnknownSpace: no space has it.

        """
        for s in self.spaces.values():
            if name in s.versions:
                return s.versions[name]
        raise UnknownSpace(f"unknown vector version {shown(name)}")

    def with_version(self, version: VectorVersion) -> Registry:
        """A new registry with `version` added or replaced (its space created if new); revision + 1."""
        state = self.spaces.get(version.space) or SpaceState(name=version.space, live=None)
        versions = {**state.versions, version.name: version}
        spaces = {**self.spaces, version.space: replace(state, versions=versions)}
        return Registry(spaces=spaces, revision=self.revision + 1)

    def with_rollout(self, space: str, rollout: Rollout | None) -> Registry:
        """A new registry with `space`'s gradual rollout set (None ends it); revision + 1.

        Raises:
            UnknownSpace: no such space.

        """
        state = self.space(space)
        spaces = {**self.spaces, space: replace(state, rollout=rollout)}
        return Registry(spaces=spaces, revision=self.revision + 1)

    def with_live(self, space: str, name: str | None, previous: str | None) -> Registry:
        """A new registry where `space` searches version `name`, and `rollback` returns to `previous`; revision + 1.

        Raises:
            UnknownSpace: no such space.

        """
        state = self.space(space)
        spaces = {**self.spaces, space: replace(state, live=name, previous=previous)}
        return Registry(spaces=spaces, revision=self.revision + 1)
