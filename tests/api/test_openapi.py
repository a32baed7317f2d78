"""The OpenAPI document (`/schema/openapi.json`) says what the service answers: every status with our error
shape, the limits from settings, the bounds on numbers and keys; and the service refuses what it says."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from app.container import Services
from app.domain.plan import FILTER_KEY, MAX_RRF_K, MAX_WEIGHT, MIN_WEIGHT
from app.domain.versions import MAX_NAME_CHARS

ERROR_REF = "#/components/schemas/ErrorBody"

# (path, method) -> the statuses it must declare, besides its success status
DECLARED: dict[tuple[str, str], set[str]] = {
    ("/documents", "post"): {"400", "401", "403", "415", "422", "503"},
    ("/documents/{doc_id}", "get"): {"401", "404", "503"},
    ("/documents/{doc_id}", "delete"): {"401", "403", "404", "503"},
    ("/search", "post"): {"400", "401", "415", "422", "503"},
    ("/ready", "get"): {"503"},
    ("/admin/optimize", "post"): {"401", "503"},
    ("/admin/migrations", "get"): {"401", "503"},
    ("/admin/migrations/{step}", "post"): {"400", "401", "409", "415", "422", "503"},
    **{(f"/admin/migrations/{step}", "post"): {"400", "401", "409", "415", "422", "503"}
       for step in ("plan", "apply", "backfill", "validate", "promote", "rollback", "retire")},
}


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in openapi["paths"].items() for method, op in item.items()]


@pytest.mark.parametrize(("route", "statuses"), DECLARED.items(), ids=[f"{m} {p}" for p, m in DECLARED])
def test_each_route_declares_the_statuses_it_can_answer(openapi: dict[str, Any], route: tuple[str, str],
                                                        statuses: set[str]) -> None:
    path, method = route
    assert statuses <= set(openapi["paths"][path][method]["responses"])


def test_413_and_415_are_declared_exactly_where_a_body_is_read(openapi: dict[str, Any]) -> None:
    """Found by a tester: GET and DELETE `/documents/{doc_id}` declared a 415, which a route that reads no body
    never answers (nor 413: the size limit is counted as the body is read)."""
    ops = operations(openapi)
    assert sum("requestBody" in op for _, _, op in ops) >= 5
    for path, method, op in ops:
        for status in ("413", "415"):
            assert (status in op["responses"]) == ("requestBody" in op), (method, path, status)


def test_every_error_answer_is_declared_in_our_one_shape(openapi: dict[str, Any]) -> None:
    assert openapi["components"]["schemas"]["ErrorBody"]["required"] == ["code", "detail", "message"]
    errors = [(path, method, status, resp) for path, method, op in operations(openapi)
              for status, resp in op["responses"].items() if int(status) >= 400]
    assert errors
    for path, method, status, resp in errors:
        schema = resp["content"]["application/json"]["schema"]
        assert schema == {"$ref": ERROR_REF}, (path, method, status, schema)  # not Litestar's {status_code, detail}


def test_success_answers_declare_their_shape(openapi: dict[str, Any]) -> None:
    def ok_ref(path: str, method: str) -> str:
        return str(openapi["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
                   .get("$ref", ""))

    assert ok_ref("/documents", "post").endswith("/DocumentsOut")
    assert ok_ref("/documents/{doc_id}", "get").endswith("/DocumentOut")
    assert ok_ref("/search", "post").endswith("/SearchOut")
    assert ok_ref("/ready", "get").endswith("/ReadyOut")


def test_the_schema_states_the_limits_from_settings_and_the_bounds(openapi: dict[str, Any],
                                                                   app_services: Services) -> None:
    schemas, s = openapi["components"]["schemas"], app_services.settings
    documents = schemas["DocumentsIn"]["properties"]["documents"]
    assert (documents["minItems"], documents["maxItems"]) == (1, s.limits.max_batch)
    search = schemas["SearchIn"]["properties"]
    assert search["limit"]["maximum"] == s.search.max_limit
    assert search["query"]["maxLength"] == s.limits.max_query_chars
    assert search["rrf_k"]["maximum"] == MAX_RRF_K
    assert search["weights"]["additionalProperties"] == {  # 0, or from MIN_WEIGHT (below it a weight is no weight)
        "type": "number", "minimum": 0, "maximum": MAX_WEIGHT,
        "not": {"exclusiveMinimum": 0, "exclusiveMaximum": MIN_WEIGHT}}
    assert search["filter"]["propertyNames"] == {"pattern": FILTER_KEY.pattern, "maxLength": 256}
    assert all(schemas[m]["additionalProperties"] is False for m in ("DocumentsIn", "DocumentIn", "SearchIn"))


@pytest.mark.parametrize(("body", "named"), [
    ({"query": "a", "rrf_k": 2**64}, "rrf_k"),
    ({"query": "a", "rrf_k": MAX_RRF_K + 1}, "rrf_k"),
    ({"query": "a", "weights": {"document": 1e308}}, "document"),
    ({"query": "a", "weights": {"document": -0.5}}, "document"),
    ({"query": "a", "weights": {"document": 5e-324}}, "'document' is 5e-324"),
    ({"query": "a", "filter": {"my key": "v"}}, "'my key'"),
    ({"query": "a", "filter": {"": 1}}, "filter key ''"),
    ({"query": "a", "filter": {"year": 2**70}}, "'year'"),
    ({"query": "a", "filter": {"year": [1, -(2**63) - 1]}}, "'year'"),
], ids=["rrf_k 2^64", "rrf_k over", "weight 1e308", "weight negative", "weight 5e-324", "key with space", "empty key",
        "int over 64 bits", "int in list under 64 bits"])
def test_what_the_schema_excludes_is_refused_with_422_naming_it(seeded: TestClient, body: dict[str, Any],
                                                                named: str) -> None:
    r = seeded.post("/search", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input" and named in r.json()["message"]


def test_an_empty_batch_is_refused_as_the_schema_says(seeded: TestClient, openapi: dict[str, Any]) -> None:
    assert openapi["components"]["schemas"]["DocumentsIn"]["properties"]["documents"]["minItems"] == 1
    r = seeded.post("/documents", json={"documents": []})
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/search", {"POST"}),
    ("PATCH", "/documents/astro-1", {"GET", "DELETE"}),
    ("GET", "/documents", {"POST"}),
])
def test_405_says_which_methods_are_allowed(seeded: TestClient, method: str, path: str, allowed: set[str]) -> None:
    r = seeded.request(method, path)
    assert r.status_code == 405
    assert allowed <= {m.strip() for m in r.headers["allow"].split(",")}
    assert set(r.json()) == {"code", "message", "detail"}


def walk(node: Any) -> Any:
    """Every JSON object in `node`, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_a_list_s_length_bounds_are_on_the_array_as_items(openapi: dict[str, Any]) -> None:
    """Litestar put an optional list's bounds beside its `oneOf`, as minLength / maxLength, which a JSON Schema
    validator ignores for an array (found by a break test)."""
    for node in walk(openapi):
        is_array = node.get("type") == "array" or any(b.get("type") == "array" for b in node.get("oneOf", ()))
        assert not (is_array and {"minLength", "maxLength"} & set(node)), node
    search = openapi["components"]["schemas"]["SearchIn"]["properties"]
    name = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}  # each item too (a space's name)
    assert {"items": name, "type": "array", "minItems": 1, "maxItems": 64,
            "uniqueItems": True} in search["fields"]["oneOf"]
    assert {"items": name, "type": "array", "maxItems": 16, "uniqueItems": True} in search["rerank"]["oneOf"]


