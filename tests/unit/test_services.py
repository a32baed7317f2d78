"""The services' logic on fakes: no ONNX model, no engine; each test runs in milliseconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.container import Services, build_services
from app.domain.fusion import fuse
from app.domain.plan import metadata_filter
from app.domain.profiles import VersionThreshold
from app.errors import Conflict, InvalidInput, StoreUnavailable, UnknownSpace
from app.services.search import SearchRequest
from app.settings import Settings, StoreSettings
from app.store.base import Store, port_methods
from app.store.retrying import RetryingStore
from tests.conftest import to_documents
from tests.fakes import FakeEncoderPool, FakeStore
from tests.fixtures import DOCS


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Services]:
    store = FakeStore()
    settings = Settings(store=StoreSettings(path=tmp_path / "unused"))
    svc = build_services(settings, store=store, encoders=FakeEncoderPool())  # type: ignore[arg-type]
    svc.ingest.upsert(to_documents(DOCS))
    yield svc
    svc.close()


def test_the_fakes_and_the_retrying_store_implement_every_port_method() -> None:
    for cls in (FakeStore, RetryingStore):
        missing = [name for name in port_methods() if name not in vars(cls)]
        assert not missing, f"{cls.__name__} does not implement {missing}"
    assert {"query", "scroll", "put_meta", "set_alias"} <= set(port_methods())


def test_retrying_store_retries_unavailable_a_bounded_number_of_times() -> None:
    inner = FakeStore()
    store: Store = RetryingStore(inner, attempts=3, wait_s=0.001)
    inner.fail_next = 2
    store.create_collection("c", {})  # two failures, then through
    assert store.collection_exists("c") and store.kind == "fake" and store.fusions == inner.fusions
    inner.fail_next = 3
    with pytest.raises(StoreUnavailable):
        store.count("c")
    assert inner.fail_next == 0  # three calls in all, then it gave up
    with pytest.raises(Conflict):  # not retried: the caller must read again
        store.put_meta("k", {"a": 1}, expect_revision=4)


def test_retrying_store_waits_as_with_retries_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store makes its first call without tenacity, then keeps `with_retries`' schedule exactly."""
    import time

    from app.store.retrying import with_retries

    def waits(call: Any) -> list[float]:
        slept: list[float] = []
        monkeypatch.setattr(time, "sleep", slept.append)
        with pytest.raises(StoreUnavailable):
            call()
        monkeypatch.undo()
        return slept

    inner = FakeStore()
    store = RetryingStore(inner, attempts=6, wait_s=0.01)
    inner.fail_next = 6

    def down() -> None:
        raise StoreUnavailable("down")

    expected = waits(with_retries(down, attempts=6, wait_s=0.01))
    assert expected == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.08])
    assert waits(lambda: store.count("c")) == pytest.approx(expected) and inner.fail_next == 0
    inner.fail_next = 1
    assert waits(lambda: RetryingStore(inner, attempts=1, wait_s=0.01).count("c")) == []  # one call, no wait


# -- ingest ------------------------------------------------------------------------------------

def test_a_refused_batch_writes_nothing_and_names_every_refused_document(fake: Services) -> None:
    before = fake.ingest.count()
    bad = to_documents([{"id": "x", "title": "", "body": ""}, {"id": "ok", "title": "t", "body": "b"},
                        {"id": "x", "title": "again", "body": "b"}])
    with pytest.raises(InvalidInput) as err:
        fake.ingest.upsert(bad)
    assert {d["index"] for d in err.value.detail["invalid"]} >= {0, 2}
    assert fake.ingest.count() == before


def test_upsert_derives_missing_fields_and_tags_every_written_version(fake: Services) -> None:
    doc = fake.ingest.get("bio-3")  # has a summary, no entities
    assert doc["derived"] == {"summary": False, "entities": True} and doc["entities"]
    assert doc["vector_versions"] == [v.name for v in fake.registry.get().written_versions()]
    assert fake.ingest.get("astro-1")["derived"]["summary"] is True


