"""Issue 9: no input can hurt the store. Each case is refused with a 422 naming the bound, the
stored data is unchanged, and (case 1) the store still opens and reads back after a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.domain.documents import Document, point_id
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import InvalidInput
from tests.api.test_bad_input import snapshot, with_doc
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS


def nested(depth: int, leaf: Any = "leaf") -> Any:
    """An object nested `depth` levels deep: {"a": {"a": ... leaf}}."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def raw_post(client: TestClient, path: str, text: str) -> Any:
    """POST a body as written (json.dumps would refuse lone surrogates and recurse too deep)."""
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


# -- case 1 and 14: every part of a document is bounded ---------------------------------------

HOSTILE_DOCUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("metadata nested 127 levels (the engine's limit)", with_doc(metadata=nested(127)), "nested more than"),
    ("metadata nested 17 levels (past the setting)", with_doc(metadata=nested(17)), "nested more than 16"),
    ("metadata array nesting", with_doc(metadata={"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}), "nested more than"),
    ("5 MB metadata string", with_doc(metadata={"blob": "x" * 5_000_000}), "over the limit of 8192"),
    ("50,000 metadata keys", with_doc(metadata={f"k{i}": i for i in range(50_000)}), "more than 256 keys"),
    ("metadata over 64 KiB", with_doc(metadata={f"k{i}": "y" * 8000 for i in range(10)}), "over the limit of 65536"),
    ("metadata key too long", with_doc(metadata={"k" * 129: 1}), "over the limit of 128"),
    ("empty metadata key", with_doc(metadata={"": 1}), "key is empty"),
    ("metadata integer past 64 bits", with_doc(metadata={"n": 2**64}), "signed 64-bit"),
    ("metadata integer past u64", with_doc(metadata={"n": 2**70}), "signed 64-bit"),
    ("metadata negative past i64", with_doc(metadata={"n": -(2**63) - 1}), "signed 64-bit"),
    ("64 entities of 10,000 characters", with_doc(entities=["e" * 10_000] * 64), "over the limit of 500"),
    ("65 entities", with_doc(entities=[f"e{i}" for i in range(65)]), "65 entities, over the limit of 64"),
    ("summary too long", with_doc(summary="s" * 500_001), "summary: 500001 characters"),
    ("id with a newline", with_doc(id="a\nb"), "control character"),
    ("id with NUL", with_doc(id="a\x00b"), "control character"),
    ("blank id", with_doc(id="   "), "blank"),
    ("invisible id", with_doc(id="\u200b\u2060"), "blank"),
    ("id too long", with_doc(id="i" * 257), "over the limit of 256"),
]


@pytest.mark.parametrize(("case", "doc", "named"), HOSTILE_DOCUMENTS, ids=[c[0] for c in HOSTILE_DOCUMENTS])
def test_a_document_past_a_bound_is_refused_and_writes_nothing(
    seeded: TestClient, app_services: Services, case: str, doc: dict[str, Any], named: str
) -> None:
    before = snapshot(app_services)
    r = seeded.post("/documents", json={"documents": [with_doc(id="ok-1"), doc]})
    assert r.status_code == 422, (case, r.status_code, r.text[:300])
    body = r.json()
    assert body["code"] == "invalid_input"
    assert named in body["message"], (case, body["message"][:300])
    if "request is nested" not in body["message"]:  # a bound of the document, not of the request
        assert body["detail"]["invalid"][0]["index"] == 1  # names the document, so a loader can go on
    assert snapshot(app_services) == before
    assert seeded.get("/documents/ok-1").status_code == 404  # the batch is atomic


LONE_SURROGATE = '"\\ud800x"'
SURROGATE_BODIES = {
    "title": '{"documents": [{"id": "s1", "title": ' + LONE_SURROGATE + ', "body": "b"}]}',
    "id": '{"documents": [{"id": ' + LONE_SURROGATE + ', "title": "t", "body": "b"}]}',
    "metadata value": '{"documents": [{"id": "s1", "title": "t", "body": "b", "metadata": {"k": '
                      + LONE_SURROGATE + '}}]}',
    "metadata key": '{"documents": [{"id": "s1", "title": "t", "body": "b", "metadata": {' + LONE_SURROGATE
                    + ': 1}}]}',
    "entity": '{"documents": [{"id": "s1", "title": "t", "body": "b", "entities": [' + LONE_SURROGATE + ']}]}',
}


@pytest.mark.parametrize("where", list(SURROGATE_BODIES))
def test_text_that_is_not_unicode_is_refused(seeded: TestClient, app_services: Services, where: str) -> None:
    before = snapshot(app_services)
    r = raw_post(seeded, "/documents", SURROGATE_BODIES[where])
    assert r.status_code == 400, (where, r.text[:300])  # the JSON decoder refuses it
    assert "surrogate" in r.json()["message"]
    assert snapshot(app_services) == before


@pytest.mark.parametrize("body", [
    '{"query": ' + LONE_SURROGATE + '}',
    '{"query": "a", "filter": {"topic": ' + LONE_SURROGATE + '}}',
])
def test_a_search_that_is_not_unicode_is_refused(seeded: TestClient, body: str) -> None:
    r = raw_post(seeded, "/search", body)
    assert r.status_code == 400 and r.json()["code"] == "malformed_request", r.text[:300]


def test_text_that_is_not_unicode_is_refused_on_the_direct_path_too(app_services: Services) -> None:
    """The loader's --direct mode builds documents from Python's json, which keeps lone surrogates."""
    for field in ("id", "title", "body"):
        doc = Document.from_dict({**GOOD_DOC, field: json.loads(LONE_SURROGATE)})
        with pytest.raises(InvalidInput, match="not valid Unicode"):
            app_services.ingest.validate([doc])
    doc = Document.from_dict({**GOOD_DOC, "metadata": {json.loads(LONE_SURROGATE): 1}})
    with pytest.raises(InvalidInput, match="not valid Unicode"):
        app_services.ingest.validate([doc])


@pytest.mark.parametrize("depth", [40, 5_000, 100_000])
def test_a_body_nested_thousands_of_levels_is_refused(seeded: TestClient, app_services: Services,
                                                      depth: int) -> None:
    before = snapshot(app_services)
    text = ('{"documents": [{"id": "deep", "title": "t", "body": "b", "metadata": '
            + '{"a": ' * depth + "1" + "}" * depth + "}]}")
    r = raw_post(seeded, "/documents", text)
    assert r.status_code == 422, r.text[:300]
    assert "nested" in r.json()["message"]
    assert snapshot(app_services) == before
    r = raw_post(seeded, "/search", '{"query": "a", "filter": ' + "[" * depth + "]" * depth + "}")
    assert r.status_code == 422, r.text[:300]


def test_the_store_reopens_and_reads_every_document_after_a_refused_poisoned_upsert(
    tmp_path: Path, model_cache: Path, encoders: EncoderPool
) -> None:
    """Case 1 end to end: the refused upsert leaves the shard whole; a restart reads everything."""
    settings = make_settings("edge", tmp_path, model_cache, admin_token="admin-secret")
    deepest_allowed = {"deep": nested(settings.limits.max_metadata_depth - 1)}
    services = build_services(settings, encoders=encoders)
    with TestClient(create_app(settings, services=services)) as client:
        assert client.post("/documents", json={"documents": DOCS}).status_code == 200
        ok = client.post("/documents", json={"documents": [with_doc(id="deepest", metadata=deepest_allowed)]})
        assert ok.status_code == 200, ok.text[:300]
        r = client.post("/documents", json={"documents": [with_doc(id="poison", metadata=nested(127))]})
        assert r.status_code == 422
    services.close()

    reopened = build_services(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services=reopened)) as client:
            assert client.get("/ready").status_code == 200
            for doc in [*DOCS, {"id": "deepest", "metadata": deepest_allowed}]:
                got = client.get(f"/documents/{quote(doc['id'], safe='')}")
                assert got.status_code == 200, (doc["id"], got.text[:200])
                assert got.json()["metadata"] == doc["metadata"]
            assert client.get("/documents/poison").status_code == 404
            hits = client.post("/search", json={"query": "bread", "filter": {"topic": "cooking"}})
            assert hits.status_code == 200 and hits.json()["hits"]
            assert client.get("/admin/migrations", headers=admin(settings)).status_code == 200
    finally:
        reopened.close()


def admin(settings: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"} if settings.admin_token else {}


def test_a_shard_that_cannot_be_opened_is_a_clear_503_naming_the_folder_and_the_runbook(
    tmp_path: Path, model_cache: Path, encoders: EncoderPool
) -> None:
    """Data poisoned before these bounds existed (written past the service): readiness and every
    data call say which collection failed, where its folder is, and the recovery step."""
    import qdrant_edge as qe

    from app.domain.versions import vector_name

    settings = make_settings("edge", tmp_path, model_cache)
    services = build_services(settings, encoders=encoders)
    services.ingest.upsert(to_documents([GOOD_DOC]))
    physical = services.registry.physical()
    services.close()
    shard_dir = tmp_path / "data" / "collections" / physical / "shard"
    shard = qe.EdgeShard.load(str(shard_dir))
    title = settings.spaces[0]  # the default install's title space
    vector = {vector_name(title.name, title.model, title.version): [1.0] + [0.0] * 383}
    shard.update(qe.UpdateOperation.upsert_points([qe.Point(id="00000000-0000-0000-0000-000000000001",
                                                            vector=vector, payload={"m": nested(130)})]))
    shard.close()

    broken = build_services(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services=broken)) as client:
            for r in (client.get("/ready"), client.get("/documents/fine"),
                      client.post("/search", json={"query": "a"})):
                assert r.status_code == 503, r.text[:300]
                body = r.json()
                assert body["code"] == "store_unavailable"
                assert physical in body["message"] and str(shard_dir) in body["message"]
                assert "docs/migrations.md#a-collection-that-cannot-be-opened" in body["message"]
    finally:
        broken.close()

    # the runbook's recovery: move the folder aside, restart, reload from the source
    shard_dir.parent.rename(tmp_path / "broken")
    recovered = build_services(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services=recovered)) as client:
            assert client.get("/ready").status_code == 200
            assert client.post("/documents", json={"documents": [GOOD_DOC]}).status_code == 200
            assert client.get("/documents/fine").json()["title"] == GOOD_DOC["title"]
    finally:
        recovered.close()


