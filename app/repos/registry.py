"""The vector-version registry and the rebuild marker, kept in the store beside the data (one state, all replicas)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from app.domain.versions import Registry, Rollout, SpaceState, VectorVersion
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import Conflict
from app.repos.restore_journal import RestoreJournal
from app.settings import Settings
from app.store.base import Store, VectorSpec

# Rebuild states in which ingest writes to both the old and the new physical collection.
DUAL_WRITE: frozenset[str] = frozenset({"filling", "filled"})


def now() -> str:
    """The current UTC time as ISO 8601 to the second: the stamps of versions, markers and records."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def registry_to_dict(reg: Registry) -> dict[str, Any]:
    """The registry as stored in meta: `{revision, spaces: {name: {live, previous, rollout, versions}}}`
    (`rollout` is `{version, percent, started}` or null)."""
    return {
        "revision": reg.revision,
        "spaces": {
            name: {"live": s.live, "previous": s.previous, "rollout": asdict(s.rollout) if s.rollout else None,
                   "versions": {n: asdict(v) for n, v in s.versions.items()}}
            for name, s in reg.spaces.items()
        },
    }


def registry_from_dict(data: dict[str, Any]) -> Registry:
    """The registry from what `registry_to_dict` stored."""
    spaces = {
        name: SpaceState(
            name=name,
            live=s.get("live"),
            previous=s.get("previous"),
            rollout=Rollout(**s["rollout"]) if s.get("rollout") else None,
            versions={n: VectorVersion(**v) for n, v in s["versions"].items()},
        )
        for name, s in data["spaces"].items()
    }
    return Registry(spaces=spaces, revision=int(data.get("revision", 0)))


def spec_of(version: VectorVersion) -> VectorSpec:
    """What the store needs to create the version's named vector: kind, dimension, distance, index, IDF."""
    return VectorSpec(kind=version.kind, dim=version.dim, distance=version.distance, index=version.index,
                      idf=version.idf)


