"""migrations/0010: an install at keywords v2 (Qdrant's multilingual BM25, which drops numbers) moves to v3
(each number a term too) through the ordinary steps, on both adapters, past the promote gate without
--force; after promotion a keywords search for a code finds the document holding it first, not every
document sharing its letters. A new install starts at v3, where applying 0010 only records it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.services.search import SearchRequest
from app.settings import SpaceSettings, default_spaces
from app.versioning.declare import default_folder, load_folder
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS
from tests.migrations.conftest import QUERIES, SMALL_SPACES, migrator_of

V2, V3 = "keywords.bm25-multilingual.v2", "keywords.bm25-multilingual-numbers.v3"
BODY = "The valve was replaced at the northern pumping station after the spring inspection."
CODES = [{"id": f"valve-{n}", "title": f"Valve QX-{n}", "body": BODY} for n in ("7730", "7731", "7732")]


@pytest.fixture
def at_v2(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    """The fixture corpus and three valve codes on an install whose keywords are v2."""
    spaces = [s if s.name != "keywords" else SpaceSettings(name="keywords", field="keywords", kind="sparse",
                                                           model="bm25-multilingual", version=2)
              for s in SMALL_SPACES]
    svc = build_services(make_settings(store_kind, tmp_path, model_cache, spaces=spaces), encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS + CODES))
    yield svc
    svc.close()


def keyword_hits(svc: Services, query: str) -> list[tuple[str, float]]:
    answer = svc.search.search(SearchRequest(query=query, fields=["keywords"]))
    return [(h["id"], h["score"]) for h in answer.hits]


def test_0010_moves_keywords_to_v3_and_a_code_finds_its_document(at_v2: Services) -> None:
    folder = load_folder(default_folder())
    chain = [m for m in folder if m.revision in ("0001", "0002", "0010")]
    assert at_v2.registry.get().spaces["keywords"].live == V2
    before = keyword_hits(at_v2, "QX-7731")
    assert len({s for d, s in before if d.startswith("valve-")}) == 1  # v2: the three codes score alike

    m = migrator_of(at_v2)
    for migration in chain:  # 0010 follows 0002 (recorded here: v2 is live), which follows 0001
        m.apply(migration)
    assert at_v2.registry.get().spaces["keywords"].versions[V3].status == "shadow"
    m.backfill("0010")
    m.validate("0010", QUERIES)
    m.promote("0010")  # the gate passes: the fixture's queries hold no number and rank as before

    assert at_v2.registry.get().spaces["keywords"].live == V3
    after = keyword_hits(at_v2, "QX-7731")
    assert after[0][0] == "valve-7731" and all(s < after[0][1] for _, s in after[1:])
    assert keyword_hits(at_v2, "sourdough starter")[0][0] == "cook-1"
    # a document written after the promote has v3 from its first write
    at_v2.ingest.upsert(to_documents([{"id": "valve-9001", "title": "ISO 9001 audit of valve QX-7731", "body": BODY}]))
    assert keyword_hits(at_v2, "ISO 9001")[0][0] == "valve-9001"


def test_a_new_install_starts_at_v3_and_0010_only_records_itself() -> None:
    keywords = next(s for s in default_spaces() if s.name == "keywords")
    assert (keywords.model, keywords.version) == ("bm25-multilingual-numbers", 3)
    assert keywords == next(s for s in default_spaces("separate") if s.name == "keywords")
    migration = next(m for m in load_folder(default_folder()) if m.revision == "0010")
    assert migration.depends_on == "0002" and migration.change.version == keywords.version  # type: ignore[union-attr]
