"""Per request: a request id, one JSON log line, request metrics; and `GET /metrics` for Prometheus.

`RequestObserver` wraps the app's whole ASGI handler, so it sees every answer (404s and 405s too) and
reads the route template the router matched (`/documents/{doc_id}`), never the raw path, as the route
label. Controllers add what only they know (a search's plan and timings) with `note_search` /
`note_written`, which both count it and put it on the request's log line.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.auth import read_guard
from app.observe.logs import FIELDS
from app.observe.metrics import UNMATCHED, Metrics

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("multivec.request")

REQUEST_ID_HEADER = "x-request-id"
_RECORD = "multivec.record"  # scope["state"] key: the fields a controller adds to its request's log line
# A client's X-Request-ID is kept when it is short and plain (it goes into logs); otherwise a new one is made.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id(scope: Scope) -> str:
    """The client's `X-Request-ID` when it is 1 to 128 plain characters, else a new random id."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value.decode("latin-1").strip()
            if _CLIENT_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestObserver:
    """ASGI wrapper: request id (in and out), latency and status per route template, one log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        record: dict[str, Any] = {}
        scope.setdefault("state", {})[_RECORD] = record  # type: ignore[typeddict-item]
        status = 500  # what the client gets if the app fails before it answers
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (REQUEST_ID_HEADER.encode(), rid.encode())]
                message = {**message, "headers": headers}  # type: ignore[typeddict-item]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or UNMATCHED
            method = str(scope.get("method", ""))
            self.metrics.request(method, route, status, seconds)
            log.info("%s %s %s", method, route, status, extra={FIELDS: {
                "request_id": rid, "method": method, "route": route, "status": status,
                "duration_ms": round(seconds * 1000, 2), **record}})


def _record(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.scope.get("state", {}).setdefault(_RECORD, {})  # type: ignore[no-any-return]


def _metrics(request: Request[Any, Any, Any]) -> Metrics | None:
    return getattr(request.app.state, "metrics", None)


def note_search(request: Request[Any, Any, Any], plan: Mapping[str, Any] | None,
                timings_ms: Mapping[str, float] | None) -> None:
    """Count a search by its plan and timings, and put a summary of both on the request's log line."""
    metrics = _metrics(request)
    if metrics is not None:
        metrics.search(plan, timings_ms)
    if plan is not None:
        _record(request)["plan"] = {
            "label": plan.get("plan_label"), "route": plan.get("route") or "default",
            "fusion": plan.get("fusion"), "fused_in": plan.get("fused_in"),
            "spaces": {s["space"]: s["weight"] for s in plan.get("spaces") or []},
            "versions": [s["vector"] for s in plan.get("spaces") or []], "limit": plan.get("limit"),
            "execution": plan.get("execution"),
        }
        if plan.get("degraded"):  # a fan-out answer without these spaces (metrics count them per space)
            _record(request)["degraded"] = list(plan["degraded"])
        if plan.get("rerank"):  # a cascade: the spaces that rescored the candidates, and how many
            _record(request)["plan"] |= {"rerank": {s["space"]: s["weight"] for s in plan["rerank"]},
                                         "candidates": plan.get("candidates")}
    if timings_ms:
        _record(request)["timings_ms"] = dict(timings_ms)


def note_written(request: Request[Any, Any, Any], count: int, timings_ms: Mapping[str, float] | None) -> None:
    """Count documents written, with the encode and store time of their batch; log the count and timings."""
    metrics = _metrics(request)
    if metrics is not None:
        metrics.written(count, timings_ms)
    _record(request).update({"documents": count, **({"timings_ms": dict(timings_ms)} if timings_ms else {})})


def note_deleted(request: Request[Any, Any, Any]) -> None:
    """Count one deleted document (`multivec_documents_deleted`) when the app has metrics."""
    metrics = _metrics(request)
    if metrics is not None:
        metrics.documents_deleted.inc()


# Litestar appends the charset itself: without this cut the header said `charset=utf-8` twice
PROMETHEUS_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")


class MetricsController(Controller):
    """Prometheus scrape endpoint. Guarded like reads: with API keys set it needs one (either key, as
    `api-key` or a bearer token, which Prometheus's `authorization` setting sends); with none set the
    service is open and `scripts/serve` binds loopback only unless told otherwise."""

    @get("/metrics", guards=[read_guard], sync_to_thread=True, include_in_schema=False,
         media_type=PROMETHEUS_TYPE)
    def metrics(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """Every metric of this app, in Prometheus's text format; store gauges are read now."""
        metrics: Metrics = request.app.state.metrics
        return Response(generate_latest(metrics.registry), media_type=PROMETHEUS_TYPE)
