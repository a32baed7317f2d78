"""The embedded store's free-space guard: a write the disk may not hold is refused (503 `disk_full`) before
it reaches the engine.

The engine writes through memory-mapped files that it preallocates sparse (32 MB WAL segments and storage
chunks). When the disk fills, the next page written into such a file has nowhere to go and the kernel
kills the process with SIGBUS: every request in flight fails and the service is gone (measured on a 64 MB
tmpfs: the process died at 0-22 MB free). A Qdrant server answers the same with an error; this gives the
embedded store that answer, with room to spare: `min_free_mb` (settings `MULTIVEC_STORE__MIN_FREE_MB`,
default 256; 0 turns the guard off) plus what the write itself is estimated to add.

On a RAM file system (tmpfs) the holes of the store's vector chunk files (`sparse_bytes`) count too: there a
shard's next open fills them (the engine maps its in-RAM vector storages populated): 8 chunks of 32 MB,
256 MB, for a new store on the default settings. A 52 MB store on a 96 MB tmpfs took 72 MB more at its
next open and died there of SIGBUS, although its writes had left 43 MB free; on ext4 the same open took
nothing, so there they are not counted. On a RAM disk a shard is not opened without room for its holes
either (`check_open`): a 503 rather than a crash. Registry writes and deletes keep a WAL segment free,
and a backup on the store's own disk keeps the store's minimum.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from app.encoders.vectors import SparseVec
from app.errors import DiskFull
from app.store.types import VectorValue

MB = 2**20
# What a write adds on disk per byte of its vectors (the WAL's copy and the segment's, the payload's texts,
# the indexes' share), with room to spare: measured 2.40 for 300 CISI and 2.46 for 300 SciFact documents
# ingested on the default settings (allocated blocks after a flush, against `vector_bytes` of what was stored).
WRITE_OVERHEAD = 4
HOLES_EVERY_S = 1.0  # how stale the count of the store's holes may be (a new 32 MB chunk falls inside min_free)
WAL_SEGMENT = 32 * MB  # the engine's WAL segment and storage chunk: what one more write may take at once
RAM_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs"})


def vector_bytes(vectors: Iterable[VectorValue]) -> int:
    """Bytes of the values in `vectors` as a write carries them (a dense vector, a multivector's rows: 4 bytes a
    dimension; a sparse vector's indices and values: 8 bytes a pair): an estimate of what writing them costs,
    not an exact figure. Float16 storage takes half in the segments, but the write-ahead log holds the write's
    float32 values first: measured, a float16 write took up to 4.0x its float16 bytes on disk, so a write is
    counted at float32 width (`WRITE_OVERHEAD` x these bytes) whatever the datatype."""
    total = 0
    for v in vectors:
        if isinstance(v, SparseVec):
            total += 8 * len(v.indices)
        elif isinstance(v, np.ndarray):
            total += 4 * v.size
        elif len(v) and not isinstance(v[0], float | int):  # a multivector's rows
            total += 4 * sum(len(row) for row in v)
        else:
            total += 4 * len(v)
    return total


def _files(folder: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(path, stat) of every file under `folder`; a file removed meanwhile is skipped."""
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            try:
                yield path, os.stat(path)
            except OSError:
                continue


def folder_bytes(folder: Path) -> int:
    """Bytes `folder`'s files occupy on disk (allocated blocks: a sparse file's holes count nothing)."""
    return sum(st.st_blocks * 512 for _, st in _files(folder))


def sparse_bytes(folder: Path) -> int:
    """Bytes of the holes a shard's open fills on a RAM disk: those of the dense and multivector storages'
    chunk files (`vector_storage-*/**/chunk_*.mmap`, mapped populated). The WAL segments, payload pages and
    sparse vectors' pages stay holes (measured on qdrant-edge 0.9: a shard opened before fills nothing more)."""
    return sum(max(0, st.st_size - st.st_blocks * 512) for path, st in _files(folder)
               if path.endswith(".mmap") and f"{os.sep}vector_storage-" in path)


def fills_holes_at_open(path: Path) -> bool:
    """True when `path` is on a RAM file system (tmpfs, ramfs: Linux's /proc/self/mounts), where the engine's
    populated maps fill a shard's holes when it opens; elsewhere (ext4 measured) they fill only as data grows."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return False
    real = str(Path(path).resolve())
    best = max((m for m in mounts if real == m[0] or real.startswith(m[0].rstrip("/") + "/")),
               key=lambda m: len(m[0]), default=None)
    return best is not None and best[1] in RAM_FILE_SYSTEMS


def _same_disk(a: Path, b: Path) -> bool:
    """Whether `a` and `b` (or their nearest existing parents) are on one file system."""
    def device(p: Path) -> int:
        p = Path(p).resolve()
        while not p.exists():
            p = p.parent
        return os.stat(p).st_dev
    return device(a) == device(b)


class DiskGuard:
    """Refuses work that could fill the disk under `root`: free space must stay above `min_free_mb`.

    Args:
        root: the data folder (its disk is the one checked).
        min_free_mb: MB that must stay free after the work; 0 turns the guard off.
    """

    def __init__(self, root: Path, min_free_mb: int, *, holes_every_s: float = HOLES_EVERY_S) -> None:
        self.root = Path(root)
        self.min_free = max(0, int(min_free_mb)) * MB
        self.holes_every_s = holes_every_s
        self.ram = bool(self.min_free) and fills_holes_at_open(self.root)  # count the store's holes too
        self._holes: tuple[float, int] = (-math.inf, 0)  # when the store's holes were last counted, and how many bytes

    def check(self, what: str, need_bytes: int = 0, *, keep_bytes: int | None = None) -> None:
        """Raise before `what` ("a write", "an optimisation", ...) when the data folder's disk has less free than
        `min_free_mb` plus `need_bytes`, plus on a RAM file system the store's holes (all of them fill at the
        next open) and at least a WAL segment whatever `min_free_mb` (the next open needs one); with
        `keep_bytes` (a delete), less than `keep_bytes` plus `need_bytes`. One `statvfs`, and a walk of the
        folder at most every `holes_every_s`.

        Raises:
            DiskFull: too little free space; `detail` gives `free_mb`, `needed_mb`, `min_free_mb`, `holes_mb`
                and `path`.
        """
        if self.min_free:
            if keep_bytes is not None:  # a delete: it frees room later and adds little now, whatever the holes
                self._refuse_below(what, self.root, keep_bytes + max(0, need_bytes), keep_bytes)
                return
            holes = self._store_holes()
            # on a RAM file system at least a WAL segment stays free beyond the holes: what the next open needs
            # (`check_open`), so a store filled to a smaller minimum still opens after a restart
            keep = max(self.min_free, WAL_SEGMENT) if self.ram else self.min_free
            why = (f"MULTIVEC_STORE__MIN_FREE_MB keeps {self.min_free / MB:.0f} MB free, and a RAM disk at least a WAL "
                   f"segment, {WAL_SEGMENT / MB:.0f} MB, for the next open") if keep > self.min_free else None
            self._refuse_below(what, self.root, keep + holes + max(0, need_bytes), keep, holes, why)

    def check_open(self, name: str, shard: Path) -> None:
        """Raise before opening collection `name`'s shard folder when that would fill the disk: on a RAM file
        system the open fills the shard's holes (a full one killed the process with SIGBUS); elsewhere it
        writes nothing of note, and this checks nothing.

        Raises:
            DiskFull: fewer bytes free than the shard's holes plus a WAL segment.
        """
        if self.ram and shard.exists():
            holes = sparse_bytes(shard)
            self._refuse_below(f"to open collection {name!r}", self.root, holes + WAL_SEGMENT, WAL_SEGMENT, holes)

    def check_target(self, what: str, target: Path, need_bytes: int) -> None:
        """Raise before writing `need_bytes` into `target` (a snapshot's folder, maybe on another disk):
        the data folder's holes and minimum are not that disk's business; a plain file write past a full
        disk is an error (ENOSPC), not a crash, but it is refused before it starts.

        Raises:
            DiskFull: `target`'s disk has fewer than `need_bytes` free (on the store's own disk: what `check`
                asks besides).
        """
        if not self.min_free:
            return
        if _same_disk(target, self.root):  # a backup inside the store's disk: the store's minimum holds too
            self.check(what, need_bytes)
        else:
            self._refuse_below(what, target, need_bytes, 0)

    def _refuse_below(self, what: str, path: Path, needed: int, keep: int, holes: int = 0,
                      why: str | None = None) -> None:
        free = shutil.disk_usage(path).free
        if free >= needed:
            return
        kept = why or (f"MULTIVEC_STORE__MIN_FREE_MB keeps {keep / MB:.0f} MB free" if keep == self.min_free else
                       f"a WAL segment, {keep / MB:.0f} MB, is kept free" if keep else "the size it writes")
        raise DiskFull(
            f"the embedded store refused {what}: {free / MB:.0f} MB free on the disk of {path}, "
            f"{needed / MB:.0f} MB needed ({kept}"
            + (f"; on this RAM disk the store's vector files take {holes / MB:.0f} MB more when a shard opens"
               if holes else "") + "); free some space on that disk, then try again (nothing was lost)",
            detail={"free_mb": round(free / MB, 1), "needed_mb": round(needed / MB, 1),
                    "min_free_mb": round(self.min_free / MB), "holes_mb": round(holes / MB, 1), "path": str(path)})

    def _store_holes(self) -> int:
        """On a RAM file system, `sparse_bytes` of the data folder, counted again at most every `holes_every_s`;
        elsewhere 0 (the holes fill as data grows, which `need_bytes` covers)."""
        if not self.ram:
            return 0
        at, holes = self._holes
        now = time.monotonic()
        if now - at >= self.holes_every_s:
            holes = sparse_bytes(self.root)
            self._holes = (now, holes)
        return holes
