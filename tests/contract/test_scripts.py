# ruff: noqa: RUF001  (text in other scripts is what these tests are about)
"""Documents in eight scripts, and NFD beside NFC, searched end to end through `POST /search` on both
adapters (edge and qdrant-client in memory): keywords (Qdrant's multilingual BM25, the v2 keywords
version) find each script, the Chinese title string copied verbatim included; entities keep their
letters; a decomposed and a composed form find each other in dense and keyword spaces."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import SpaceSettings, default_spaces
from tests.conftest import STORE_KINDS, make_settings
from tests.scripts_corpus import NFC_BODY, NFC_TITLE, NFD_TITLE, SCRIPT_DOCS, script_documents


def multilingual_spaces() -> list[SpaceSettings]:
    """The default spaces, with keywords made by Qdrant's multilingual BM25 (version 2)."""
    return [s if s.name != "keywords" else SpaceSettings(name="keywords", field="keywords", kind="sparse",
                                                         model="bm25-multilingual", version=2)
            for s in default_spaces()]


@pytest.fixture(scope="module", params=STORE_KINDS)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
           encoders: EncoderPool) -> Iterator[TestClient]:
    """The app over the script documents on one adapter, shared by the module's tests: they only read."""
    settings = make_settings(request.param, tmp_path_factory.mktemp("scripts"), model_cache,
                             spaces=multilingual_spaces())
    services = build_services(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services=services)) as c:
            r = c.post("/documents", json={"documents": script_documents()})
            assert r.status_code == 200, r.text
            assert "keywords.bm25-multilingual.v2" in r.json()["vector_versions"]
            yield c
    finally:
        services.close()


def search(client: TestClient, query: str, fields: list[str] | None = None, limit: int = 3) -> list[str]:
    body: dict = {"query": query, "limit": limit}
    if fields:
        body["fields"] = fields
    r = client.post("/search", json=body)
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["hits"]]


def test_each_script_is_found_by_keywords_and_by_the_default_search(client: TestClient) -> None:
    for lang, (title, _, query) in SCRIPT_DOCS.items():
        assert search(client, query, ["keywords"])[:1] == [f"script-{lang}"], (lang, query)
        assert search(client, title)[:1] == [f"script-{lang}"], (lang, title)


def test_the_chinese_title_string_is_found_by_a_keywords_only_search(client: TestClient) -> None:
    title = SCRIPT_DOCS["zh"][0]
    assert search(client, title, ["keywords"])[:1] == ["script-zh"]
    assert search(client, title[2:4], ["keywords"])[:1] == ["script-zh"]  # 烤鸭, a word inside the title


@pytest.mark.parametrize("query", ["桜", "嵐山", "四月", "満開", "毎年", "人気"])
def test_a_kanji_only_japanese_word_is_found_by_a_keywords_only_search(client: TestClient, query: str) -> None:
    """Han alone reads as Chinese; the query is also read as Japanese, the language its document was written in."""
    assert search(client, query, ["keywords"])[:1] == ["script-ja"]


def test_derived_entities_keep_accented_and_non_latin_letters(client: TestClient) -> None:
    expected = {"fr": "brûlée", "de": "Schwarzwälder", "ru": "Кремль", "hi": "मसाला", "ar": "القهوة",
                "zh": "北京烤鸭", "ja": "京都"}
    for lang, letters in expected.items():
        doc = client.get(f"/documents/{quote(f'script-{lang}', safe='')}").json()
        assert doc["derived"]["entities"], lang
        assert any(letters in e for e in doc["entities"]), (lang, doc["entities"])


@pytest.mark.parametrize("fields", [["keywords"], ["title"], ["document"], None])
def test_nfd_and_nfc_forms_find_each_other(client: TestClient, fields: list[str] | None) -> None:
    # stored decomposed, searched composed
    assert search(client, "pâté croûte", fields)[:1] == ["nfd-pate"]
    # stored composed, searched decomposed
    assert search(client, unicodedata.normalize("NFD", "crêpes flambées"), fields)[:1] == ["nfc-crepes"]


def test_the_payload_keeps_the_text_as_sent(client: TestClient) -> None:
    doc = client.get("/documents/nfd-pate").json()
    assert doc["title"] == NFD_TITLE and not unicodedata.is_normalized("NFC", doc["title"])
    doc = client.get("/documents/nfc-crepes").json()
    assert (doc["title"], doc["body"]) == (NFC_TITLE, NFC_BODY)


def test_full_width_query_finds_the_plain_keyword(client: TestClient) -> None:
    assert search(client, "Ｋｉｒｓｃｈｔｏｒｔｅ", ["keywords"])[:1] == ["script-de"]


def test_v1_keeps_a_chinese_title_as_one_term_v2_segments_it(encoders: EncoderPool) -> None:
    title = SCRIPT_DOCS["zh"][0]
    (v1,) = encoders.get("bm25").embed([title])
    (v2,) = encoders.get("bm25-multilingual").embed([title])
    assert len(v1.indices) == 1  # fastembed's Qdrant/bm25: the whole title is one token
    assert len(v2.indices) >= 3  # 北京 烤鸭 传统 制作 方法
