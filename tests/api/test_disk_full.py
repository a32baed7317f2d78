"""A disk about to fill: the embedded store refuses writes with a clear 503 `disk_full` and keeps serving
reads, rather than dying of SIGBUS in the engine's memory-mapped files (app/store/edge_disk.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.encoders.vectors import SparseVec
from app.errors import DiskFull
from app.services.backup import BackupService
from app.store.edge import EdgeStore
from app.store.edge_disk import MB, WRITE_OVERHEAD, DiskGuard, fills_holes_at_open, vector_bytes
from app.store.types import CollectionConfig, PointWrite, VectorSpec, VectorStorage
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS

ROOT = Path(__file__).resolve().parents[2]
SPECS = {"d": VectorSpec(kind="dense", dim=4), "m": VectorSpec(kind="multi", dim=4)}


def beyond_free(path: Path) -> int:
    """A `min_free_mb` this disk cannot meet: 1 GB more than it has free."""
    return int(shutil.disk_usage(path).free // MB) + 1024


def point(i: int) -> PointWrite:
    return PointWrite(id=str(uuid.UUID(int=i + 1)), vectors={"d": [0.1, 0.2, 0.3, float(i)],
                                                          "m": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]},
                      payload={"doc_id": f"p{i}"})


def test_vector_bytes_counts_dense_multi_and_sparse_values() -> None:
    dense, rows = [0.0] * 384, np.zeros((3, 384), dtype=np.float32)
    assert vector_bytes([dense, rows, [[0.0] * 384] * 2, SparseVec((1, 5, 9), (0.1, 0.2, 0.3))]) == \
        4 * 384 + 4 * 3 * 384 + 4 * 2 * 384 + 8 * 3


def test_the_embedded_store_estimates_a_float16_write_at_float32_width(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = EdgeStore(tmp_path, config=CollectionConfig(storage={"d": VectorStorage(datatype="float16")}))
    try:
        store.create_collection("half", SPECS)  # `d` float16, `m` float32 (the default)
        store.create_collection("full", SPECS, CollectionConfig())
        asked: list[int] = []
        check = store._disk.check

        def spy(what: str, need: int = 0, **kw: Any) -> None:
            asked.append(need)
            check(what, need, **kw)

        monkeypatch.setattr(store._disk, "check", spy)
        for name in ("half", "full"):
            store.upsert(name, [point(1)])
        # the write-ahead log holds the write's float32 values first: measured, a float16 write took up to 4.0x
        # its float16 bytes on disk, over the 4x a half-width estimate allows (break test, stop 18)
        assert asked == [WRITE_OVERHEAD * (4 * 4 + 4 * 8)] * 2
        assert store.count("half") == store.count("full") == 1
    finally:
        store.close()


def test_the_guard_refuses_below_the_minimum_plus_the_need_and_says_what_and_where(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    DiskGuard(tmp_path, 0).check("write", 10 * free)  # 0: off
    DiskGuard(tmp_path, 1).check("write", 0)
    with pytest.raises(DiskFull) as e:
        DiskGuard(tmp_path, 1).check("write", free)  # 1 MB to keep free beyond all there is
    assert e.value.code == "disk_full" and str(tmp_path) in e.value.message and "MIN_FREE_MB" in e.value.message
    assert e.value.detail["min_free_mb"] == 1 and e.value.detail["free_mb"] < e.value.detail["needed_mb"]


def test_the_embedded_store_refuses_writes_and_optimising_and_still_reads_and_deletes(
        tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "data")
    store.create_collection("c", SPECS)
    store.upsert("c", [point(i) for i in range(5)])
    store.close()
    full = EdgeStore(tmp_path / "data", min_free_mb=beyond_free(tmp_path))
    try:
        for write in (lambda: full.upsert("c", [point(9)]), lambda: full.set_payload("c", [point(1).id], {"x": 1}),
                      lambda: full.update_vectors("c", {point(2).id: {"d": [1.0, 1.0, 1.0, 1.0]}}),
                      lambda: full.optimize("c")):
            with pytest.raises(DiskFull):
                write()
        assert full.count("c") == 5 and [p.payload for p in full.retrieve("c", [point(1).id])] == \
            [{"doc_id": "p1"}]  # nothing changed, and reads still work
        full.delete("c", [point(0).id])  # a delete keeps only a WAL segment free: the way to make room
        assert full.count("c") == 4
        with pytest.raises(DiskFull):  # a backup on the store's own disk keeps the store's minimum
            BackupService(store=full, root=tmp_path).backup(tmp_path / "bk")
        assert not (tmp_path / "bk").exists()
    finally:
        full.close()


@pytest.fixture
def full_services(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    settings = make_settings("edge", tmp_path, model_cache)
    svc = build_services(settings, encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS[:1]))
    svc.close()
    full = settings.model_copy(update={"store": settings.store.model_copy(
        update={"min_free_mb": beyond_free(tmp_path)})})
    svc = build_services(full, encoders=encoders)
    yield svc
    svc.close()


def test_a_write_on_a_full_disk_is_a_503_naming_it_and_searches_still_answer(full_services: Services) -> None:
    with TestClient(create_app(full_services.settings, services=full_services)) as client:
        r = client.post("/documents", json={"documents": DOCS[1:3]})
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["code"] == "disk_full" and "MB free" in body["message"]
        assert body["detail"]["free_mb"] < body["detail"]["needed_mb"]
        assert client.get(f"/documents/{DOCS[1]['id']}").status_code == 404  # not written
        hits = client.post("/search", json={"query": DOCS[0]["title"]}).json()["hits"]
        assert [h["id"] for h in hits][:1] == [DOCS[0]["id"]]
        assert client.delete(f"/documents/{DOCS[0]['id']}").status_code == 204  # deletes still go through
        assert client.get(f"/documents/{DOCS[0]['id']}").status_code == 404


FILL = textwrap.dedent("""
    import sys, uuid
    from app.errors import DiskFull
    from app.store.edge import EdgeStore
    from app.store.types import PointWrite, VectorSpec
    store = EdgeStore(sys.argv[1], min_free_mb=int(sys.argv[2]))
    store.create_collection("c", {"d": VectorSpec(kind="dense", dim=384), "m": VectorSpec(kind="multi", dim=384)})
    written = 0
    try:
        for batch in range(100_000):
            points = [PointWrite(id=str(uuid.UUID(int=written + i + 1)),
                                 vectors={"d": [0.5] * 384, "m": [[0.25] * 384] * 20},
                                 payload={"doc_id": f"p{written + i}", "body": "protein folding " * 200})
                      for i in range(32)]
            store.upsert("c", points)
            written += len(points)
            print(written, flush=True)  # acknowledged
    except DiskFull as e:
        print("refused", e.detail, flush=True)
    store.delete("c", [str(uuid.UUID(int=i + 1)) for i in range(32)])  # a delete still goes through
    print("deleted 32", flush=True)
    store.close()
