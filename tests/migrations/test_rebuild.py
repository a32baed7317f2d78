"""Rebuild into a new physical collection: dual writes while it fills, alias swap, rollback, retire."""

from __future__ import annotations

import pytest

from app.container import Services
from app.domain.documents import point_id
from app.errors import Conflict
from app.services.search import SearchRequest
from app.versioning.declare import Migration, Rebuild
from tests.conftest import to_documents
from tests.migrations.conftest import OLD, QUERIES, migrator_of, snapshot

TITLE_DOT = Migration(revision="0002", name="title_dot", change=Rebuild(distance={"title": "dot"}, reembed=("summary",),
                                                                         reason="dot product on unit vectors"))


def doc(doc_id: str, title: str) -> list:  # type: ignore[type-arg]
    return to_documents([{"id": doc_id, "title": title, "body": f"{title}. More about it."}])


def has(services: Services, collection: str, doc_id: str) -> bool:
    return bool(services.store.retrieve(collection, [point_id(doc_id)]))


def test_rebuild_dual_writes_swaps_the_alias_and_rolls_back(corpus: Services) -> None:
    m = migrator_of(corpus)
    source = corpus.registry.physical()
    before = snapshot(m)
    assert m.apply(TITLE_DOT, dry_run=True).actions
    assert snapshot(m) == before

    applied = m.apply(TITLE_DOT)
    target = applied.data["target"]
    assert target == f"{corpus.registry.alias}__2" and corpus.store.collection_exists(target)
    assert corpus.store.vector_specs(target)[OLD].distance == "dot"
    assert not m.apply(TITLE_DOT).actions  # again: nothing to do

    corpus.ingest.upsert(doc("while-filling", "Glaciers retreating in the Alps"))  # dual write
    assert has(corpus, source, "while-filling") and has(corpus, target, "while-filling")

    with pytest.raises(Conflict, match="backfill to the end"):
        m.validate("0002", QUERIES)
    first = m.backfill("0002", batch=4, max_points=4)
    assert not first.data.get("complete")  # a slice; the cursor is saved
    m.backfill("0002", batch=4)
    assert corpus.store.count(target) == corpus.store.count(source) == 12
    assert not m.backfill("0002").actions

    with pytest.raises(Conflict, match="run validate first"):
        m.promote("0002")
    report = m.validate("0002", QUERIES).data["report"]
    assert report["modes"]["fused"]["overlap@10"] > 0.9  # the same vectors, ranked by dot instead of cosine
    m.promote("0002")
    assert corpus.registry.physical() == target
    assert corpus.registry.get().find(OLD).distance == "dot"
    hits = corpus.search.search(SearchRequest(query="glaciers in the Alps", fields=["title"])).hits
    assert hits[0]["id"] == "while-filling"

    corpus.ingest.upsert(doc("after-swap", "Coral reefs bleaching"))  # still written to both
    corpus.ingest.delete("cs-2")
    assert has(corpus, source, "after-swap") and not has(corpus, source, "cs-2")

    m.rollback("0002")
    assert corpus.registry.physical() == source and corpus.registry.get().find(OLD).distance == "cosine"
    assert corpus.ingest.get("after-swap")["title"] == "Coral reefs bleaching"  # nothing lost by rolling back
    assert not m.rollback("0002").actions

    m.promote("0002")
    with pytest.raises(Conflict, match="grace period"):
        m.retire("0002")
    m.retire("0002", grace_s=0)
    assert not corpus.store.collection_exists(source)
    corpus.ingest.upsert(doc("after-retire", "Volcanic islands"))
    assert corpus.registry.write_collections() == [corpus.registry.alias]
    assert has(corpus, target, "after-retire")
    assert not m.retire("0002", grace_s=0).actions
    assert m.status()["migrations"][-1]["state"] == "done"


def test_a_rebuild_waits_for_versions_being_built(corpus: Services, migration: Migration) -> None:
    m = migrator_of(corpus)
    m.apply(migration)
    with pytest.raises(Conflict, match="still being built"):
        m.apply(TITLE_DOT)
