"""A restore that did not finish (its process killed, or failing, after it replaced the first collection and
before it set the aliases) is never served as whole: the start is refused in one line, every route that reads or
writes the store answers 503 naming the restore and the command that finishes it, a backup is refused, and the
same restore run again finishes it (the store then equal to the backup)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import BackupInvalid, Conflict, StoreUnavailable
from app.launch import one_line
from app.services.backup import MANIFEST, BackupService
from app.settings import Settings
from app.store.base import Store
from app.store.journal_places import JOURNAL_COLLECTION, JOURNAL_FILE
from app.store.qdrant import QdrantStore
from tests.backup.test_backup_api import ROOT, run_script
from tests.backup.test_backup_restore import everything, same_vector
from tests.conftest import STORE_KINDS, make_settings, to_documents
from tests.fixtures import DOCS

ADMIN = "journal-admin-token"
BEARER = {"Authorization": f"Bearer {ADMIN}"}
NOTE = "note:after-the-backup"  # a meta value written after the backup: gone once the meta is replaced


class Killed(BaseException):
    """The restore's process dying between two collections (not an Exception: no handler on the way stops it)."""


def contents(store: Store) -> dict[str, Any]:
    """Every collection but a server's restore journal, each point's payload and vectors, and the aliases."""
    return {"aliases": store.list_aliases(),
            "collections": {n: everything(store, n) for n in store.list_collections() if n != JOURNAL_COLLECTION}}


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["aliases"] == want["aliases"]
    assert got["collections"].keys() == want["collections"].keys()
    for name, points in want["collections"].items():
        assert got["collections"][name].keys() == points.keys(), name
        for pid, point in points.items():
            assert got["collections"][name][pid].payload == point.payload, (name, pid)
            assert all(same_vector(got["collections"][name][pid].vectors[v], value)
                       for v, value in point.vectors.items()), (name, pid)


def backed_up_then_changed(svc: Services) -> dict[str, Any]:
    """Four documents backed up as `nightly`; then two deleted, two others written and a meta value put, so that
    every collection the restore replaces differs from the backup. Returns the store as backed up."""
    svc.ingest.upsert(to_documents(DOCS[:4]))
    svc.backup.backup(svc.backup.folder("nightly"))
    before = contents(svc.store)
    for d in DOCS[:2]:
        svc.ingest.delete(d["id"])
    svc.ingest.upsert(to_documents(DOCS[4:6]))
    svc.store.put_meta(NOTE, {"written": "after the backup"})
    return before


@pytest.fixture
def edge_settings(tmp_path: Path, model_cache: Path) -> Settings:
    return make_settings("edge", tmp_path, model_cache, admin_token=ADMIN)


KILLED_RESTORE = textwrap.dedent("""
    import sys, time
    from app.store.edge import EdgeStore

    real, replaced = EdgeStore.restore_snapshot, []

    def held(self, collection, *args, **kwargs):  # the second collection: say so, and wait to be killed
        if replaced:
            print("replaced", replaced[0], flush=True)
            time.sleep(600)
        replaced.append(collection)
        return real(self, collection, *args, **kwargs)

    EdgeStore.restore_snapshot = held
    from app.launch import main
    sys.exit(main(["app.backup_cli", "restore", "--force", sys.argv[1]]))
""")


