"""A client that closes a request before its body arrived (Ctrl-C of `scripts/load` mid-upload) is not a server
error: it was logged and counted as `POST /documents 500`, which 5xx monitoring reads as an outage (a break test).
Driven at the ASGI level, as a server hands the app the client's disconnect."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services


def test_a_body_cut_short_by_the_client_is_a_499_and_no_5xx(services: Services) -> None:
    app = create_app(services.settings, services=services)
    events: list[dict[str, Any]] = [{"type": "http.request", "body": b'{"documents": [{"id": "a", ', "more_body": True},
                                     {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/documents", "raw_path": b"/documents", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    with TestClient(app) as client:  # the lifespan ran: the app is ready
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
        [start] = [m for m in sent if m["type"] == "http.response.start"]
        assert start["status"] == 499
        metrics = client.get("/metrics").text
    assert 'status="499"' in metrics and not any('route="/documents"' in line and 'status="500"' in line
                                                 for line in metrics.splitlines())
    assert services.ingest.count() == 0
