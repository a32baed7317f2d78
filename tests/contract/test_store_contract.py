"""One contract suite, run on every store adapter: the embedded edge shard, qdrant-client in memory,
and a real Qdrant server (testcontainers or QDRANT_URL) where one can be had."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services, build_services
from app.domain.documents import point_id
from app.domain.fusion import dbsf, rrf
from app.domain.plan import Filter, Match, metadata_filter
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import DocumentNotFound, UnknownSpace
from app.services.search import SearchRequest
from app.settings import EncoderSettings, Settings, StoreSettings
from app.store.base import VectorSpec
from tests.conftest import to_documents
from tests.fixtures import DOCS

ADAPTERS = ["edge", "memory", pytest.param("server", marks=pytest.mark.server)]


@pytest.fixture(scope="module")
def qdrant_server_url() -> Iterator[str]:
    """A real Qdrant >= 1.18: QDRANT_URL if set, else one started by testcontainers with Docker."""
    if os.environ.get("QDRANT_URL"):
        yield os.environ["QDRANT_URL"]
        return
    if not shutil.which("docker") or not (os.path.exists("/var/run/docker.sock") or os.environ.get("DOCKER_HOST")):
        pytest.skip("no Docker engine here and QDRANT_URL is not set: the real-server run needs one of them")
    try:
        from testcontainers.qdrant import QdrantContainer

        container = QdrantContainer("qdrant/qdrant:v1.18.0")
        container.start()
    except Exception as e:  # pull refused (no internet), engine down, ...
        pytest.skip(f"could not start a Qdrant container: {e}")
    try:
        yield f"http://{container.get_container_host_ip()}:{container.get_exposed_port(6333)}"
    finally:
        container.stop()


@pytest.fixture(scope="module", params=ADAPTERS)
def adapter_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                     model_cache: Path) -> Settings:
    kind = request.param
    urls = {"edge": None, "memory": ":memory:"}
    url = urls[kind] if kind in urls else request.getfixturevalue("qdrant_server_url")
    tmp_path = tmp_path_factory.mktemp(f"contract-{kind}")
    collection = f"contract_{tmp_path.name}"[:60]  # unique per run on a shared server
    return Settings(store=StoreSettings(path=tmp_path / "data", url=url, collection=collection,
                                        retry_attempts=2, retry_wait_s=0.01),
                    encoders=EncoderSettings(cache_dir=model_cache))


@pytest.fixture(scope="module")
def svc(adapter_settings: Settings, encoders: EncoderPool) -> Iterator[Services]:
    """One loaded store per adapter; tests that write use documents of their own."""
    services = build_services(adapter_settings, encoders=encoders)
    services.ingest.upsert(to_documents(DOCS))
    services.store.optimize(services.registry.physical())
    yield services
    services.close()


def ids(services: Services, query: str, **kw: object) -> list[str]:
    return [h["id"] for h in services.search.search(SearchRequest(query=query, **kw)).hits]  # type: ignore[arg-type]


def ranked(services: Services, query: str, **kw: object) -> list[tuple[float, str]]:
    """(score, id) best first, ties in id order: engines may order exact ties differently."""
    hits = services.search.search(SearchRequest(query=query, **kw)).hits  # type: ignore[arg-type]
    return sorted((round(-h["score"], 4), h["id"]) for h in hits)


def test_upsert_then_get_returns_fields_derivations_and_version_tags(svc: Services) -> None:
    doc = svc.ingest.get("bio-3")
    assert doc["title"] == "Interleukin-6 signalling in inflammation"
    assert doc["summary"] == "IL-6 drives inflammation; tocilizumab blocks its receptor."
    assert doc["derived"] == {"summary": False, "entities": True}
    assert doc["entities"], "missing entities are derived from the text"
    assert set(doc["vector_versions"]) == {v.name for v in svc.registry.get().written_versions()}
    assert svc.ingest.get("bio-1")["entities"] == ["CRISPR", "Cas9", "guide RNA"]


EXTRA = {"id": "extra-1", "title": "Lighthouses of the Atlantic coast",
         "body": "Lighthouse keepers trimmed the lamp wicks every night.", "metadata": {"topic": "extra"}}


def test_upsert_is_idempotent_and_replaces_the_point(svc: Services) -> None:
    before = svc.ingest.count()
    svc.ingest.upsert(to_documents([EXTRA]))
    svc.ingest.upsert(to_documents([dict(EXTRA, title="Lighthouses, revised")]))
    svc.ingest.upsert(to_documents([dict(EXTRA, title="Lighthouses, revised")]))
    try:
        assert svc.ingest.count() == before + 1
        assert svc.ingest.get("extra-1")["title"] == "Lighthouses, revised"
    finally:
        svc.ingest.delete("extra-1")


def test_delete_removes_the_document(svc: Services) -> None:
    before = svc.ingest.count()
    svc.ingest.upsert(to_documents([EXTRA]))
    assert ids(svc, "lighthouse keepers lamp wicks", limit=1) == ["extra-1"]
    svc.ingest.delete("extra-1")
    assert svc.ingest.count() == before
    with pytest.raises(DocumentNotFound):
        svc.ingest.get("extra-1")
    with pytest.raises(DocumentNotFound):
        svc.ingest.delete("extra-1")
    assert "extra-1" not in ids(svc, "lighthouse keepers lamp wicks")


@pytest.mark.parametrize(
    ("space", "query", "expected"),
    [
        ("title", "fermentation of bread", "cook-1"),
        ("body", "rare orchid in limestone grassland", "long-1"),
        ("summary", "tocilizumab", "bio-3"),
        ("entities", "guide RNA", "bio-1"),
        ("document", "dark matter and how galaxies rotate", "astro-2"),
        ("keywords", "Cypripedium calceolus", "long-1"),
    ],
)
def test_each_space_alone_finds_its_document(svc: Services, space: str, query: str, expected: str) -> None:
    assert ids(svc, query, fields=[space], limit=3)[0] == expected


def test_body_passages_reach_past_the_model_window_where_the_document_vector_cannot(svc: Services) -> None:
    """long-1's orchid is mentioned after ~600 words: the one-vector `document` space never saw it."""
    q = "rare orchid in limestone grassland"
    body = svc.search.search(SearchRequest(query=q, fields=["body"], limit=1)).hits[0]
    doc = next(h for h in svc.search.search(SearchRequest(query=q, fields=["document"], limit=20)).hits
               if h["id"] == "long-1")
    assert body["id"] == "long-1"
    assert body["score"] > doc["score"] + 0.2


@pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
def test_fused_search_over_all_spaces(svc: Services, fusion: str) -> None:
    result = svc.search.search(SearchRequest(query="CRISPR Cas9 genome editing", fusion=fusion, explain=True))
    assert result.hits[0]["id"] == "bio-1"
    assert result.plan is not None
    assert len(result.plan["spaces"]) + len(result.plan["observed_only"]) + len(result.plan["scored_only"]) == 6
    assert set(result.hits[0]["explain"]) == {"title", "body", "summary", "entities", "document", "keywords"}


def test_filters_restrict_every_space(svc: Services) -> None:
    hits = svc.search.search(SearchRequest(query="bacteria", filter=metadata_filter({"topic": "cooking"}),
                                           limit=10)).hits
    assert {h["id"] for h in hits} == {"cook-1", "cook-2"}
    hits = svc.search.search(SearchRequest(query="cells", filter=metadata_filter({"year": [2020, 2021]}),
                                           fields=["body"], limit=10)).hits
    assert {h["metadata"]["year"] for h in hits} <= {2020, 2021} and hits


def test_weights_change_the_ranking_and_zero_weight_drops_a_space(svc: Services) -> None:
    plan = svc.search.plan(SearchRequest(query="x", weights={"keywords": 0.0, "title": 2.0}))
    assert "keywords" not in [s.space for s in plan.spaces]
    assert next(s.weight for s in plan.spaces if s.space == "title") == 2.0
    with pytest.raises(UnknownSpace):
        svc.search.plan(SearchRequest(query="x", weights={"nope": 1.0}))


@pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
def test_store_fusion_matches_the_domain_fusion_math(svc: Services, fusion: str) -> None:
    """Qdrant's fused ranking equals our fusion of the per-space lists from the same batch."""
    weights = {"title": 2.0, "body": 1.0, "keywords": 0.5} if fusion == "rrf" else None
    # unweighted DBSF of dense spaces is the engine's own (with a sparse one it is the service's: below)
    fields = ["title", "body", "keywords"] if fusion == "rrf" else ["title", "body", "document"]
    req = SearchRequest(query="immune cells and bacteria", fusion=fusion, weights=weights, explain=True,
                        fields=fields, limit=5)
    plan = svc.search.plan(req)
    assert svc.search.fused_in(plan) == ("client" if fusion == "rrf" else "store")
    result, _ = svc.search.run(plan, req.query)
    lists = [[(h.id, h.score) for h in result.per_space[s.space]] for s in plan.spaces]
    w = [s.weight for s in plan.spaces]
    ours = rrf(lists, k=plan.rrf_k, weights=w) if fusion == "rrf" else dbsf(lists, weights=w)
    assert [h.id for h in result.hits] == [str(pid) for pid, _ in ours[:5]]
    for hit, (_, score) in zip(result.hits, ours, strict=False):
        assert hit.score == pytest.approx(score, rel=1e-4)


def test_weighted_dbsf_is_fused_by_the_service(svc: Services) -> None:
    result = svc.search.search(SearchRequest(query="sourdough starter yeast", fusion="dbsf",
                                             weights={"title": 3.0, "keywords": 1.0}, explain=True))
    assert result.plan is not None and result.plan["fused_in"] == "client"
    assert result.hits[0]["id"] == "cook-1"
    assert result.hits[0]["title"] == "Sourdough bread baking"
    scores = [h["score"] for h in result.hits]
    assert scores == sorted(scores, reverse=True)


def test_aliases_swap_atomically_between_collections(svc: Services) -> None:
    store = svc.store
    original = svc.registry.physical()
    other = f"{original}_other"
    store.create_collection(other, {"v": VectorSpec("dense", 3)})
    try:
        store.set_alias("contract_alias", original)
        assert store.get_alias("contract_alias") == original
        assert store.count("contract_alias") == len(DOCS)
        assert store.list_aliases()["contract_alias"] == original
        store.set_alias("contract_alias", other)
        assert store.get_alias("contract_alias") == other
        assert store.list_aliases()["contract_alias"] == other
        assert store.count("contract_alias") == 0
        store.delete_alias("contract_alias")
        assert store.get_alias("contract_alias") is None
        assert "contract_alias" not in store.list_aliases()
        assert store.list_aliases()[svc.registry.alias] == original
    finally:
        store.delete_collection(other)


def test_scroll_and_count_with_filters(svc: Services) -> None:
    name = svc.registry.get().live_version("title").name
    assert svc.store.count(svc.registry.alias, Filter(must=(Match("vector_versions", name),))) == len(DOCS)
    seen: list[str] = []
    offset = None
    while True:
        page, offset = svc.store.scroll(svc.registry.alias, filter=None, limit=4, offset=offset)
        seen += [p.id for p in page]
        if offset is None:
            break
    assert sorted(seen) == sorted(point_id(d["id"]) for d in DOCS)


def test_adapters_agree_on_rankings(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    """The same corpus and queries give the same ranked ids on edge and in memory."""
    runs = {}
    for kind, url in (("edge", None), ("memory", ":memory:")):
        s = Settings(store=StoreSettings(path=tmp_path / kind, url=url),
                     encoders=EncoderSettings(cache_dir=model_cache))
        services = build_services(s, encoders=encoders)
        try:
            services.ingest.upsert(to_documents(DOCS))
            services.store.optimize(services.registry.physical())
            runs[kind] = [
                ranked(services, q, fields=f, fusion=fu, weights={}, limit=5)  # all six, equal
                for q in ("gene editing", "bacteria in food", "telescopes and planets")
                for f, fu in ((["title"], None), (["body"], None), (["keywords"], None), (None, "rrf"), (None, "dbsf"))
            ]
        finally:
            services.close()
    for edge, memory in zip(runs["edge"], runs["memory"], strict=True):
        # Exact ties (same BM25 score) may be ranked either way, and RRF then differs a little.
        assert {i for _, i in edge} == {i for _, i in memory}
        assert [s for s, _ in edge] == pytest.approx([s for s, _ in memory], rel=1e-2)
