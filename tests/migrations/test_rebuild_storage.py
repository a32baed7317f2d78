"""A rebuild changes how vectors are stored (quantization, on disk) and the collection's layout."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.container import Services
from app.errors import InvalidInput
from app.services.search import SearchRequest
from app.versioning.declare import Migration, Rebuild
from tests.migrations.conftest import OLD, QUERIES, migrator_of, snapshot

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
