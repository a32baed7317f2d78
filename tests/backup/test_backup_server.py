"""On a real Qdrant server, a backup is the server's own collection snapshots: taken, downloaded, uploaded back.
Runs with QDRANT_URL or Docker (testcontainers), like the contract suite's server run; skipped otherwise."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from app.encoders.fastembed_encoder import SparseVec
from app.services.backup import BackupService
from app.store.base import PointWrite, VectorSpec
from app.store.qdrant import QdrantStore
from tests.backup.test_backup_restore import everything, same_vector
from tests.contract.test_store_contract import qdrant_server_url  # noqa: F401  (the fixture)

pytestmark = pytest.mark.server


def test_server_snapshots_restore_every_point_vector_and_alias(qdrant_server_url: str,  # noqa: F811
                                                               tmp_path: Path) -> None:
    store = QdrantStore(qdrant_server_url)
    prefix = f"bk{uuid.uuid4().hex[:8]}"
    name = f"{prefix}_docs_v1"
    store.create_collection(name, {"d": VectorSpec("dense", 2), "m": VectorSpec("multi", 2),
                                   "k": VectorSpec("sparse", None)})
    store.upsert(name, [PointWrite(id=str(uuid.UUID(int=i)), payload={"i": i, "nested": {"x": [i]}},
                                   vectors={"d": [1.0, float(i)], "m": [[1.0, 0.0], [0.0, float(i)]],
                                            "k": SparseVec((i,), (1.0,))}) for i in range(1, 8)])
    store.set_alias(prefix, name)
    try:
        service = BackupService(store=store)
        points, specs = everything(store, name), store.vector_specs(name)
        summary = service.backup(tmp_path / "bk")
        assert summary.formats[name] == "qdrant-snapshot" and summary.collections[name] == 7
        store.delete_collection(name)  # the server loses it; the restore brings it back
        store.delete_alias(prefix)
        # force: the server may hold other collections (they are put back as the backup took them)
        restored = service.restore(tmp_path / "bk", force=True)
        assert restored.collections[name] == 7 and store.get_alias(prefix) == name
        assert store.vector_specs(name) == specs
        after = everything(store, name)
        assert after.keys() == points.keys()
        for pid, point in points.items():
            assert after[pid].payload == point.payload
            assert after[pid].vectors.keys() == point.vectors.keys()
            assert all(same_vector(after[pid].vectors[v], x) for v, x in point.vectors.items())
    finally:
        store.delete_alias(prefix)
        store.delete_collection(name)
        store.close()
