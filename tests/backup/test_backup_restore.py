"""Backup and restore: a loaded store, backed up and restored elsewhere, gives back every point, vector version
and alias, on the embedded store (edge shard snapshots) and on the in-memory client (points export)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.container import Services, build_services
from app.encoders.fastembed_encoder import SparseVec
from app.errors import BackupInvalid, BackupNotFound, Conflict, InvalidInput
from app.services.backup import MANIFEST, POINTS_EXPORT, BackupService
from app.services.search import SearchRequest
from app.settings import CollectionSettings, Settings
from app.store.base import CollectionConfig, PointWrite, Store, StoredPoint, VectorSpec, VectorStorage
from app.store.edge import EdgeStore
from app.store.factory import collection_config
from app.store.meta import META_COLLECTION
from app.store.qdrant import QdrantStore
from tests.conftest import make_settings


def everything(store: Store, collection: str) -> dict[str, StoredPoint]:
    """Every point of a collection with its payload and all its named vectors, by id."""
    out: dict[str, StoredPoint] = {}
    offset = None
    while True:
        page, offset = store.scroll(collection, filter=None, limit=100, offset=offset, with_vectors=True)
        out.update({p.id: p for p in page})
        if offset is None:
            return out


def same_vector(a: Any, b: Any) -> bool:
    if isinstance(a, SparseVec) or isinstance(b, SparseVec):
        return (list(a.indices), np.allclose(a.values, b.values)) == (list(b.indices), True)
    return bool(np.allclose(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32), atol=1e-6))


def assert_same_store(source: Store, restored: Store) -> int:
    """Every collection, its named vectors, every point's payload and vectors, every alias, the registry."""
    assert restored.list_collections() == source.list_collections()
    assert restored.list_aliases() == source.list_aliases()
    compared = 0
    for name in source.list_collections():
        assert restored.vector_specs(name) == source.vector_specs(name), name
        before, after = everything(source, name), everything(restored, name)
        assert after.keys() == before.keys(), name
        for pid, point in before.items():
            got = after[pid]
            assert got.payload == point.payload, (name, pid)
            assert got.vectors.keys() == point.vectors.keys(), (name, pid)  # every vector version present
            for vname, value in point.vectors.items():
                assert same_vector(got.vectors[vname], value), (name, pid, vname)
            compared += 1
    return compared


def other_store(kind: str, tmp_path: Path) -> Store:
    return EdgeStore(tmp_path / "restored") if kind == "edge" else QdrantStore(":memory:")


def test_backup_of_a_loaded_store_restores_elsewhere_with_every_point_version_and_alias(
        loaded: Services, store_kind: str, tmp_path: Path) -> None:
    store, physical = loaded.store, loaded.registry.physical()
    # a second vector version on part of the points, a second alias and a second collection
    store.add_vector(physical, "title.extra.v2", VectorSpec("dense", 3))
    ids = sorted(everything(store, physical))[:3]
    store.update_vectors(physical, {pid: {"title.extra.v2": [0.1, 0.2, float(i)]} for i, pid in enumerate(ids)})
    store.create_collection("scratch", {"s": VectorSpec("sparse", None), "m": VectorSpec("multi", 2)})
    store.upsert("scratch", [PointWrite(id="6f1c2a3e-0000-5000-8000-000000000001",
                                        vectors={"s": SparseVec((1, 7), (0.5, 2.0)), "m": [[1.0, 0.0], [0.0, 1.0]]},
                                        payload={"k": {"nested": [1, "two", None]}})])
    store.set_alias("scratch-alias", "scratch")
    lines: list[str] = []

    summary = loaded.backup.backup(tmp_path / "bk", progress=lines.append)

    manifest = json.loads((tmp_path / "bk" / MANIFEST).read_text())
    assert set(manifest["collections"]) == {physical, "scratch", META_COLLECTION}
    assert manifest["aliases"] == store.list_aliases() and "scratch-alias" in manifest["aliases"]
    assert manifest["collections"][physical]["points"] == store.count(physical) > 0
    assert "title.extra.v2" in manifest["collections"][physical]["vector_versions"]
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    expected_format = "edge-snapshot" if store_kind == "edge" else POINTS_EXPORT
    assert set(summary.formats.values()) == {expected_format}
    assert len(lines) == 3 and "MB" in summary.line() and summary.points == sum(summary.collections.values())

    target = other_store(store_kind, tmp_path)
    try:
        restored = BackupService(store=target).restore(tmp_path / "bk", progress=lines.append)
        assert restored.collections == summary.collections
        assert assert_same_store(store, target) == summary.points
        # the restored store serves: the same search gives the same hits
        settings = make_settings(store_kind, tmp_path, loaded.settings.encoders.cache_dir)
        again = build_services(settings, store=target, encoders=loaded.encoders, init=False)
        query = SearchRequest(query="gene editing with CRISPR")
        assert [h["id"] for h in again.search.search(query).hits] == [h["id"] for h in loaded.search.search(query).hits]
    finally:
        target.close()


