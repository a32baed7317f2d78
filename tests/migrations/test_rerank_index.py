"""A space's index (HNSW graph or rerank-only): a rebuild changes it; a new version keeps the settings' or the
migration's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import Conflict, InvalidInput
from app.services.search import SearchRequest
from app.store.base import VectorSpec
from app.versioning.declare import AddVersion, Migration, Rebuild
from tests.migrations.conftest import NEW, OLD, QUERIES, SMALL_SPACES, WIDE, indexed_corpus, migrator_of, snapshot

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


def graph_m(services: Services, name: str) -> int | None:
    """The HNSW `m` edge's own shard config holds for named vector `name` of the live collection (what its
    optimiser builds the graph with); None: the shard's default graph. (The in-memory client has no graphs.)"""
    inner = getattr(services.store, "inner", services.store)
    shard = inner.root / "collections" / services.registry.physical() / "shard"
    return (json.loads((shard / "edge_config.json").read_text())["vectors"][name].get("hnsw_config") or {}).get("m")


def test_a_vector_added_in_place_keeps_its_index(corpus: Services) -> None:
    physical = corpus.registry.physical()
    corpus.store.add_vector(physical, "title.x.v9", VectorSpec("dense", 384, index="rerank"))
    corpus.store.add_vector(physical, "title.y.v9", VectorSpec("dense", 384))
    specs = corpus.store.vector_specs(physical)
    assert (specs["title.x.v9"].index, specs["title.y.v9"].index) == ("rerank", "hnsw")
    if corpus.settings.store.url is None:
        assert (graph_m(corpus, "title.x.v9"), graph_m(corpus, "title.y.v9")) == (0, None)
    corpus.store.delete_vector(physical, "title.x.v9")  # a vector of that name added again has a graph
    corpus.store.add_vector(physical, "title.x.v9", VectorSpec("dense", 384))
    assert corpus.store.vector_specs(physical)["title.x.v9"].index == "hnsw"


RERANK_SUMMARY = [s.model_copy(update={"index": "rerank"}) if s.name == "summary" else s for s in SMALL_SPACES]
SUMMARY_V2 = Migration(revision="0002", name="summary_l3", change=AddVersion(
    space="summary", model="paraphrase-minilm-l3", version=2))


@pytest.fixture
def rerank_corpus(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    """The fixture corpus with `summary` rerank-only (`index: rerank` in its settings)."""
    yield from indexed_corpus(store_kind, tmp_path, model_cache, encoders, RERANK_SUMMARY)


def test_a_new_version_of_a_rerank_only_space_gets_no_graph(rerank_corpus: Services) -> None:
    m, physical = migrator_of(rerank_corpus), rerank_corpus.registry.physical()
    assert rerank_corpus.store.vector_specs(physical)["summary.minilm-l6-int8.v1"].index == "rerank"
    planned = m.apply(SUMMARY_V2, dry_run=True)
    assert any(a.startswith("add named vector summary.paraphrase-minilm-l3.v2 (dense, 384, cosine, rerank-only: "
                            "no HNSW graph, m = 0)") for a in planned.actions), planned.actions
    m.apply(SUMMARY_V2)
    new = "summary.paraphrase-minilm-l3.v2"
    assert rerank_corpus.store.vector_specs(physical)[new].index == "rerank"
    assert rerank_corpus.registry.get().find(new).index == "rerank"
    if rerank_corpus.settings.store.url is None:
        assert graph_m(rerank_corpus, new) == 0
    m.backfill("0002")
    m.validate("0002", QUERIES)
    m.promote("0002", margin=WIDE)
    assert corpus_plan_is_cascade(rerank_corpus, "summary")


def corpus_plan_is_cascade(services: Services, space: str) -> bool:
    """Whether a search naming `space` alone runs as a rescoring stage (not searched through a graph)."""
    return bool(services.search.plan(SearchRequest(query="q", fields=[space])).cascade)


def test_a_new_version_can_change_the_index_and_the_dry_run_says_so(corpus: Services) -> None:
    m = migrator_of(corpus)
    change = Migration(revision="0002", name="title_l3_rerank", change=AddVersion(
        space="title", model="paraphrase-minilm-l3", version=2, index="rerank"))
    assert "index -> rerank" in change.change.describe()
    before = snapshot(m)
    planned = m.apply(change, dry_run=True)
    assert snapshot(m) == before
    assert any(a.startswith(f"add named vector {NEW} (dense, 384, cosine, rerank-only: no HNSW graph, m = 0)")
               for a in planned.actions), planned.actions
    assert any("rerank-only (no HNSW graph) where" in n for n in planned.notes), planned.notes
    m.apply(change)
    assert corpus.store.vector_specs(corpus.registry.physical())[NEW].index == "rerank"
    assert not corpus_plan_is_cascade(corpus, "title")  # the live version still has its graph
    m.backfill("0002")
    assert m.validate("0002", QUERIES).data  # the candidate rescores candidates: validation runs it so
    m.promote("0002", margin=WIDE)
    assert corpus_plan_is_cascade(corpus, "title")  # promoted: a search naming title rescores with it
    back = Migration(revision="0003", name="title_l6_graph", change=AddVersion(
        space="title", model="minilm-l6-int8", version=3, index="hnsw"))
    assert any(a.startswith("add named vector title.minilm-l6-int8.v3 (dense, 384, cosine, HNSW graph)")
               for a in m.apply(back, dry_run=True).actions)


def test_an_index_for_a_new_version_is_checked() -> None:
    with pytest.raises(InvalidInput, match="index"):
        Migration.from_dict({"revision": "0002", "change": {"space": "title", "model": "m", "version": 2,
                                                            "index": "flat"}})
    assert Migration.from_dict({"revision": "0002", "change": {"space": "title", "model": "m", "version": 2,
                                                               "index": "rerank"}}).change.index == "rerank"


def test_a_sparse_space_gets_no_rerank_only_version(corpus: Services) -> None:
    bad = Migration(revision="0002", name="k", change=AddVersion(space="keywords", model="bm25-multilingual",
                                                               version=9, index="rerank"))
    with pytest.raises(InvalidInput, match="sparse"):
        migrator_of(corpus).apply(bad, dry_run=True)
