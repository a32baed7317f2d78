"""migrations/0010 and 0011, on both adapters, through the ordinary steps and past the promote gate
without --force. 0010: an install at keywords v2 (Qdrant's multilingual BM25, which drops numbers) moves to
v3 (each number a term too); after promotion a keywords search for a code finds the document holding it
first, not every document sharing its letters. 0011: an install at v3 moves to v4 (each run of Japanese
read on its own); after promotion a Japanese word inside an English document finds it. A new install
starts at v4, where applying 0010 and 0011 only records them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.services.search import SearchRequest
from app.settings import SpaceSettings, default_spaces
from app.versioning.declare import Migration, default_folder, load_folder
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS
from tests.migrations.conftest import QUERIES, SMALL_SPACES, migrator_of

V2, V3 = "keywords.bm25-multilingual.v2", "keywords.bm25-multilingual-numbers.v3"
BODY = "The valve was replaced at the northern pumping station after the spring inspection."
CODES = [{"id": f"valve-{n}", "title": f"Valve QX-{n}", "body": BODY} for n in ("7730", "7731", "7732")]


V4 = "keywords.bm25-multilingual-scripts.v4"
TRIP = {"id": "trip-en", "title": "Our spring trip to Tokyo",
        "body": "The sign at the park said 上野公園の桜が満開です and thousands of people had picnics there."}


def install(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool, model: str,
            version: int) -> Iterator[Services]:
    """The fixture corpus, three valve codes and an English page holding Japanese, on an install whose
    keywords are `model` at `version`."""
    spaces = [s if s.name != "keywords" else SpaceSettings(name="keywords", field="keywords", kind="sparse",
                                                           model=model, version=version)
              for s in SMALL_SPACES]
    svc = build_services(make_settings(store_kind, tmp_path, model_cache, spaces=spaces), encoders=encoders)
    svc.ingest.upsert(to_documents([*DOCS, *CODES, TRIP]))
    yield svc
    svc.close()


@pytest.fixture
def at_v2(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    yield from install(store_kind, tmp_path, model_cache, encoders, "bm25-multilingual", 2)


@pytest.fixture
def at_v3(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    yield from install(store_kind, tmp_path, model_cache, encoders, "bm25-multilingual-numbers", 3)


def keyword_hits(svc: Services, query: str) -> list[tuple[str, float]]:
    answer = svc.search.search(SearchRequest(query=query, fields=["keywords"]))
    return [(h["id"], h["score"]) for h in answer.hits]


def migrate(svc: Services, chain: list[Migration], target: str) -> None:
    """Apply `chain`; its last migration adds `target` as a shadow, which is backfilled, validated and promoted
    (the gate passes without --force: the fixture's queries hold no number and no Japanese, and rank as before)."""
    m = migrator_of(svc)
    for migration in chain:
        m.apply(migration)
    assert svc.registry.get().spaces["keywords"].versions[target].status == "shadow"
    last = chain[-1].revision
    m.backfill(last)
    m.validate(last, QUERIES)
    m.promote(last)
    assert svc.registry.get().spaces["keywords"].live == target


def test_0010_moves_keywords_to_v3_and_a_code_finds_its_document(at_v2: Services) -> None:
    folder = load_folder(default_folder())
    chain = [m for m in folder if m.revision in ("0001", "0002", "0010")]
    assert at_v2.registry.get().spaces["keywords"].live == V2
    before = keyword_hits(at_v2, "QX-7731")
    assert len({s for d, s in before if d.startswith("valve-")}) == 1  # v2: the three codes score alike

    migrate(at_v2, chain, V3)  # 0010 follows 0002 (recorded here: v2 is live), which follows 0001
    after = keyword_hits(at_v2, "QX-7731")
    assert after[0][0] == "valve-7731" and all(s < after[0][1] for _, s in after[1:])
    assert keyword_hits(at_v2, "sourdough starter")[0][0] == "cook-1"
    # a document written after the promote has v3 from its first write
    at_v2.ingest.upsert(to_documents([{"id": "valve-9001", "title": "ISO 9001 audit of valve QX-7731", "body": BODY}]))
    assert keyword_hits(at_v2, "ISO 9001")[0][0] == "valve-9001"


def test_0011_moves_keywords_to_v4_and_a_japanese_word_in_english_text_finds_it(at_v3: Services) -> None:
    chain = [m for m in load_folder(default_folder()) if m.revision in ("0001", "0002", "0010", "0011")]
    assert at_v3.registry.get().spaces["keywords"].live == V3
    assert "trip-en" not in [d for d, _ in keyword_hits(at_v3, "満開")]  # v3: the Japanese is one token

    migrate(at_v3, chain, V4)  # 0002 and 0010 are recorded (v3 is live), 0011 adds v4
    assert keyword_hits(at_v3, "満開")[0][0] == keyword_hits(at_v3, "上野公園")[0][0] == "trip-en"
    assert keyword_hits(at_v3, "QX-7731")[0][0] == "valve-7731"  # v3's numbers are kept
    assert keyword_hits(at_v3, "sourdough starter")[0][0] == "cook-1"


def test_a_new_install_starts_at_v4_and_0010_and_0011_only_record_themselves() -> None:
    keywords = next(s for s in default_spaces() if s.name == "keywords")
    assert (keywords.model, keywords.version) == ("bm25-multilingual-scripts", 4)
    assert keywords == next(s for s in default_spaces("separate") if s.name == "keywords")
    folder = {m.revision: m for m in load_folder(default_folder())}
    assert folder["0010"].depends_on == "0002" and folder["0011"].depends_on == "0010"
    assert folder["0011"].change.version == keywords.version  # type: ignore[union-attr]
