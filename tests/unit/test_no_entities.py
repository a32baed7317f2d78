"""`"entities": []` is the author's "none" (nothing derived, no entities vector), and a derived entity
always shows a word: through the domain, the encoding, the payload round trip and the loader's records."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.container import build_services
from app.corpus import to_document
from app.domain.documents import Document, PreparedDocument, prepare
from app.domain.text import keyphrases, shows_a_word
from app.settings import Settings, StoreSettings
from tests.fakes import FakeEncoderPool, FakeStore

ENTITIES = "entities"


def prepared(**fields: object) -> PreparedDocument:
    doc = Document.from_dict({"id": "d", "title": "Statins and dementia", "body": "Statins lower LDL. BRCA1 too.",
                              **fields})
    return prepare(doc, chunk_words=100, max_chunks=4, max_entities=4)


def test_an_empty_list_derives_nothing_and_none_or_absent_derives() -> None:
    empty = prepared(entities=[])
    assert empty.entities == () and empty.texts(ENTITIES) == [] and empty.derived[ENTITIES] is False
    for fields in ({}, {"entities": None}):
        p = prepared(**fields)
        assert p.entities and p.derived[ENTITIES] is True


@pytest.mark.parametrize("text", ["!!! ??? ...", "", "   ", "\u200b\u200b", "\u3164\u3164 \u3164", "--- *** ###",
                                  "\u2800\u2800", "€ $ %", "\u00ad\ufeff"])
def test_a_text_that_shows_no_word_derives_no_entity(text: str) -> None:
    assert not shows_a_word(text)
    for title, body in ((text, "!!! ??? ..."), (text, text), ("", text)):
        p = prepare(Document(id="d", title=title, body=body), chunk_words=100, max_chunks=4, max_entities=8)
        assert p.entities == () and p.derived[ENTITIES] is True, (title, body)
        assert keyphrases(title, body, limit=8) == []


def test_derived_entities_show_a_word_and_the_title_fallback_is_trimmed() -> None:
    assert shows_a_word("IL-6") and shows_a_word(" x ") and shows_a_word("Москва") and shows_a_word("长")
    p = prepare(Document(id="d", title="  On   ", body="!!! ??? ..."), chunk_words=100, max_chunks=4, max_entities=8)
    assert p.entities == ("On",)  # no keyphrase in the body: the title, trimmed
    # a phrase of invisible letters between real ones is not kept
    found = keyphrases("Hangul \u3164\u3164\u3164", "Fillers \u3164\u3164\u3164, and BRCA1 mutations.", limit=8)
    assert found and all(shows_a_word(k) for k in found)


def test_the_stored_empty_list_stays_empty_when_prepared_again() -> None:
    """What a backfill or rebuild re-prepares from the payload (app.versioning.steps.Context.prepared)."""
    empty = prepared(entities=[])
    again = Document.from_payload(empty.payload())
    assert again.entities == ()
    derived = prepared()
    assert Document.from_payload(derived.payload()).entities == derived.entities
    # derived, but none found: derive again (still none), never a stored list read as the author's
    nothing = prepare(Document(id="d", title="", body="!!!"), chunk_words=100, max_chunks=4, max_entities=8)
    assert Document.from_payload(nothing.payload()).entities is None
    assert Document.from_payload({"doc_id": "d", "title": "t", "body": "b"}).entities is None  # an old point


def test_ingest_writes_no_entities_vector_for_a_document_without_entities(tmp_path: Path) -> None:
    store = FakeStore()
    svc = build_services(Settings(store=StoreSettings(path=tmp_path / "unused")), store=store,  # type: ignore[arg-type]
                         encoders=FakeEncoderPool())  # type: ignore[arg-type]
    try:
        svc.ingest.upsert([Document.from_dict({"id": "none", "title": "Statins", "body": "Statins lower LDL.",
                                               "entities": []}),
                           Document(id="derived", title="Statins", body="Statins lower LDL.")])
        name = svc.registry.get().space(ENTITIES).live
        vectors = {p.payload["doc_id"]: p.vectors for p in store.retrieve(
            svc.registry.physical(), [svc.ingest.prepare([Document(id=i, title="t", body="b")])[0].point_id
                                      for i in ("none", "derived")], with_vectors=True)}
        assert name not in vectors["none"] and name in vectors["derived"]
        got = svc.ingest.get("none")
        assert got["entities"] == [] and got["derived"][ENTITIES] is False and name in got["vector_versions"]
    finally:
        svc.close()


def test_a_loaded_record_keeps_its_empty_entities() -> None:
    assert to_document({"title": "t", "text": "b", "entities": []}, "1")["entities"] == []
    assert "entities" not in to_document({"title": "t", "text": "b", "entities": None}, "1")
    assert "entities" not in to_document({"title": "t", "text": "b"}, "1")


@pytest.mark.parametrize("body", ["\u200b !!! \u2060", "... ??? !!!", "\u3164 \u2800 --"])
def test_a_derived_summary_shows_a_word_or_is_the_title(body: str) -> None:
    """A body of only punctuation or invisible characters gave a summary of them, encoded and found by a query
    of "!!!" (found by a break test); now the summary falls back to the title, as for an empty body."""
    prepared = prepare(Document(id="s", title="Galaxy survey", body=body), chunk_words=100, max_chunks=8,
                       max_entities=8)
    assert prepared.summary == "Galaxy survey"
