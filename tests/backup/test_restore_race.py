"""A write racing a restore: the restore replaces the collection (here with a backup made before a migration
added a vector version) after the write read the registry. The write re-reads the registry and lands in the
restored collection as it now is; a collection that still lacks a vector the registry names is a 503 that
says why and to retry, never the engine's own text. On both adapters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient

import app.services.ingest
from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import CollectionChanged
from app.services.search import SearchService
from app.store.base import PointWrite
from app.versioning.declare import default_folder, load_folder
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS
from tests.migrations.conftest import NEW, OLD, QUERIES, SMALL_SPACES

NEW_DOC = {"id": "raced-1", "title": "Written during a restore", "body": "A document that raced a restore."}


@pytest.fixture
def services(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    """A separate-mode install (migrations/0001 applies to it), a backup of it, then 0001 applied: title v2
    is written by every upsert but missing from the backup."""
    settings = make_settings(store_kind, tmp_path, model_cache, spaces=SMALL_SPACES, backup_dir=tmp_path / "bk")
    svc = build_services(settings, encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS[:3]))
    svc.backup.backup(svc.backup.folder("before-0001"))
    svc.migrator.apply(load_folder(default_folder())[0])
    assert NEW in [v.name for v in svc.registry.get().written_versions()]
    yield svc
    svc.close()


def restore_during_encoding(monkeypatch: pytest.MonkeyPatch, services: Services) -> list[str]:
    """The first batch encoded triggers a forced restore of the backup before it is written."""
    real, restored = app.services.ingest.encode_documents, list[str]()

    def encode(*args: Any, **kwargs: Any) -> Any:
        vectors = real(*args, **kwargs)
        if not restored:
            restored.append(services.backup.restore(services.backup.folder("before-0001"), force=True).path)
        return vectors

    monkeypatch.setattr(app.services.ingest, "encode_documents", encode)
    return restored


def test_a_write_racing_a_restore_lands_in_the_restored_collection(services: Services,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    restored = restore_during_encoding(monkeypatch, services)
    with TestClient(create_app(services.settings, services=services)) as client:
        r = client.post("/documents", json={"documents": [NEW_DOC]})
        assert restored, "the restore did not run between the registry read and the write"
        assert r.status_code == 200, r.text
        assert NEW not in r.json()["vector_versions"]  # written as the restored registry says
        stored = client.get("/documents/raced-1").json()
        assert stored["title"] == NEW_DOC["title"] and stored["vector_versions"] == r.json()["vector_versions"]
        hits = client.post("/search", json={"query": "raced a restore", "limit": 3}).json()["hits"]
        assert "raced-1" in [h["id"] for h in hits]
        assert services.ingest.count() == 4  # the backup's three and this one


def test_a_vector_the_collection_lacks_is_a_clear_503_never_engine_text(services: Services) -> None:
    store, physical = services.store, services.registry.physical()
    with pytest.raises(CollectionChanged) as caught:
        store.upsert(physical, [PointWrite(id="00000000-0000-0000-0000-000000000001",
                                           vectors={"title.nothing.v9": np.ones(384, dtype=np.float32)}, payload={})])
    assert "'title.nothing.v9'" in caught.value.message and "retry" in caught.value.message
    assert "Not existing vector name" not in caught.value.message
    # the registry names a vector the collection does not have, and a re-read shows the same registry: not a
    # passing race, so the write is answered at once, naming the vector, and nothing is written
    store.delete_vector(physical, NEW)
    before = services.ingest.count()
    with TestClient(create_app(services.settings, services=services)) as client:
        r = client.post("/documents", json={"documents": [NEW_DOC]})
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["code"] == "collection_changed" and NEW in body["message"] and "retry" in body["message"]
    assert "Not existing vector name" not in r.text and body["detail"] == {"vector": NEW}
    assert services.ingest.count() == before
    # a search that names a vector the collection lost is the same clear answer
    live = services.registry.get().spaces["title"].live
    assert live is not None
    store.delete_vector(physical, live)
    with TestClient(create_app(services.settings, services=services)) as client:
        r = client.post("/search", json={"query": "anything", "fields": ["title"]})
    assert r.status_code == 503 and r.json()["code"] == "collection_changed" and live in r.json()["message"], r.text


def test_a_search_racing_a_restore_runs_on_the_restored_collection(services: Services,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """0001 promoted (title v2 live), then a restore of the backup made before it: a search that read the
    registry before the restore (title v2) and queries after it runs again on the restored registry (title v1)."""
    m = services.migrator
    m.backfill("0001")
    m.validate("0001", QUERIES)
    m.promote("0001", force=True)
    assert services.registry.get().spaces["title"].live == NEW
    real, restored = SearchService.encode_query, list[str]()

    def encode(self: SearchService, *args: Any, **kwargs: Any) -> Any:
        vectors = real(self, *args, **kwargs)
        if not restored:
            restored.append(services.backup.restore(services.backup.folder("before-0001"), force=True).path)
        return vectors

    monkeypatch.setattr(SearchService, "encode_query", encode)
    with TestClient(create_app(services.settings, services=services)) as client:
        r = client.post("/search", json={"query": "gene editing", "fields": ["title"], "limit": 3, "explain": True})
    assert restored and r.status_code == 200, r.text
    assert [s["vector"] for s in r.json()["plan"]["spaces"]] == [OLD]
    assert r.json()["hits"]
