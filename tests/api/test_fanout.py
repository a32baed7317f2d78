"""Fan-out through real HTTP: a slow space leaves a degraded answer, every space slow a clear 503.

The app runs on the embedded store wrapped so that chosen spaces sleep until each test ends (30 s at
most) against 50 ms deadlines; nothing here is timed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.observe.logs import JsonFormatter
from app.settings import SearchSettings
from app.store.base import Store
from app.store.factory import open_store
from tests.api.test_observability import scrape, value
from tests.conftest import make_settings
from tests.fixtures import DOCS
from tests.slow import SlowSpaces

QUERY = "bacteria in fermented food"
DEFAULT_SPACES = ("body", "document", "keywords")  # the `fused` plan's spaces (the fixture's default plan)


@pytest.fixture(scope="module")
def slow_store(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, encoders: EncoderPool
               ) -> Iterator[tuple[TestClient, SlowSpaces]]:
    """The app over an embedded store whose spaces can be made slow; `body`'s deadline is 50 ms, the
    others' the 30 s budget (so only the slow space can miss)."""
    settings = make_settings("edge", tmp_path_factory.mktemp("fanout"), model_cache,  # plan `fused`: three spaces
                             search=SearchSettings(deadlines_ms={"body": 50}, budget_ms=30_000, plan="fused"))
    store = SlowSpaces(open_store(settings.store, settings.collection))
    services = build_services(settings, store=cast(Store, store), encoders=encoders)
    try:
        with TestClient(create_app(settings, services=services)) as client:
            assert client.post("/documents", json={"documents": DOCS}).status_code == 200
            yield client, store
    finally:
        store.release()
        services.close()


@pytest.fixture
def slow(slow_store: tuple[TestClient, SlowSpaces]) -> Iterator[tuple[TestClient, SlowSpaces]]:
    client, store = slow_store
    store.reset()
    yield client, store
    store.reset()  # wakes this test's sleepers


def ids(answer: dict[str, Any]) -> list[str]:
    return [h["id"] for h in answer["hits"]]


def test_one_slow_space_answers_with_the_others_hits_flagged_degraded(
        slow: tuple[TestClient, SlowSpaces], caplog: pytest.LogCaptureFixture) -> None:
    client, store = slow
    whole = client.post("/search", json={"query": QUERY, "limit": 5, "weights": {"body": 0}, "fanout": False})
    assert whole.status_code == 200 and whole.json()["degraded"] == []
    before = scrape(client)
    store.reset(slow={"body"})
    caplog.set_level(logging.INFO, logger="multivec.request")
    r = client.post("/search", json={"query": QUERY, "limit": 5, "fanout": True, "explain": True})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["degraded"] == ["body"]
    assert ids(answer) == ids(whole.json()) and answer["hits"]
    plan = answer["plan"]
    assert plan["execution"] == "fanout" and plan["degraded"] == ["body"]
    assert plan["fanout"]["body"]["status"] == "timeout" and plan["fanout"]["body"]["deadline_ms"] == 50
    assert plan["fanout"]["keywords"]["status"] == "answered" and plan["fanout"]["keywords"]["ms"] >= 0
    after = scrape(client)
    assert value(after, "multivec_search_degraded_total", space="body") - value(
        before, "multivec_search_degraded_total", space="body") == 1
    assert value(after, "multivec_search_degraded_total", space="keywords") == value(
        before, "multivec_search_degraded_total", space="keywords")
    formatter = JsonFormatter()
    line = [json.loads(formatter.format(x)) for x in caplog.records if x.name == "multivec.request"
            and x.getMessage() == "POST /search 200"][-1]
    assert line["degraded"] == ["body"] and line["plan"]["execution"] == "fanout"


def test_with_every_space_slow_the_search_is_a_clear_503(slow: tuple[TestClient, SlowSpaces]) -> None:
    client, store = slow
    store.reset(slow=set(DEFAULT_SPACES))
    r = client.post("/search", json={"query": QUERY, "budget_ms": 50})
    assert r.status_code == 503, r.text
    error = r.json()
    assert error["code"] == "search_deadline"
    assert "no space answered within the search's 50 ms budget" in error["message"]
    for space in DEFAULT_SPACES:
        assert f"{space} timed out after 50 ms" in error["message"]
        assert error["detail"]["spaces"][space]["status"] == "timeout"
    assert error["detail"]["budget_ms"] == 50


def test_a_space_that_fails_is_missed_not_a_failed_search(slow: tuple[TestClient, SlowSpaces]) -> None:
    client, store = slow
    store.reset(failing={"keywords"})
    r = client.post("/search", json={"query": QUERY, "fanout": True})
    assert r.status_code == 200, r.text
    assert r.json()["degraded"] == ["keywords"] and r.json()["hits"]


@pytest.mark.parametrize(("body", "named"), [
    ({"budget_ms": 0}, "budget_ms"),
    ({"budget_ms": 30_001}, "budget_ms 30001 is outside 1..30000"),
    ({"budget_ms": 100, "fanout": False}, "cannot be given with fanout false"),
    ({"fanout": "yes"}, "fanout"),
    ({"budget_ms": 1.5}, "budget_ms"),
])
def test_a_bad_fanout_request_is_a_422_naming_the_field(slow: tuple[TestClient, SlowSpaces],
                                                        body: dict[str, Any], named: str) -> None:
    client, _ = slow
    r = client.post("/search", json={"query": QUERY, **body})
    assert r.status_code == 422, r.text
    assert named in r.text


def test_a_cascade_fans_out_and_a_slow_rerank_space_leaves_the_candidates_flagged_degraded(
        slow: tuple[TestClient, SlowSpaces]) -> None:
    """A cascade fanned out: stage 1's spaces one request each, then the rerank space scores exactly the
    candidates in its own request. Whole, it answers as the batch cascade; with `body` slow, the
    candidates in their stage-1 order, flagged degraded; with stage 1 slow, a 503."""
    client, store = slow
    whole = client.post("/search", json={"query": QUERY, "plan": "cascade", "explain": True})
    fanned = client.post("/search", json={"query": QUERY, "plan": "cascade", "fanout": True, "explain": True})
    assert whole.status_code == fanned.status_code == 200, fanned.text[:300]
    assert ids(fanned.json()) == ids(whole.json()) and ids(whole.json())
    plan = fanned.json()["plan"]
    assert fanned.json()["degraded"] == [] and plan["execution"] == "fanout"
    assert {plan["fanout"][s]["status"] for s in ("document", "keywords", "body")} == {"answered"}
    assert [h["stages"]["body"]["rank"] for h in fanned.json()["hits"]] == [
        h["stages"]["body"]["rank"] for h in whole.json()["hits"]]
    stage1 = client.post("/search", json={"query": QUERY, "fields": ["document", "keywords"],
                                          "weights": {"keywords": 1.5}, "fanout": False})
    store.reset(slow={"body"})
    r = client.post("/search", json={"query": QUERY, "plan": "cascade", "fanout": True, "explain": True})
    assert r.status_code == 200, r.text
    assert r.json()["degraded"] == ["body"] and r.json()["plan"]["fanout"]["body"]["status"] == "timeout"
    assert ids(r.json()) == ids(stage1.json()) and ids(r.json())
    store.reset(slow={"document", "keywords"})
    r = client.post("/search", json={"query": QUERY, "plan": "cascade", "budget_ms": 50})
    assert r.status_code == 503 and r.json()["code"] == "search_deadline", r.text
