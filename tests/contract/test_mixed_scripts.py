# ruff: noqa: RUF001  (text in other scripts is what these tests are about)
"""Documents mixing languages, searched end to end through `POST /search` on both adapters with the
default spaces (keywords v4): a Japanese word inside English, Russian or Arabic text, and a Korean one inside
Japanese, are keywords terms of their document, so a search for them finds it first. Keywords v3 read each
document as one language and found none of them (tests/unit/test_bm25_scripts.py shows the vectors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import build_services
from app.encoders.fastembed_encoder import EncoderPool
from tests.conftest import STORE_KINDS, make_settings
from tests.fixtures import DOCS

MIXED = [
    {"id": "trip-en", "title": "Our spring trip to Tokyo",
     "body": "We arrived on a rainy Monday. The sign at the park said 上野公園の桜が満開です and it was true: "
             "thousands of people were having picnics under the trees."},
    {"id": "menu-ru", "title": "Меню японского ресторана",
     "body": "В нашем ресторане готовят 味噌ラーメン и 焼き餃子 по рецептам из Саппоро. "
             "Бульон варят двенадцать часов."},
    {"id": "souk-ar", "title": "رحلة إلى اليابان",
     "body": "اشترينا الشاي الأخضر من متجر صغير مكتوب عليه 抹茶を使ったお菓子 في كيوتو."},
    {"id": "seoul-ja", "title": "ソウル旅行の記録",
     "body": "明洞で友達と買い物をしました。看板には 서울 명동 맛집 と書いてありました。"},
    # scripts written without spaces that the tokenizer leaves whole: each pair of characters is a term (v4)
    {"id": "angkor-km", "title": "Angkor Wat", "body": "ប្រាសាទអង្គរវត្តជាប្រាសាទដ៏ធំបំផុតនៅកម្ពុជា"},
    {"id": "lao-lo", "title": "Lao", "body": "ພາສາລາວເປັນພາສາທີ່ງາມຫຼາຍ"},
    {"id": "myanmar-my", "title": "Myanmar", "body": "မြန်မာနိုင်ငံသည်အလွန်လှပသောနိုင်ငံဖြစ်သည်"},
    {"id": "phnom-km", "title": "Phnom Penh", "body": "រាជធានីភ្នំពេញមានប្រជាជនច្រើន"},  # ភ្នំ: one character
]
# query -> the document holding it (each word only there)
QUERIES = {"満開": "trip-en", "上野公園": "trip-en", "ラーメン": "menu-ru", "餃子": "menu-ru", "抹茶": "souk-ar",
           "お菓子": "souk-ar", "명동": "seoul-ja", "맛집": "seoul-ja", "Tokyo 桜 picnics": "trip-en",
           "Саппоро 味噌ラーメン": "menu-ru", "ប្រាសាទ": "angkor-km", "កម្ពុជា": "angkor-km", "ພາສາ": "lao-lo",
           "မြန်မာ": "myanmar-my", "ភ្នំពេញ": "phnom-km", "ភ្នំ": "phnom-km"}


@pytest.fixture(scope="module", params=STORE_KINDS)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
           encoders: EncoderPool) -> Iterator[TestClient]:
    """The app over the fixture corpus and the mixed documents, on the default spaces; the tests only read."""
    settings = make_settings(request.param, tmp_path_factory.mktemp("mixed"), model_cache)
    services = build_services(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services=services)) as c:
            r = c.post("/documents", json={"documents": DOCS + MIXED})
            assert r.status_code == 200, r.text
            assert "keywords.bm25-multilingual-scripts.v4" in r.json()["vector_versions"]
            yield c
    finally:
        services.close()


def search(client: TestClient, query: str, fields: list[str] | None = None) -> list[dict]:
    r = client.post("/search", json={"query": query, "limit": 3, **({"fields": fields} if fields else {})})
    assert r.status_code == 200, r.text
    return r.json()["hits"]


@pytest.mark.parametrize("query", list(QUERIES))
def test_a_word_of_one_language_inside_another_is_found_by_keywords_alone(client: TestClient, query: str) -> None:
    hits = search(client, query, ["keywords"])
    assert [h["id"] for h in hits][:1] == [QUERIES[query]], hits


@pytest.mark.parametrize("query", ["満開", "餃子", "抹茶", "명동"])
def test_the_default_search_finds_it_first_too(client: TestClient, query: str) -> None:
    assert [h["id"] for h in search(client, query)][:1] == [QUERIES[query]]
