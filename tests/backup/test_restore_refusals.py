"""A restore refused for any bad backup changes nothing: found by a tester, a snapshot that did not unpack
deleted the live collection, and manifests of the wrong shape answered 500 after the registry was replaced.
Each broken backup here is a copy of a good one (of the registry and the documents collection, in that
order); after its refusal every document is still searchable and the registry's collection is the live one."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.services.backup import MANIFEST
from tests.backup.test_backup_api import run_script
from tests.conftest import STORE_KINDS, make_settings, to_documents
from tests.fixtures import DOCS

ADMIN = "refusals-admin-token"
BEARER = {"Authorization": f"Bearer {ADMIN}"}
BACKED_UP, KEPT = DOCS[:4], DOCS[:5]  # the live store holds one document more than its backup
MARKER = "refusals-marker"  # and a meta value the backup does not have


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
           encoders: EncoderPool) -> Iterator[tuple[TestClient, Services, Path]]:
    """A service over five documents (edge: shard snapshots; memory: points exports), with a good backup `good`
    of the first four: a restore that ran would show."""
    folder = tmp_path_factory.mktemp(f"refusals-{request.param}")
    settings = make_settings(request.param, folder, model_cache, admin_token=ADMIN, backup_dir=folder / "backups")
    svc = build_services(settings, encoders=encoders)
    svc.ingest.upsert(to_documents(BACKED_UP))
    try:
        with TestClient(create_app(settings, services=svc)) as client:
            assert client.post("/admin/backup", json={"name": "good"}, headers=BEARER).status_code == 200
            svc.ingest.upsert(to_documents(KEPT[len(BACKED_UP):]))
            svc.store.put_meta(MARKER, {"after": "the backup"})  # the registry's collection, restored first, too
            yield client, svc, folder / "backups"
    finally:
        svc.close()


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text())  # type: ignore[no-any-return]


def edit(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = manifest_of(folder)
    change(data)
    (folder / MANIFEST).write_text(json.dumps(data))


def documents(data: dict[str, Any]) -> dict[str, Any]:
    """The documents collection's entry (the one the alias `documents` names)."""
    return data["collections"][data["aliases"]["documents"]]  # type: ignore[no-any-return]


def resign(folder: Path, rel: str) -> None:
    """Record `rel`'s new sha256 and size in the manifest, as a hand edit that knows the format would."""
    body = (folder / rel).read_bytes()
    edit(folder, lambda d: d["files"].__setitem__(rel, {"sha256": hashlib.sha256(body).hexdigest(),
                                                          "bytes": len(body)}))


def rewrite_documents_file(folder: Path, change: Callable[[bytes], bytes]) -> None:
    """Change the documents collection's file (its bytes as `change` makes them) and re-sign it."""
    rel = documents(manifest_of(folder))["file"]
    (folder / rel).write_bytes(change((folder / rel).read_bytes()))
    resign(folder, rel)


def broken_edge_config(body: bytes) -> bytes:
    """The tester's case: a shard snapshot whose edge_config.json is cut short (points exports: a cut line)."""
    if body[:2] == b"\x1f\x8b":
        lines = gzip.decompress(body).splitlines(keepends=True)
        return gzip.compress(b"".join([lines[0], b'{"id": ', *lines[2:]]))
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(body)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name.endswith("edge_config.json"):
                data = b'{"broken": '
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def outside_file(folder: Path) -> None:
    """The tester's `../../../../etc/hostname`, with as many `..` as reach the root from this folder."""
    rel = "../" * len(folder.resolve().parts) + "etc/hostname"
    body = Path("/etc/hostname").read_bytes()
    edit(folder, lambda d: (documents(d).__setitem__("file", rel),
                            d["files"].__setitem__(rel, {"sha256": hashlib.sha256(body).hexdigest(),
                                                         "bytes": len(body)})))


def symlinked_file(folder: Path) -> None:
    rel = documents(manifest_of(folder))["file"]
    os.unlink(folder / rel)
    os.symlink("/etc/hostname", folder / rel)
    resign(folder, rel)


def file_is_a_directory(folder: Path) -> None:
    rel = documents(manifest_of(folder))["file"]
    os.unlink(folder / rel)
    (folder / rel).mkdir()


