"""The admin endpoints `POST /admin/backup` and `POST /admin/restore`, and `scripts/backup` / `scripts/restore`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.services.backup import MANIFEST
from app.store.base import PointWrite, VectorSpec
from app.store.edge import EdgeStore
from tests.conftest import make_settings, to_documents
from tests.fixtures import DOCS

ADMIN = "backup-admin-token"
BEARER = {"Authorization": f"Bearer {ADMIN}"}
ROOT = Path(__file__).parents[2]


@pytest.fixture
def app_services(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    settings = make_settings("edge", tmp_path, model_cache, admin_token=ADMIN, backup_dir=tmp_path / "backups")
    svc = build_services(settings, encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS[:4]))
    yield svc
    svc.close()


@pytest.fixture
def client(app_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(app_services.settings, services=app_services)) as c:
        yield c


def test_backup_and_restore_through_the_admin_api(client: TestClient, app_services: Services,
                                                   tmp_path: Path) -> None:
    assert client.post("/admin/backup", json={"name": "nightly"}).status_code == 401  # a token is set
    assert client.post("/admin/backup", json={"name": "nightly"},
                       headers={"Authorization": "Bearer wrong"}).status_code == 401

    r = client.post("/admin/backup", json={"name": "nightly"}, headers=BEARER)
    assert r.status_code == 200, r.text
    body = r.json()
    physical = app_services.registry.physical()
    assert body["collections"][physical] == 4 and body["aliases"] == {"documents": physical}
    assert body["path"] == str(tmp_path / "backups" / "nightly")
    # the summary line names the points (the 4 documents and the registry's meta point) and the folder; the
    # check was `"4" in summary`, which a digit of the temporary folder's name or of the MB figure satisfied
    assert body["points"] == sum(body["collections"].values()) == 4 + 1
    assert f"{body['points']} points" in body["summary"] and body["path"] in body["summary"]
    assert (tmp_path / "backups" / "nightly" / MANIFEST).is_file()
    assert client.post("/admin/backup", json={"name": "nightly"}, headers=BEARER).status_code == 409

    r = client.post("/admin/restore", json={"name": "nightly"}, headers=BEARER)
    assert r.status_code == 409 and r.json()["code"] == "conflict" and physical in r.json()["message"]

    app_services.store.delete(physical, [p.id for p in app_services.store.scroll(
        physical, filter=None, limit=2, offset=None)[0]])
    r = client.post("/admin/restore", json={"name": "nightly", "force": True}, headers=BEARER)
    assert r.status_code == 200, r.text
    assert r.json()["collections"][physical] == 4 and app_services.store.count(physical) == 4
    hits = client.post("/search", json={"query": "gene editing", "limit": 2}).json()["hits"]
    assert hits  # the service serves the restored collection at once

    r = client.post("/admin/backup", headers=BEARER)  # no body: a time-stamped folder
    assert r.status_code == 200 and Path(r.json()["path"]).name.startswith("multivec-")


def test_backups_the_service_names_never_collide(client: TestClient, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `POST /admin/backup {}` in the same second (the clock held still), and at once from threads: each
    writes its own folder; naming a folder that holds a backup is still a 409."""
    import app.services.backup
    import app.services.backup_folders

    for module in (app.services.backup, app.services.backup_folders):
        monkeypatch.setattr(module, "default_name", lambda: "multivec-20260101T000000Z", raising=False)
    first = client.post("/admin/backup", json={}, headers=BEARER)
    second = client.post("/admin/backup", headers=BEARER)  # no body at all
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    paths = [Path(r.json()["path"]) for r in (first, second)]
    assert [p.name for p in paths] == ["multivec-20260101T000000Z", "multivec-20260101T000000Z-2"]
    assert all((p / MANIFEST).is_file() for p in paths)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: client.post("/admin/backup", json={}, headers=BEARER), range(3)))
    assert [r.status_code for r in answers] == [200] * 3, [r.text for r in answers]
    assert len({r.json()["path"] for r in answers} | {str(p) for p in paths}) == 5
    r = client.post("/admin/backup", json={"name": "multivec-20260101T000000Z"}, headers=BEARER)
    assert r.status_code == 409 and "name a new one" in r.json()["message"]


