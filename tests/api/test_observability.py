"""What an operator scrapes and reads: /metrics moves with searches and upserts; one JSON log line per request."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.asgi import create_app
from app.container import Services
from app.observe.logs import JsonFormatter
from tests.fixtures import DOCS

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def app_client(app_services: Services) -> Iterator[TestClient]:
    """A new app (so a new metrics registry) over the module's services."""
    with TestClient(create_app(app_services.settings, services=app_services)) as c:
        yield c


def scrape(client: TestClient, **headers: str) -> Samples:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-type"].count("charset") == 1, r.headers["content-type"]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over every series whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def test_histograms_and_counters_move_after_searches_and_upserts(app_client: TestClient) -> None:
    before = scrape(app_client)
    assert value(before, "multivec_store_up") == 1
    r = app_client.post("/documents", json={"documents": DOCS[:4]})
    assert r.status_code == 200
    for query in ("telescope", "sourdough bread"):
        assert app_client.post("/search", json={"query": query, "limit": 3}).status_code == 200
    assert app_client.post("/search", json={"query": "yeast", "fusion": "rrf", "explain": True}).status_code == 200
    assert app_client.get("/documents/astro-1").status_code == 200
    after = scrape(app_client)

    search = {"route": "/search", "method": "POST", "status": "200"}
    assert value(after, "multivec_http_requests_total", **search) - value(before, "multivec_http_requests_total",
                                                                            **search) == 3
    assert value(after, "multivec_http_request_duration_seconds_count", **search) == 3
    assert value(after, "multivec_http_request_duration_seconds_sum", **search) > 0
    # the route template, never the raw path: ids do not become label values
    assert value(after, "multivec_http_requests_total", route="/documents/{doc_id}", method="GET") == 1
    assert not any("astro-1" in dict(ls).get("route", "") for _, ls in after)

    assert value(after, "multivec_encode_seconds_count", operation="search") == 3
    assert value(after, "multivec_store_seconds_count", operation="search") == 3
    assert value(after, "multivec_encode_seconds_count", operation="ingest") == 1
    assert value(after, "multivec_store_seconds_sum", operation="ingest") > 0
    assert value(after, "multivec_documents_written_total") == 4
    assert value(after, "multivec_searches_total", route="default", fusion="dbsf", spaces="3") == 2
    assert value(after, "multivec_searches_total", fusion="rrf", fused_in="client") == 1
    # declared for every space before any fan-out can degrade one, so dashboards can be built now
    assert value(after, "multivec_search_degraded_total", space="body") == 0
    assert ("multivec_search_degraded_total", (("space", "keywords"),)) in after

    # read at scrape time from the registry and the store
    assert value(after, "multivec_registry_revision") >= 1
    assert value(after, "multivec_collection_points") >= 4
    assert value(after, "multivec_vector_version_coverage_ratio", version="title.minilm-l6-int8-shared.v3") == 1.0
    assert value(after, "multivec_vector_version_points", version="body.minilm-l6-int8-shared.v2") == value(
        after, "multivec_collection_points")
    assert value(after, "multivec_vector_version_status", version="title.minilm-l6-int8-shared.v3", status="live") == 1


def test_unmatched_paths_share_one_route_label(app_client: TestClient) -> None:
    for path in ("/nope/1", "/nope/2"):
        assert app_client.get(path).status_code == 404
    after = scrape(app_client)
    assert value(after, "multivec_http_requests_total", route="<unmatched>", status="404") == 2
    assert not any("/nope" in dict(ls).get("route", "") for _, ls in after)


def test_each_app_has_its_own_registry(app_services: Services) -> None:
    with TestClient(create_app(app_services.settings, services=app_services)) as a, \
            TestClient(create_app(app_services.settings, services=app_services)) as b:
        a.post("/search", json={"query": "telescope"})
        assert value(scrape(a), "multivec_searches_total") == 1
        assert value(scrape(b), "multivec_searches_total") == 0


def test_metrics_need_a_key_like_reads_when_keys_are_set(app_services: Services) -> None:
    settings = app_services.settings.model_copy(update={"api_key": "rw-key", "read_only_api_key": "ro-key"})
    with TestClient(create_app(settings, services=app_services)) as c:
        r = c.get("/metrics")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        assert value(scrape(c, authorization="Bearer ro-key"), "multivec_store_up") == 1  # Prometheus's bearer
        assert value(scrape(c, **{"api-key": "rw-key"}), "multivec_store_up") == 1


