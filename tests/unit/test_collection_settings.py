"""Collection settings: validated, translated to qdrant-client and edge models, and passed at create and search."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from qdrant_client import models as qm

from app.domain.documents import point_id
from app.settings import CollectionSettings, Settings, StoreSettings
from app.store.base import CollectionConfig, PointWrite, VectorSpec, VectorStorage
from app.store.edge import EdgeStore
from app.store.factory import collection_config, open_store
from app.store.qdrant import QdrantStore, collection_params, search_params

SPECS = {"title.m.v1": VectorSpec("dense", 4), "body.m.v1": VectorSpec("multi", 4),
         "keywords.b.v1": VectorSpec("sparse", None)}
CLUSTER = CollectionConfig(shard_number=3, replication_factor=2, write_consistency_factor=2, on_disk_payload=True,
                           default=VectorStorage(quantization="scalar"),
                           storage={"body": VectorStorage(on_disk=True, quantization="binary"),
                                    "keywords": VectorStorage(on_disk=True)},
                           rescore=True, oversampling=2.5)


def test_settings_read_the_collection_section_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTIVEC_COLLECTION__SHARD_NUMBER", "3")
    monkeypatch.setenv("MULTIVEC_COLLECTION__REPLICATION_FACTOR", "2")
    monkeypatch.setenv("MULTIVEC_COLLECTION__WRITE_CONSISTENCY_FACTOR", "2")
    monkeypatch.setenv("MULTIVEC_COLLECTION__ON_DISK_PAYLOAD", "true")
    monkeypatch.setenv("MULTIVEC_COLLECTION__QUANTIZATION", "scalar")
    monkeypatch.setenv("MULTIVEC_COLLECTION__OVERSAMPLING", "2.0")
    monkeypatch.setenv("MULTIVEC_COLLECTION__SPACES", '{"body": {"quantization": "binary", "on_disk": true}}')
    c = Settings().collection
    assert (c.shard_number, c.replication_factor, c.write_consistency_factor, c.on_disk_payload) == (3, 2, 2, True)
    config = collection_config(c)
    # float16: the default datatype (measured: the default searches rank alike, half the bytes)
    assert config.for_vector("body.minilm-l6-int8.v1") == VectorStorage(on_disk=True, quantization="binary",
                                                                       datatype="float16")
    assert config.for_vector("title.minilm-l6-int8.v1") == VectorStorage(on_disk=False, quantization="scalar",
                                                                        datatype="float16")
    assert config.oversampling == 2.0 and config.rescore


@pytest.mark.parametrize(("fields", "message"), [
    ({"shard_number": 0}, "greater than or equal to 1"),
    ({"quantization": "pq"}, "'none', 'scalar' or 'binary'"),
    ({"oversampling": 0.5}, "greater than or equal to 1"),
    ({"replication_factor": 2, "write_consistency_factor": 3}, "at most replication_factor"),
    ({"write_consistency_factor": 2}, "at most replication_factor"),
    ({"spaces": {"body": {"quantisation": "scalar"}}}, "Extra inputs are not permitted"),
])
def test_bad_collection_settings_are_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CollectionSettings(**fields)


def test_space_overrides_must_name_a_dense_space_to_quantize() -> None:
    with pytest.raises(ValidationError, match="unknown space 'bdy'"):
        Settings(collection=CollectionSettings(spaces={"bdy": {"on_disk": True}}))  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="'keywords' is sparse"):
        Settings(collection=CollectionSettings(spaces={"keywords": {"quantization": "scalar"}}))  # type: ignore[dict-item]
    Settings(collection=CollectionSettings(spaces={"keywords": {"on_disk": True}}))  # type: ignore[dict-item]


def test_the_qdrant_translation_carries_every_setting() -> None:
    p = collection_params(SPECS, CLUSTER)
    assert (p["shard_number"], p["replication_factor"], p["write_consistency_factor"], p["on_disk_payload"]) == \
        (3, 2, 2, True)
    title, body = p["vectors_config"]["title.m.v1"], p["vectors_config"]["body.m.v1"]
    assert isinstance(title.quantization_config, qm.ScalarQuantization)
    assert title.quantization_config.scalar.type == qm.ScalarType.INT8 and title.on_disk is None
    assert isinstance(body.quantization_config, qm.BinaryQuantization) and body.on_disk is True
    assert p["sparse_vectors_config"]["keywords.b.v1"].index.on_disk is True
    assert isinstance(p["quantization_config"], qm.ScalarQuantization)  # the default, for vectors added later
    plain = collection_params(SPECS, CollectionConfig())
    assert not {"shard_number", "replication_factor", "write_consistency_factor", "on_disk_payload"} & set(plain)
    assert plain["quantization_config"] is None
    assert search_params(CollectionConfig()) is None
    sp = search_params(CLUSTER)
    assert sp is not None and sp.quantization is not None
    assert (sp.quantization.rescore, sp.quantization.oversampling) == (True, 2.5)


def test_the_qdrant_adapter_creates_and_searches_with_them(monkeypatch: pytest.MonkeyPatch) -> None:
    store = QdrantStore(":memory:", config=CLUSTER)
    sent: dict[str, Any] = {}
    create = store._client.create_collection
    monkeypatch.setattr(store._client, "create_collection", lambda name, **kw: sent.update(kw) or create(name, **kw))
    store.create_collection("c", SPECS)
    assert sent["shard_number"] == 3 and sent["replication_factor"] == 2 and sent["on_disk_payload"] is True
    # what the in-memory client reports back: each named vector's storage
    vectors = store._client.get_collection("c").config.params.vectors
    assert isinstance(vectors, dict)
    assert isinstance(vectors["title.m.v1"].quantization_config, qm.ScalarQuantization)
    assert isinstance(vectors["body.m.v1"].quantization_config, qm.BinaryQuantization)
    assert vectors["body.m.v1"].on_disk is True
    # a config given to create_collection wins over the adapter's own (a rebuild's)
    store.create_collection("d", SPECS, CollectionConfig())
    assert store._client.get_collection("d").config.params.vectors["title.m.v1"].quantization_config is None  # type: ignore[index]

    store.upsert("c", [PointWrite(id=point_id("a"), vectors={"title.m.v1": [1.0, 0, 0, 0]}, payload={"doc_id": "a"})])
    requests: list[Any] = []
    batch = store._client.query_batch_points
    monkeypatch.setattr(store._client, "query_batch_points",
                        lambda name, reqs, **kw: requests.extend(reqs) or batch(name, reqs, **kw))
    from app.domain.plan import Filter, QueryPlan, SpaceQuery

    plan = QueryPlan(spaces=(SpaceQuery("title", "title.m.v1", "dense", "m", 1.0),
                             SpaceQuery("body", "body.m.v1", "multi", "m", 1.0)), fusion="dbsf", limit=3,
                     prefetch_limit=10, rrf_k=60, filter=Filter(), explain=False)
    hits = store.query("c", plan, {"title.m.v1": [1.0, 0, 0, 0], "body.m.v1": [1.0, 0, 0, 0]}).hits
    assert [h.id for h in hits] == [point_id("a")]
    prefetch = requests[0].prefetch
    assert all(p.params.quantization.rescore and p.params.quantization.oversampling == 2.5 for p in prefetch)


def test_edge_applies_storage_and_says_once_what_it_ignores(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="multivec.store"):
        store = EdgeStore(tmp_path, config=CLUSTER)
    ignored = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert len(ignored) == 1
    assert "shard_number=3, replication_factor=2, write_consistency_factor=2" in ignored[0]
    try:
        store.create_collection("c", SPECS)
        saved = json.loads((tmp_path / "collections" / "c" / "shard" / "edge_config.json").read_text())
        title, body = saved["vectors"]["title.m.v1"], saved["vectors"]["body.m.v1"]
        assert "scalar" in json.dumps(title["quantization_config"]) and "binary" in json.dumps(
            body["quantization_config"])
        assert body.get("on_disk") is True and saved.get("on_disk_payload") is True
        assert saved["sparse_vectors"]["keywords.b.v1"].get("on_disk") is True
    finally:
        store.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="multivec.store"):
        open_store(StoreSettings(path=tmp_path / "plain")).close()
    assert not caplog.records  # nothing to ignore, nothing said


def test_the_vector_datatype_is_read_per_space_and_an_unknown_one_is_refused_naming_the_choices(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.launch import one_line

    monkeypatch.setenv("MULTIVEC_COLLECTION__VECTOR_DATATYPE", "float16")
    monkeypatch.setenv("MULTIVEC_COLLECTION__SPACES", '{"title": {"datatype": "float32"}, "body": {"on_disk": true}}')
    config = collection_config(Settings().collection)
    assert config.for_vector("title.m.v1").datatype == "float32"  # the space's own
    assert config.for_vector("body.m.v1") == VectorStorage(on_disk=True, datatype="float16")  # the default
    assert config.for_vector("body.m.v1").describe() == "none, on disk, float16"
    assert collection_config(CollectionSettings()).default.datatype == "float16"  # unset: the default

    monkeypatch.setenv("MULTIVEC_COLLECTION__VECTOR_DATATYPE", "bfloat16")
    with pytest.raises(ValidationError) as bad:
        Settings()
    assert one_line(bad.value) == ("settings are invalid: collection.vector_datatype: "
                                           "Input should be 'float32' or 'float16'")
    with pytest.raises(ValidationError, match=r"spaces\.title\.datatype\s+Input should be 'float32' or 'float16'"):
        CollectionSettings(spaces={"title": {"datatype": "half"}})  # type: ignore[dict-item]
    monkeypatch.delenv("MULTIVEC_COLLECTION__VECTOR_DATATYPE")
    monkeypatch.delenv("MULTIVEC_COLLECTION__SPACES")
    with pytest.raises(ValidationError, match="'keywords' is sparse: its weights are float32"):
        Settings(collection=CollectionSettings(spaces={"keywords": {"datatype": "float16"}}))  # type: ignore[dict-item]
    Settings(collection=CollectionSettings(vector_datatype="float16"))  # the default: sparse spaces ignore it


def test_both_translations_carry_the_datatype_and_sparse_vectors_none() -> None:
    import qdrant_edge as qe

    from app.store.edge_config import edge_config

    half = CollectionConfig(storage={"title": VectorStorage(datatype="float16")})
    p = collection_params(SPECS, half)
    assert p["vectors_config"]["title.m.v1"].datatype == qm.Datatype.FLOAT16
    assert p["vectors_config"]["body.m.v1"].datatype is None  # the server's float32
    assert "datatype" not in qm.SparseVectorParams.model_fields  # nothing to send for sparse vectors
    edge = edge_config(SPECS, half)
    assert edge.vectors["title.m.v1"].datatype == qe.VectorStorageDatatype.Float16
    assert edge.vectors["body.m.v1"].datatype is None
