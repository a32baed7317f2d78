"""Edge shard folders on disk: opening one, flushing its WAL as a server does, tarring one (sparse-aware),
unpacking a snapshot into one and swapping it in; and the engine's errors in our table."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from app.errors import AppError, BackupInvalid, CollectionNotFound, InvalidInput, StoreUnavailable
from app.store.adapter import missing_vector
from app.store.types import PayloadCheck, VectorSpec

RUNBOOK = "docs/migrations.md#a-collection-that-cannot-be-opened"
SPECS = "multivec-spec.json"  # beside a collection's shard folder: its named vectors as `VectorSpec`s
FLUSH_INTERVAL_S = 5.0  # a Qdrant server's default `flush_interval_sec`
log = logging.getLogger("multivec.store")


def engine_error(e: BaseException, what: str) -> AppError:
    """One translation of every error the engine raises into our table. A Rust panic arrives as
    a BaseException that is not an Exception, so it would otherwise escape every handler; a value
    the engine cannot convert is the caller's; anything else is the store failing."""
    text = " ".join(str(e).split())[:300]
    if changed := missing_vector(text, what):
        return changed
    if isinstance(e, TypeError | ValueError | OverflowError | UnicodeError):
        return InvalidInput(f"the embedded store refused the {what}: {text}")
    return StoreUnavailable(f"the embedded store failed on {what}: {type(e).__name__}: {text}")


