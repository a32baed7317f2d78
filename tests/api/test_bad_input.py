"""Bad input gets a 4xx naming the problem, and changes nothing that is stored."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from app.container import Services
from tests.fixtures import DOCS

GOOD = {"id": "new-1", "title": "A new document", "body": "Some text about new things."}


def snapshot(services: Services) -> tuple[int, dict[str, Any]]:
    return services.ingest.count(), services.ingest.get(DOCS[0]["id"])


def with_doc(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


BAD_UPSERTS: list[tuple[str, Any, str]] = [
    ("missing title", {"documents": [{"id": "x", "body": "b"}]}, "title"),
    ("id not a string", {"documents": [with_doc(id=5)]}, "id"),
    ("body not a string", {"documents": [with_doc(body=["a"])]}, "body"),
    ("entities not strings", {"documents": [with_doc(entities=[1, 2])]}, "entities"),
    ("metadata not an object", {"documents": [with_doc(metadata="x")]}, "metadata"),
    ("unknown field", {"documents": [with_doc(titel="typo")]}, "titel"),
    ("no documents key", {"docs": [GOOD]}, "documents"),
    ("empty batch", {"documents": []}, "empty batch"),
    ("oversize batch", {"documents": [with_doc(id=f"b{i}") for i in range(300)]}, "over the limit of 256"),
    ("oversize body", {"documents": [with_doc(body="x" * 500_001)]}, "body: 500001 characters"),
    ("oversize title", {"documents": [with_doc(title="t" * 2001)]}, "title: 2001 characters"),
    ("duplicate ids", {"documents": [GOOD, DOCS[0], with_doc(title="again")]}, "duplicate ids"),
    ("empty id", {"documents": [with_doc(id="")]}, "id"),
    ("blank document", {"documents": [with_doc(id="blank", title=" ", body="")]}, "neither title nor body"),
    # the whole kind: text that shows nothing (zero-width space, joiners, BOM, soft hyphen, NBSP, line separator)
    ("invisible document", {"documents": [with_doc(id="invisible", title="\u200b\u200d", body="\ufeff\u00ad\u00a0")]},
     "neither title nor body"),
    ("invisible title, tab body", {"documents": [with_doc(id="inv-2", title="\u2060", body="\t\u2028\n")]},
     "neither title nor body"),
    ("Hangul filler title, braille blank body", {"documents": [with_doc(id="inv-3", title="\u3164", body="\u2800")]},
     "neither title nor body"),
    ("blank summary", {"documents": [with_doc(id="inv-4", summary="\u200b ")]}, "summary is blank"),
    ("invisible metadata key", {"documents": [with_doc(id="inv-5", metadata={"\u200b": 1})]}, "metadata key is empty"),
    ("good then bad", {"documents": [with_doc(id="ok-1"), with_doc(id="bad", body=None)]}, "body"),
]


@pytest.mark.parametrize(("case", "payload", "named"), BAD_UPSERTS, ids=[c[0] for c in BAD_UPSERTS])
def test_bad_upsert_is_refused_and_changes_nothing(
    seeded: TestClient, app_services: Services, case: str, payload: Any, named: str
) -> None:
    before = snapshot(app_services)
    r = seeded.post("/documents", json=payload)
    assert 400 <= r.status_code < 500, (case, r.status_code, r.text)
    body = r.json()
    assert body["code"] in {"invalid_input", "malformed_request"}
    assert named in body["message"], (case, body["message"])
    assert snapshot(app_services) == before
    assert seeded.get("/documents/new-1").status_code == 404
    assert seeded.get("/documents/ok-1").status_code == 404


def test_malformed_json_is_400(seeded: TestClient, app_services: Services) -> None:
    before = snapshot(app_services)
    for path in ("/documents", "/search"):
        r = seeded.post(path, content=b'{"documents": [', headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert "JSON" in r.json()["message"]
    assert snapshot(app_services) == before


BAD_SEARCHES: list[tuple[str, Any, int, str]] = [
    ("missing query", {"limit": 3}, 422, "query"),
    ("query not a string", {"query": 42}, 422, "query"),
    ("empty query", {"query": ""}, 422, "query"),
    ("blank query", {"query": "   "}, 422, "query is blank"),
    ("invisible query", {"query": "\u200b\u200c\ufeff"}, 422, "query is blank"),
    ("oversize query", {"query": "q" * 2001}, 422, "query is 2001 characters"),
    ("limit zero", {"query": "a", "limit": 0}, 422, "limit"),
    ("limit too big", {"query": "a", "limit": 1000}, 422, "limit 1000 is over the maximum of 100"),
    ("limit not a number", {"query": "a", "limit": "ten"}, 422, "limit"),
    ("unknown space", {"query": "a", "fields": ["title", "colour"]}, 422, "unknown space 'colour'"),
    ("space twice", {"query": "a", "fields": ["title", "title"]}, 422, "twice"),
    ("unknown fusion", {"query": "a", "fusion": "borda"}, 422, "fusion"),
    ("negative weight", {"query": "a", "weights": {"title": -1}}, 422, "negative"),
    ("weight of unknown space", {"query": "a", "weights": {"colour": 1}}, 422, "unknown space 'colour'"),
    ("all weights zero", {"query": "a", "fields": ["title"], "weights": {"title": 0}}, 422, "all weights are zero"),
    ("weight not a number", {"query": "a", "weights": {"title": "high"}}, 422, "weights"),
    ("rrf k zero", {"query": "a", "rrf_k": 0}, 422, "rrf_k"),
    ("filter value an object", {"query": "a", "filter": {"topic": {"$in": 1}}}, 422, "filter"),
    ("empty filter list", {"query": "a", "filter": {"topic": []}}, 422, "empty list"),
    ("unknown key", {"query": "a", "limt": 3}, 422, "limt"),
]


@pytest.mark.parametrize(("case", "payload", "status", "named"), BAD_SEARCHES, ids=[c[0] for c in BAD_SEARCHES])
def test_bad_search_is_refused_with_a_clear_message(
    seeded: TestClient, app_services: Services, case: str, payload: Any, status: int, named: str
) -> None:
    before = snapshot(app_services)
    r = seeded.post("/search", json=payload)
    assert r.status_code == status, (case, r.text)
    assert named in r.json()["message"], (case, r.json())
    assert snapshot(app_services) == before


def test_unknown_document_is_404_naming_the_id(seeded: TestClient) -> None:
    r = seeded.get("/documents/no-such-doc")
    assert r.status_code == 404
    assert "no-such-doc" in r.json()["message"]


@pytest.mark.parametrize(("value", "named"), [(1.5, "filter"), ([1, "a"], "only strings or only integers")])
def test_filter_values_qdrant_cannot_match_are_refused(seeded: TestClient, value: Any, named: str) -> None:
    r = seeded.post("/search", json={"query": "a", "filter": {"year": value}})
    assert r.status_code == 422 and named in r.json()["message"]
