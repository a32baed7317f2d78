"""Admin endpoints, for operators (migrations run through these on the embedded store).

Protected: with MULTIVEC_ADMIN_TOKEN set, a matching `Authorization: Bearer` header is required;
without it, only clients on this machine (loopback) are let in.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Controller, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.container import Services
from app.errors import Unauthorized

_LOCAL = {"127.0.0.1", "::1", "localhost", "testclient"}


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    token = connection.app.state.services.settings.admin_token
    if token:
        given = connection.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized("admin endpoints need `Authorization: Bearer <MULTIVEC_ADMIN_TOKEN>`")
        return
    host = connection.client.host if connection.client else ""
    if host not in _LOCAL:
        raise Unauthorized("admin endpoints answer only local clients unless MULTIVEC_ADMIN_TOKEN is set")


class AdminController(Controller):
    path = "/admin"
    tags = ["admin"]
    guards = [admin_guard]

    @post("/optimize", status_code=200, sync_to_thread=True, summary="Build indexes after a bulk load")
    def optimize(self, services: Services) -> dict[str, Any]:
        physical = services.registry.physical()
        services.store.optimize(physical)
        return {"optimized": physical, "points": services.store.count(physical)}
