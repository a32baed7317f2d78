"""Admin endpoints, for operators (migrations run through these on the embedded store).

Protected by `app.api.auth.admin_guard`: with MULTIVEC_ADMIN_TOKEN set, a matching
`Authorization: Bearer` header is required; without it, only clients on this machine (loopback).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, post

from app.api.auth import admin_guard
from app.api.openapi import READ, error_responses
from app.api.schemas import BackupIn, BackupOut, RestoreIn
from app.repos.registry import RegistryRepo
from app.services.backup import BackupService


class AdminController(Controller):
    """`/admin`: optimise the served collection, back up and restore the whole store (admin guard)."""

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

    @post("/backup", status_code=200, sync_to_thread=True, summary="Back up every collection, the registry and aliases",
          responses=error_responses(400, 409, 422, *READ, reads_body=True))
    def backup(self, backup: BackupService, data: BackupIn | None = None) -> BackupOut:
        """Write a backup into a new folder under the service's backup folder: the one `name`d (409 if it holds
        files), or a new `multivec-<UTC time>` (never one another backup holds); in this process, so the embedded
        store's own lock keeps writes out of each shard's copy."""
        name = (data or BackupIn()).name
        summary = backup.backup(backup.folder(name) if name else None)
        return BackupOut(**summary.as_dict())

    @post("/restore", status_code=200, sync_to_thread=True, summary="Restore a backup of the backup folder",
          responses=error_responses(400, 404, 409, 422, *READ, reads_body=True))
    def restore(self, backup: BackupService, data: RestoreIn) -> BackupOut:
        """Check the backup whole (404 naming it when missing, 422 for a corrupted manifest or file), then
        restore every collection and alias; 409 when the store holds documents and `force` is not set."""
        summary = backup.restore(backup.folder(data.name), force=data.force)
        return BackupOut(**summary.as_dict())
