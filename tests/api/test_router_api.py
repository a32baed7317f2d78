"""POST /search with a query router stored in the ranking profile: the route, `plan: "auto"`, bad plans, metrics."""

from __future__ import annotations

from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.container import Services
from tests.contract.test_router import CODES, WORDS, router_for


def test_search_runs_the_routed_plan_and_explains_the_route(seeded: TestClient, app_services: Services) -> None:
    app_services.search.profiles.save_router(router_for(app_services))
    r = seeded.post("/search", json={"query": CODES, "explain": True, "limit": 3})
    assert r.status_code == 200, r.text
    plan = r.json()["plan"]
    assert [s["space"] for s in plan["spaces"]] == ["keywords"] and plan["route"] == "keyword"
    assert plan["router"]["reason"] == "routed" and plan["router"]["probabilities"]["keyword"] == 0.9
    assert {h["id"] for h in r.json()["hits"][:2]} == {"bio-1", "bio-3"}  # CRISPR-Cas9 and IL-6, by their codes

    auto = seeded.post("/search", json={"query": WORDS, "plan": "auto", "explain": True}).json()["plan"]
    assert auto["route"] == "dense" and [s["space"] for s in auto["spaces"]] == ["document"]
    # without explain the answer carries hits only, as for any search
    plain = seeded.post("/search", json={"query": CODES}).json()
    assert plain["plan"] is None and {h["id"] for h in plain["hits"]} == {"bio-1", "bio-3"}  # BM25 finds only those


def test_routes_are_counted_by_plan(seeded: TestClient, app_services: Services) -> None:
    app_services.search.profiles.save_router(router_for(app_services))

    def routed(route: str) -> float:
        text = seeded.get("/metrics").text
        return sum(s.value for f in text_string_to_metric_families(text) if f.name == "multivec_searches"
                   for s in f.samples if s.name == "multivec_searches_total" and s.labels["route"] == route)

    def labelled(plan: str) -> float:
        text = seeded.get("/metrics").text
        return sum(s.value for f in text_string_to_metric_families(text) if f.name == "multivec_searches"
                   for s in f.samples if s.name == "multivec_searches_total" and s.labels["plan"] == plan)

    before = routed("keyword"), routed("dense"), labelled("auto"), labelled("keyword")
    assert seeded.post("/search", json={"query": CODES}).status_code == 200
    assert seeded.post("/search", json={"query": CODES}).status_code == 200
    assert seeded.post("/search", json={"query": WORDS}).status_code == 200
    assert (routed("keyword"), routed("dense")) == (before[0] + 2, before[1] + 1)
    # the plan label: a search the router decided is `auto`, whatever it chose; a named plan keeps its name
    assert labelled("auto") == before[2] + 3 and labelled("keyword") == before[3]
    assert seeded.post("/search", json={"query": CODES, "plan": "keyword"}).status_code == 200
    assert labelled("keyword") == before[3] + 1


def test_a_bad_plan_is_refused_naming_it(seeded: TestClient) -> None:
    r = seeded.post("/search", json={"query": CODES, "plan": "auto", "fields": ["title"], "fusion": "rrf"})
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith('plan "auto" lets the router choose') and "fields, fusion" in \
        r.json()["message"]
    r = seeded.post("/search", json={"query": CODES, "plan": "fastest"})
    assert r.status_code == 422 and "plan" in r.text