GOOD_DOC = {"id": "fine", "title": "A fine document", "body": "Nothing wrong with it."}


# -- case 2: filter keys ------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["my key", "", "a..b", ".a", "a.", "a[0]", 'a"b', "a[]", "a/b", "k" * 300])
def test_a_filter_key_that_is_not_a_name_or_dotted_path_is_422_naming_it(seeded: TestClient, key: str) -> None:
    r = seeded.post("/search", json={"query": "a", "filter": {key: "v"}})
    assert r.status_code == 422, (key, r.text[:300])
    assert "filter key" in r.json()["message"] and repr(key[:60]) in r.json()["message"]


def test_a_dotted_filter_key_reads_nested_metadata_and_names_in_any_script_work(seeded: TestClient) -> None:
    doc = with_doc(id="nested-meta", metadata={"author": {"country": "FR"}, "année": 1999, "x-y": "z"})
    assert seeded.post("/documents", json={"documents": [doc]}).status_code == 200
    try:
        for flt in ({"author.country": "FR"}, {"année": 1999}, {"x-y": "z"}):
            r = seeded.post("/search", json={"query": "new things", "filter": flt})
            assert r.status_code == 200, (flt, r.text[:300])
            assert [h["id"] for h in r.json()["hits"]] == ["nested-meta"], flt
    finally:
        seeded.delete("/documents/nested-meta")


