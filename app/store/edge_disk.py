"""The embedded store's free-space guard: a write the disk may not hold is refused (503 `disk_full`) before
it reaches the engine.

The engine writes through memory-mapped files that it preallocates sparse (32 MB WAL segments and storage
chunks). When the disk fills, the next page written into such a file has nowhere to go and the kernel
kills the process with SIGBUS: every request in flight fails and the service is gone (measured on a 64 MB
tmpfs: the process died at 0-22 MB free). A Qdrant server answers the same with an error; this gives the
embedded store that answer, with room to spare: `min_free_mb` (settings `MULTIVEC_STORE__MIN_FREE_MB`,
default 256; 0 turns the guard off), plus what the write itself is estimated to add, plus the holes of
the store's sparse files (`sparse_bytes`). Those are filled as data grows, and on a tmpfs all at once when
a shard opens (the engine maps its storage populated): a 52 MB store on a 96 MB tmpfs took 72 MB more at
its next open and died there of SIGBUS, although its writes had left 43 MB free. On ext4 the same open
took nothing.
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


def vector_bytes(vectors: Iterable[VectorValue]) -> int:
    """Bytes of float32 values in `vectors` (a dense vector, a multivector's rows, a sparse vector's
    indices and values): an estimate of what writing them costs, not an exact figure."""
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


def _sizes(folder: Path) -> Iterator[os.stat_result]:
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                yield os.stat(os.path.join(root, name))
            except OSError:  # removed meanwhile
                continue


def folder_bytes(folder: Path) -> int:
    """Bytes `folder`'s files occupy on disk (allocated blocks: a sparse file's holes count nothing)."""
    return sum(st.st_blocks * 512 for st in _sizes(folder))


def sparse_bytes(folder: Path) -> int:
    """Bytes of holes in `folder`'s files (size beyond the allocated blocks): the engine's preallocated
    chunks and WAL segments, which take disk as they are written, or at a shard's open on a tmpfs."""
    return sum(max(0, st.st_size - st.st_blocks * 512) for st in _sizes(folder))


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
        self._holes: tuple[float, int] = (-math.inf, 0)  # when the store's holes were last counted, and how many bytes

    def check(self, what: str, need_bytes: int = 0, *, where: Path | None = None) -> None:
        """Raise before `what` (a write, an optimisation, a snapshot) when the disk under `where` (default:
        the data folder) has less than `min_free_mb` plus `need_bytes` free. One `statvfs`, a few µs.

        Raises:
            DiskFull: too little free space; `detail` gives `free_mb`, `needed_mb`, `min_free_mb` and `path`.
        """
        if not self.min_free:
            return
        path = where or self.root
        free = shutil.disk_usage(path).free
        holes = self._store_holes()
        needed = self.min_free + holes + max(0, need_bytes)
        if free >= needed:
            return
        raise DiskFull(
            f"the embedded store refused a {what}: {free / MB:.0f} MB free on the disk of {path}; it keeps "
            f"{self.min_free / MB:.0f} MB free (MULTIVEC_STORE__MIN_FREE_MB) beyond the {need_bytes / MB:.1f} MB "
            f"this needs and the {holes / MB:.0f} MB its preallocated files may still take; free some space "
            "(searches still work), then send it again",
            detail={"free_mb": round(free / MB, 1), "needed_mb": round(needed / MB, 1),
                    "min_free_mb": round(self.min_free / MB), "holes_mb": round(holes / MB, 1), "path": str(path)})

    def _store_holes(self) -> int:
        """`sparse_bytes` of the data folder, counted again at most every `holes_every_s` (a walk of its files)."""
        at, holes = self._holes
        now = time.monotonic()
        if now - at >= self.holes_every_s:
            holes = sparse_bytes(self.root)
            self._holes = (now, holes)
        return holes
