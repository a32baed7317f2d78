"""What the OpenAPI document says a request may be and an answer is, the service does (found by a tester):
`1.0` is a JSON Schema integer and is taken as one; lists the service refuses with a repeat say `uniqueItems`;
a search hit has a declared shape, so a contract check catches a hit without an id."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services


@pytest.fixture(scope="module")
def openapi(seeded: TestClient) -> dict[str, Any]:
    return seeded.get("/schema/openapi.json").json()  # type: ignore[no-any-return]


def search(client: TestClient, **body: Any) -> Any:
    return client.post("/search", json={"query": "bread and fermented vegetables", **body})


@pytest.mark.parametrize(("integral", "whole"), [
    ({"limit": 1.0}, {"limit": 1}),
    ({"limit": 3e0}, {"limit": 3}),
    ({"rrf_k": 60.0}, {"rrf_k": 60}),
    ({"rerank": ["body"], "candidates": 5.0}, {"rerank": ["body"], "candidates": 5}),
    ({"budget_ms": 20000.0}, {"budget_ms": 20000}),
    ({"filter": {"year": 2020.0}}, {"filter": {"year": 2020}}),
    ({"filter": {"year": [2019.0, 2020]}}, {"filter": {"year": [2019, 2020]}}),
])
def test_an_integral_number_is_the_integer_it_equals(seeded: TestClient, integral: dict[str, Any],
                                                     whole: dict[str, Any]) -> None:
    """JSON Schema (2020-12, 6.1.1) counts 1.0 as an integer, so the schema's `integer` fields take it."""
    got, expected = search(seeded, **integral), search(seeded, **whole)
    assert got.status_code == expected.status_code == 200, got.text
    assert [(h["id"], h["score"]) for h in got.json()["hits"]] == [(h["id"], h["score"]) for h in
                                                                    expected.json()["hits"]]


@pytest.mark.parametrize("body", [{"limit": 1.5}, {"limit": True}, {"limit": "1"}, {"rrf_k": 1e30},
                                  {"filter": {"year": 2020.5}}, {"candidates": float(2**63)}])
def test_a_number_that_is_no_integer_is_still_refused(seeded: TestClient, body: dict[str, Any]) -> None:
    r = search(seeded, **body)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input", r.text
    assert next(iter(body)) in r.json()["message"]


def test_a_migration_step_takes_an_integral_number_too(app_services: Services) -> None:
    """The admin steps' integers are JSON Schema integers too (`batch`, `k`, `percent`, ...)."""
    settings = app_services.settings.model_copy(update={"admin_token": "integral-token"})
    headers = {"authorization": "Bearer integral-token"}
    with TestClient(create_app(settings, services=app_services)) as c:
        whole = c.post("/admin/migrations/backfill", json={"dry_run": True, "batch": 8}, headers=headers)
        integral = c.post("/admin/migrations/backfill", json={"dry_run": True, "batch": 8.0}, headers=headers)
        half = c.post("/admin/migrations/backfill", json={"dry_run": True, "batch": 8.5}, headers=headers)
    assert integral.status_code == whole.status_code != 422, (integral.text, whole.text)
    assert half.status_code == 422 and "batch" in half.json()["message"]


@pytest.mark.parametrize("prop", ["fields", "rerank"])
def test_a_list_that_refuses_a_repeat_says_so(seeded: TestClient, openapi: dict[str, Any], prop: str) -> None:
    schema = openapi["components"]["schemas"]["SearchIn"]["properties"][prop]
    array = next(b for b in schema["oneOf"] if b.get("type") == "array")
    assert array.get("uniqueItems") is True and "uniqueItems" not in schema
    r = search(seeded, **{prop: ["body", "body"]})
    assert r.status_code == 422 and "lists a space twice" in r.json()["message"]


@pytest.mark.parametrize("explain", [False, True])
def test_a_contract_check_catches_a_hit_without_an_id(fuzzed: Any, openapi: dict[str, Any], explain: bool) -> None:
    """schemathesis' response check, as tests/api/test_schemathesis.py runs it, passes a real answer and fails
    one whose hit has no id (a tester saw `"id": null` from a fan-out search that lost a point deleted meanwhile:
    the hits were untyped objects, so the contract could not see it), a score that is no number, or no point."""
    from schemathesis.core.failures import Failure, FailureGroup
    from schemathesis.core.transport import Response
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from tests.api.fuzzing import HEADERS

    case = fuzzed.operations["POST /search"].Case(body={"query": "bread", "plan": "cascade", "explain": explain})
    response = case.call(session=fuzzed.client, headers=HEADERS)
    body = response.json()
    assert response.status_code == 200 and body["hits"], response.text
    assert all(("explain" in h) is explain and ("stages" in h) is explain for h in body["hits"])  # absent, not null
    case.validate_response(response, checks=[response_schema_conformance], headers=HEADERS)  # passes
    for key, bad in (("id", None), ("score", None), ("score", "high"), ("point_id", None)):
        broken = copy.deepcopy(body)
        broken["hits"][0][key] = bad
        content = json.dumps(broken).encode()
        answer = Response(status_code=200, headers=response.headers, content=content, request=response.request,
                          elapsed=response.elapsed, verify=response.verify)
        with pytest.raises((Failure, FailureGroup)):
            case.validate_response(answer, checks=[response_schema_conformance], headers=HEADERS)
    hit = openapi["components"]["schemas"]["HitOut"]
    assert set(hit["required"]) == {"id", "point_id", "score"}
    assert {"title", "summary", "metadata", "explain", "stages"} <= set(hit["properties"])