def test_upsert_encodes_each_text_once_per_model(fake: Services) -> None:
    pool = fake.encoders
    dense = next(s.model for s in fake.settings.spaces if s.kind != "sparse")  # every dense space's model
    pool.get(dense).calls.clear()  # type: ignore[attr-defined]
    fake.ingest.upsert(to_documents([{"id": "same", "title": "Same words", "body": "Same words",
                                      "summary": "Same words"}]))
    calls = pool.get(dense).calls  # type: ignore[attr-defined]
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0]))


def test_during_a_rebuild_ingest_writes_both_collections(fake: Services) -> None:
    source = fake.registry.physical()
    fake.store.create_collection("documents__2", fake.store.vector_specs(source))
    fake.registry.save_rebuild({"status": "filling", "source": source, "target": "documents__2"})
    fake.ingest.upsert(to_documents([{"id": "new", "title": "Written twice", "body": "to both sides"}]))
    assert fake.store.count(source) == fake.store.count("documents__2") + len(DOCS)
    fake.ingest.delete("new")
    assert fake.store.count("documents__2") == 0


# -- search ------------------------------------------------------------------------------------

def test_a_bare_search_uses_the_evaluated_weights_and_skips_zero_weighted_spaces(fake: Services) -> None:
    bare = fake.search.plan(SearchRequest(query="q"))  # the default plan: the cascade
    assert {s.space: s.weight for s in bare.spaces} == {"document": 1.0, "keywords": 1.5}
    assert [s.space for s in bare.rerank] == ["body"] and bare.candidates == 100
    plan = fake.search.plan(SearchRequest(query="q", plan="fused"))
    assert {s.space: s.weight for s in plan.spaces} == {"body": 1.0, "document": 1.0, "keywords": 1.5}
    assert plan.fusion == "dbsf" and fake.search.fused_in(plan) == "client"  # weighted DBSF: fused here


def test_request_weights_change_only_the_spaces_they_name(fake: Services) -> None:
    plan = fake.search.plan(SearchRequest(query="q", weights={"title": 2.0, "keywords": 0.0}))
    assert {s.space: s.weight for s in plan.spaces} == {"title": 2.0, "body": 1.0, "document": 1.0}
    named = fake.search.plan(SearchRequest(query="q", fields=["title", "body"], fusion="dbsf"))
    assert [s.weight for s in named.spaces] == [1.0, 1.0] and fake.search.fused_in(named) == "store"
    with pytest.raises(UnknownSpace):
        fake.search.plan(SearchRequest(query="q", weights={"nope": 1.0}))
    with pytest.raises(InvalidInput):
        fake.search.plan(SearchRequest(query="q", fields=["title"], weights={"title": 0.0}))


def test_prepare_plans_and_encodes_once_per_model_and_pins_versions(fake: Services) -> None:
    live = fake.registry.get().live_version("title").name
    cache: dict = {}
    prepared = fake.search.prepare(SearchRequest(query="gene editing", fields=["title", "document", "keywords"],
                                                 versions={"title": live}), cache=cache)
    assert set(prepared.vectors) == {s.vector_name for s in prepared.plan.spaces}
    assert len(cache) == 2  # one dense model, one sparse
    assert prepared.vectors[live] is prepared.vectors[prepared.plan.spaces[1].vector_name]


@pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
def test_explain_contributions_add_up_to_each_fused_score(fake: Services, fusion: str) -> None:
    out = fake.search.search(SearchRequest(query="CRISPR gene editing", fields=["title", "body", "keywords"],
                                           fusion=fusion, weights={"keywords": 2.0}, explain=True))
    assert out.hits and out.plan is not None and out.plan["fused_in"] == "client"
    for hit in out.hits:
        total = sum(e["contribution"] for e in hit["explain"].values())
        assert total == pytest.approx(hit["score"])