def renamed_collection(name: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        def move(d: dict[str, Any]) -> None:
            physical = d["aliases"]["documents"]
            d["collections"][name] = d["collections"].pop(physical)
            d["aliases"]["documents"] = name
        edit(folder, move)
    return change


def nested(folder: Path) -> None:
    (folder / MANIFEST).write_text("[" * 200_000)


def huge(folder: Path) -> None:
    edit(folder, lambda d: d.__setitem__("padding", "x" * (20 << 20)))


def in_documents(field: str, value: Any) -> Callable[[Path], None]:
    return lambda folder: edit(folder, lambda d: documents(d).__setitem__(field, value))


def in_a_vector(field: str, value: Any) -> Callable[[Path], None]:
    def change(d: dict[str, Any]) -> None:
        spec = next(iter(documents(d)["vectors"].values()))
        spec[field] = value
    return lambda folder: edit(folder, change)


def at_top(field: str, value: Any) -> Callable[[Path], None]:
    return lambda folder: edit(folder, lambda d: d.__setitem__(field, value))


def in_files(field: str, value: Any) -> Callable[[Path], None]:
    return lambda folder: edit(folder, lambda d: d["files"][documents(d)["file"]].__setitem__(field, value))


def raw(text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / MANIFEST).write_text(text)


def manifest_linked_outside(folder: Path) -> None:
    outside = folder.parent / f"{folder.name}.json"
    shutil.move(folder / MANIFEST, outside)
    (folder / MANIFEST).symlink_to(outside)


def wrong_dim(body: bytes) -> bytes:
    """A points export whose second point has a dense vector one number short (snapshots: nothing to edit)."""
    if body[:2] != b"\x1f\x8b":
        pytest.skip("a points export only")
    lines = gzip.decompress(body).splitlines(keepends=True)
    point = json.loads(lines[1])
    name = next(n for n, v in point["vectors"].items() if isinstance(v, list) and not isinstance(v[0], list))
    point["vectors"][name] = point["vectors"][name][:-1]
    return gzip.compress(b"".join([lines[0], json.dumps(point).encode() + b"\n", *lines[2:]]))


def points_export_line(change: Callable[[dict[str, Any], list[bytes]], list[bytes]]) -> Callable[[bytes], bytes]:
    """A points export whose lines `change` rewrites (given the second point and every line; snapshots: skipped)."""
    def rewrite(body: bytes) -> bytes:
        if body[:2] != b"\x1f\x8b":
            pytest.skip("a points export only")
        lines = gzip.decompress(body).splitlines(keepends=True)
        return gzip.compress(b"".join(change(json.loads(lines[1]), lines)))
    return rewrite


def with_id(pid: Any) -> Callable[[Path], None]:
    """The second point under an id the engines refuse (the first point was written before: a break test emptied
    the live collection so)."""
    return lambda f: rewrite_documents_file(f, points_export_line(
        lambda point, lines: [lines[0], json.dumps({**point, "id": pid}).encode() + b"\n", *lines[2:]]))


def repeated_point(folder: Path) -> None:
    """The first point again in place of the second: as many lines as the manifest records, one point fewer."""
    rewrite_documents_file(folder, points_export_line(lambda point, lines: [lines[0], lines[0], *lines[2:]]))


def another_collections_snapshot(folder: Path) -> None:
    """The registry's snapshot as the documents' (its point count recorded to match): a break test restored it."""
    def swap(d: dict[str, Any]) -> None:
        docs, meta = documents(d), d["collections"]["_multivec_meta"]
        if docs["format"] != "edge-snapshot":
            pytest.skip("shard snapshots only")
        docs["file"], docs["points"] = meta["file"], meta["points"]
    edit(folder, swap)


def registry_edited(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """The registry point of a points-export meta edited by `change` (its payload; shard snapshots: skipped)."""
    def rewrite(folder: Path) -> None:
        rel = manifest_of(folder)["collections"]["_multivec_meta"]["file"]
        body = (folder / rel).read_bytes()
        if body[:2] != b"\x1f\x8b":
            pytest.skip("a points export only")
        lines = []
        for line in gzip.decompress(body).splitlines(keepends=True):
            point = json.loads(line) if line.strip().startswith(b"{") else None
            if point and str(point["payload"].get("key", "")).startswith("registry:"):
                change(point["payload"])
                line = json.dumps(point).encode() + b"\n"
            lines.append(line)
        (folder / rel).write_bytes(gzip.compress(b"".join(lines)))
        resign(folder, rel)
    return rewrite


def a_live_version_renamed(payload: dict[str, Any]) -> None:
    space = next(s for s in payload["value"]["spaces"].values() if s.get("live"))
    space["live"] += "-gone"


def a_rollout(percent: Any, version: str | None = None) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        space = next(s for s in payload["value"]["spaces"].values() if s.get("live"))
        space["rollout"] = {"version": version or space["live"], "percent": percent, "started": ""}
    return change


def one_point_more(folder: Path) -> None:
    edit(folder, lambda d: documents(d).__setitem__("points", documents(d)["points"] + 1))


BROKEN: dict[str, tuple[Callable[[Path], None], str]] = {  # case -> (how the copy is broken, what the answer names)
    "snapshot-broken-config": (lambda f: rewrite_documents_file(f, broken_edge_config), ""),
    "snapshot-truncated": (lambda f: rewrite_documents_file(f, lambda b: b[: len(b) // 2]), ""),
    "snapshot-not-an-archive": (lambda f: rewrite_documents_file(f, lambda b: b"not a snapshot\n"), ""),
    "vectors-not-an-object": (in_documents("vectors", "nope"), "vectors"),
    "vector-kind-unknown": (in_a_vector("kind", "weird"), "kind"),
    "vector-dim-huge": (in_a_vector("dim", 10**30), "dim"),
    "vector-idf-text": (in_a_vector("idf", "yes"), "idf"),
    "alias-to-a-list": (at_top("aliases", {"documents": ["x"]}), "documents"),
    "points-text": (in_documents("points", "many"), "points"),
    "points-infinite": (lambda f: (f / MANIFEST).write_text(
        (f / MANIFEST).read_text().replace(f'"points": {len(BACKED_UP)}', '"points": 1e400')), "points"),
    "points-negative": (in_documents("points", -1), "points"),
    "points-true": (in_documents("points", True), "points"),
    "points-one-more": (one_point_more, "points"),
    "points-exact-text": (in_documents("points_exact", "no"), "points_exact"),
    "format-a-number": (in_documents("format", 7), "format"),
    "datatypes-a-list": (in_documents("datatypes", ["float16"]), "datatypes"),
    "file-outside": (outside_file, "file"),
    "file-a-symlink-outside": (symlinked_file, "outside"),
    "file-a-directory": (file_is_a_directory, ""),
    "file-not-listed": (in_documents("file", "collections/other.tar"), "file"),
    "files-sha-a-number": (in_files("sha256", 5), "sha256"),
    "files-bytes-text": (in_files("bytes", "5"), "bytes"),
    "collection-name-dotdot": (renamed_collection("../escape"), "escape"),
    "collection-name-hidden": (renamed_collection(".hidden"), "hidden"),
    "manifest-nested": (nested, "nested"),
    "manifest-huge": (huge, "MB"),
    "manifest-a-list": (raw("[]"), "manifest"),
    "manifest-null": (raw("null"), "manifest"),
    "manifest-a-string": (raw('"multivec-backup"'), "manifest"),
    "manifest-not-utf8": (lambda f: (f / MANIFEST).write_bytes(b"\xff\xfe{}"), "manifest"),
    "manifest-a-directory": (lambda f: ((f / MANIFEST).unlink(), (f / MANIFEST).mkdir()), "manifest"),
    "points-export-short-vector": (lambda f: rewrite_documents_file(f, wrong_dim), "line 2"),
    "manifest-a-link-outside": (manifest_linked_outside, "outside"),
    "collections-a-list": (at_top("collections", []), "field=collections"),
    "files-a-list": (at_top("files", []), "field=files"),
    "vector-extra-field": (in_a_vector("extra", 1), "extra"),
    "vector-dim-zero": (in_a_vector("dim", 0), "dim"),
    "alias-to-a-ghost": (at_top("aliases", {"documents": "ghost"}), "ghost"),
    "store-a-string": (at_top("store", "edge"), "field=store"),
    "created-at-a-number": (at_top("created_at", 5), "created_at"),
    "version-true": (at_top("version", True), "version"),
    # from a second tester: each emptied or broke the live store after its refusal, or was restored
    "point-id-not-a-uuid": (with_id("not-a-uuid"), "line 2"),
    "point-id-negative": (with_id(-5), "line 2"),
    "point-id-past-64-bits": (with_id(2**70), "line 2"),
    "point-repeated": (repeated_point, "repeats point"),
    "alias-named-like-the-meta": (lambda f: edit(f, lambda d: d["aliases"].__setitem__(
        "_multivec_meta", d["aliases"]["documents"])), "_multivec_meta"),
    "alias-to-the-meta": (at_top("aliases", {"documents": "_multivec_meta"}), "_multivec_meta"),
    "alias-named-like-a-collection": (lambda f: edit(f, lambda d: d["aliases"].__setitem__(
        d["aliases"]["documents"], d["aliases"]["documents"])), "named like none"),
    "snapshot-of-another-collection": (another_collections_snapshot, "named vectors"),
    "vectors-emptied": (in_documents("vectors", {}), ""),
    "registry-spaces-junk": (registry_edited(lambda p: p["value"].__setitem__("spaces", "junk")), "no registry"),
    "registry-value-removed": (registry_edited(lambda p: p.pop("value")), "not a key and an object value"),
    "registry-live-version-unknown": (registry_edited(a_live_version_renamed), "which it does not hold"),
    "registry-under-another-key": (registry_edited(lambda p: (p.__setitem__("key", "profile:documents"),
                                                              p["value"].__setitem__("spaces", "junk"))),
                                   "which the service stores at another point"),
    "alias-named-like-the-next-collection": (lambda f: edit(f, lambda d: d["aliases"].__setitem__(
        "documents__2", d["aliases"]["documents"])), "named like none"),
    "alias-with-a-newline": (lambda f: edit(f, lambda d: d["aliases"].__setitem__(
        "documents\n", d["aliases"]["documents"])), "named like none"),
    "alias-with-a-trailing-space": (lambda f: edit(f, lambda d: d["aliases"].__setitem__(
        "documents ", d["aliases"]["documents"])), "named like none"),
    "alias-in-the-meta-namespace": (lambda f: edit(f, lambda d: d["aliases"].__setitem__(
        "_MULTIVEC_META", d["aliases"]["documents"])), "named like none"),
    "registry-rollout-percent-text": (registry_edited(a_rollout("junk")), "rollout percent 'junk'"),
    "registry-rollout-to-a-ghost": (registry_edited(a_rollout(50, "title.zzz.v9")), "which it does not hold"),
    "registry-revision-infinite": (registry_edited(lambda p: p["value"].__setitem__("revision", float("inf"))),
                                   "OverflowError"),
}


def assert_untouched(client: TestClient, svc: Services, aliases: dict[str, str], collections: list[str],
                     kept: list[dict[str, Any]] = KEPT) -> None:
    """Ready; the same collections and aliases; each kept document found by its own title."""
    assert client.get("/ready").status_code == 200, client.get("/ready").text
    assert svc.store.list_aliases() == aliases and svc.store.list_collections() == collections
    assert svc.store.count(svc.registry.physical()) == len(kept)
    assert (svc.store.get_meta(MARKER) is not None) == (kept == KEPT)  # the meta collection was not replaced
    assert list((svc.settings.store.path / "collections").glob(".*")) == []  # edge: no staged folder left
    for doc in kept:
        r = client.post("/search", json={"query": doc["title"], "limit": len(kept)})
        assert r.status_code == 200, r.text
        assert doc["id"] in [h["id"] for h in r.json()["hits"]], (doc["id"], r.json())


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_refused_restore_changes_nothing_and_names_what_is_wrong(
        served: tuple[TestClient, Services, Path], case: str) -> None:
    client, svc, root = served
    aliases, collections = svc.store.list_aliases(), svc.store.list_collections()
    folder = root / f"case-{case}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(root / "good", folder)
    breaking, named = BROKEN[case]
    breaking(folder)
    r = client.post("/admin/restore", json={"name": folder.name, "force": True}, headers=BEARER)
    assert r.status_code == 422, (case, r.status_code, r.text)
    assert r.json()["code"] in ("backup_invalid", "invalid_input"), r.text
    field = r.json()["detail"].get("field") if isinstance(r.json()["detail"], dict) else None
    assert named in r.json()["message"] or named == f"field={field}", (named, r.json())
    assert "Traceback" not in r.text
    assert_untouched(client, svc, aliases, collections)


def test_a_backup_folder_that_is_a_symlink_restores(served: tuple[TestClient, Services, Path]) -> None:
    """An operator may keep backups on another disk and link them in: the folder itself may be a link (its
    files must still lie inside the folder it points at)."""
    client, svc, root = served
    link = root / "linked"
    if not link.is_symlink():
        link.symlink_to(root / "good")
    r = client.post("/admin/restore", json={"name": "linked", "force": True}, headers=BEARER)
    assert r.status_code == 200, r.text
    assert_untouched(client, svc, svc.store.list_aliases(), svc.store.list_collections(), BACKED_UP)
    svc.ingest.upsert(to_documents(KEPT[len(BACKED_UP):]))  # as the other tests of the module expect it
    svc.store.put_meta(MARKER, {"after": "the backup"})


def test_restore_latest_skips_a_deeply_nested_manifest_with_one_line(tmp_path: Path) -> None:
    root = tmp_path / "backups"
    for name, text in (("a-nested", "[" * 200_000), ("b-not-an-object", "[1, 2]"),
                       ("c-points-text", json.dumps({"format": "multivec-backup", "version": 1,
                                                     "created_at": "2030-01-01T00:00:00+00:00", "store": {},
                                                     "collections": {"c": {"format": "x", "file": "f",
                                                                           "points": "many", "vectors": {}}},
                                                     "aliases": {}, "files": {"f": {"sha256": "0", "bytes": 0}}}))):
        (root / name).mkdir(parents=True)
        (root / name / MANIFEST).write_text(text)
    env = {"MULTIVEC_STORE__PATH": str(tmp_path / "data"), "MULTIVEC_SERVICE_URL": "",
           "MULTIVEC_BACKUP_DIR": str(root)}
    done = run_script("restore", ["--latest"], tmp_path, env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 4, done.stderr
    assert all(line.startswith("scripts/restore: skipped backup ") for line in lines[:3]), done.stderr
    assert "nested" in lines[0] and "points" in lines[2], done.stderr
    assert lines[3] == f"scripts/restore: no readable backup under {root} (3 skipped, above)", done.stderr


def small_edge(path: Path) -> Any:
    from app.store.base import PointWrite, VectorSpec
    from app.store.edge import EdgeStore

    store = EdgeStore(path)
    store.create_collection("docs_v1", {"d": VectorSpec("dense", 2)})
    store.upsert("docs_v1", [PointWrite(id=f"00000000-0000-5000-8000-00000000000{i}", vectors={"d": [1.0, i]},
                                        payload={"i": i}) for i in range(1, 4)])
    return store


def test_an_edge_snapshot_that_fails_to_open_once_swapped_in_puts_the_old_collection_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.store.edge as edge_module
    from app.errors import StoreUnavailable
    from app.services.backup import BackupService

    store = small_edge(tmp_path / "data")
    try:
        BackupService(store=store).backup(tmp_path / "bk")
        store.delete("docs_v1", ["00000000-0000-5000-8000-000000000001"])
        real = edge_module.open_shard

        def fails(name: str, path: Path) -> Any:
            if path.parent.name == "docs_v1" and not path.parent.with_name(".replaced-docs_v1").exists():
                return real(name, path)  # the old one, reopened after the failure
            raise StoreUnavailable("disk went away")

        monkeypatch.setattr(edge_module, "open_shard", fails)
        with pytest.raises(StoreUnavailable, match="disk went away"):
            BackupService(store=store).restore(tmp_path / "bk", force=True)
        monkeypatch.setattr(edge_module, "open_shard", real)
        assert store.count("docs_v1") == 2 and store.list_collections() == ["docs_v1"]
        assert sorted(p.name for p in (tmp_path / "data" / "collections").iterdir()) == ["docs_v1"]
    finally:
        store.close()


def test_a_restore_that_crashed_mid_swap_is_put_back_when_the_store_opens(tmp_path: Path) -> None:
    from app.store.edge import EdgeStore

    small_edge(tmp_path / "data").close()
    collections = tmp_path / "data" / "collections"
    (collections / "docs_v1").rename(collections / ".replaced-docs_v1")  # the crash: old aside, new not yet in
    (collections / ".restoring-docs_v1").mkdir()
    store = EdgeStore(tmp_path / "data")
    try:
        assert store.count("docs_v1") == 3 and sorted(p.name for p in collections.iterdir()) == ["docs_v1"]
    finally:
        store.close()
