"""Malformed admin requests get a 422 naming the field, and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.versioning.declare import Migration
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS
from tests.migrations.conftest import NEW, OLD, QUERIES, SMALL_SPACES

TOKEN = "admin-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def serve_admin(folder: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[tuple[TestClient, Services]]:
    settings = make_settings("edge", folder, model_cache, spaces=SMALL_SPACES, admin_token=TOKEN)
    svc = build_services(settings, encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS))
    with TestClient(create_app(settings, services=svc)) as client:
        yield client, svc
    svc.close()


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, encoders: EncoderPool
          ) -> Iterator[tuple[TestClient, Services]]:
    """Shared by the tests that change nothing (each checks that nothing changed)."""
    yield from serve_admin(tmp_path_factory.mktemp("admin"), model_cache, encoders)


def post(client: TestClient, step: str, body: Any) -> Any:
    return client.post(f"/admin/migrations/{step}", json=body, headers=AUTH)


def stored(svc: Services) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    physical = svc.registry.physical()
    return {"registry": svc.store.get_meta(svc.registry.key),
            "applied": svc.store.get_meta(f"migrations:{svc.registry.alias}"),
            "specs": svc.store.vector_specs(physical), "collections": svc.store.list_collections(),
            "rebuild": svc.registry.rebuild()}


ADD: dict[str, Any] = {"revision": "0001", "name": "title_l3", "change": {
    "kind": "add_version", "space": "title", "model": "paraphrase-minilm-l3", "version": 2}}
REBUILD: dict[str, Any] = {"revision": "0001", "change": {
    "kind": "rebuild", "distance": {"title": "dot"}, "reembed": ["summary"]}}


def change(base: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**base, "change": {**base["change"], **fields}}


def without(base: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k != key}


BAD_DECLARATIONS: list[tuple[str, Any, str]] = [
    ("empty", {}, "migration.revision: required, but missing; migration.change: required, but missing"),
    ("reembed a string", change(REBUILD, reembed="body"),
     "migration.change.reembed: expected a list of space names, got a string ('body')"),
    ("reembed of numbers", change(REBUILD, reembed=["body", 3]), "migration.change.reembed[1]: expected a space name"),
    ("reembed null", change(REBUILD, reembed=None),
     "migration.change.reembed: expected a list of space names, got null"),
    ("distance a list", change(REBUILD, distance=["dot"]), "migration.change.distance: expected a map of space name"),
    ("unknown distance", change(REBUILD, distance={"title": "manhattan"}),
     "migration.change.distance.title: unknown distance: expected one of cosine, dot, euclid"),
    ("distance not a string", change(REBUILD, distance={"title": 1}), "migration.change.distance.title"),
    ("rebuild changing nothing", change(REBUILD, distance={}, reembed=[]), "migration.change: 0001: a rebuild must"),
    ("revision a number", {**ADD, "revision": 1}, "migration.revision: expected four digits as a string"),
    ("revision not four digits", {**ADD, "revision": "1"}, "migration.revision: expected four digits"),
    ("revision null", {**ADD, "revision": None}, "migration.revision: expected four digits as a string, e.g. \"0001\", "
                                                  "got null"),
    ("name a number", {**ADD, "name": 7}, "migration.name: expected a string, got an integer (7)"),
    ("description a list", {**ADD, "description": ["x"]}, "migration.description: expected a string, got a list"),
    ("depends_on a number", {**ADD, "depends_on": 1}, "migration.depends_on: expected null or the revision"),
    ("extra key", {**ADD, "revison": "0002"}, "migration.revison: unknown field"),
    ("change missing", without(ADD, "change"), "migration.change: required, but missing"),
    ("change a string", {**ADD, "change": "add_version"}, "migration.change: expected an object"),
    ("change null", {**ADD, "change": None}, "migration.change: expected an object"),
    ("unknown kind", change(ADD, kind="drop_space"),
     "migration.change.kind: unknown kind 'drop_space'; expected one of 'add_version', 'rebuild'"),
    ("kind a number", change(ADD, kind=3), "migration.change.kind: unknown kind '3'"),
    ("space missing", {**ADD, "change": without(ADD["change"], "space")}, "migration.change.space: required"),
    ("space null", change(ADD, space=None), "migration.change.space: expected a space name, got null"),
    ("space a list", change(ADD, space=["title"]), "migration.change.space: expected a space name, got a list"),
    ("space empty", change(ADD, space=""), "migration.change.space: expected a space name, got a string ('')"),
    ("model a number", change(ADD, model=2), "migration.change.model: expected a model alias from the settings"),
    ("version a string", change(ADD, version="2"), "migration.change.version: expected a version number, an "
                                                   "integer >= 1, got a string ('2')"),
    ("version a float", change(ADD, version=2.5), "migration.change.version: expected a version number"),
    ("version a bool", change(ADD, version=True), "migration.change.version: expected a version number"),
    ("version zero", change(ADD, version=0), "migration.change.version: expected a version number"),
    ("version huge", change(ADD, version=10**30), "migration.change.version"),
    ("rebuild field on add", change(ADD, reembed=["title"]), "migration.change.reembed: unknown field"),
    ("declaration a list", [ADD], "migration: expected an object, got a list"),
]


@pytest.mark.parametrize(("case", "declaration", "named"), BAD_DECLARATIONS, ids=[c[0] for c in BAD_DECLARATIONS])
def test_a_malformed_declaration_is_a_422_naming_the_field(admin: tuple[TestClient, Services], case: str,
                                                           declaration: Any, named: str) -> None:
    client, svc = admin
    before = stored(svc)
    for dry_run in (True, False):
        r = post(client, "apply", {"migration": declaration, "dry_run": dry_run})
        assert r.status_code == 422, (case, r.status_code, r.text)
        body = r.json()
        assert set(body) == {"code", "message", "detail"} and body["code"] == "invalid_input"
        assert named.lower() in body["message"].lower(), (case, body["message"])
        # `detail`, when it lists fields, as every other 422 does (README, Input limits): [{key, message}]
        fields = body["detail"] or []
        assert isinstance(fields, list) and all(set(e) == {"key", "message"} for e in fields), body["detail"]
    assert stored(svc) == before


def test_plan_names_the_migration_in_the_list(admin: tuple[TestClient, Services]) -> None:
    client, svc = admin
    before = stored(svc)
    r = post(client, "plan", {"migrations": [ADD, change(REBUILD, reembed="body")]})
    assert r.status_code == 422
    assert r.json()["message"] == "migrations[1].change.reembed: expected a list of space names, got a string ('body')"
    r = post(client, "plan", {"migrations": [ADD, None]})
    assert r.status_code == 422 and "migrations" in r.json()["message"]
    r = post(client, "plan", {"migrations": {"0001": ADD}})
    assert r.status_code == 422 and r.json()["message"].startswith("migrations: ")
    assert post(client, "plan", {"migrations": [ADD]}).status_code == 200  # the well-formed one plans
    assert stored(svc) == before


QS = {"name": "canary", "queries": [{"id": "q1", "text": "sourdough"}], "qrels": {"q1": {"cook-1": 1}}}
BAD_QUERY_SETS: list[tuple[str, Any, str]] = [
    ("no queries", {"name": "x"}, "query_set.queries: required, but missing"),
    ("empty queries", {**QS, "queries": []}, "query_set.queries: expected a non-empty list"),
    ("queries a string", {**QS, "queries": "sourdough"}, "query_set.queries: expected a non-empty list"),
    ("query a string", {**QS, "queries": ["sourdough"]}, 'query_set.queries[0]: expected {"id": ..., "text": ...}, '
                                                          "got a string ('sourdough')"),
    ("text missing", {**QS, "queries": [{"id": "q1"}]}, "query_set.queries[0].text: required, but missing"),
    ("text null", {**QS, "queries": [{"id": "q1", "text": None}]},
     "query_set.queries[0].text: expected the query text"),
    ("text empty", {**QS, "queries": [{"id": "q1", "text": ""}]}, "query_set.queries[0].text: expected the query text"),
    ("id null", {**QS, "queries": [{"id": None, "text": "x"}]}, "query_set.queries[0].id: expected the query id"),
    ("id a bool", {**QS, "queries": [{"id": True, "text": "x"}]}, "query_set.queries[0].id: expected the query id"),
    ("extra key on a query", {**QS, "queries": [{"id": "q1", "text": "x", "relevant": ["d"]}]},
     "query_set.queries[0].relevant: unknown field"),
    ("duplicate ids", {**QS, "queries": [{"id": "q1", "text": "x"}, {"id": "q1", "text": "y"}]},
     "query_set.queries: duplicate query ids ['q1']"),
    ("qrels a list", {**QS, "qrels": [["q1", "cook-1", 1]]}, "query_set.qrels: expected a map of query id"),
    ("qrels doc list", {**QS, "qrels": {"q1": ["cook-1"]}}, "query_set.qrels.q1: expected a map of doc id"),
    ("grade a string", {**QS, "qrels": {"q1": {"cook-1": "1"}}}, "query_set.qrels.q1.cook-1: expected an integer"),
    ("grade a float", {**QS, "qrels": {"q1": {"cook-1": 0.5}}}, "query_set.qrels.q1.cook-1: expected an integer"),
    ("name null", {**QS, "name": None}, "query_set.name: expected a string, got null"),
    ("extra key", {**QS, "judged": True}, "query_set.judged: unknown field"),
    ("query set a list", [QS], "query_set: "),
]


@pytest.mark.parametrize(("case", "query_set", "named"), BAD_QUERY_SETS, ids=[c[0] for c in BAD_QUERY_SETS])
def test_a_malformed_query_set_is_a_422_naming_the_field(admin: tuple[TestClient, Services], case: str,
                                                         query_set: Any, named: str) -> None:
    client, svc = admin
    before = stored(svc)
    r = post(client, "validate", {"query_set": query_set})
    assert r.status_code == 422, (case, r.status_code, r.text)
    assert r.json()["code"] == "invalid_input" and named in r.json()["message"], (case, r.json()["message"])
    assert stored(svc) == before


BAD_PARAMS: list[tuple[str, str, Any, str]] = [
    ("promote", "force a string", {"force": "yes"}, "force"),
    ("promote", "margin a string", {"margin": "0.1"}, "margin"),
    ("promote", "margin negative", {"margin": -0.1}, "margin"),
    ("promote", "margin above 1", {"margin": 2}, "margin"),
    ("backfill", "batch a bool", {"batch": True}, "batch"),
    ("backfill", "batch a float", {"batch": 5.5}, "batch"),
    ("backfill", "batch zero", {"batch": 0}, "batch"),
    ("backfill", "max_points a string", {"max_points": "10"}, "max_points"),
    ("apply", "dry_run a number", {"migration": ADD, "dry_run": 1}, "dry_run"),
    ("retire", "grace a string", {"grace_s": "24h"}, "grace_s"),
    ("retire", "grace huge", {"grace_s": 1e300}, "grace_s"),
    ("rollback", "target a number", {"target": 1}, "target"),
    ("validate", "k a string", {"k": "10", "query_set": QS}, "k"),
    ("promote", "unknown key", {"targt": "0001"}, "targt"),
    ("apply", "migration a string", {"migration": "0001_title"}, "migration"),
    ("apply", "migration null", {"migration": None}, "migration: required for apply"),
    ("validate", "query_set missing", {}, "query_set: required for validate"),
]


@pytest.mark.parametrize(("step", "case", "body", "named"), BAD_PARAMS, ids=[c[1] for c in BAD_PARAMS])
def test_step_parameters_are_strictly_typed(admin: tuple[TestClient, Services], step: str, case: str, body: Any,
                                            named: str) -> None:
    client, svc = admin
    before = stored(svc)
    r = post(client, step, body)
    assert r.status_code == 422, (case, r.status_code, r.text)
    assert set(r.json()) == {"code", "message", "detail"} and named in r.json()["message"], (case, r.json())
    assert stored(svc) == before


@pytest.mark.parametrize("step", ["plan", "apply", "backfill", "validate", "promote", "rollback", "retire"])
def test_a_body_that_is_not_an_object_is_named_body_as_on_every_route(admin: tuple[TestClient, Services],
                                                                      step: str) -> None:
    # a tester: the steps said `data: Expected object, got null` (the handler's parameter), where the README and
    # the other routes say `body`
    client, svc = admin
    before = stored(svc)
    bodies = [(b"[]", "array"), (b"5", "int")] + ([(b"null", "null")] if step in ("apply", "validate") else [])
    for content, got in bodies:  # null on a step whose body is optional runs it on its defaults
        r = client.post(f"/admin/migrations/{step}", content=content,
                        headers={**AUTH, "content-type": "application/json"})
        assert r.status_code == 422, (content, r.text)
        assert r.json()["message"].startswith("body: Expected `object") and f"got `{got}`" in r.json()["message"]
        assert [e["key"] for e in r.json()["detail"]] == ["body"]
    assert stored(svc) == before


def test_an_unknown_step_is_a_422_naming_the_steps(admin: tuple[TestClient, Services]) -> None:
    client, _ = admin
    steps = "plan, apply, backfill, validate, promote, rollback, retire"
    for r in (post(client, "upgrade", {}), client.post("/admin/migrations/upgrade", headers=AUTH),
              post(client, "upgrade", {"migration": ADD})):
        assert r.status_code == 422, r.text
        assert r.json()["message"] == f"unknown step 'upgrade'; steps: {steps}"
    # a body is optional: a step without one runs with the defaults
    r = client.post("/admin/migrations/plan", headers=AUTH)
    assert r.status_code == 200, r.text


@pytest.fixture
def fresh(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[tuple[TestClient, Services]]:
    """A corpus of its own, for a test that applies a migration (the shared `admin` would carry it into the
    tests after it)."""
    yield from serve_admin(tmp_path, model_cache, encoders)


def test_the_gate_refuses_a_space_that_loses_alone_and_a_forced_promote_is_on_record(
        fresh: tuple[TestClient, Services], migration: Migration) -> None:
    client, svc = fresh
    assert post(client, "apply", {"migration": migration.to_dict()}).status_code == 200
    r = post(client, "backfill", {"start": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["message"].startswith("start: "), r.text
    assert post(client, "backfill", {}).json()["data"]["complete"]
    report = post(client, "validate", {"query_set": QUERIES.to_dict()}).json()["data"]["report"]
    space = report["verdict"]["deltas"]["space nDCG@10"]
    assert space < -0.02 <= report["verdict"]["deltas"]["fused nDCG@10"]  # titles alone lose; the fusion does not

    r = post(client, "promote", {})
    assert r.status_code == 409
    assert f"validation: space nDCG@10 changes by {space:+.4f}, worse than the margin of 0.0200" in r.json()["message"]
    assert svc.registry.get().space("title").live == OLD

    r = post(client, "promote", {"force": True})
    assert r.status_code == 200 and svc.registry.get().space("title").live == NEW
    assert any(n.startswith("forced past: validation: space nDCG@10") for n in r.json()["notes"])
    status = client.get("/admin/migrations", headers=AUTH).json()
    [override] = status["status"]["migrations"][0]["overrides"]
    assert override["step"] == "promote" and override["target"] == NEW and override["margin"] == 0.02
    assert override["overrode"] == [b.removeprefix("forced past: ") for b in r.json()["notes"]
                                    if b.startswith("forced past: ")]
    assert any("forced past" in line and "space nDCG@10" in line for line in status["text"])


@pytest.mark.parametrize(("model", "named"), [
    ("nope", "migration.change.model: 'nope' is not a configured model"),
    ("bm25", "migration.change.model: space 'title' is dense but model 'bm25' is sparse"),
])
def test_a_declaration_naming_a_model_the_service_cannot_use_is_422(
    admin: tuple[TestClient, Services], model: str, named: str
) -> None:
    client, svc = admin
    before = stored(svc)
    r = post(client, "apply", {"migration": change(ADD, model=model)})
    assert r.status_code == 422 and named in r.json()["message"], r.text[:300]
    assert stored(svc) == before


def test_a_revision_already_applied_with_another_change_is_409(fresh: tuple[TestClient, Services]) -> None:
    """Found by trying it: apply took revision 0001 again with a different change."""
    client, svc = fresh
    assert post(client, "apply", {"migration": ADD}).status_code == 200
    before = stored(svc)
    other = change(ADD, model="minilm-l6-int8", version=3)
    r = post(client, "apply", {"migration": other})
    assert r.status_code == 409 and "already applied with another change" in r.json()["message"], r.text[:300]
    assert stored(svc) == before
    assert post(client, "apply", {"migration": ADD}).status_code == 200  # the same one again: a no-op
    assert stored(svc) == before
