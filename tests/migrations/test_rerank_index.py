"""Changing a space's index (HNSW graph or rerank-only) is a rebuild: dry run, apply, fill, promote, rollback."""

from __future__ import annotations

import pytest

from app.container import Services
from app.errors import Conflict, InvalidInput
from app.services.search import SearchRequest
from app.store.base import VectorSpec
from app.versioning.declare import Migration, Rebuild
from tests.migrations.conftest import OLD, QUERIES, WIDE, migrator_of, snapshot

RERANK_TITLE = Migration(revision="0002", name="title_rerank_only", change=Rebuild(
    index={"title": "rerank"}, reason="title only rescores candidates: no HNSW graph"))


def test_a_rebuild_makes_a_space_rerank_only_and_searches_then_cascade_it(corpus: Services) -> None:
    m = migrator_of(corpus)
    before = snapshot(m)
    planned = m.apply(RERANK_TITLE, dry_run=True)
    assert snapshot(m) == before  # a dry run changes nothing
    create = next(a for a in planned.actions if a.startswith("create collection"))
    assert f"{OLD} index rerank (no HNSW graph)" in create
    assert "title index -> rerank" in RERANK_TITLE.change.describe()

    target = m.apply(RERANK_TITLE).data["target"]
    specs = corpus.store.vector_specs(target)
    assert specs[OLD].index == "rerank" and {s.index for n, s in specs.items() if n != OLD} == {"hnsw"}
    # until the swap, searches plan title as the live collection has it: searched on its own
    assert not corpus.search.plan(SearchRequest(query="q", fields=["title"])).cascade
    m.backfill("0002")
    corpus.store.optimize(target)
    assert corpus.store.count(target) == corpus.store.count(corpus.registry.alias)
    m.validate("0002", QUERIES)
    m.promote("0002", margin=WIDE)
    assert corpus.registry.physical() == target
    assert corpus.registry.get().live_version("title").index == "rerank"

    answer = corpus.search.search(SearchRequest(query="gene editing with CRISPR", fields=["title"], explain=True))
    assert answer.plan["rerank"][0]["space"] == "title"  # type: ignore[index]
    assert any("title is rerank-only" in n for n in answer.plan["notes"])  # type: ignore[index]
    assert answer.hits[0]["id"] == "bio-1"

    m.rollback("0002")
    assert corpus.registry.get().live_version("title").index == "hnsw"
    assert not corpus.search.plan(SearchRequest(query="q", fields=["title"])).cascade


def test_a_sparse_space_has_no_graph_to_drop(corpus: Services) -> None:
    bad = Migration(revision="0002", name="k", change=Rebuild(index={"keywords": "rerank"}))
    with pytest.raises(Conflict, match="sparse"):
        migrator_of(corpus).apply(bad, dry_run=True)


def test_an_unknown_index_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput, match="unknown index"):
        Migration.from_dict({"revision": "0002", "change": {"kind": "rebuild", "index": {"body": "flat"}}})


def test_a_rerank_only_vector_is_not_added_in_place(corpus: Services) -> None:
    with pytest.raises(InvalidInput, match="rerank-only"):
        corpus.store.add_vector(corpus.registry.physical(), "title.x.v9", VectorSpec("dense", 384, index="rerank"))