def test_metrics_are_not_part_of_the_json_contract(app_client: TestClient) -> None:
    assert "/metrics" not in app_client.get("/schema/openapi.json").json()["paths"]


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "multivec.request"]


def test_one_json_log_line_per_request_with_its_id(app_client: TestClient, caplog: pytest.LogCaptureFixture
                                                   ) -> None:
    caplog.set_level(logging.INFO, logger="multivec.request")
    r = app_client.post("/search", json={"query": "telescope", "limit": 2}, headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc-123"
    r2 = app_client.get("/documents/no-such-doc")
    assert r2.status_code == 404
    generated = r2.headers["x-request-id"]
    assert len(generated) == 32
    r3 = app_client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})  # not kept: it goes into logs
    assert r3.headers["x-request-id"] != "bad id\twith spaces"

    lines = request_lines(caplog)
    assert [line["request_id"] for line in lines] == ["abc-123", generated, r3.headers["x-request-id"]]
    search, missing, _ = lines
    assert search["method"] == "POST" and search["route"] == "/search" and search["status"] == 200
    assert search["duration_ms"] > 0 and search["level"] == "INFO"
    assert search["plan"]["fusion"] == "dbsf" and search["plan"]["route"] == "default"
    # the default plan, a cascade: stage 1 fuses document and keywords, body rescores the candidates
    assert set(search["plan"]["spaces"]) == {"document", "keywords"} and set(search["plan"]["rerank"]) == {"body"}
    assert {"encode", "store", "total"} <= set(search["timings_ms"])
    assert missing["route"] == "/documents/{doc_id}" and missing["status"] == 404


def test_an_upsert_logs_how_many_documents_and_its_timings(app_client: TestClient,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="multivec.request")
    assert app_client.post("/documents", json={"documents": DOCS[:2]}).status_code == 200
    (line,) = request_lines(caplog)
    assert line["documents"] == 2 and {"encode", "store"} <= set(line["timings_ms"])


def test_a_playground_search_is_counted_like_any_search(seeded: TestClient) -> None:
    """Found by trying it: playground searches were routed by rollouts but not counted."""
    from prometheus_client.parser import text_string_to_metric_families

    def searches() -> float:
        text = seeded.get("/metrics").text
        return sum(s.value for f in text_string_to_metric_families(text) if f.name == "multivec_searches"
                   for s in f.samples if s.name == "multivec_searches_total")

    before = searches()
    assert seeded.get("/inspect/search", params={"q": "gene editing"}).status_code == 200
    assert searches() == before + 1


def test_searches_are_counted_and_timed_by_a_bounded_plan_label(app_client: TestClient) -> None:
    """The named plan, `auto`, or `custom` for a request that names fields, weights, fusion or k; a refused plan
    name never becomes a label."""
    asked: list[tuple[dict[str, Any], str]] = [
        ({}, "cascade"), ({"plan": "keyword"}, "keyword"), ({"plan": "fused"}, "fused"),
        ({"plan": "auto"}, "auto"), ({"fields": ["title"]}, "custom"), ({"weights": {"body": 2}}, "custom"),
        ({"plan": "dense", "fusion": "rrf"}, "custom"), ({"rrf_k": 10}, "custom"), ({"rerank": []}, "cascade")]
    before = scrape(app_client)
    for body, _ in asked:
        r = app_client.post("/search", json={"query": "telescope", "explain": True, **body})
        assert r.status_code == 200, r.text
    for bad in ("nope", "x" * 100, "<script>"):
        assert app_client.post("/search", json={"query": "telescope", "plan": bad}).status_code == 422
    after = scrape(app_client)
    for label in {label for _, label in asked}:
        want = sum(1 for _, lab in asked if lab == label)
        for name in ("multivec_searches_total", "multivec_search_duration_seconds_count"):
            assert value(after, name, plan=label) - value(before, name, plan=label) == want, (name, label)
    labels = {dict(ls).get("plan") for n, ls in after if n == "multivec_searches_total"}
    assert labels <= {"cascade", "keyword", "fused", "auto", "custom", "all", "dense", "profile"}, labels
    assert value(after, "multivec_search_duration_seconds_sum", plan="cascade") > 0