# -- case 3: numbers ----------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "named"), [
    ({"query": "a", "filter": {"year": 1180591620717411303424}}, "signed 64-bit"),
    ({"query": "a", "filter": {"year": [2020, 2**63]}}, "signed 64-bit"),
    ({"query": "a", "filter": {"year": -(2**63) - 1}}, "signed 64-bit"),
    ({"query": "a", "rrf_k": 18446744073709551616}, "rrf_k"),
    ({"query": "a", "rrf_k": 10_001}, "rrf_k"),
    ({"query": "a", "weights": {"document": 1e308, "body": 1e308, "keywords": 1e308}}, "weight"),
    ({"query": "a", "weights": {"document": 1001}}, "weight"),
    ({"query": "a", "limit": 2**64}, "limit"),
    # above 0 but too small to change a ranking: the space would be searched for nothing
    ({"query": "a", "weights": {"body": 5e-324}}, "weight of 'body' is 5e-324"),
    ({"query": "a", "weights": {"keywords": 1e-7}}, "weight of 'keywords' is 1e-07"),
    ({"query": "a", "fields": ["title"], "weights": {"summary": 5e-324}}, "weight of 'summary' is 5e-324"),
    ({"query": "a", "rerank": ["body"], "weights": {"body": 1e-9}}, "weight of 'body' is 1e-09"),
    ({"query": "a", "plan": "cascade", "weights": {"document": 5e-324}}, "weight of 'document' is 5e-324"),
    ({"query": "a", "fanout": True, "weights": {"body": 5e-324}}, "weight of 'body' is 5e-324"),
])
def test_numbers_out_of_range_are_422(seeded: TestClient, app_services: Services, payload: Any, named: str) -> None:
    before = snapshot(app_services)
    r = seeded.post("/search", json=payload)
    assert r.status_code == 422, (payload, r.text[:300])
    assert named in r.json()["message"], r.json()["message"]
    assert snapshot(app_services) == before