class WalFlusher:
    """Flushes a shard after a write once `FLUSH_INTERVAL_S` went by since its last flush, as a Qdrant
    server's background flush does. Edge has none, so its WAL otherwise grows with every write until
    the shard is optimised or closed: 3.3 GB after 100,000 synthetic documents, 0.2 GB with this
    (docs/evaluation.md#the-build-at-100000-documents). A flush that fails is logged and tried again
    at the next interval: the write before it is applied (and in the WAL), so it is not failed."""

    def __init__(self, interval_s: float = FLUSH_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._last: dict[str, float] = {}

    def wrote(self, name: str, shard: Any) -> None:
        """Call after each write to shard `name` (under the caller's write lock)."""
        now = time.monotonic()
        if now - self._last.setdefault(name, now) >= self.interval_s:
            self._last[name] = now
            try:
                shard.flush()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # a Rust panic is no Exception; the write succeeded, the next interval retries
                log.warning("flushing collection %s failed (tried again at a write after %.0f s, or at close): %s",
                            name, self.interval_s, e)


def open_shard(name: str, path: Path) -> Any:
    """Open collection `name`'s shard folder `path`.

    Returns:
        The opened `EdgeShard`.

    Raises:
        CollectionNotFound: there is no shard folder.
        StoreUnavailable: the engine cannot open it (the message names the recovery runbook).
    """
    if not path.exists():
        raise CollectionNotFound(f"collection {name!r} does not exist")
    try:
        return qe.EdgeShard.load(str(path))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:
        raise StoreUnavailable(
            f"cannot open collection {name!r} (shard folder {path}): {' '.join(str(e).split())[:300]}."
            f" Recovery: {RUNBOOK}", {"collection": name, "path": str(path), "runbook": RUNBOOK}) from e


@functools.cache
def _gnu_tar() -> str | None:
    """GNU tar's path, if there is one (it archives sparse files as sparse)."""
    tar = shutil.which("tar")
    if tar is None:
        return None
    try:
        version = subprocess.run([tar, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return tar if "GNU tar" in version else None


def write_tar(folder: Path, out: Path) -> None:
    """Tar `folder`'s contents into `out`. Edge preallocates its mmap files sparse (a few points can hold
    hundreds of MB of holes), so GNU tar's `--sparse` is used where it exists: edge's `unpack_snapshot`
    reads that format and writes the holes back as holes. Python's tarfile, the fallback, stores them
    as zeros."""
    tar = _gnu_tar()
    if tar is not None:
        subprocess.run([tar, "--sparse", "--format=gnu", "-cf", str(out), "-C", str(folder), "."],
                       check=True, capture_output=True, timeout=3600)
        return
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as archive:
        archive.add(folder, arcname=".")


def unpack_shard(path: Path, folder: Path, points: int | None = None, check: PayloadCheck | None = None) -> None:
    """Lay out the shard snapshot at `path` in `folder`/shard (edge's own `EdgeShard.unpack_snapshot`), open it
    to check it reads (and holds `points` points, unless None; each point's payload as `check` wants it, unless
    None), and close it again.

    Raises:
        BackupInvalid: `path` is not an edge shard snapshot this engine opens (`folder` is removed).
        BackupInvalid: it holds another number of points than `points` (`folder` is removed).
    """
    try:
        qe.EdgeShard.unpack_snapshot(str(path), str(folder / "shard"))
        shard = qe.EdgeShard.load(str(folder / "shard"))
        try:
            held = int(shard.count(qe.CountRequest(filter=None, exact=True)))
            problem = _first_problem(shard, check) if check else None
        finally:
            shard.close()
    except (KeyboardInterrupt, SystemExit):
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except BaseException as e:  # a Rust panic is no Exception
        shutil.rmtree(folder, ignore_errors=True)
        said = " ".join(str(e).replace(str(folder), "<staged>").split())[:300]  # no folder of this machine's
        raise BackupInvalid(f"{path.name} is not an edge shard snapshot this engine opens (corrupted, edited, or "
                            f"from another engine version): {said}", {"path": path.name, "field": "file"}) from e
    if points is not None and held != points:
        shutil.rmtree(folder, ignore_errors=True)
        raise BackupInvalid(f"{path} holds {held} points; the backup recorded {points}", {"path": str(path)})
    if problem:
        shutil.rmtree(folder, ignore_errors=True)
        raise BackupInvalid(f"{path}: {problem} (corrupted or edited)", {"path": str(path)})


def _first_problem(shard: Any, check: PayloadCheck) -> str | None:
    """The first point of `shard` whose payload `check` finds a problem with (its words), or None."""
    offset = None
    while True:
        records, offset = shard.scroll(qe.ScrollRequest(offset=offset, limit=256, filter=None, with_payload=True,
                                                        with_vector=False))
        for r in records:
            problem = check(str(r.id), dict(r.payload or {}))
            if problem:
                return problem
        if offset is None:
            return None


def write_specs(path: Path, specs: dict[str, VectorSpec]) -> None:
    """Write a collection's named vectors to `path` (a `SPECS` file), atomically (a temp file, then replace)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({n: dataclasses.asdict(s) for n, s in specs.items()}, indent=1))
    os.replace(tmp, path)


def swap_in(staged: Path, folder: Path, reopen: Callable[[], Any]) -> Any:
    """Put the collection folder `staged` in the place of `folder` (the collection it replaces, if any, closed):
    `folder` is renamed aside, `staged` renamed in, opened with `reopen`, and only then the old one removed.
    If opening fails the old folder is put back, so the collection is as it was.

    Returns:
        What `reopen` returned (the opened shard).
    """
    aside = folder.with_name(f".replaced-{folder.name}")
    shutil.rmtree(aside, ignore_errors=True)
    if folder.exists():
        folder.rename(aside)
    staged.rename(folder)
    try:
        shard = reopen()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if aside.exists():
            aside.rename(folder)
        raise
    shutil.rmtree(aside, ignore_errors=True)
    return shard


def _staged(folder: Path) -> Path:
    return folder.with_name(f".restoring-{folder.name}")


class Staging:
    """Snapshots unpacked, opened and counted (`unpack_shard`) in a folder of their own beside the collection
    folder they will replace (`.restoring-<name>`, with its `SPECS`), before a restore changes anything; each is
    swapped in later (`swap_in`). A snapshot that fails to stage discards every staged one (the restore that
    staged them stops); `put_back` removes any left when the store next opens."""

    def __init__(self) -> None:
        self._staged: dict[Path, Path] = {}  # collection folder -> the snapshot staged for it

    def stage(self, folder: Path, path: Path, vectors: dict[str, VectorSpec], points: int | None,
              check: PayloadCheck | None = None, room: Callable[[], None] = lambda: None) -> None:
        """Stage the snapshot at `path` for the collection folder `folder`, once `room()` found the disk can hold
        it; a failure (that check's included) discards every snapshot staged so far.

        Raises:
            BackupInvalid: not an edge shard snapshot this engine opens.
            BackupInvalid: it holds another number of points than `points` (None: any).
        """
        staged = _staged(folder)
        shutil.rmtree(staged, ignore_errors=True)
        try:
            room()
            staged.mkdir(parents=True)
            unpack_shard(path, staged, points, check)
            _same_vectors(path, staged / "shard", vectors)
            write_specs(staged / SPECS, vectors)
        except BaseException:
            for other in [folder, *self._staged]:
                shutil.rmtree(_staged(other), ignore_errors=True)
            self._staged.clear()
            raise
        self._staged[folder] = path

    def holds(self, folder: Path, path: Path) -> bool:
        """Whether the snapshot at `path` is staged for `folder`."""
        return self._staged.get(folder) == path

    def swap_in(self, folder: Path, opener: Callable[[str, Path], Any]) -> Any:
        """Swap the snapshot staged for `folder` in (`swap_in`); its shard opened by `opener(name, shard folder)`."""
        del self._staged[folder]
        return swap_in(_staged(folder), folder, lambda: opener(folder.name, folder / "shard"))


def _same_vectors(path: Path, shard: Path, vectors: dict[str, VectorSpec]) -> None:
    """The snapshot unpacked in `shard` holds the named vectors the manifest gives it (`vectors`: name, kind, dim),
    else it is another collection's (a break test restored the meta's snapshot as the documents', its point
    count matching, and every search then failed).

    Raises:
        BackupInvalid: naming both sets.
    """
    saved = json.loads((shard / "edge_config.json").read_text())
    held = {n: ("multi" if p.get("multivector_config") else "dense", p.get("size"))
            for n, p in (saved.get("vectors") or {}).items()}
    held |= {n: ("sparse", None) for n in saved.get("sparse_vectors") or {}}
    said = {n: (s.kind, None if s.kind == "sparse" else s.dim) for n, s in vectors.items()} or {"_": ("dense", 1)}
    if held != said:  # a payload-only collection (the meta) holds edge's placeholder `_`
        raise BackupInvalid(f"{path.name} holds the named vectors {sorted(held)}, not the manifest's {sorted(said)} "
                            "(kinds and sizes included): another collection's snapshot, or an edited manifest",
                            {"path": str(path), "field": "vectors"})


def put_back(collections: Path) -> None:
    """After a crash inside `swap_in`: a collection folder renamed aside whose replacement never arrived is
    renamed back; staged and replaced folders left over are removed (call when the store opens)."""
    for aside in collections.glob(".replaced-*"):
        folder = collections / aside.name.removeprefix(".replaced-")
        if folder.exists():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.rename(folder)
    for staged in collections.glob(".restoring-*"):
        shutil.rmtree(staged, ignore_errors=True)
