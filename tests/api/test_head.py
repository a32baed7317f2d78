"""HEAD on GET routes: the GET's status and headers, no body (RFC 9110, 9.3.2); over real HTTP too."""

from __future__ import annotations

import httpx
import pytest
from litestar.testing import TestClient

GET_ROUTES = ["/health", "/ready", "/metrics", "/inspect/", "/schema/openapi.json", "/documents/bio-1"]


@pytest.mark.parametrize("path", GET_ROUTES)
def test_head_answers_as_get_without_a_body(seeded: TestClient, path: str) -> None:
    get, head = seeded.get(path), seeded.head(path)
    assert get.status_code == 200, get.text
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if "content-length" in get.headers and path != "/metrics":  # metrics count the GET just made
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_keeps_the_get_s_errors(seeded: TestClient) -> None:
    missing, wrong_method = seeded.head("/documents/no-such-document"), seeded.head("/search")
    assert missing.status_code == 404 and missing.content == b""
    assert wrong_method.status_code == 405 and wrong_method.content == b""
    assert seeded.get("/documents/no-such-document").status_code == 404  # nothing changed by the HEAD


def test_head_over_real_http(live_url: str, seeded: TestClient) -> None:
    with httpx.Client(base_url=live_url, timeout=10) as http:
        head, get = http.head("/documents/bio-1"), http.get("/documents/bio-1")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] != "0"


def test_allow_lists_head_wherever_it_lists_get(seeded: TestClient) -> None:
    put = seeded.put("/health")
    assert put.status_code == 405
    allowed = {m.strip() for m in put.headers["allow"].split(",")}
    assert {"GET", "HEAD"} <= allowed
    options = seeded.options("/documents/bio-1")
    methods = {m.strip() for m in options.headers.get("allow", "").split(",")}
    assert "GET" not in methods or "HEAD" in methods


def test_head_requests_are_counted_under_their_route(seeded: TestClient) -> None:
    seeded.head("/health")
    metrics = seeded.get("/metrics").text
    assert 'method="HEAD",route="/health",status="200"' in metrics
    assert 'method="HEAD",route="<unmatched>",status="200"' not in metrics
