"""Through HTTP, in both encoding modes: `"entities": []` means none (nothing derived, no entities vector, GET
answers `[]`), null or absent derives them, and a text that shows no word derives no entity (never `""`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import default_spaces
from tests.conftest import make_settings

TEXT = {"title": "Quokka colonies on Rottnest Island", "body": "The quokka is a small marsupial. Quokka "
        "colonies live on Rottnest Island near Perth."}


@pytest.fixture(scope="module", params=["shared", "separate"])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
           encoders: EncoderPool) -> Iterator[TestClient]:
    settings = make_settings("edge", tmp_path_factory.mktemp("no-entities"), model_cache,
                             spaces=default_spaces(request.param))
    svc = build_services(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services=svc)) as c:
            r = c.post("/documents", json={"documents": [
                {"id": "none", **TEXT, "entities": []},
                {"id": "null", **TEXT, "entities": None},
                {"id": "absent", **TEXT},
                {"id": "punct", "title": "", "body": "!!! ??? ..."},
                {"id": "filler", "title": "\u3164", "body": "!!! \u200b ??? *** ..."}]})
            assert r.status_code == 200, r.text
            yield c
    finally:
        svc.close()


def test_an_empty_list_is_kept_and_nothing_is_derived(client: TestClient) -> None:
    doc = client.get("/documents/none").json()
    assert doc["entities"] == [] and doc["derived"]["entities"] is False
    assert any(v.startswith("entities.") for v in doc["vector_versions"])  # written: with no vector to hold
    for doc_id in ("null", "absent"):
        doc = client.get(f"/documents/{doc_id}").json()
        assert doc["entities"] and doc["derived"]["entities"] is True


@pytest.mark.parametrize("doc_id", ["punct", "filler"])
def test_a_text_of_punctuation_derives_no_empty_entity(client: TestClient, doc_id: str) -> None:
    doc = client.get(f"/documents/{doc_id}").json()
    assert doc["entities"] == [] and doc["derived"]["entities"] is True


def test_no_entities_search_finds_a_document_without_entities(client: TestClient) -> None:
    r = client.post("/search", json={"query": "quokka Rottnest Island", "fields": ["entities"], "limit": 10,
                                     "explain": True})
    assert r.status_code == 200, r.text
    ids = [h["id"] for h in r.json()["hits"]]
    assert {"null", "absent"} <= set(ids) and "none" not in ids
    r = client.post("/search", json={"query": "quokka Rottnest Island", "limit": 10, "explain": True,
                                     "weights": {"entities": 1.0}})
    hits = {h["id"]: h for h in r.json()["hits"]}
    assert r.status_code == 200 and "none" in hits  # the other spaces still find it
    assert hits["none"]["explain"]["entities"]["rank"] is None
    r = client.post("/search", json={"query": "quokka Rottnest Island", "rerank": ["entities"], "limit": 10})
    assert r.status_code == 200, r.text


def test_sending_an_empty_list_again_drops_the_derived_entities(client: TestClient) -> None:
    assert client.post("/documents", json={"documents": [{"id": "absent", **TEXT, "entities": []}]}).status_code == 200
    doc = client.get("/documents/absent").json()
    assert doc["entities"] == [] and doc["derived"]["entities"] is False
    ids = [h["id"] for h in client.post("/search", json={"query": "quokka Rottnest Island", "fields": ["entities"],
                                                         "limit": 10}).json()["hits"]]
    assert "absent" not in ids and "null" in ids
