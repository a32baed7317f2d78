"""A name or key the client chose, of any length, is bounded and repeated in an error only by its start.

Found by a tester: a `weights` key of 1 MB got a 422 echoing it whole. Every name or key a request body (or path)
can carry is checked here: weights, filter and metadata keys, spaces in `fields` and `rerank`, plans, unknown keys
of every closed body (search, documents, backups, migration steps and declarations), migration steps, ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from app.domain.bounds import SHOWN_CHARS

HUGE = "w" * 1_000_000
DOC = {"id": "echo-1", "title": "t", "body": "b"}
TOKEN = "echo-admin-token"

CASES: dict[str, tuple[str, dict[str, Any], str]] = {  # what -> (path, body, what the message says)
    "weights key": ("/search", {"query": "x", "weights": {HUGE: 1}},
                    "is 1000000 characters, over the limit of 200"),
    "weights key, bad weight": ("/search", {"query": "x", "weights": {HUGE: -1}}, "weights key"),
    "filter key": ("/search", {"query": "x", "filter": {HUGE: 1}}, "filter key"),
    "unknown search key": ("/search", {"query": "x", HUGE: 1}, "Extra inputs are not permitted"),
    "space in fields": ("/search", {"query": "x", "fields": [HUGE]}, "fields[0]"),
    "space in rerank": ("/search", {"query": "x", "rerank": [HUGE]}, "rerank[0]"),
    "spaces listed twice": ("/search", {"query": "x", "fields": ["w" * 200] * 64}, "lists a space twice"),
    "unknown space": ("/search", {"query": "x", "fields": ["w" * 200]}, "unknown space"),
    "plan": ("/search", {"query": "x", "plan": HUGE}, "plan"),
    "unknown plan": ("/search", {"query": "x", "plan": "p" * 128}, "unknown plan"),
    "unknown document key": ("/documents", {"documents": [{**DOC, HUGE: 1}]}, "documents[0]."),
    "unknown batch key": ("/documents", {"documents": [DOC], HUGE: 1}, "Extra inputs are not permitted"),
    "metadata key": ("/documents", {"documents": [{**DOC, "metadata": {"a": {HUGE: 1}}}]}, "over the limit of 128"),
    "document id": ("/documents", {"documents": [{**DOC, "id": HUGE}]}, "over the limit of 256"),
    "unknown backup key": ("/admin/backup", {HUGE: 1}, "Extra inputs are not permitted"),
    "unknown migration step key": ("/admin/migrations/plan", {HUGE: 1}, "unknown field"),
    "unknown declaration key": ("/admin/migrations/apply", {"migration": {HUGE: 1}}, "unknown field"),
    "unknown query set key": ("/admin/migrations/validate", {"query_set": {HUGE: 1}}, "unknown field"),
    "migration step": ("/admin/migrations/" + "s" * 30_000, {}, "unknown step"),
}


@pytest.fixture(scope="module")
def admin_client(app_services: Services) -> Iterator[TestClient]:
    settings = app_services.settings.model_copy(update={"admin_token": TOKEN})
    with TestClient(create_app(settings, services=app_services)) as c:
        yield c


@pytest.mark.parametrize("case", list(CASES))
def test_a_huge_name_is_refused_and_repeated_only_by_its_start(admin_client: TestClient, case: str) -> None:
    path, body, says = CASES[case]
    r = admin_client.post(path, json=body, headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422, (case, r.status_code, r.text[:300])
    assert says in r.json()["message"], (case, r.json()["message"][:300])
    assert len(r.content) < 2_000, (case, len(r.content), r.text[:300])  # was up to 2 MB: the key twice


def test_a_huge_document_id_in_the_path_is_repeated_by_its_start(admin_client: TestClient) -> None:
    r = admin_client.get("/documents/" + "i" * 30_000)
    assert r.status_code == 404 and len(r.content) < 500, r.text[:300]
    assert f"{'i' * SHOWN_CHARS!r}…" in r.json()["message"]


def test_names_are_cut_the_same_way_everywhere(admin_client: TestClient) -> None:
    """One mechanism (`app.domain.bounds.shown`): the first SHOWN_CHARS characters, quoted, then `…`."""
    cut = f"{'w' * SHOWN_CHARS!r}…"
    for case in ("weights key", "filter key", "unknown space", "spaces listed twice"):
        path, body, _ = CASES[case]
        assert cut in admin_client.post(path, json=body).json()["message"], case


def test_the_schema_bounds_weights_keys(admin_client: TestClient) -> None:
    weights = admin_client.get("/schema/openapi.json").json()["components"]["schemas"]["SearchIn"]["properties"][
        "weights"]
    declared = [weights, *weights.get("oneOf", []), *weights.get("anyOf", [])]
    assert {"minLength": 1, "maxLength": 200} in [d.get("propertyNames") for d in declared], weights