def test_a_restore_killed_after_the_first_collection_refuses_start_in_one_line_until_run_again(
        edge_settings: Settings, encoders: EncoderPool, tmp_path: Path) -> None:
    settings = edge_settings
    svc = build_services(settings, encoders=encoders)
    before = backed_up_then_changed(svc)
    folder = svc.backup.folder("nightly").absolute()
    svc.close()
    env = {**os.environ, "MULTIVEC_STORE__PATH": str(settings.store.path), "MULTIVEC_SERVICE_URL": "",
           "MULTIVEC_BACKUP_DIR": str(settings.backup_dir),
           "MULTIVEC_ENCODERS__CACHE_DIR": str(settings.encoders.cache_dir)}
    restore = subprocess.Popen([sys.executable, "-c", KILLED_RESTORE, str(folder)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(300, restore.kill)  # a restore that never gets there fails the test, not hangs it
    watchdog.start()
    try:
        said = restore.stdout.readline()  # type: ignore[union-attr]
        assert said == "replaced _multivec_meta\n", restore.stderr.read()  # type: ignore[union-attr]
    finally:
        watchdog.cancel()
        restore.send_signal(signal.SIGKILL)  # as a tester's SIGKILL: no handler, no finally, no flush
        restore.wait(60)
    assert (settings.store.path / JOURNAL_FILE).is_file()

    with pytest.raises(StoreUnavailable) as err:  # the half-restored store: the backup's meta, the changed documents
        build_services(settings, encoders=encoders)
    line = one_line(err.value)
    assert line is not None and line.startswith("store_unavailable: a restore of backup nightly did not finish")
    local, remote = err.value.detail["commands"]
    assert local == f"scripts/restore --force {shlex.quote(str(folder))}" and local in line
    assert remote == "scripts/restore --url URL --force nightly" and remote in line
    started = subprocess.run([sys.executable, "-m", "app.launch", "app.cli", "serve", "--port", "8791"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=300)
    assert started.returncode == 1 and "Traceback" not in started.stderr, started.stderr
    assert started.stderr.strip().splitlines() == [f"serve: {line}"]
    refused = run_script("backup", [str(tmp_path / "half")], tmp_path, env)
    assert refused.returncode == 1 and not (tmp_path / "half").exists()
    assert refused.stderr.strip().splitlines() == [f"scripts/backup: conflict: no backup of a store holding an "
                                                   f"unfinished restore (it would hold part of it): {line[19:]}"]

    for step in ("status", "backfill", "promote"):  # on a store with no migration applied yet: the journal first
        migrate = subprocess.run([sys.executable, "-m", "app.launch", "app.versioning.cli", step], cwd=ROOT,
                                 env={**env, "MULTIVEC_COMMAND": "scripts/migrate"}, capture_output=True, text=True,
                                 timeout=300)
        assert migrate.returncode == 1 and migrate.stderr.strip().splitlines() == [f"scripts/migrate: {line}"], \
            migrate.stderr  # it said "no migration is applied yet: run apply first" (a break test)

    finished = run_script("restore", shlex.split(local)[1:], tmp_path, env)  # the command the message names
    assert finished.returncode == 0, finished.stderr
    assert not (settings.store.path / JOURNAL_FILE).exists()
    svc = build_services(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services=svc)) as client:
            ready = client.get("/ready")
            assert ready.status_code == 200 and ready.json()["collections"] == {"documents__1": 4}, ready.text
            assert client.post("/search", json={"query": "gene editing", "limit": 2}).json()["hits"]
        assert svc.store.get_meta(NOTE) is None
        assert_same(contents(svc.store), before)
    finally:
        svc.close()


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_restore_that_breaks_in_the_service_is_a_503_on_every_route_until_the_same_restore_runs_again(
        kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    settings = make_settings(kind, tmp_path, model_cache, admin_token=ADMIN)
    svc = build_services(settings, encoders=encoders)
    try:
        before = backed_up_then_changed(svc)

        def dies_after_the_first(line: str) -> None:
            raise Killed(line)

        with TestClient(create_app(settings, services=svc)) as client:
            with pytest.raises(Killed, match=r"\[1/2\] _multivec_meta"):
                svc.backup.restore(svc.backup.folder("nightly"), force=True, progress=dies_after_the_first)
            assert svc.store.get_meta(NOTE) is None  # the meta was replaced; the documents were not
            assert kind != "memory" or JOURNAL_COLLECTION in svc.store.list_collections()
            ready = client.get("/ready")
            assert ready.status_code == 503 and ready.json()["code"] == "store_unavailable", ready.text
            message = ready.json()["message"]
            assert message.startswith("a restore of backup nightly did not finish")
            assert "scripts/restore --url URL --force nightly through the running service" in message
            assert ready.json()["detail"]["restore"]["collections"] == ["_multivec_meta", "documents__1"]
            doc = DOCS[4]["id"]
            for ttl_s in (3600.0, 0.0):  # the journal's last read reused on the event loop; read anew in a thread
                svc.registry.journal.ttl_s = ttl_s  # type: ignore[union-attr]
                for method, path, body in [("POST", "/search", {"query": "gene editing"}),
                                           ("GET", f"/documents/{doc}", None), ("DELETE", f"/documents/{doc}", None),
                                           ("POST", "/documents", {"documents": DOCS[:1]}),
                                           ("POST", "/admin/optimize", None), ("GET", "/admin/migrations", None),
                                           ("GET", "/inspect/", None)]:
                    r = client.request(method, path, json=body, headers=BEARER)
                    assert (r.status_code, r.json()["message"]) == (503, message), (method, path, ttl_s)
            assert client.get("/health").status_code == 200
            assert "multivec_store_up 0.0" in client.get("/metrics").text  # metrics answer, saying so
            r = client.post("/admin/backup", json={"name": "half"}, headers=BEARER)
            assert r.status_code == 409 and message in r.json()["message"]
            assert svc.ingest.count() == 4 and svc.backup.journal.read() is not None  # nothing written meanwhile

            r = client.post("/admin/restore", json={"name": "nightly"}, headers=BEARER)  # the same: no force needed
            assert r.status_code == 200, r.text
            assert client.get("/ready").status_code == 200
            assert client.post("/search", json={"query": "gene editing", "limit": 2}).json()["hits"]
            assert "multivec_store_up 1.0" in client.get("/metrics").text
        assert svc.backup.journal.read() is None and JOURNAL_COLLECTION not in svc.store.list_collections()
        assert not (settings.store.path / JOURNAL_FILE).exists()
        assert_same(contents(svc.store), before)
    finally:
        svc.close()


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_another_backup_replaces_an_unfinished_restore_only_with_force(
        kind: str, tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> None:
    svc = build_services(make_settings(kind, tmp_path, model_cache), encoders=encoders)
    try:
        backed_up_then_changed(svc)
        svc.backup.backup(svc.backup.folder("other"))
        other = contents(svc.store)

        def dies(line: str) -> None:
            raise Killed(line)

        with pytest.raises(Killed):
            svc.backup.restore(svc.backup.folder("nightly"), force=True, progress=dies)
        with pytest.raises(Conflict, match=r"a restore of backup nightly did not finish.*pass force"):
            svc.backup.restore(svc.backup.folder("other"))
        with pytest.raises(StoreUnavailable):
            svc.registry.get()
        svc.backup.restore(svc.backup.folder("other"), force=True)
        assert svc.registry.get().spaces and svc.backup.journal.read() is None
        assert_same(contents(svc.store), other)
    finally:
        svc.close()


def test_a_backup_naming_the_journal_s_collection_is_refused_before_anything_changes(tmp_path: Path) -> None:
    """No backup holds the journal's collection (a backup leaves it out); one edited to name it would have the
    restore replace its own record."""
    store = QdrantStore(":memory:")
    store.put_meta("registry:documents", {"spaces": {}, "revision": 1})
    service = BackupService(store=store, root=tmp_path)
    service.backup(tmp_path / "bk")
    manifest = json.loads((tmp_path / "bk" / MANIFEST).read_text())
    manifest["collections"][JOURNAL_COLLECTION] = manifest["collections"]["_multivec_meta"]
    (tmp_path / "bk" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BackupInvalid, match="names the restore journal's collection '_multivec_restore'"):
        service.restore(tmp_path / "bk", force=True)
    assert store.list_collections() == ["_multivec_meta"] and service.journal.read() is None
