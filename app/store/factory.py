"""Pick the store adapter from settings (a URL means a Qdrant server, otherwise embedded edge),
wrapped so every call is retried a bounded number of times."""

from __future__ import annotations

from app.settings import CollectionSettings, StoreSettings
from app.store.base import CollectionConfig, Store, VectorStorage
from app.store.retrying import RetryingStore


def collection_config(settings: CollectionSettings) -> CollectionConfig:
    """The collection settings as the port's `CollectionConfig` (a space's unset fields take the defaults)."""
    default = VectorStorage(on_disk=settings.on_disk_vectors, quantization=settings.quantization,
                            datatype=settings.vector_datatype)
    storage = {name: VectorStorage(on_disk=default.on_disk if s.on_disk is None else s.on_disk,
                                   quantization=s.quantization or default.quantization,
                                   datatype=s.datatype or default.datatype)
               for name, s in settings.spaces.items()}
    return CollectionConfig(shard_number=settings.shard_number, replication_factor=settings.replication_factor,
                            write_consistency_factor=settings.write_consistency_factor,
                            on_disk_payload=settings.on_disk_payload, default=default, storage=storage,
                            rescore=settings.rescore, oversampling=settings.oversampling)


def open_store(settings: StoreSettings, collection: CollectionSettings | None = None) -> Store:
    """The configured adapter behind a RetryingStore.

    Args:
        settings: where the store is.
        collection: how it lays out new collections and searches quantized vectors (default: none of it).

    Raises:
        StoreLocked: the embedded data folder is held by another process.
        StoreUnavailable: the folder cannot be used.
    """
    config = collection_config(collection or CollectionSettings())
    inner: Store
    if settings.url:
        from app.store.qdrant import QdrantStore

        inner = QdrantStore(settings.url, api_key=settings.api_key, timeout_s=settings.timeout_s, config=config)
    else:
        from app.store.edge import EdgeStore

        inner = EdgeStore(settings.path, config=config, min_free_mb=settings.min_free_mb)
    return RetryingStore(inner, attempts=settings.retry_attempts, wait_s=settings.retry_wait_s)