class RegistryRepo:
    """Reads and writes the registry of one collection alias; with a `journal`, refuses to read it from a store
    holding a restore that did not finish (app.repos.restore_journal)."""

    def __init__(self, *, store: Store, alias: str, journal: RestoreJournal | None = None) -> None:
        self.store = store
        self.alias = alias
        self.key = f"registry:{alias}"
        self.journal = journal

    def check(self, *, read: bool = True) -> bool:
        """Refuse a store that is not whole: a restore began and did not finish (a process killed mid-way).

        Args:
            read: False: only against the journal's last read (`RestoreJournal.check`), False when that is stale.

        Returns:
            True when checked.

        Raises:
            StoreUnavailable: naming the restore and the command that finishes it.
        """
        return self.journal is None or self.journal.check(read=read)

    def load(self) -> Registry | None:
        """The stored registry, or None before the first start.

        Raises:
            StoreUnavailable: the stored value is no registry this service reads (an edited backup restored
                one, and every route then answered 500 and the service did not start: a break test); or the
                store holds a restore that did not finish (`check`): its registry may be the backup's beside the
                collections of before (a restore killed mid-way was served so, `/ready` 200).
        """
        self.check()
        data = self.store.get_meta(self.key)
        if not data:
            return None
        try:
            reg = registry_from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            from app.errors import StoreUnavailable

            raise StoreUnavailable(f"the registry of {self.alias!r} in the store's meta does not read "
                                   f"({type(e).__name__}: {e}): restore a good backup (scripts/restore NAME "
                                   "--force, the service stopped)", {"key": self.key}) from None
        return reg

    def get(self) -> Registry:
        """The stored registry.

        Raises:
            CollectionNotFound: the collection was never initialised.
        """
        reg = self.load()
        if reg is None:
            from app.errors import CollectionNotFound

            raise CollectionNotFound(f"collection {self.alias!r} is not initialised")
        return reg

    def save(self, reg: Registry, *, expect: int) -> Registry:
        """Write `reg` if the stored registry is still at revision `expect` (compare-and-set).

        Pass the revision of the registry the step read and checked its preconditions on: a step
        that lost a race to another (another process, or another thread of the admin API) then
        changes nothing, instead of overwriting the other's write.

        Args:
            reg: the new state; its own revision is ignored.
            expect: the revision read (0: no registry yet).

        Returns:
            `reg` as stored, at revision `expect + 1`.

        Raises:
            Conflict: another step changed the registry since it was read (409 at the API).
        """
        revision = self.store.put_meta(self.key, registry_to_dict(reg), expect_revision=expect)
        return Registry(spaces=reg.spaces, revision=int(revision or expect + 1))

    # -- rebuild marker: while a collection is rebuilt, ingest writes to both physical collections --
    @property
    def rebuild_key(self) -> str:
        """The meta key of the rebuild marker."""
        return f"rebuild:{self.alias}"

    def rebuild(self) -> dict[str, Any] | None:
        """The rebuild in progress (app.versioning.rebuild), if any, as stored in meta."""
        return self.store.get_meta(self.rebuild_key)

    def save_rebuild(self, marker: dict[str, Any]) -> None:
        """Replace the rebuild marker (`source`, `target`, `status`, `cursor`, ...)."""
        self.store.put_meta(self.rebuild_key, marker)

    def write_collections(self) -> list[str]:
        """Where ingest writes: the alias; during a rebuild both physical collections (dual write),
        named directly so an alias swap between two writes cannot make either side miss one."""
        marker = self.rebuild()
        if marker and marker.get("status") in DUAL_WRITE:
            return [marker["source"], marker["target"]]
        return [self.alias]

    def served_collections(self) -> list[str]:
        """Every physical collection searches or writes reach now: the alias's, and during a
        rebuild both sides."""
        return sorted({self.physical() if name == self.alias else name for name in self.write_collections()})

    def physical(self) -> str:
        """The collection the alias points at now.

        Raises:
            CollectionNotFound: the alias points at no collection.
        """
        name = self.store.get_alias(self.alias)
        if name is None:
            from app.errors import CollectionNotFound

            raise CollectionNotFound(f"alias {self.alias!r} points at no collection")
        return name


def initial_registry(settings: Settings, encoders: EncoderPool) -> Registry:
    """Every configured space at its configured version, live."""
    stamp = now()
    reg = Registry(spaces={})
    for space in settings.spaces:
        version = VectorVersion(
            space=space.name, field=space.field, kind=space.kind, model=space.model, version=space.version,
            dim=encoders.dim(space.model), idf=encoders.idf(space.model), status="live", created=stamp,
            status_changed=stamp, index=space.index,
        )
        reg = reg.with_version(version).with_live(space.name, version.name, None)
    return Registry(spaces=reg.spaces, revision=1)


def bootstrap(settings: Settings, store: Store, encoders: EncoderPool,
              journal: RestoreJournal | None = None) -> RegistryRepo:
    """Create the collection, its alias and registry on first start; reuse them after. A collection
    the alias points at but that is gone (moved aside by the runbook's recovery) is created anew,
    empty, with the registry's vector versions. A store holding an unfinished restore (`journal`) is
    refused before anything is created (StoreUnavailable naming it)."""
    repo = RegistryRepo(store=store, alias=settings.store.collection, journal=journal)
    stored = repo.load()
    physical = store.get_alias(repo.alias)
    if stored is not None and physical is not None and store.collection_exists(physical):
        return repo
    reg = stored or initial_registry(settings, encoders)
    physical = physical or f"{repo.alias}__1"
    store.create_collection(physical, {v.name: spec_of(v) for v in reg.written_versions()})
    store.set_alias(repo.alias, physical)
    if stored is None:
        try:
            repo.save(reg, expect=0)
        except Conflict:  # another replica started at the same moment and wrote it first
            if repo.load() is None:
                raise
    return repo
