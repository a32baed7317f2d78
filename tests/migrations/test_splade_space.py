"""migrations/0008: an existing install gains the optional `splade` space through the ordinary steps,
on both adapters: apply (a new sparse vector without IDF, written from then on), backfill, validate
(the default search with and without it), promote; then a `fields: ["splade"]` search finds the
right document, while the default search is unchanged; rollback takes the space out of search."""

from __future__ import annotations

import pytest

from app.container import Services
from app.domain.documents import Document
from app.domain.text import nfkc
from app.errors import Conflict, InvalidInput
from app.services.search import SearchRequest
from app.versioning.declare import AddVersion, Migration, ancestry, default_folder, load_folder
from tests.fixtures import DOCS
from tests.migrations.conftest import QUERIES, migrator_of

SPLADE = "splade.splade-tiny.v1"


def splade_hits(svc: Services, query: str) -> list[str]:
    return [h["id"] for h in svc.search.search(SearchRequest(query=query, fields=["splade"])).hits]


def default_hits(svc: Services, query: str) -> list[str]:
    return [h["id"] for h in svc.search.search(SearchRequest(query=query)).hits]


def test_0008_adds_the_splade_space_and_a_splade_search_finds_the_right_document(corpus: Services) -> None:
    folder = load_folder(default_folder())
    splade = next(m for m in folder if m.revision == "0008")
    chain = ancestry(folder, splade)
    assert [m.revision for m in chain] == ["0001", "0002", "0008"]  # not the optional shared-mode ones
    m = migrator_of(corpus)
    before = {q: default_hits(corpus, q) for _, q in QUERIES.queries}
    for migration in chain:
        m.apply(migration)
    reg = corpus.registry.get()
    assert reg.spaces["splade"].live is None and reg.find(SPLADE).status == "shadow"
    spec = corpus.store.vector_specs(corpus.registry.physical())[SPLADE]
    assert (spec.kind, spec.idf) == ("sparse", False)  # learned weights: dot product, no IDF
    assert "splade" not in [s.space for s in corpus.search.plan(SearchRequest(query="x")).listed]
    with pytest.raises(Conflict, match="no live version"):
        splade_hits(corpus, "sourdough")

    corpus.ingest.upsert([Document(id="new-1", title="Honeybee waggle dance", body="Foragers tell the hive "
                                   "where nectar is by dancing: the angle gives the direction.")])
    assert m.coverage(SPLADE).covered == 1  # written from the moment it is applied
    m.backfill("0008")
    assert m.coverage(SPLADE).complete and corpus.registry.get().find(SPLADE).status == "ready"
    report = m.validate("0008", QUERIES).data["report"]
    assert report["arms"]["candidate"].startswith(f"the default search with {SPLADE} (weight 0)")
    assert report["modes"]["fused"]["overlap@10"] == 1.0  # weighed 0 by default: the default search is unchanged
    m.promote("0008")

    assert corpus.registry.get().spaces["splade"].live == SPLADE
    assert splade_hits(corpus, "sourdough starter yeast")[:1] == ["cook-1"]
    assert splade_hits(corpus, "CRISPR gene editing")[:1] == ["bio-1"]
    assert splade_hits(corpus, "honeybee dance")[:1] == ["new-1"]
    # the engine scores by the plain dot product of the model's weights (no IDF modifier)
    encoder = corpus.encoders.get("splade-tiny")
    query = encoder.embed_query("sourdough starter yeast")
    doc = encoder.embed([nfkc("Sourdough bread baking\n" + next(d["body"] for d in DOCS if d["id"] == "cook-1"))])[0]
    weights = dict(zip(doc.indices, doc.values, strict=True))
    dot = sum(v * weights.get(i, 0.0) for i, v in zip(query.indices, query.values, strict=True))
    top = corpus.search.search(SearchRequest(query="sourdough starter yeast", fields=["splade"])).hits[0]
    assert top["score"] == pytest.approx(dot, rel=1e-4)
    explained = corpus.search.search(SearchRequest(query="planets around other stars", explain=True))
    assert "splade" in explained.plan["observed_only"]  # type: ignore[index]
    assert {q: default_hits(corpus, q) for _, q in QUERIES.queries} == {q: before[q] for q in before}

    m.rollback("0008")  # a new space has no previous version: it leaves search, and stays written
    assert corpus.registry.get().spaces["splade"].live is None
    assert "splade" not in [s.space for s in corpus.search.plan(SearchRequest(query="x", explain=True)).listed]
    again = m.rollback("0008")  # said "... is not live (live is None)": Python's None to an operator (ops21 F11)
    assert not again.changed and len(again.notes) == 1 and "None" not in again.notes[0]
    assert again.notes[0].endswith("is not live (space 'splade' has no live version): nothing to roll back")
    m.promote("0008")
    assert splade_hits(corpus, "sourdough starter yeast")[:1] == ["cook-1"]
    assert not m.retire("0008", grace_s=0).actions  # it replaced nothing


def test_a_new_space_must_say_what_it_is(corpus: Services) -> None:
    m = migrator_of(corpus)
    bare = Migration(revision="0001", name="x", change=AddVersion(space="splade", model="splade-tiny", version=1))
    with pytest.raises(InvalidInput, match="does not exist; to create it, declare its field and space_kind"):
        m.apply(bare)
    dense = Migration(revision="0001", name="x", change=AddVersion(space="splade", model="minilm-l6-int8", version=1,
                                                                   field="keywords", space_kind="sparse"))
    with pytest.raises(InvalidInput, match="is sparse but model 'minilm-l6-int8' is dense"):
        m.apply(dense)
    clash = Migration(revision="0001", name="x", change=AddVersion(space="title", model="minilm-l6-int8", version=5,
                                                                   field="body", space_kind="multi"))
    with pytest.raises(InvalidInput, match="exists as dense over field title"):
        m.apply(clash)
    assert "splade" not in corpus.registry.get().spaces and not m.applied()
    with pytest.raises(InvalidInput, match="needs both field and space_kind"):
        Migration.from_dict({"revision": "0001", "change": {"space": "s", "model": "m", "version": 1,
                                                            "field": "keywords"}})
