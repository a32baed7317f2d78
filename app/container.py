"""The composition root: settings in, the store, encoder pool, repositories, services and migrator out."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.encoders.fastembed_encoder import EncoderPool
from app.repos.profiles import ProfileRepo
from app.repos.registry import RegistryRepo, bootstrap
from app.repos.restore_journal import RestoreJournal
from app.services.backup import BackupService
from app.services.ingest import IngestService
from app.services.plans import check_named_spaces
from app.services.search import SearchService
from app.settings import Settings
from app.store.base import Store
from app.store.factory import collection_config, open_store
from app.store.journal_places import place_for
from app.versioning.engine import Migrator


@dataclass
class Services:
    """Everything the API, the loader and the operators' commands use, built once by `build_services`."""

    settings: Settings
    store: Store
    encoders: EncoderPool
    registry: RegistryRepo
    ingest: IngestService
    search: SearchService
    migrator: Migrator
    backup: BackupService = field(init=False)  # built from the store and the settings' backup folder

    def __post_init__(self) -> None:
        # the registry's journal: a restore this process runs is not refused as an unfinished one while it runs
        self.backup = BackupService(store=self.store, root=self.settings.backup_dir,
                                    config=collection_config(self.settings.collection), journal=self.registry.journal)

    def close(self) -> None:
        """Stop the shadow reads of a rollout and the fan-out pool, then close the store (the embedded store
        releases its data folder)."""
        self.search.rollouts.close()
        self.search.fanout.close()
        self.store.close()


def build_migrator(*, store: Store, encoders: EncoderPool, registry: RegistryRepo, settings: Settings,
                   search: SearchService | None = None) -> Migrator:
    """The migrator over these collaborators; validation searches through `search` (built here when not given).

    Args:
        store: where the data and the meta are.
        encoders: the model pool (the backfill encodes with it).
        registry: the registry repository of the collection alias migrated.
        settings: models, encoders and search defaults.
        search: the search service validation goes through.

    Returns:
        The migrator; one per process serialises its steps with its lock.
    """
    search = search or SearchService(store=store, encoders=encoders, registry=registry, settings=settings)
    return Migrator(store=store, encoders=encoders, registry=registry, settings=settings, search=search)


def build_services(settings: Settings, *, store: Store | None = None, encoders: EncoderPool | None = None,
                   init: bool = True) -> Services:
    """Open the store (unless given), check it answers, and wire every service and the migrator.

    Args:
        settings: the service's settings.
        store: an already-open store (tests, a second view of the same data); default: from settings.
        encoders: an already-loaded encoder pool (tests share one); default: from settings.
        init: create the collection, its alias and registry when missing (the service at startup);
            False takes the registry as stored (operators' commands, which refuse an uninitialised store).

    Returns:
        The services; `close()` closes the store.

    Raises:
        StoreUnavailable: the store does not answer or is too old; (`init`) it holds a restore that did not
            finish (app.repos.restore_journal: the message names it and the command that finishes it).
        UnknownSpace: (`init`) the search settings name a space the collection does not have.
    """
    owned, store = store is None, store or open_store(settings.store, settings.collection)
    try:
        encoders = encoders or EncoderPool(settings.models, settings.encoders)
        store.ping()  # fail at startup, clearly, on an unreachable or too old server
        journal = RestoreJournal(place_for(store))
        registry = bootstrap(settings, store, encoders, journal) if init else RegistryRepo(
            store=store, alias=settings.store.collection, journal=journal)
        if init:
            check_named_spaces(settings.search, registry.get().spaces)
    except BaseException:
        if owned:  # the embedded data folder is free again, for the command that puts the store right
            store.close()
        raise
    if init:
        for note in settings.search.startup_notes:  # the default plan fell back, or the built-in plans were replaced
            logging.getLogger("multivec").warning("%s", note)
    profiles = ProfileRepo(store=store, alias=registry.alias, profile_path=settings.search.profile_path)
    search = SearchService(store=store, encoders=encoders, registry=registry, settings=settings, profiles=profiles)
    return Services(
        settings=settings,
        store=store,
        encoders=encoders,
        registry=registry,
        ingest=IngestService(store=store, encoders=encoders, registry=registry, settings=settings),
        search=search,
        migrator=build_migrator(store=store, encoders=encoders, registry=registry, settings=settings, search=search),
    )