@pytest.mark.parametrize("weight", [0, 1e-6, 1000])
def test_zero_and_weights_from_the_minimum_are_searched(seeded: TestClient, weight: float) -> None:
    r = seeded.post("/search", json={"query": "gene editing", "weights": {"body": weight}, "explain": True})
    assert r.status_code == 200, r.text
    assert any(s["space"] == "body" for s in r.json()["plan"]["spaces"]) is (weight > 0)


@pytest.mark.parametrize("fusion", ["dbsf", "rrf"])
def test_fused_scores_are_finite_at_the_largest_weights(seeded: TestClient, fusion: str) -> None:
    r = seeded.post("/search", json={"query": "gene editing", "fusion": fusion, "explain": True,
                                     "weights": {"document": 1000, "body": 1000, "keywords": 1000}})
    assert r.status_code == 200, r.text[:300]
    hits = r.json()["hits"]
    assert hits and all(isinstance(h["score"], float) for h in hits)
    assert all(isinstance(e["contribution"], float) for h in hits for e in h["explain"].values())


# -- case 4: strict types, each field -----------------------------------------------------------

# (`5.0` is the integer 5, as JSON Schema has it: tests/api/test_schema_agrees.py; `5.5` is no integer)
@pytest.mark.parametrize(("field", "value"), [
    ("query", 5), ("query", ["a"]), ("limit", "5"), ("limit", 5.5), ("limit", True), ("fields", "title"),
    ("fields", [1]), ("fusion", 1), ("weights", {"title": "1"}), ("weights", ["title"]), ("rrf_k", "60"),
    ("rrf_k", 60.5), ("filter", {"topic": 1.5}), ("filter", ["topic"]), ("explain", 1), ("explain", "true"),
    ("threshold", "yes"), ("threshold", 0),
])
def test_search_fields_are_strictly_typed(seeded: TestClient, field: str, value: Any) -> None:
    r = seeded.post("/search", json={"query": "a", field: value})
    assert r.status_code == 422, (field, value, r.text[:300])
    assert field in r.json()["message"], r.json()["message"]