""")


@contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """`folder` as a tmpfs of `size` ("256m") for the block; root only: otherwise the test skips, saying why."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (root only): {mounted.stderr.strip()[:200]}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def run_python(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=False)


COUNT = textwrap.dedent("""
    import sys
    from app.errors import DiskFull
    from app.store.edge import EdgeStore
    store = EdgeStore(sys.argv[1], min_free_mb=int(sys.argv[2]))
    try:
        print("count", store.count("c"))
    except DiskFull as e:
        print("refused", e.message)
    store.close()
""")


def test_filling_a_small_real_disk_ends_in_a_refusal_not_a_crash_and_every_acknowledged_write_is_kept(
        tmp_path: Path) -> None:
    """A 512 MB tmpfs filled by writes until the guard refuses one: the process ends normally. Then the disk
    is filled from outside: opening the store (which on a tmpfs fills its preallocated files) is refused
    rather than killed by SIGBUS. With room again, every acknowledged write reads back."""
    with small_tmpfs(tmp_path / "disk", "512m") as disk:
        # 192 MB kept free: more than one write's new chunks add to the holes here (a 32 MB chunk per storage)
        out = run_python(FILL, str(disk / "data"), "192")
        assert out.returncode == 0, f"rc {out.returncode} (-7 is SIGBUS): {out.stderr[-1500:]}"
        assert "refused" in out.stdout and "deleted 32" in out.stdout, out.stdout[-500:] + out.stderr[-1500:]
        acknowledged = max(int(x) for x in out.stdout.split() if x.isdigit() and x != "32") - 32
        filler = disk / "filler"
        with open(filler, "wb") as f:  # leave 40 MB: less than what the store's next open takes here
            f.write(b"\0" * max(0, shutil.disk_usage(disk).free - 40 * MB))
        opened = run_python(COUNT, str(disk / "data"), "192")
        assert opened.returncode == 0, f"rc {opened.returncode} (-7 is SIGBUS): {opened.stderr[-1500:]}"
        assert "refused to open collection 'c'" in opened.stdout, opened.stdout
        filler.unlink()
        reopened = run_python(COUNT, str(disk / "data"), "192")
        assert reopened.stdout.split() == ["count", str(acknowledged)], reopened.stdout + reopened.stderr[-500:]


