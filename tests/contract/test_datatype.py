"""Float16 vector storage on both adapters: a collection that stores its dense and multivector floats in half
the bytes writes, searches and scores like the float32 one, says so, and keeps it when the store reopens.

(The in-memory client records the datatype but computes in float32, so there the scores are equal; the
embedded engine stores float16 for real.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.services.search import SearchRequest
from app.settings import CollectionSettings, Datatype
from app.store.base import VectorSpec
from tests.conftest import load_corpus, make_settings
from tests.contract.test_store_contract import qdrant_server_url  # noqa: F401  (the fixture)

QUERIES = ["gene editing with CRISPR", "bread and fermented vegetables", "planets around other stars",
           "leader election in a replicated log", "how do vaccines train the immune system"]
DENSE_SPACES = ("title", "body", "summary", "entities", "document")


def corpus(kind: str, folder: Path, model_cache: Path, encoders: EncoderPool, datatype: Datatype) -> Services:
    settings = make_settings(kind, folder, model_cache, collection=CollectionSettings(vector_datatype=datatype))
    return load_corpus(build_services(settings, encoders=encoders))


@pytest.fixture
def float32(store_kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    svc = corpus(store_kind, tmp_path / "f32", model_cache, encoders, "float32")
    yield svc
    svc.close()


def scored(svc: Services, query: str, space: str) -> list[tuple[str, float]]:
    """The space's own ranked list: (document id, the engine's raw score), best first."""
    out = svc.search.search(SearchRequest(query=query, limit=5, fields=[space], explain=True))
    return [(h["id"], h["explain"][space]["score"]) for h in out.hits]


def assert_scores_like(half: Services, full: Services) -> None:
    """Every query, every dense space: the same best hit, and each hit's score within 1e-3 of float32's."""
    for query in QUERIES:
        for space in DENSE_SPACES:
            mine, theirs = scored(half, query, space), dict(scored(full, query, space))
            assert mine and mine[0][0] == next(iter(theirs)), (query, space, mine, theirs)
            for doc, score in mine:
                if doc in theirs:
                    assert score == pytest.approx(theirs[doc], abs=1e-3), (query, space, doc)
        top = [h["id"] for h in half.search.search(SearchRequest(query=query, limit=3)).hits]
        assert top[:1] == [h["id"] for h in full.search.search(SearchRequest(query=query, limit=3)).hits][:1], query


def test_a_float16_collection_searches_and_scores_like_the_float32_one(
        store_kind: str, float32: Services, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    half = corpus(store_kind, tmp_path / "f16", model_cache, encoders, "float16")
    try:
        physical = half.registry.physical()
        specs = half.store.vector_specs(physical)
        dense = {n for n, s in specs.items() if s.kind != "sparse"}
        assert half.store.vector_datatypes(physical) == dict.fromkeys(dense, "float16")  # sparse: not listed
        assert set(float32.store.vector_datatypes(float32.registry.physical()).values()) == {"float32"}
        assert half.store.count(physical) == float32.store.count(float32.registry.physical())
        assert_scores_like(half, float32)
    finally:
        half.close()


def test_an_embedded_float16_collection_keeps_its_datatype_when_reopened(
        tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    """A folder reopened (the embedded store's own case: the in-memory client lives as long as its process)."""
    full = corpus("edge", tmp_path / "f32", model_cache, encoders, "float32")
    half = corpus("edge", tmp_path / "f16", model_cache, encoders, "float16")
    before = {q: scored(half, q, "title") for q in QUERIES}
    half.close()
    # reopened with the default settings (float32): the collection is what it was created as
    again = build_services(make_settings("edge", tmp_path / "f16", model_cache), encoders=encoders)
    try:
        physical = again.registry.physical()
        assert set(again.store.vector_datatypes(physical).values()) == {"float16"}
        assert {q: scored(again, q, "title") for q in QUERIES} == before
        assert_scores_like(again, full)
    finally:
        again.close()
        full.close()


def test_a_vector_added_in_place_takes_its_spaces_datatype(
        store_kind: str, tmp_path: Path, model_cache: Path) -> None:
    from app.store.factory import collection_config, open_store

    settings = make_settings(store_kind, tmp_path, model_cache, collection=CollectionSettings(
        vector_datatype="float32", spaces={"title": {"datatype": "float16"}}))  # type: ignore[dict-item]
    store = open_store(settings.store, settings.collection)
    try:
        assert collection_config(settings.collection).for_vector("title.m.v1").describe() == "none, float16"
        store.create_collection("c", {"title.m.v1": VectorSpec("dense", 4), "keywords.b.v1": VectorSpec("sparse", None),
                                      "body.m.v1": VectorSpec("multi", 4)})
        assert store.vector_datatypes("c") == {"title.m.v1": "float16", "body.m.v1": "float32"}
        store.add_vector("c", "title.m.v2", VectorSpec("dense", 4))
        if store_kind == "edge":  # the in-memory client drops a new vector's datatype (it computes in float32)
            assert store.vector_datatypes("c")["title.m.v2"] == "float16"
    finally:
        store.close()


@pytest.mark.server
def test_a_real_server_stores_float16_and_a_new_version_of_the_space_too(qdrant_server_url: str) -> None:  # noqa: F811
    """What the in-memory client cannot show: the server keeps the datatype of a vector added in place, and
    scores a float16 vector within 1e-3 of its float32 twin."""
    import uuid

    from app.domain.plan import Filter, QueryPlan, SpaceQuery
    from app.store.base import CollectionConfig, PointWrite, VectorStorage
    from app.store.qdrant import QdrantStore

    half = CollectionConfig(storage={"title": VectorStorage(datatype="float16")})
    store = QdrantStore(qdrant_server_url, config=half)
    name = f"dt{uuid.uuid4().hex[:8]}"
    try:
        store.create_collection(name, {"title.m.v1": VectorSpec("dense", 3), "body.m.v1": VectorSpec("dense", 3)})
        store.add_vector(name, "title.m.v2", VectorSpec("dense", 3))
        assert store.vector_datatypes(name) == {"title.m.v1": "float16", "body.m.v1": "float32",
                                                "title.m.v2": "float16"}
        value = [0.3, 0.5, 0.7]
        store.upsert(name, [PointWrite(id=str(uuid.UUID(int=1)), vectors={"title.m.v1": value, "body.m.v1": value},
                                       payload={"doc_id": "a"})])
        plan = QueryPlan(spaces=(SpaceQuery("title", "title.m.v1", "dense", "m", 1.0),
                                 SpaceQuery("body", "body.m.v1", "dense", "m", 1.0)), fusion="rrf", limit=1,
                         prefetch_limit=5, rrf_k=60, filter=Filter(), explain=True)
        per_space = store.query(name, plan, {"title.m.v1": [0.7, 0.5, 0.3], "body.m.v1": [0.7, 0.5, 0.3]}).per_space
        assert per_space["title"][0].score == pytest.approx(per_space["body"][0].score, abs=1e-3)
    finally:
        store.delete_collection(name)
        store.close()
