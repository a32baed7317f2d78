"""A rebuild changes how vectors are stored (quantization, on disk, datatype) and the collection's layout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import InvalidInput
from app.services.search import SearchRequest
from app.settings import CollectionSettings
from app.versioning.declare import Migration, Rebuild
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS
from tests.migrations.conftest import OLD, QUERIES, SMALL_SPACES, migrator_of, snapshot


@pytest.fixture
def corpus(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    """The migrations' fixture corpus (title, summary, keywords; tests/migrations/conftest.py), stored at
    float32 as installs made before float16 became the default are: what these rebuilds change from."""
    svc = build_services(make_settings(store_kind, tmp_path, model_cache, spaces=SMALL_SPACES,
                                       collection=CollectionSettings(vector_datatype="float32")), encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS))
    yield svc
    svc.close()


QUANTIZE = Migration(revision="0002", name="quantize_title", change=Rebuild(
    quantization={"title": "scalar"}, on_disk={"title": True}, collection={"on_disk_payload": True},
    reason="int8 in RAM, floats on disk"))


def stored_storage(services: Services, collection: str, vector: str) -> dict[str, Any]:
    """The quantization and on-disk flag the engine itself recorded for a named vector."""
    inner: Any = services.store.inner  # type: ignore[attr-defined]
    if services.store.kind == "edge":
        saved = json.loads((inner.root / "collections" / collection / "shard" / "edge_config.json").read_text())
        v = saved["vectors"][vector]
        q = json.dumps(v.get("quantization_config"))
        return {"quantization": "scalar" if "scalar" in q else "binary" if "binary" in q else "none",
                "on_disk": bool(v.get("on_disk"))}
    p = inner._client.get_collection(collection).config.params.vectors[vector]
    q = p.quantization_config
    return {"quantization": "none" if q is None else "scalar" if hasattr(q, "scalar") else "binary",
            "on_disk": bool(p.on_disk)}


def test_a_rebuild_quantizes_a_space_and_its_dry_run_shows_it(corpus: Services) -> None:
    m = migrator_of(corpus)
    source = corpus.registry.physical()
    assert stored_storage(corpus, source, OLD) == {"quantization": "none", "on_disk": False}
    before = snapshot(m)
    planned = m.apply(QUANTIZE, dry_run=True)
    assert snapshot(m) == before  # a dry run changes nothing
    create = next(a for a in planned.actions if a.startswith("create collection"))
    assert f"{OLD} scalar, on disk" in create and "on_disk_payload True" in create

    target = m.apply(QUANTIZE).data["target"]
    assert stored_storage(corpus, target, OLD) == {"quantization": "scalar", "on_disk": True}
    other = next(n for n in corpus.store.vector_specs(target) if not n.startswith("title."))
    assert stored_storage(corpus, target, other)["quantization"] == "none"  # only the space named
    m.backfill("0002")
    corpus.store.optimize(target)
    report = m.validate("0002", QUERIES).data["report"]
    assert report["modes"]["space title"]["overlap@10"] >= 0.8  # int8 with rescoring ranks nearly alike
    m.promote("0002")
    assert corpus.registry.physical() == target
    hits = corpus.search.search(SearchRequest(query="gene editing with CRISPR", fields=["title"])).hits
    assert hits[0]["id"] == "bio-1"


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "rebuild", "quantization": {"title": "pq"}}, "unknown quantization"),
    ({"kind": "rebuild", "on_disk": {"title": "yes"}}, "expected true or false"),
    ({"kind": "rebuild", "collection": {"shards": 3}}, "shards"),
    ({"kind": "rebuild", "collection": {"replication_factor": 1, "write_consistency_factor": 2}},
     "at most replication_factor"),
])
def test_bad_storage_changes_are_refused_naming_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Migration.from_dict({"revision": "0002", "change": change})


def test_a_sparse_space_is_not_quantized(corpus: Services) -> None:
    from app.errors import Conflict

    bad = Migration(revision="0002", name="q", change=Rebuild(quantization={"keywords": "scalar"}))
    with pytest.raises(Conflict, match="sparse"):
        migrator_of(corpus).apply(bad, dry_run=True)


HALVE = Migration(revision="0002", name="float16_title_summary", change=Rebuild(
    datatype={"title": "float16", "summary": "float16"}, reason="half the bytes per dimension"))


def every_document(services: Services, collection: str) -> dict[str, dict[str, Any]]:
    """Each point's payload, by document id (scrolled whole)."""
    out: dict[str, dict[str, Any]] = {}
    offset = None
    while True:
        page, offset = services.store.scroll(collection, filter=None, limit=100, offset=offset)
        out |= {p.payload["doc_id"]: p.payload for p in page}
        if offset is None:
            return out


