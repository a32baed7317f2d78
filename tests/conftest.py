"""Shared fixtures: real models (loaded once), real stores (edge in a temp folder, qdrant in memory)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from app.container import Services, build_services
from app.domain.documents import Document
from app.encoders.fastembed_encoder import Encoder, EncoderPool
from app.settings import EncoderSettings, ModelSettings, Settings, StoreSettings
from tests.fixtures import DOCS

STORE_KINDS = ["edge", "memory"]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


class MemoEncoder:
    """A real encoder that remembers each text's vector: the models are deterministic, and the same
    fixture corpus and queries are encoded by test after test. Texts not seen yet are still sent to
    the model in one call, as the service sends them."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name, self.kind, self.dim = inner.name, inner.kind, inner.dim
        self._docs: dict[str, Any] = {}
        self._queries: dict[str, Any] = {}

    def embed(self, texts: Sequence[str]) -> list[Any]:
        new = list(dict.fromkeys(t for t in texts if t not in self._docs))
        if new:
            self._docs.update(zip(new, self.inner.embed(new), strict=True))
        return [self._docs[t] for t in texts]

    def __getattr__(self, name: str) -> Any:
        # anything else the real encoder offers (the shared mode's `embed_documents`) passes through
        return getattr(self.inner, name)

    def embed_query(self, text: str) -> Any:
        if text not in self._queries:
            self._queries[text] = self.inner.embed_query(text)
        return self._queries[text]


@pytest.fixture(scope="session", autouse=True)
def shared_models() -> Iterator[None]:
    """Every EncoderPool built in the test process (the session's, a CLI's, the harness's) loads each
    model once and remembers each text's vector (MemoEncoder): `load_encoder` is memoised for the
    session, keyed by the model and encoder settings."""
    from app.encoders import fastembed_encoder

    real = fastembed_encoder.load_encoder
    loaded: dict[tuple[str, str], MemoEncoder] = {}

    def load_once(spec: ModelSettings, settings: EncoderSettings) -> Encoder:
        key = (spec.model_dump_json(), settings.model_dump_json())
        if key not in loaded:
            loaded[key] = MemoEncoder(real(spec, settings))
        return loaded[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(fastembed_encoder, "load_encoder", load_once)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def encoders(model_cache: Path) -> EncoderPool:
    """The real models, assembled from their PyPI packages and loaded once per test session."""
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