def test_restore_refusals_name_what_is_wrong(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/admin/restore", json={"name": "never-made"}, headers=BEARER)
    assert r.status_code == 404 and r.json()["code"] == "backup_not_found" and "never-made" in r.json()["message"]

    assert client.post("/admin/backup", json={"name": "b1"}, headers=BEARER).status_code == 200
    manifest = tmp_path / "backups" / "b1" / MANIFEST
    data = json.loads(manifest.read_text())
    first = next(iter(data["files"]))
    data["files"][first]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data))
    r = client.post("/admin/restore", json={"name": "b1", "force": True}, headers=BEARER)
    assert r.status_code == 422 and r.json()["code"] == "backup_invalid" and first in r.json()["message"]
    manifest.write_text("{not json")
    r = client.post("/admin/restore", json={"name": "b1", "force": True}, headers=BEARER)
    assert r.status_code == 422 and "manifest" in r.json()["message"]

    for bad in ({"name": "../etc"}, {"name": "a/b"}, {"name": "x", "force": "yes"}, {"name": "x", "extra": 1}, {}):
        r = client.post("/admin/restore", json=bad, headers=BEARER)
        assert r.status_code in (400, 422), (bad, r.text)


def test_the_endpoints_are_declared_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert set(paths["/admin/restore"]["post"]["responses"]) >= {"200", "401", "404", "409", "422", "503"}
    assert set(paths["/admin/backup"]["post"]["responses"]) >= {"200", "401", "409", "503"}


