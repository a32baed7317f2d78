# ruff: noqa: RUF001  (a Chinese document is the point)
"""migrations/0002: an install made with fastembed's BM25 (keywords v1) moves to Qdrant's multilingual
BM25 (v2) through the ordinary steps, on both adapters; after promotion a keywords-only search finds
a word inside a Chinese title, which v1 could not."""

from __future__ import annotations

from app.container import Services
from app.domain.documents import Document
from app.services.search import SearchRequest
from app.versioning.declare import default_folder, load_folder
from tests.migrations.conftest import QUERIES, migrator_of

V1, V2 = "keywords.bm25.v1", "keywords.bm25-multilingual.v2"
ZH = Document(id="zh-duck", title="北京烤鸭的传统制作方法", body="鸭子先腌制，然后挂在果木炉中烤制。")


def keyword_hits(svc: Services, query: str) -> list[str]:
    return [h["id"] for h in svc.search.search(SearchRequest(query=query, fields=["keywords"])).hits]


def test_0002_moves_keywords_to_v2_and_finds_a_chinese_word(corpus: Services) -> None:
    first, migration = (m for m in load_folder(default_folder()) if m.revision in ("0001", "0002"))
    corpus.ingest.upsert([ZH])
    assert corpus.registry.get().spaces["keywords"].live == V1
    assert keyword_hits(corpus, "烤鸭") == []  # v1: the title is one token

    m = migrator_of(corpus)
    m.apply(first)  # the chain: 0002 names 0001 before it (applied; its title version stays in shadow)
    assert m.apply(migration).data["version"] == V2
    m.backfill("0002")
    m.validate("0002", QUERIES)
    m.promote("0002", force=True)  # the gate compares on the fixture's English queries; the point here is the path

    assert corpus.registry.get().spaces["keywords"].live == V2
    assert keyword_hits(corpus, "烤鸭")[:1] == ["zh-duck"]
    assert keyword_hits(corpus, "sourdough starter")[:1] == ["cook-1"]
