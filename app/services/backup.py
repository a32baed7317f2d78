"""Backup and restore of everything the store holds: every collection, the meta (registry), the aliases."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.errors import BackupInvalid, BackupNotFound, Conflict, InvalidInput
from app.repos.restore_journal import RestoreJournal, RestoreRecord

# where backups live: re-exported here, where the scripts and tests read them
from app.services.backup_folders import FORMAT, FORMAT_VERSION, claim, default_name, parse_manifest
from app.services.backup_folders import MANIFEST as MANIFEST
from app.services.backup_folders import latest as latest
from app.services.backup_manifest import inside
from app.services.backup_points import check_points, export_points, import_points, meta_problem
from app.store.base import CollectionConfig, Store, VectorSpec
from app.store.journal_places import JOURNAL_COLLECTION, place_for
from app.store.meta import META_COLLECTION

POINTS_EXPORT = "points-jsonl"  # the portable format: one JSON line per point, gzipped (app.services.backup_points)
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Summary:
    """What a backup or restore did: per collection its points, the aliases, size and time."""

    action: str
    path: str
    collections: dict[str, int] = field(default_factory=dict)  # name -> points
    aliases: dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0
    formats: dict[str, str] = field(default_factory=dict)  # name -> snapshot format
    kept: list[str] = field(default_factory=list)  # restore: collections of the target the backup does not name

    @property
    def points(self) -> int:
        """Points over every collection (the meta collection's included)."""
        return sum(self.collections.values())

    def line(self) -> str:
        """One line for an operator: counts, MB, seconds."""
        verb = "backed up" if self.action == "backup" else "restored"
        return (f"{verb} {len(self.collections)} collections, {self.points} points, {len(self.aliases)} aliases, "
                f"{self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s ({self.path})")

    def as_dict(self) -> dict[str, Any]:
        """The JSON the admin endpoint answers."""
        return {"action": self.action, "path": self.path, "collections": self.collections, "aliases": self.aliases,
                "formats": self.formats, "points": self.points, "bytes": self.bytes,
                "seconds": round(self.seconds, 3), "kept": self.kept, "summary": self.line()}


def sha256_of(path: Path) -> str:
    """The file's sha256, hex (read in blocks by the standard library)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _spec_dict(spec: VectorSpec) -> dict[str, Any]:
    return {"kind": spec.kind, "dim": spec.dim, "distance": spec.distance, "index": spec.index, "idf": spec.idf}


def _stored_as(base: CollectionConfig | None, datatypes: dict[str, str]) -> CollectionConfig | None:
    """The layout a points export is restored into: `base` (the store's settings; None: the adapter's own),
    with each space at the datatype the backup recorded for it (`datatypes`: the manifest's vector name ->
    datatype), float32 as float16; a space whose versions were stored differently keeps `base`'s. None
    when the backup predates datatypes and there is no `base`."""
    spaces: dict[str, set[str]] = {}
    for n, d in datatypes.items():
        spaces.setdefault(n.split(".")[0], set()).add(d)
    if base is None and not spaces:
        return None
    base = base or CollectionConfig()
    kept = {s: replace(base.for_vector(s), datatype=d.pop()) for s, d in spaces.items() if len(d) == 1}
    return replace(base, storage={**base.storage, **kept})


class BackupService:
    """Backs up and restores a whole store through the Store port.

    A backup is a folder: `manifest.json` (what, when, store kind, per collection its named vectors, each
    dense vector's storage datatype (`float32` | `float16`), vector versions, point count and file; the
    aliases; every file's sha256 and size) and one file per collection under `collections/`: the store's
    own snapshot where it takes them (embedded: the shard as edge reads it, datatypes included; server:
    Qdrant's collection snapshot), else a portable export of every point with its vectors and payload (the
    in-memory client; restored at the datatypes the manifest records).
    """

    def __init__(self, *, store: Store, root: Path = Path("backups"), config: CollectionConfig | None = None,
                 journal: RestoreJournal | None = None) -> None:
        """`config`: the store's collection settings, under the datatypes a points export recorded (None: the
        adapter's own defaults). `journal`: where a restore records itself while it replaces collections (None:
        the store's own place, app.store.journal_places; the service passes its registry's)."""
        self.store = store
        self.root = Path(root)
        self.config = config
        self.journal = journal or RestoreJournal(place_for(store))
        self._restoring = threading.Lock()  # one restore at a time, and no backup while one runs
        self._guard, self._backups = threading.Lock(), 0  # backups running (a restore waits for none: it refuses)

    def folder(self, name: str | None = None) -> Path:
        """The folder of backup `name` under the backup root; a new `multivec-<UTC time>` when None."""
        return self.root / (name or default_name())

    # -- backup ----------------------------------------------------------------------------
    def backup(self, folder: Path | None = None, *, progress: Progress = _quiet) -> Summary:
        """Write a backup of every collection, the meta and the aliases into `folder` (409 `Conflict` while a
        restore runs: it would hold part of each).

        Args:
            folder: a folder that does not exist or is empty; None: a new one under the backup root,
                `multivec-<UTC time>` (`-2`, `-3` ... after it when a backup of the same second holds it).
            progress: called with one line per collection.

        Returns:
            The summary (points per collection, aliases, MB, seconds).

        Raises:
            Conflict: `folder` holds files already (a backup is never written over another), a restore runs, or
                one did not finish (the store holds part of it).
            DiskFull: the backup's disk cannot hold a collection's snapshot; the folder is removed.
        """
        with self._guard:
            if self._restoring.locked():
                raise Conflict("a restore is running: back up once it has answered")
            self.journal.refuse_backup()
            self._backups += 1
        try:
            started = time.monotonic()
            folder = claim(folder, self.root)
            created = dt.datetime.now(dt.UTC)  # once claimed: backups of one second keep the order of their names
            try:
                return self._write_backup(folder, started, created, progress)
            except BaseException:  # a failed backup (a full disk, say) leaves no half folder: its name is free again
                shutil.rmtree(folder, ignore_errors=True)
                raise
        finally:
            with self._guard:
                self._backups -= 1

    def _write_backup(self, folder: Path, started: float, created: dt.datetime, progress: Progress) -> Summary:
        summary = Summary(action="backup", path=str(folder))
        names = [n for n in self.store.list_collections() if n != JOURNAL_COLLECTION]  # a server's restore journal
        collections: dict[str, Any] = {}
        for i, name in enumerate(names, 1):
            specs = self.store.vector_specs(name)
            before = self.store.count(name)
            file = self.store.snapshot(name, folder / "collections")
            fmt = f"{self.store.kind}-snapshot"
            if file is None:
                file, fmt = export_points(self.store, name, folder / "collections"), POINTS_EXPORT
            points = self.store.count(name)
            exact = points == before  # else a write ran meanwhile: the restore reports, not checks, the count
            size = (folder / "collections" / file).stat().st_size
            collections[name] = {
                "format": fmt, "file": f"collections/{file}", "points": points, "points_exact": exact,
                "vectors": {n: _spec_dict(s) for n, s in sorted(specs.items())},
                "datatypes": dict(sorted(self.store.vector_datatypes(name).items())),
                "vector_versions": sorted(n for n in specs if name != META_COLLECTION),
            }
            summary.collections[name], summary.formats[name] = points, fmt
            progress(f"[{i}/{len(names)}] {name}: {points} points, {size / 1e6:.1f} MB ({fmt})")
        summary.aliases = self.store.list_aliases()
        files: dict[str, dict[str, Any]] = {f"collections/{p.name}": {"sha256": sha256_of(p), "bytes": p.stat().st_size}
                 for p in sorted((folder / "collections").iterdir())}
        manifest = {
            "format": FORMAT, "version": FORMAT_VERSION,
            "created_at": created.isoformat(timespec="microseconds"),  # when the backup began, UTC
            "store": {"kind": self.store.kind},
            "collections": collections, "aliases": summary.aliases, "files": files,
        }
        tmp = folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        tmp.replace(folder / MANIFEST)  # the manifest last: a folder without one is no backup
        summary.bytes = sum(f["bytes"] for f in files.values()) + (folder / MANIFEST).stat().st_size
        summary.seconds = time.monotonic() - started
        return summary

    # -- restore ---------------------------------------------------------------------------
    def read_manifest(self, folder: Path) -> dict[str, Any]:
        """The backup's manifest, checked: its shape, and every file against its sha256 and size.

        Raises:
            BackupNotFound: no folder or no manifest there.
            BackupInvalid: the manifest does not parse or lacks a part, or a file is missing or differs.
        """
        folder = Path(folder)
        if not (folder / MANIFEST).exists() and not (folder / MANIFEST).is_symlink():
            what = "no backup folder" if not folder.is_dir() else f"no {MANIFEST} in the backup folder"
            raise BackupNotFound(f"{what} {folder}", {"path": str(folder)})
        manifest = parse_manifest(folder / MANIFEST)
        for rel, expected in manifest["files"].items():
            file = inside(folder, rel)
            if file.stat().st_size != expected["bytes"] or sha256_of(file) != expected["sha256"]:
                raise BackupInvalid(f"{folder / rel} does not match its sha256 in the manifest (corrupted)",
                                    {"path": str(folder / rel)})
        return manifest  # type: ignore[no-any-return]

    def restore(self, folder: Path, *, force: bool = False, progress: Progress = _quiet) -> Summary:
        """See `_restore`; one at a time in this process (parallel restores answered 404 or 422 for a valid
        backup: a break test).

        Raises:
            Conflict: another restore, or a backup, is running (nothing changed).
        """
        if not self._restoring.acquire(blocking=False):
            raise Conflict("a restore is already running: wait for its answer, then restore again")
        with self._guard:
            backing_up = self._backups
        if backing_up:
            self._restoring.release()
            raise Conflict("a backup is running: restore once it has answered (it would hold part of each)")
        try:
            return self._restore(folder, force=force, progress=progress)
        finally:
            self._restoring.release()

    def _restore(self, folder: Path, *, force: bool = False, progress: Progress = _quiet) -> Summary:
        """Restore every collection, the meta and the aliases of the backup in `folder`.

        The whole backup is checked before anything changes: every manifest field's type and range, every
        file inside the folder (links followed) against its checksum, the formats, every line of a points
        export and its count, and (embedded) every snapshot unpacked, opened and counted beside the collection
        it replaces (`Store.stage_snapshot`); a server reads each upload aside before it replaces the
        collection's data. A target that holds documents (a point in any collection but the meta) is
        refused unless `force` (or it holds the part an unfinished restore of this same backup replaced). Then the
        restore is recorded in the journal (app.repos.restore_journal), each collection the backup names is
        replaced by its copy, the aliases set, and the record removed: a restore killed in between leaves the
        store refused (503) until one finishes. Collections the backup does not name are kept.
        Writes are not held back: one acknowledged before its collection is replaced (while the backup is
        checked, say) is replaced with it; one acknowledged after lands in the restored collection.

        Args:
            folder: the backup folder.
            force: replace a target that holds documents.
            progress: called with one line per collection.

        Returns:
            The summary (points per collection as restored, aliases, MB, seconds).

        Raises:
            BackupNotFound: no backup in `folder`.
            BackupInvalid: a corrupted manifest (the message and `detail.field` name the field) or file, a file
                outside the folder, or a count that differs from the manifest's.
            Conflict: the target holds documents, or a restore of another backup did not finish, and `force` is not
                set; nothing was changed.
            DiskFull: the embedded store's disk cannot hold the restored collections; nothing was changed.
            InvalidInput: a snapshot of another store kind (restore it on that kind of store); one the store cannot
                read is a BackupInvalid (the collection is kept).
        """
        started = time.monotonic()
        folder = Path(folder)
        manifest = self.read_manifest(folder)
        snapshot_format = f"{self.store.kind}-snapshot"
        for name, c in manifest["collections"].items():
            if c["format"] not in (POINTS_EXPORT, snapshot_format):
                raise InvalidInput(f"collection {name!r} of the backup is a {c['format']}; this store takes "
                                   f"{snapshot_format} or {POINTS_EXPORT}: restore it on a {c['format'][:-9]} store",
                                   {"collection": name, "format": c["format"]})
        if JOURNAL_COLLECTION in manifest["collections"]:
            raise BackupInvalid(f"the backup names the restore journal's collection {JOURNAL_COLLECTION!r}, which "
                                "no backup holds (edited)", {"collection": JOURNAL_COLLECTION})
        files = {name: inside(folder, c["file"]) for name, c in manifest["collections"].items()}
        specs = {name: {n: VectorSpec(**v) for n, v in c["vectors"].items()}
                 for name, c in manifest["collections"].items()}
        expected = {name: c["points"] if c.get("points_exact", True) else None
                    for name, c in manifest["collections"].items()}
        for name, c in manifest["collections"].items():  # a points export is read whole before anything changes
            if c["format"] == POINTS_EXPORT:
                check_points(files[name], specs[name], expected[name], meta_problem if name == META_COLLECTION
                             else lambda pid, payload: None)  # a collection may hold any points: the store's own
        sha256 = sha256_of(folder / MANIFEST)
        resuming = self.journal.admit(sha256, force=force)  # an unfinished restore of this backup: finish it
        existing = [n for n in self.store.list_collections() if n != JOURNAL_COLLECTION]
        holding = {n: self.store.count(n) for n in existing if n != META_COLLECTION}
        holding = {n: k for n, k in holding.items() if k}
        if holding and not force and not resuming:
            raise Conflict(f"the target is not empty ({', '.join(f'{n}: {k} points' for n, k in holding.items())}): "
                           "restore into an empty store, or pass force to replace it", {"collections": holding})
        # room for every collection before the first is replaced (each unpacked beside the one it replaces)
        self.store.reserve("a restore", sum(2 * f.stat().st_size for f in files.values()))
        for name, c in manifest["collections"].items():  # each snapshot unpacked and counted aside (embedded)
            if c["format"] != POINTS_EXPORT:
                self.store.stage_snapshot(name, files[name], specs[name], points=expected[name],
                                          check=meta_problem if name == META_COLLECTION else None)
        summary = Summary(action="restore", path=str(folder))
        summary.kept = [n for n in existing if n not in manifest["collections"]]
        names = sorted(manifest["collections"])
        with self.journal.restoring(RestoreRecord.of(folder, self.root, manifest, sha256)):
            for i, name in enumerate(names, 1):
                c, file = manifest["collections"][name], files[name]
                if c["format"] == POINTS_EXPORT:
                    self.store.delete_collection(name)
                    import_points(self.store, name, specs[name], file,
                                  _stored_as(self.config, c.get("datatypes") or {}))
                else:  # swapped in: staged above
                    self.store.restore_snapshot(name, file, specs[name], points=expected[name])
                points = self.store.count(name)
                if expected[name] is not None and points != expected[name]:  # a server's snapshot: counted after
                    raise BackupInvalid(f"collection {name!r} has {points} points after the restore; the backup "
                                        f"recorded {c['points']}", {"collection": name})
                summary.collections[name], summary.formats[name] = points, c["format"]
                summary.bytes += file.stat().st_size
                progress(f"[{i}/{len(names)}] {name}: {points} points ({c['format']})")
            for alias, collection in sorted(manifest["aliases"].items()):
                self.store.set_alias(alias, collection)
        summary.aliases = dict(manifest["aliases"])
        summary.seconds = time.monotonic() - started
        return summary
