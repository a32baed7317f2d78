"""Pick the store adapter from settings (a URL means a Qdrant server, otherwise embedded edge),
wrapped so every call is retried a bounded number of times."""

from __future__ import annotations

from app.settings import StoreSettings
from app.store.base import Store
from app.store.retrying import RetryingStore


def open_store(settings: StoreSettings) -> Store:
    """The configured adapter behind a RetryingStore.

    Raises:
        StoreLocked: the embedded data folder is held by another process.
        StoreUnavailable: the folder cannot be used.
    """
    inner: Store
    if settings.url:
        from app.store.qdrant import QdrantStore

        inner = QdrantStore(settings.url, api_key=settings.api_key, timeout_s=settings.timeout_s)
    else:
        from app.store.edge import EdgeStore

        inner = EdgeStore(settings.path)
    return RetryingStore(inner, attempts=settings.retry_attempts, wait_s=settings.retry_wait_s)
