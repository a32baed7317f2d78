"""Error messages say what is wrong in one style: a field's path is `documents[0].id` wherever it comes from,
a key past its length says so and gives the limit, and the inspection page filters as `/search` does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import TestClient

from app.container import Services


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def paths_in(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize(("route", "payload", "named"), [
    ("/documents", {"documents": [{"id": 5, "title": "t", "body": "b"}]}, "documents[0].id"),
    ("/documents", {"documents": [{"id": "a", "title": "t", "body": "b"}, {"id": "b", "title": 1, "body": "b"}]},
     "documents[1].title"),
    ("/documents", {"documents": [{"id": "a", "title": "t", "body": "b", "metadata": None}]},
     "documents[0].metadata"),
    ("/documents", {"documents": [{"id": "a", "title": "t", "body": "b", "metadata": {"m": nested(70)}}]},
     "documents[0].metadata.m[0]"),  # past the request's depth: checked before the model
    ("/documents", {"documents": [{"id": "a", "title": "t", "body": "b", "entities": ["x", 2]}]},
     "documents[0].entities[1]"),
    ("/search", {"query": "x", "fields": ["title", 7]}, "fields[1]"),
])
def test_a_fields_path_is_written_one_way_in_every_message(seeded: TestClient, app_services: Services, route: str,
                                                             payload: Any, named: str) -> None:
    before = app_services.ingest.count()
    r = seeded.post(route, json=payload)
    assert r.status_code == 422, r.text
    text = paths_in(r.json())
    assert named in r.json()["message"], r.json()["message"]
    assert ".0." not in text and ".1." not in text and "body.documents" not in text, text
    for problem in r.json()["detail"] if isinstance(r.json()["detail"], list) else []:
        assert "[" in problem["key"], problem  # the detail's keys too
    assert app_services.ingest.count() == before


def test_a_filter_key_past_its_length_says_so_and_gives_the_limit(seeded: TestClient) -> None:
    r = seeded.post("/search", json={"query": "gene", "filter": {"k" * 257: 1}})
    assert r.status_code == 422, r.text
    message = r.json()["message"]
    assert "257 characters, over the limit of 256" in message and "not a metadata name" not in message
    assert seeded.post("/search", json={"query": "gene", "filter": {"k" * 256: 1}}).status_code == 200
    page = seeded.get("/inspect/points", params={"key": "k" * 257, "value": "1"})  # the page's own query bound
    assert page.status_code == 422 and "length <= 256" in page.json()["message"]


@pytest.mark.parametrize("value", [-(2**63), 2**63 - 1, -(10**18), 10**18, 0, -7])
def test_the_inspection_page_filters_an_integer_as_search_does(seeded: TestClient, value: int) -> None:
    doc_id = f"int-edge-{value}"
    r = seeded.post("/documents", json={"documents": [{"id": doc_id, "title": "Edge integers",
                                                       "body": "A number at the edge of 64 bits.",
                                                       "metadata": {"edge_int": value}}]})
    assert r.status_code == 200, r.text
    found = [h["id"] for h in seeded.post("/search", json={"query": "edge integers", "limit": 100,
                                                            "filter": {"edge_int": value}}).json()["hits"]]
    assert found == [doc_id]
    page = seeded.get("/inspect/points", params={"key": "edge_int", "value": str(value)})
    assert page.status_code == 200 and "1 matching point(s)" in page.text and doc_id in page.text, page.text[-2000:]


def test_an_integer_past_64_bits_is_refused_alike_on_the_page_and_in_search(seeded: TestClient) -> None:
    r = seeded.post("/search", json={"query": "x", "filter": {"edge_int": 2**63}})
    assert r.status_code == 422 and "signed 64-bit" in r.json()["message"]
    page = seeded.get("/inspect/points", params={"key": "edge_int", "value": str(2**63)})
    assert 'id="error"' in page.text and "signed 64-bit" in page.text