def test_service_fusion_orders_by_score_then_point_id(fake: Services) -> None:
    req = SearchRequest(query="the", fields=["title", "keywords"], fusion="rrf", explain=True, limit=20)
    out = fake.search.search(req)
    ranked = [(h["score"], h["point_id"]) for h in out.hits]
    assert ranked == sorted(ranked, key=lambda x: (-x[0], x[1]))
    result, _ = fake.search.run(fake.search.plan(req), req.query)
    lists = [[(h.id, h.score) for h in result.per_space[s]] for s in ("title", "keywords")]
    assert [pid for pid, _ in fuse(lists, method="rrf", k=60)][:len(out.hits)] == [h["point_id"] for h in out.hits]


def test_a_filter_keeps_only_matching_documents(fake: Services) -> None:
    out = fake.search.search(SearchRequest(query="cells", filter=metadata_filter({"topic": "biology"}), limit=50))
    assert out.hits and {h["metadata"]["topic"] for h in out.hits} == {"biology"}


def test_thresholds_drop_hits_below_them_and_say_so(fake: Services) -> None:
    title = fake.registry.get().live_version("title").name
    fake.search.profiles.save_thresholds({title: VersionThreshold(version=title, threshold=0.99, beta=1.0,
                                                                  precision=1.0, recall=1.0, f_beta=1.0)})
    out = fake.search.search(SearchRequest(query="Sourdough bread baking", fields=["title"], threshold=True))
    assert [h["id"] for h in out.hits] == ["cook-1"]
    assert out.note and "threshold" in out.note
    none = fake.search.search(SearchRequest(query="q", fields=["document"], threshold=True))
    assert none.note and "no calibrated threshold" in none.note


# -- registry ----------------------------------------------------------------------------------

def test_the_registry_is_saved_only_from_the_revision_read(fake: Services) -> None:
    reg = fake.registry.get()
    saved = fake.registry.save(reg, expect=reg.revision)
    assert saved.revision == reg.revision + 1
    with pytest.raises(Conflict):
        fake.registry.save(reg, expect=reg.revision)  # stale: another step wrote meanwhile
    assert fake.registry.get().revision == saved.revision


@pytest.mark.parametrize("url", [None, ":memory:"])
def test_open_store_wraps_both_adapters_in_retries(tmp_path: Path, url: str | None) -> None:
    from app.store.factory import open_store

    store = open_store(StoreSettings(path=tmp_path / "data", url=url, retry_attempts=4))
    try:
        assert isinstance(store, RetryingStore) and store.kind == ("edge" if url is None else "qdrant")
        assert store.fusions == frozenset({"dbsf"})  # unweighted DBSF only: the rest is fused by the service
    finally:
        store.close()


def test_the_plan_label_names_the_plan_auto_custom_or_the_stored_profile(fake: Services) -> None:
    from app.domain.profiles import RankingProfile
    from app.domain.router import Route
    from app.services.plans import plan_label

    def label(**asked: object) -> str | None:
        return fake.search.search(SearchRequest(query="telescope", explain=True, **asked)).plan["plan_label"]  # type: ignore[arg-type,index]

    assert label() == fake.settings.search.plan and label(plan="all") == "all" and label(plan="auto") == "auto"
    assert label(fields=["title"]) == label(weights={"title": 1.0}) == label(fusion="rrf") == "custom"
    reg = fake.registry.get()
    fake.search.profiles.save_profile(RankingProfile(
        name="p", version=1, fusion="rrf", rrf_k=60, weights={"title": 1.0},
        vector_versions={s: reg.live_version(s).name for s in reg.live_spaces()}))
    assert label() == "profile" and label(plan="keyword") == "keyword" and label(weights={"title": 2.0}) == "custom"
    assert plan_label(None, False, Route(None, "missing", "none stored"), False, "fused") == "fused"
    assert plan_label(None, False, Route(None, "mismatch", "other versions"), True, "fused") == "auto"