def ranked(services: Services, queries: list[str]) -> dict[tuple[str, str], list[str]]:
    """The hit ids of each query on titles alone, summaries alone and the default search."""
    return {(q, f): [h["id"] for h in services.search.search(SearchRequest(query=q, fields=[f] if f else None)).hits]
            for q in queries for f in ("title", "summary", "")}


def test_a_rebuild_to_float16_names_the_change_copies_every_document_and_searches_alike(corpus: Services) -> None:
    m = migrator_of(corpus)
    source = corpus.registry.physical()
    queries = [text for _, text in QUERIES.queries]
    before_hits = ranked(corpus, queries)
    assert HALVE.change.describe() == ("rebuild into a new collection: summary datatype -> float16, "
                                       "title datatype -> float16 (half the bytes per dimension)")
    before = snapshot(m)
    planned = m.apply(HALVE, dry_run=True)
    assert snapshot(m) == before  # a dry run changes nothing
    create = next(a for a in planned.actions if a.startswith("create collection"))
    assert f"{OLD} none, float16" in create and "summary.minilm-l6-int8.v1 none, float16" in create
    assert "keywords" not in create  # only what the rebuild changes
    assert m.plan([HALVE]).data["migrations"][0]["description"] == HALVE.change.describe()

    target = m.apply(HALVE).data["target"]
    assert corpus.store.vector_datatypes(target) == {OLD: "float16", "summary.minilm-l6-int8.v1": "float16"}
    assert set(corpus.store.vector_datatypes(source).values()) == {"float32"}
    assert m.backfill("0002").data["complete"]
    corpus.store.optimize(target)
    assert every_document(corpus, target) == every_document(corpus, source)  # payloads and tags, every document
    report = m.validate("0002", QUERIES).data["report"]
    assert report["modes"]["space title"]["overlap@10"] == 1.0  # copied, not re-embedded: the same ranking
    m.promote("0002")
    assert corpus.registry.physical() == target
    assert ranked(corpus, queries) == before_hits
    stored = {v["version"]: v["datatype"] for v in m.status()["versions"]}  # status reads the live collection
    assert stored[OLD] == "float16" and stored["keywords.bm25.v1"] is None


def test_a_datatype_change_is_checked_like_the_other_storage_changes(corpus: Services) -> None:
    from app.errors import Conflict

    with pytest.raises(InvalidInput, match=r"change\.datatype\.title: unknown datatype: expected one of "
                                           "float32, float16"):
        Migration.from_dict({"revision": "0002", "change": {"kind": "rebuild", "datatype": {"title": "bfloat16"}}})
    with pytest.raises(InvalidInput, match="unknown datatype"):
        Migration.from_dict({"revision": "0002", "change": {"kind": "rebuild", "datatype": {"title": "float8"}}})
    sparse = Migration(revision="0002", name="h", change=Rebuild(datatype={"keywords": "float16"}))
    with pytest.raises(Conflict, match="space 'keywords' is sparse: its weights are float32"):
        migrator_of(corpus).apply(sparse, dry_run=True)


def test_an_install_made_at_float32_stays_float32_through_a_rebuild_and_a_new_version(
        tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    """Settings that now default to float16 over a collection made at float32 (an install made before): a
    rebuild for something else and a version added in place keep each space's float32; only a rebuild that
    names the datatype changes it."""
    old = build_services(make_settings("edge", tmp_path, model_cache, spaces=SMALL_SPACES,
                                       collection=CollectionSettings(vector_datatype="float32")), encoders=encoders)
    old.ingest.upsert(to_documents(DOCS))
    old.close()
    svc = build_services(make_settings("edge", tmp_path, model_cache, spaces=SMALL_SPACES), encoders=encoders)
    try:
        assert svc.settings.collection.vector_datatype == "float16"  # today's default
        m = migrator_of(svc)
        quantize = Migration(revision="0002", name="quantize_title", change=Rebuild(quantization={"title": "scalar"}))
        target = m.apply(quantize).data["target"]
        assert set(svc.store.vector_datatypes(target).values()) == {"float32"}
        svc.store.add_vector(target, "title.other.v9", svc.store.vector_specs(target)[OLD])
        assert svc.store.vector_datatypes(target)["title.other.v9"] == "float32"  # its space's, not the settings'
    finally:
        svc.close()