@pytest.mark.parametrize(("field", "value"), [
    ("id", 7), ("id", None), ("title", 1), ("title", None), ("body", ["a"]), ("body", 3), ("summary", 1),
    ("summary", ["s"]), ("entities", "e"), ("entities", [1]), ("entities", [["e"]]), ("metadata", "x"),
    ("metadata", [1]),
])
def test_document_fields_are_strictly_typed(seeded: TestClient, app_services: Services, field: str,
                                            value: Any) -> None:
    before = snapshot(app_services)
    r = seeded.post("/documents", json={"documents": [with_doc(**{field: value})]})
    assert r.status_code == 422, (field, value, r.text[:300])
    assert field in r.json()["message"], r.json()["message"]
    assert snapshot(app_services) == before


# -- case 5: every id that can be written can be read and deleted -------------------------------

ODD_IDS = ["shelf/7", "a b", "?q=1&x", "#frag", "100%", "%2F", "%41", "ü/ö/ß", "a/../b", "a//b", "trailing/",
           "/leading", "./x", "C:\\dir\\file", "emoji 📚", "nbsp\u00a0", "x" * 256]


@pytest.mark.parametrize("doc_id", ODD_IDS)
def test_an_id_with_reserved_characters_can_be_written_read_and_deleted(live_url: str, doc_id: str) -> None:
    """Through a real HTTP server: the id is sent percent-encoded, as any HTTP client would."""
    import httpx

    with httpx.Client(base_url=live_url, timeout=60) as http:
        assert http.post("/documents", json={"documents": [with_doc(id=doc_id)]}).status_code == 200
        url = "/documents/" + quote(doc_id, safe="")
        got = http.get(url)
        assert got.status_code == 200, (doc_id, got.text[:200])
        assert got.json()["id"] == doc_id
        assert http.delete(url).status_code == 204
        assert http.get(url).status_code == 404


@pytest.mark.parametrize("doc_id", [".", ".."])
def test_dot_segment_ids_are_refused_at_write(seeded: TestClient, app_services: Services, doc_id: str) -> None:
    """Every HTTP client rewrites `/documents/..`, so such an id could never be read: refused."""
    before = snapshot(app_services)
    r = seeded.post("/documents", json={"documents": [with_doc(id=doc_id)]})
    assert r.status_code == 422 and "dot segment" in r.json()["message"], r.text[:300]
    assert snapshot(app_services) == before


# -- case 6: weights keep their defaults --------------------------------------------------------

def test_naming_one_weight_changes_only_that_space(seeded: TestClient, app_services: Services) -> None:
    live = set(app_services.registry.get().live_spaces())
    # the settings' weights of the spaces this install has (a weight for an optional space not added is ignored)
    defaults = {n: w for n, w in app_services.settings.search.weights.items() if n in live}
    r = seeded.post("/search", json={"query": "gene editing", "weights": {"keywords": 1}, "explain": True})
    assert r.status_code == 200, r.text[:300]
    searched = {s["space"]: s["weight"] for s in r.json()["plan"]["spaces"]}
    expected = {name: w for name, w in {**defaults, "keywords": 1.0}.items() if w > 0}
    assert searched == expected
    # zero-weighted spaces are explained: from their own lists, or (rerank-only, no list) scoring the hits
    plan = r.json()["plan"]
    assert set(plan["observed_only"]) | set(plan["scored_only"]) == {n for n, w in defaults.items() if w == 0}