def test_each_string_of_a_request_list_declares_its_length(openapi: dict[str, Any], app_services: Services) -> None:
    """Every list of strings a request sends bounds its items as the service does (found by a break test: the
    entities' items had no bounds, though the service refuses a blank or a long one)."""
    lim = app_services.settings.limits
    schemas = openapi["components"]["schemas"]
    entities = next(b for b in schemas["DocumentIn"]["properties"]["entities"]["oneOf"] if b.get("type") == "array")
    assert entities["items"] == {"type": "string", "minLength": 1, "maxLength": lim.max_entity_chars}
    values = schemas["SearchIn"]["properties"]["filter"]
    assert values["maxProperties"] == lim.max_filter_conditions and values["propertyNames"]["maxLength"] == 256
    branches = values["additionalProperties"]["oneOf"]
    arrays = [b for b in branches if b["type"] == "array"]  # all strings or all integers, as the service takes
    assert sorted(a["items"]["type"] for a in arrays) == ["integer", "string"]
    assert all((a["minItems"], a["maxItems"]) == (1, lim.max_filter_values) for a in arrays)
    strings = [b for b in [*branches, *(a["items"] for a in arrays)] if b["type"] == "string"]
    assert len(strings) == 2 and all(b["maxLength"] == lim.max_metadata_string_chars for b in strings)
    for model in ("DocumentsIn", "DocumentIn", "SearchIn", "BackupIn", "RestoreIn"):  # none left unbounded
        for prop, schema in schemas[model]["properties"].items():
            for branch in [schema, *schema.get("oneOf", ())]:
                if branch.get("type") == "array" and branch["items"].get("type") == "string":
                    assert "maxLength" in branch["items"] and "minLength" in branch["items"], (model, prop)


