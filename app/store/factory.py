"""Pick the store adapter from settings: a URL means a Qdrant server, otherwise embedded edge."""

from __future__ import annotations

from app.settings import StoreSettings
from app.store.base import Store


def open_store(settings: StoreSettings) -> Store:
    if settings.url:
        from app.store.qdrant import QdrantStore

        return QdrantStore(settings.url, api_key=settings.api_key, timeout_s=settings.timeout_s,
                           retry_attempts=settings.retry_attempts, retry_wait_s=settings.retry_wait_s)
    from app.store.edge import EdgeStore

    return EdgeStore(settings.path)