def test_a_search_whose_spaces_all_weigh_zero_is_422(seeded: TestClient) -> None:
    r = seeded.post("/search", json={"query": "a", "weights": {"document": 0, "body": 0, "keywords": 0}})
    assert r.status_code == 422, r.text[:300]
    assert "all weights are zero" in r.json()["message"]


def test_limits_are_settings(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    """The bounds come from settings: a tighter depth refuses what the default accepts."""
    settings = make_settings("edge", tmp_path, model_cache)
    settings = settings.model_copy(update={"limits": settings.limits.model_copy(update={"max_metadata_depth": 2})})
    services = build_services(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services=services)) as client:
            r = client.post("/documents", json={"documents": [with_doc(metadata=nested(3))]})
            assert r.status_code == 422 and "nested more than 2" in r.json()["message"]
            assert client.post("/documents", json={"documents": [with_doc(metadata=nested(2))]}).status_code == 200
    finally:
        services.close()


def test_bounds_hold_for_json_written_by_hand(seeded: TestClient) -> None:
    """Numbers JSON can spell but Python cannot hold as floats are a 400, not a 500."""
    r = raw_post(seeded, "/search", '{"query": "a", "weights": {"title": 1e400}}')
    assert 400 <= r.status_code < 500, r.text[:300]
    assert json.loads(r.text)["code"] in {"invalid_input", "malformed_request"}


def test_an_engine_panic_on_poisoned_data_is_a_json_503_never_a_plain_500(
    tmp_path: Path, model_cache: Path, encoders: EncoderPool
) -> None:
    """A point poisoned past the service (written before these bounds existed) makes the engine
    fail or panic when read; every call that reads it answers our 503 JSON body."""
    import qdrant_edge as qe

    settings = make_settings("edge", tmp_path, model_cache, admin_token="admin-secret")
    services = build_services(settings, encoders=encoders)
    try:
        services.ingest.upsert(to_documents([GOOD_DOC]))
        shard = services.store._shard(services.registry.physical())  # type: ignore[attr-defined]
        poisoned = services.ingest.get("fine")
        vector = {services.registry.get().live_version("document").name: [1.0] + [0.0] * 383}
        shard.update(qe.UpdateOperation.upsert_points([qe.Point(id=point_id("fine"), vector=vector, payload={
            "doc_id": "fine", "metadata": nested(130)})]))
        with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
            calls = [client.get("/documents/fine"), client.delete("/documents/fine"),
                     client.post("/search", json={"query": "nothing wrong", "filter": {"x": 1}}),
                     client.post("/search", json={"query": "nothing wrong"}),
                     client.get("/admin/migrations", headers=admin(settings))]
            for r in calls:  # the engine cannot even delete it: the runbook's recovery is the way out
                assert r.status_code == 503, (r.request.url, r.status_code, r.text[:300])
                assert r.headers["content-type"].startswith("application/json"), r.text[:300]
                assert r.json()["code"] == "store_unavailable", r.text[:300]
        assert poisoned["title"] == GOOD_DOC["title"]
    finally:
        services.close()


# -- found by trying it as a new user: more inputs of the same kinds ----------------------------

@pytest.mark.parametrize("path", ["/search", "/documents"])
def test_an_empty_body_is_a_400_saying_so(seeded: TestClient, app_services: Services, path: str) -> None:
    before = snapshot(app_services)
    r = raw_post(seeded, path, "")
    assert r.status_code == 400, r.text[:300]
    assert r.json() == {"code": "malformed_request", "message": "request body is empty or null: send a JSON object",
                        "detail": None}
    assert snapshot(app_services) == before