def test_a_backup_the_backup_disk_cannot_hold_is_refused_and_leaves_no_folder(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "data", min_free_mb=16)
    try:
        store.create_collection("c", SPECS)
        store.upsert("c", [point(i) for i in range(50)])
        with small_tmpfs(tmp_path / "small", "1m") as small:
            backups = BackupService(store=store, root=small)
            for _ in range(2):  # the same name again: refused for room, not "not empty"
                with pytest.raises(DiskFull):
                    backups.backup(small / "b1")
                assert not (small / "b1").exists()
    finally:
        store.close()


def test_a_restore_the_disk_cannot_hold_changes_nothing(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "data")
    store.create_collection("c", SPECS)
    store.create_collection("d", SPECS)
    store.upsert("c", [point(i) for i in range(5)])
    store.upsert("d", [point(i) for i in range(7)])
    BackupService(store=store, root=tmp_path).backup(tmp_path / "b")
    store.upsert("c", [point(i) for i in range(5, 9)])
    store.close()
    full = EdgeStore(tmp_path / "data", min_free_mb=beyond_free(tmp_path))
    try:
        with pytest.raises(DiskFull):
            BackupService(store=full, root=tmp_path).restore(tmp_path / "b", force=True)
        assert (full.list_collections(), full.count("c"), full.count("d")) == (["c", "d"], 9, 7)
    finally:
        full.close()


def test_on_a_ram_disk_writes_keep_a_wal_segment_free_whatever_the_minimum(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store filled to a minimum under a WAL segment could not open again after a restart (`check_open` asks
    for the holes plus a segment; break test, stop 18): on a RAM disk a write keeps at least a segment free."""
    from collections import namedtuple

    import app.store.edge_disk as edge_disk

    usage = namedtuple("usage", "total used free")
    free = {"bytes": 20 * MB}
    monkeypatch.setattr(edge_disk.shutil, "disk_usage", lambda path: usage(0, 0, free["bytes"]))
    ram, disk = DiskGuard(tmp_path, 16), DiskGuard(tmp_path, 16)
    ram.ram, ram._holes, disk.ram = True, (float("inf"), 0), False  # a RAM disk (its holes counted: none), a disk
    disk.check("a write")  # elsewhere 16 MB is the minimum: 20 MB free is room
    with pytest.raises(DiskFull, match="MIN_FREE_MB keeps 16 MB free, and a RAM disk at least a WAL segment, 32 MB"):
        ram.check("a write")
    free["bytes"] = 40 * MB
    ram.check("a write")


def test_holes_count_only_on_a_ram_file_system() -> None:
    assert not fills_holes_at_open(Path("/proc"))
    shm = Path("/dev/shm")
    if shm.is_dir() and any(line.split()[1:3] == ["/dev/shm", "tmpfs"]
                            for line in Path("/proc/self/mounts").read_text().splitlines()):
        assert fills_holes_at_open(shm / "a" / "b")


REGISTRY = textwrap.dedent("""
    import shutil, sys
    from app.errors import DiskFull
    from app.store.edge import EdgeStore
    store = EdgeStore(sys.argv[1], min_free_mb=16)
    store.put_meta("registry", {"revision": 1})
    with open(sys.argv[2], "wb") as f:  # the disk filled from elsewhere: 8 MB left
        f.write(bytes(max(0, shutil.disk_usage(sys.argv[1]).free - 8 * 2**20)))
    try:
        store.put_meta("registry", {"revision": 2})
        print("written")
    except DiskFull as e:
        print("refused", e.message)
    print("read", store.get_meta("registry"))
    store.close()
""")


def test_a_registry_write_on_a_full_disk_is_refused_not_a_crash(tmp_path: Path) -> None:
    """Migration steps write the version registry (the meta collection): on a disk filled from elsewhere that
    write is refused like any other, where it killed the service (found by a break test: exit 135)."""
    with small_tmpfs(tmp_path / "disk", "96m") as disk:
        out = run_python(REGISTRY, str(disk / "data"), str(disk / "filler"))
        assert out.returncode == 0, f"rc {out.returncode} (-7 is SIGBUS): {out.stderr[-1500:]}"
        assert "refused the embedded store refused a registry write" in out.stdout, out.stdout + out.stderr[-800:]
        assert "read {'revision': 1}" in out.stdout