@pytest.mark.parametrize(("path", "body", "named"), [
    ("/documents", {"documents": [{"id": "e1", "title": "t", "body": "b", "entities": ["x" * 501]}]},
     "entities[0]: 501 characters, over the limit of 500"),
    ("/documents", {"documents": [{"id": "e1", "title": "t", "body": "b", "entities": ["ok", ""]}]},
     "entities[1] is blank"),
    ("/search", {"query": "a", "fields": [""]}, "fields"),
    ("/search", {"query": "a", "fields": ["x" * 201]}, "fields"),
    ("/search", {"query": "a", "rerank": [""]}, "rerank"),
    ("/search", {"query": "a", "filter": {"year": []}}, "empty list"),
    ("/search", {"query": "a", "filter": {"k": "v" * 8193}}, "over the limit of 8192"),
    ("/search", {"query": "a", "filter": {"k" * 257: "v"}}, "filter key"),
])
def test_a_string_past_its_declared_length_is_refused_naming_it(seeded: TestClient, app_services: Services,
                                                                 path: str, body: dict[str, Any], named: str) -> None:
    before = app_services.ingest.count()
    r = seeded.post(path, json=body)
    assert r.status_code == 422, r.text
    assert named in r.json()["message"], r.json()
    assert app_services.ingest.count() == before


@pytest.mark.parametrize(("value", "valid"), [
    (["a", "b"], True), ([1, 2], True), ("a", True), (7, True), (True, True),
    ([True, False], False), ([1, "a"], False), ([], False), ([1.5], False),
])
def test_the_filter_value_schema_takes_what_the_service_takes(openapi: dict[str, Any], seeded: TestClient,
                                                              value: object, valid: bool) -> None:
    """The schema and the service agree on a filter's value: a scalar, or a list of only strings or only
    integers (found by a break test: the schema allowed mixed and boolean lists, which the service refuses).
    jsonschema_rs is the validator schemathesis itself uses."""
    import jsonschema_rs

    schema = openapi["components"]["schemas"]["SearchIn"]["properties"]["filter"]["additionalProperties"]
    assert jsonschema_rs.validator_for(schema).is_valid(value) is valid
    status = seeded.post("/search", json={"query": "a", "filter": {"k": value}}).status_code
    assert status == (200 if valid else 422)