@pytest.mark.parametrize(("payload", "named"), [
    ({"documents": [with_doc(entities=["CRISPR", "  "])]}, "entities[1] is blank"),
    ({"documents": [with_doc(entities=["CRISPR", "\u200b\u00ad"])]}, "entities[1] is blank"),
    ({"documents": [with_doc(id=f"big-{i}", body="word " * 40_000) for i in range(21)]}, "over the limit of 4000000"),
])
def test_more_documents_past_a_bound(seeded: TestClient, app_services: Services, payload: Any, named: str) -> None:
    before = snapshot(app_services)
    r = seeded.post("/documents", json=payload)
    assert r.status_code == 422 and named in r.json()["message"], r.text[:300]
    assert snapshot(app_services) == before


def test_an_empty_list_of_fields_is_422(seeded: TestClient) -> None:
    r = seeded.post("/search", json={"query": "a", "fields": []})
    assert r.status_code == 422 and "fields" in r.json()["message"], r.text[:300]


@pytest.mark.parametrize("name", ["api_key", "read_only_api_key", "admin_token"])
def test_a_blank_secret_is_refused_and_an_empty_one_means_unset(name: str) -> None:
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError, match="is blank"):
        Settings(**{name: "   "})  # type: ignore[arg-type]
    assert getattr(Settings(**{name: ""}), name) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("doc_id", ["/", "//", "///"])
def test_an_id_of_only_slashes_is_refused_at_write(seeded: TestClient, app_services: Services, doc_id: str) -> None:
    """Found by trying it: `/` was written but `/documents/%2F` collapses to `/documents/`."""
    before = snapshot(app_services)
    r = seeded.post("/documents", json={"documents": [with_doc(id=doc_id)]})
    assert r.status_code == 422 and "only slashes" in r.json()["message"], r.text[:300]
    assert snapshot(app_services) == before


def test_two_secrets_with_the_same_value_are_refused() -> None:
    """Found by trying it: equal keys let the read-only key write and an API key administer."""
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError, match="are the same"):
        Settings(api_key="same", read_only_api_key="same")
    with pytest.raises(ValidationError, match="are the same"):
        Settings(api_key="same", admin_token="same")


@pytest.mark.parametrize(("text", "escape"), [
    ('"\\ud800"', "\\ud800"),  # a high half ending the string: the decoder said "Input data was truncated"
    ('"a\\ud800b"', "\\ud800"),
    ('"\\udc00"', "\\udc00"),
    ('"\\ud800\\ud800"', "\\ud800"),
    ('"\\ud83d\\ude00\\udc00"', "\\udc00"),  # a whole pair, then a low half alone
    ('"\\ud800\\\\"', "\\ud800"),  # then an escaped backslash
])
@pytest.mark.parametrize("where", ["query", "filter value", "filter key", "weights key"])
def test_a_lone_surrogate_is_named_as_one(seeded: TestClient, text: str, escape: str, where: str) -> None:
    """A lone surrogate is refused with a 400 saying so, wherever the string is (found by a tester: a high half at
    the end of a string was "Input data was truncated")."""
    body = {"query": '{"query": ' + text + "}",
            "filter value": '{"query": "a", "filter": {"topic": ' + text + "}}",
            "filter key": '{"query": "a", "filter": {' + text + ': "x"}}',
            "weights key": '{"query": "a", "weights": {' + text + ": 1}}"}[where]
    r = raw_post(seeded, "/search", body)
    assert r.status_code == 400 and r.json()["code"] == "malformed_request", r.text[:300]
    message = r.json()["message"]
    assert f"unpaired surrogate, {escape}" in message and "truncated" not in message, message


@pytest.mark.parametrize("text", ['"\\\\ud800"', '"\\ud83d\\ude00"'])
def test_an_escaped_backslash_or_a_whole_pair_is_no_lone_surrogate(seeded: TestClient, text: str) -> None:
    assert raw_post(seeded, "/search", '{"query": ' + text + "}").status_code == 200


def test_other_malformed_json_keeps_the_decoder_s_message(seeded: TestClient) -> None:
    r = raw_post(seeded, "/search", '{"query": "abc')
    assert r.status_code == 400 and "surrogate" not in r.json()["message"], r.text