# -- refusals, on a small embedded store (no models needed) --------------------------------------------------

@pytest.fixture
def small(tmp_path: Path) -> Any:
    store = EdgeStore(tmp_path / "src")
    store.create_collection("docs_v1", {"d": VectorSpec("dense", 2)})
    store.upsert("docs_v1", [PointWrite(id=f"00000000-0000-5000-8000-00000000000{i}", vectors={"d": [1.0, float(i)]},
                                        payload={"i": i}) for i in range(1, 6)])
    store.set_alias("docs", "docs_v1")
    store.put_meta("registry:docs", {"spaces": {}}, expect_revision=0)
    yield store
    store.close()


def test_restore_onto_a_store_holding_documents_is_refused_unless_forced(small: EdgeStore, tmp_path: Path) -> None:
    service = BackupService(store=small)
    service.backup(tmp_path / "bk")
    small.upsert("docs_v1", [PointWrite(id="00000000-0000-5000-8000-000000000009", vectors={"d": [0.0, 1.0]},
                                        payload={"i": 9})])
    with pytest.raises(Conflict, match="docs_v1: 6 points"):
        service.restore(tmp_path / "bk")
    assert small.count("docs_v1") == 6  # nothing changed
    summary = service.restore(tmp_path / "bk", force=True)
    assert small.count("docs_v1") == 5 and summary.collections["docs_v1"] == 5
    assert small.get_alias("docs") == "docs_v1" and (small.get_meta("registry:docs") or {})["revision"] == 1


def test_a_store_with_only_empty_collections_and_a_registry_counts_as_empty(small: EdgeStore, tmp_path: Path) -> None:
    BackupService(store=small).backup(tmp_path / "bk")
    fresh = EdgeStore(tmp_path / "fresh")  # as a just-started service leaves it: empty collection, alias, registry
    try:
        fresh.create_collection("docs_v1", {"d": VectorSpec("dense", 2)})
        fresh.set_alias("docs", "docs_v1")
        fresh.put_meta("registry:docs", {"spaces": {"x": 1}}, expect_revision=0)
        BackupService(store=fresh).restore(tmp_path / "bk")
        assert assert_same_store(small, fresh) == 6
    finally:
        fresh.close()


def test_a_missing_backup_is_named(small: EdgeStore, tmp_path: Path) -> None:
    with pytest.raises(BackupNotFound, match=r"no backup folder .*nowhere"):
        BackupService(store=small).restore(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackupNotFound, match=f"no {MANIFEST}"):
        BackupService(store=small).restore(tmp_path / "empty")