def run_script(name: str, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`scripts/<name>` run from `cwd`, as an operator would. Where the repository has no .venv yet (a
    worktree sharing another's), what common.sh then runs: app.launch from the root, the caller's dir set."""
    full = {**os.environ, **env}
    if (ROOT / ".venv" / "bin" / "python").exists():
        return subprocess.run([str(ROOT / "scripts" / name), *args], cwd=cwd, env=full, capture_output=True,
                              text=True, timeout=300)
    full.update(MULTIVEC_CALLER_DIR=str(cwd), MULTIVEC_COMMAND=f"scripts/{name}")
    return subprocess.run([sys.executable, "-m", "app.launch", "app.backup_cli", name, *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=300)


def test_the_scripts_back_up_and_restore_from_another_directory(tmp_path: Path) -> None:
    source = EdgeStore(tmp_path / "data")
    source.create_collection("docs_v1", {"d": VectorSpec("dense", 2)})
    source.upsert("docs_v1", [PointWrite(id=f"00000000-0000-5000-8000-00000000000{i}", vectors={"d": [1.0, i]},
                                         payload={"i": i}) for i in range(1, 4)])
    source.set_alias("documents", "docs_v1")
    source.close()
    elsewhere = tmp_path / "ops"
    elsewhere.mkdir()
    env = {"MULTIVEC_STORE__PATH": str(tmp_path / "data"), "MULTIVEC_SERVICE_URL": ""}

    done = run_script("backup", ["bk"], elsewhere, env)
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "bk" / MANIFEST).is_file()  # read against the caller's directory
    assert "3 points" in done.stdout and "MB" in done.stdout and "[1/" in done.stderr

    restored_env = {**env, "MULTIVEC_STORE__PATH": str(tmp_path / "restored")}
    done = run_script("restore", ["bk"], elsewhere, restored_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("restored") and "1 aliases" in done.stdout
    again = run_script("restore", ["bk"], elsewhere, restored_env)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1
    assert "not empty" in again.stderr and "Traceback" not in again.stderr
    target = EdgeStore(tmp_path / "restored")
    try:
        assert target.count("documents") == 3 and target.get_alias("documents") == "docs_v1"
    finally:
        target.close()

    missing = run_script("restore", ["no-such-backup"], elsewhere, restored_env)
    assert missing.returncode == 1 and "backup_not_found" in missing.stderr and "no-such-backup" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_restore_latest_takes_the_tenth_backup_of_one_second(client: TestClient, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a tester: of ten unnamed backups in one second, `scripts/restore --latest` took `-9` over `-10`
    (the manifests' times tied to the second and the names were compared as text). New manifests record the
    time to the microsecond, in the order of the names; older ones (to the second) tie-break on the number."""
    import datetime as dt

    import app.services.backup
    import app.services.backup_folders

    for module in (app.services.backup, app.services.backup_folders):
        monkeypatch.setattr(module, "default_name", lambda: "multivec-20260101T000000Z", raising=False)
    for _ in range(10):
        assert client.post("/admin/backup", json={}, headers=BEARER).status_code == 200
    root = tmp_path / "backups"
    names = ["multivec-20260101T000000Z", *(f"multivec-20260101T000000Z-{n}" for n in range(2, 11))]
    times = [dt.datetime.fromisoformat(json.loads((root / n / MANIFEST).read_text())["created_at"]) for n in names]
    assert times == sorted(times) and len(set(times)) == 10  # to the microsecond, in the order they were claimed

    env = {"MULTIVEC_STORE__PATH": str(tmp_path / "restored"), "MULTIVEC_SERVICE_URL": "",
           "MULTIVEC_BACKUP_DIR": str(root)}
    done = run_script("restore", ["--latest"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(f"({root / names[-1]})"), done.stdout

    for name in names:  # as an older version wrote them: to the second, all ten the same
        manifest = json.loads((root / name / MANIFEST).read_text())
        (root / name / MANIFEST).write_text(json.dumps({**manifest, "created_at": "2026-01-01T00:00:00+00:00"}))
    env["MULTIVEC_STORE__PATH"] = str(tmp_path / "restored-again")
    done = run_script("restore", ["--latest"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(f"({root / names[-1]})"), done.stdout


def test_restore_latest_says_which_backup_it_skipped_and_takes_the_latest_that_reads(tmp_path: Path) -> None:
    source = EdgeStore(tmp_path / "data")
    source.create_collection("docs_v1", {"d": VectorSpec("dense", 2)})
    source.upsert("docs_v1", [PointWrite(id="00000000-0000-5000-8000-000000000001", vectors={"d": [1.0, 0.0]},
                                         payload={"i": 1})])
    source.set_alias("documents", "docs_v1")
    source.close()
    root = tmp_path / "backups"
    env = {"MULTIVEC_STORE__PATH": str(tmp_path / "data"), "MULTIVEC_SERVICE_URL": "", "MULTIVEC_BACKUP_DIR": str(root)}
    for name in ("older", "newer"):
        assert run_script("backup", [str(root / name)], tmp_path, env).returncode == 0
    manifest = root / "newer" / MANIFEST
    manifest.write_text(manifest.read_text()[:100])  # cut short: a disk that filled, a copy stopped

    env["MULTIVEC_STORE__PATH"] = str(tmp_path / "restored")
    done = run_script("restore", ["--latest"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(f"({root / 'older'})"), done.stdout
    skipped = [line for line in done.stderr.splitlines() if "skipped" in line]
    assert skipped == [f"scripts/restore: skipped backup {root / 'newer'}: the manifest {manifest} is not a "
                       "multivec-backup manifest (corrupted or edited)"], done.stderr

    (root / "older" / MANIFEST).write_text("")
    env["MULTIVEC_STORE__PATH"] = str(tmp_path / "restored-again")
    done = run_script("restore", ["--latest"], tmp_path, env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines[:2]] == [f"skipped backup {root / 'newer'}",
                                                           f"skipped backup {root / 'older'}"], done.stderr
    assert lines[2:] == [f"scripts/restore: no readable backup under {root} (2 skipped, above)"], done.stderr


def held(monkeypatch: pytest.MonkeyPatch, store: object, method: str) -> tuple[threading.Event, threading.Event]:
    """Hold `store.method` until released: (`inside`, set when a call reached it; `go`, set to let it run)."""
    inside, go = threading.Event(), threading.Event()
    real = getattr(store, method)

    def holding(*args: object, **kwargs: object) -> object:
        inside.set()
        assert go.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, method, holding)
    return inside, go


def test_a_second_restore_or_a_backup_while_a_restore_runs_is_a_409_and_changes_nothing(
        client: TestClient, app_services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four restores sent at once answered 404 or 422 for a valid backup (a break test): one runs, the others are
    told so."""
    assert client.post("/admin/backup", json={"name": "one"}, headers=BEARER).status_code == 200
    inside, go = held(monkeypatch, app_services.store, "stage_snapshot")
    first: dict[str, int] = {}
    runner = threading.Thread(target=lambda: first.setdefault("status", client.post(
        "/admin/restore", json={"name": "one", "force": True}, headers=BEARER).status_code))
    runner.start()
    assert inside.wait(30)
    second = client.post("/admin/restore", json={"name": "one", "force": True}, headers=BEARER)
    assert second.status_code == 409 and "a restore is already running" in second.json()["message"]
    during = client.post("/admin/backup", json={"name": "during"}, headers=BEARER)
    assert during.status_code == 409 and "a restore is running" in during.json()["message"]
    go.set()
    runner.join(60)
    assert first["status"] == 200 and client.get("/ready").status_code == 200


def test_a_registry_the_service_cannot_read_is_a_503_and_a_one_line_start_naming_the_way_back(
        client: TestClient, app_services: Services) -> None:
    """A registry the service cannot read, however it got into the store, made every route a 500 and the start a
    31-line traceback (a break test)."""
    from app.errors import StoreUnavailable
    from app.launch import one_line

    key = app_services.registry.key
    app_services.store.put_meta(key, {"spaces": "junk", "revision": 1})
    r = client.get("/ready")
    assert r.status_code == 503 and "does not read" in r.json()["message"] and "restore a good backup" in r.text
    assert client.post("/search", json={"query": "gene editing"}).status_code == 503
    with pytest.raises(StoreUnavailable) as err:
        app_services.registry.get()
    assert one_line(err.value).startswith("store_unavailable: the registry of 'documents' in the store's meta")  # type: ignore[union-attr]


def test_a_restore_while_a_backup_runs_is_a_409_and_the_backup_completes(
        client: TestClient, app_services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restore that started during a backup was not refused (a break test): the backup could hold part of each."""
    assert client.post("/admin/backup", json={"name": "base"}, headers=BEARER).status_code == 200
    real = app_services.store.snapshot
    inside, go = held(monkeypatch, app_services.store, "snapshot")
    first: dict[str, int] = {}
    runner = threading.Thread(target=lambda: first.setdefault("status", client.post(
        "/admin/backup", json={"name": "slow"}, headers=BEARER).status_code))
    runner.start()
    assert inside.wait(30)
    r = client.post("/admin/restore", json={"name": "base", "force": True}, headers=BEARER)
    assert r.status_code == 409 and "a backup is running" in r.json()["message"]
    go.set()
    runner.join(60)
    assert first["status"] == 200
    monkeypatch.setattr(app_services.store, "snapshot", real)
    assert client.post("/admin/restore", json={"name": "slow", "force": True}, headers=BEARER).status_code == 200


def test_an_edge_snapshot_whose_registry_the_service_cannot_read_is_refused_and_nothing_changes(
        client: TestClient, app_services: Services) -> None:
    """An edited registry inside an edge snapshot of the meta was restored, and every route then answered 500 and
    the service did not start (a break test): the staged meta is read for meaning before anything changes."""
    key = app_services.registry.key
    good = app_services.store.get_meta(key)
    assert good is not None
    app_services.store.put_meta(key, {**good, "spaces": "junk"})  # as an edited backup would carry it
    assert client.post("/admin/backup", json={"name": "edited"}, headers=BEARER).status_code == 200
    app_services.store.put_meta(key, good)
    r = client.post("/admin/restore", json={"name": "edited", "force": True}, headers=BEARER)
    assert r.status_code == 422 and r.json()["code"] == "backup_invalid" and "is no registry" in r.json()["message"]
    assert client.get("/ready").status_code == 200
    assert client.post("/search", json={"query": "gene editing", "limit": 1}).json()["hits"]
