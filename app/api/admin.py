"""Admin endpoints, for operators (migrations run through these on the embedded store).

Protected by `app.api.auth.admin_guard`: with MULTIVEC_ADMIN_TOKEN set, a matching
`Authorization: Bearer` header is required; without it, only clients on this machine (loopback).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, post

from app.api.auth import admin_guard
from app.api.openapi import READ, error_responses
from app.repos.registry import RegistryRepo


class AdminController(Controller):
    path = "/admin"
    tags = ["admin"]
    guards = [admin_guard]

    @post("/optimize", status_code=200, sync_to_thread=True, summary="Build indexes after a bulk load",
          responses=error_responses(404, *READ))
    def optimize(self, registry: RegistryRepo) -> dict[str, Any]:
        """Optimise the collection the alias points at; answers it and its point count."""
        store, physical = registry.store, registry.physical()
        store.optimize(physical)
        return {"optimized": physical, "points": store.count(physical)}
