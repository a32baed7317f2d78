"""Wire settings into collaborators: store, encoder pool, registry, services. Called at startup."""

from __future__ import annotations

from dataclasses import dataclass

from app.encoders.fastembed_encoder import EncoderPool
from app.services.ingest import IngestService
from app.services.registry import RegistryRepo, bootstrap
from app.services.search import SearchService
from app.settings import Settings
from app.store.base import Store
from app.store.factory import open_store


@dataclass
class Services:
    settings: Settings
    store: Store
    encoders: EncoderPool
    registry: RegistryRepo
    ingest: IngestService
    search: SearchService

    def close(self) -> None:
        self.store.close()


def build_services(settings: Settings, *, store: Store | None = None, encoders: EncoderPool | None = None) -> Services:
    store = store or open_store(settings.store)
    encoders = encoders or EncoderPool(settings.models, settings.encoders)
    store.ping()  # fail at startup, clearly, on an unreachable or too old server
    registry = bootstrap(settings, store, encoders)
    return Services(
        settings=settings,
        store=store,
        encoders=encoders,
        registry=registry,
        ingest=IngestService(store=store, encoders=encoders, registry=registry, settings=settings),
        search=SearchService(store=store, encoders=encoders, registry=registry, settings=settings),
    )