def test_a_corrupted_manifest_or_file_is_refused_before_anything_changes(small: EdgeStore, tmp_path: Path) -> None:
    service = BackupService(store=small)
    service.backup(tmp_path / "bk")
    manifest = tmp_path / "bk" / MANIFEST
    good = manifest.read_text()
    manifest.write_text(good[: len(good) // 2])
    with pytest.raises(BackupInvalid, match="manifest"):
        service.restore(tmp_path / "bk", force=True)
    manifest.write_text(good)
    snapshot = tmp_path / "bk" / "collections" / "docs_v1.edge-snapshot.tar"
    data = bytearray(snapshot.read_bytes())
    data[len(data) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    with pytest.raises(BackupInvalid, match=r"docs_v1\.edge-snapshot\.tar does not match its sha256"):
        service.restore(tmp_path / "bk", force=True)
    assert small.count("docs_v1") == 5


def test_a_manifest_whose_alias_points_outside_the_backup_is_refused_before_anything_changes(
        small: EdgeStore, tmp_path: Path) -> None:
    """Found by trying it: a valid-JSON manifest naming an alias to a collection it does not hold was
    refused only after the collections had been restored."""
    import json

    service = BackupService(store=small)
    service.backup(tmp_path / "bk")
    manifest = tmp_path / "bk" / MANIFEST
    data = json.loads(manifest.read_text())
    data["aliases"] = {**data["aliases"], "docs": "ghost"}
    manifest.write_text(json.dumps(data))
    target = EdgeStore(tmp_path / "empty-target")
    try:
        with pytest.raises(BackupInvalid, match="alias 'docs' points at 'ghost'"):
            BackupService(store=target).restore(tmp_path / "bk")
        assert target.list_collections() == [] and target.list_aliases() == {}
    finally:
        target.close()


def test_a_backup_is_never_written_over_another(small: EdgeStore, tmp_path: Path) -> None:
    service = BackupService(store=small)
    service.backup(tmp_path / "bk")
    with pytest.raises(Conflict, match="not empty"):
        service.backup(tmp_path / "bk")


def test_an_edge_snapshot_is_refused_by_the_server_adapter_and_a_points_export_is_read_by_edge(
        small: EdgeStore, tmp_path: Path) -> None:
    BackupService(store=small).backup(tmp_path / "edge-bk")
    memory = QdrantStore(":memory:")
    with pytest.raises(InvalidInput, match="restore it on a edge store"):
        BackupService(store=memory).restore(tmp_path / "edge-bk")
    # the portable export travels: in-memory -> edge
    memory.create_collection("docs_v1", {"d": VectorSpec("dense", 2)})
    memory.upsert("docs_v1", [PointWrite(id="00000000-0000-5000-8000-000000000001", vectors={"d": [1.0, 2.0]},
                                         payload={"i": 1})])
    BackupService(store=memory).backup(tmp_path / "mem-bk")
    target = EdgeStore(tmp_path / "from-memory")
    try:
        BackupService(store=target).restore(tmp_path / "mem-bk")
        assert assert_same_store(memory, target) == 1
    finally:
        target.close()


def test_settings_name_the_backup_folder(tmp_path: Path) -> None:
    assert Settings().backup_dir == Path("backups")
    service = BackupService(store=QdrantStore(":memory:"), root=tmp_path)
    assert service.folder("x") == tmp_path / "x" and service.folder().name.startswith("multivec-")


def test_edge_snapshots_keep_sparse_files_small_and_python_tar_works_without_gnu_tar(
        small: EdgeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.store import edge_snapshot as edge

    summary = BackupService(store=small).backup(tmp_path / "gnu")
    if edge._gnu_tar() is not None:  # edge preallocates sparse mmap files: the archive keeps the holes
        assert summary.bytes < 5_000_000, summary.line()
    monkeypatch.setattr(edge, "_gnu_tar", lambda: None)
    BackupService(store=small).backup(tmp_path / "plain")
    target = EdgeStore(tmp_path / "from-plain")
    try:
        BackupService(store=target).restore(tmp_path / "plain")
        assert assert_same_store(small, target) == 6
    finally:
        target.close()


def test_a_whole_in_memory_backup_restores_onto_the_embedded_store(tmp_path: Path) -> None:
    """Found by trying it: the in-memory meta collection holds payload only, which edge refused."""
    memory = QdrantStore(":memory:")
    memory.create_collection("docs_v1", {"v": VectorSpec("dense", 3)})
    memory.upsert("docs_v1", [PointWrite(id="00000000-0000-0000-0000-00000000000a", vectors={"v": [1.0, 0.0, 0.0]},
                                         payload={"doc_id": "a"})])
    memory.set_alias("docs", "docs_v1")
    memory.put_meta("registry:docs", {"revision": 1, "spaces": {}})
    BackupService(store=memory).backup(tmp_path / "bk")
    edge = EdgeStore(tmp_path / "edge")
    try:
        BackupService(store=edge).restore(tmp_path / "bk")
        assert edge.count("docs") == 1 and edge.get_alias("docs") == "docs_v1"
        assert edge.get_meta("registry:docs") == memory.get_meta("registry:docs")
    finally:
        edge.close()


@pytest.mark.parametrize("kind", ["edge", "memory"])
def test_a_float16_collection_is_restored_float16_onto_a_store_whose_settings_say_float32(
        kind: str, tmp_path: Path) -> None:
    """Each adapter's backup records the datatypes; an edge snapshot carries them in the shard, a points export
    (the in-memory client) is restored at the ones the manifest records, onto either kind of store. The values
    are ones float16 holds exactly, so the points compare equal across adapters (0.6 comes back 0.60009765625)."""
    half = CollectionConfig(storage={"title": VectorStorage(datatype="float16")})
    source = EdgeStore(tmp_path / "src", config=half) if kind == "edge" else QdrantStore(":memory:", config=half)
    source.create_collection("docs_v1", {"title.m.v1": VectorSpec("dense", 3), "body.m.v1": VectorSpec("multi", 3),
                                         "keywords.b.v1": VectorSpec("sparse", None)})
    source.upsert("docs_v1", [PointWrite(id="00000000-0000-0000-0000-00000000000a", payload={"doc_id": "a"}, vectors={
        "title.m.v1": [0.0, 1.0, 0.0], "body.m.v1": [[1.0, 0.0, 0.0]], "keywords.b.v1": SparseVec((3,), (1.5,))})])
    expected = {"title.m.v1": "float16", "body.m.v1": "float32"}
    assert source.vector_datatypes("docs_v1") == expected
    BackupService(store=source).backup(tmp_path / "bk")
    manifest = json.loads((tmp_path / "bk" / MANIFEST).read_text())
    assert manifest["collections"]["docs_v1"]["datatypes"] == expected
    # onto stores whose settings say float32, and float16 (today's default) with the service given them: each
    # vector comes back at the datatype the backup recorded, float32 included
    f16 = collection_config(CollectionSettings())
    targets = [(EdgeStore(tmp_path / "edge"), None), (EdgeStore(tmp_path / "edge16", config=f16), f16)] + (
        [(QdrantStore(":memory:"), None), (QdrantStore(":memory:", config=f16), f16)] if kind == "memory" else [])
    try:
        for target, config in targets:
            BackupService(store=target, config=config).restore(tmp_path / "bk")
            assert target.vector_datatypes("docs_v1") == expected, (target.kind, config)
            assert assert_same_store(source, target) == 1
    finally:
        for store in (source, *(t for t, _ in targets)):
            store.close()


def test_latest_is_chosen_by_the_manifest_time_not_the_file_time(tmp_path: Path) -> None:
    """Found by trying it: `restore --latest` picked a hand-copied old backup, whose files were newer."""
    import os
    import time

    from app.services.backup import latest

    for name, created in (("old", "2026-01-01T00:00:00+00:00"), ("new", "2026-06-01T00:00:00+00:00")):
        write_manifest(tmp_path / name, created)
    later = time.time() + 60
    os.utime(tmp_path / "old" / MANIFEST, (later, later))  # `cp -r` of the old one, just now
    assert latest(tmp_path) == tmp_path / "new"


def write_manifest(folder: Path, created: str, **changes: Any) -> None:
    """A manifest of the shape backups write, for a backup with no collection (what `latest` reads of it)."""
    from app.services.backup_folders import FORMAT, FORMAT_VERSION

    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text(json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "created_at": created,
                                               "collections": {}, "aliases": {}, "files": {}, "store": {},
                                               **changes}))


def test_latest_skips_each_backup_whose_manifest_does_not_read_and_says_why(tmp_path: Path) -> None:
    from app.services.backup import latest

    write_manifest(tmp_path / "b-readable", "2026-01-01T00:00:00+00:00")
    write_manifest(tmp_path / "c-truncated", "2026-02-01T00:00:00+00:00")
    text = (tmp_path / "c-truncated" / MANIFEST).read_text()
    (tmp_path / "c-truncated" / MANIFEST).write_text(text[: len(text) // 2])
    write_manifest(tmp_path / "d-future-version", "2026-03-01T00:00:00+00:00", version=99)
    write_manifest(tmp_path / "e-no-time", "not a time")
    write_manifest(tmp_path / "a-edited", "2026-04-01T00:00:00+00:00", collections=[])
    skipped: list[tuple[str, str]] = []
    assert latest(tmp_path, skipped=lambda folder, why: skipped.append((folder.name, why))) == tmp_path / "b-readable"
    assert dict(skipped) == {
        "a-edited": f"the manifest {tmp_path / 'a-edited' / MANIFEST} is not a multivec-backup manifest "
                    "(corrupted or edited)",
        "c-truncated": f"the manifest {tmp_path / 'c-truncated' / MANIFEST} is not a multivec-backup manifest "
                       "(corrupted or edited)",
        "d-future-version": f"{tmp_path / 'd-future-version' / MANIFEST} is version 99; this service reads 1",
        "e-no-time": f"the manifest {tmp_path / 'e-no-time' / MANIFEST} records no creation time that parses"}
    (tmp_path / "b-readable" / MANIFEST).write_text("{")
    assert latest(tmp_path) is None  # nothing readable: no backup to restore
