"""Shared fixtures: real models (loaded once), real stores (edge in a temp folder, qdrant in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services, build_services
from app.domain.documents import Document
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import EncoderSettings, Settings, StoreSettings
from tests.fixtures import DOCS

STORE_KINDS = ["edge", "memory"]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def encoders(model_cache: Path) -> EncoderPool:
    """The real models, assembled from their PyPI packages once per test session."""
    s = Settings(encoders=EncoderSettings(cache_dir=model_cache))
    return EncoderPool(s.models, s.encoders)


def make_settings(kind: str, tmp_path: Path, model_cache: Path, **overrides: object) -> Settings:
    store = StoreSettings(path=tmp_path / "data", url=":memory:" if kind == "memory" else None,
                          retry_attempts=2, retry_wait_s=0.01)
    return Settings(store=store, encoders=EncoderSettings(cache_dir=model_cache), **overrides)  # type: ignore[arg-type]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(store_kind: str, tmp_path: Path, model_cache: Path) -> Settings:
    return make_settings(store_kind, tmp_path, model_cache)


@pytest.fixture
def services(settings: Settings, encoders: EncoderPool) -> Iterator[Services]:
    svc = build_services(settings, encoders=encoders)
    yield svc
    svc.close()


def to_documents(raw: list[dict]) -> list[Document]:
    return [Document.from_dict(d) for d in raw]


@pytest.fixture
def loaded(services: Services) -> Services:
    """Services with the fixture corpus ingested and the index optimised."""
    services.ingest.upsert(to_documents(DOCS))
    services.store.optimize(services.registry.physical())
    return services
