"""Where a restore's journal record is kept so that it outlives the process: a file in the embedded store's data
folder, or a point in a collection of its own on a Qdrant server (app.repos.restore_journal reads and writes it)."""

from __future__ import annotations

import ctypes
import os
import stat
import uuid
from pathlib import Path
from typing import Protocol

from app.store.base import PointWrite, Store

JOURNAL_FILE = "restore-journal.json"  # in the embedded store's data folder, beside `collections/` and `.lock`
JOURNAL_COLLECTION = "_multivec_restore"  # on a server: never backed up, never named by a backup
_POINT = str(uuid.uuid5(uuid.NAMESPACE_URL, "multivec:restore-journal"))
MAX_RECORD_BYTES = 1 << 20  # a record is a few hundred bytes; a larger file is read no further (it is no record)


class JournalPlace(Protocol):
    """Bytes kept durably under one name: the journal's record, or nothing."""

    where: str  # what an operator is told to look at (a path, or `collection _multivec_restore`)
    shared: bool  # a server's: a running service may finish the restore (`scripts/restore --url`); a file's: no

    def read(self) -> bytes | None:
        """The record's bytes, or None when there is none.

        Raises:
            OSError: the record is there but cannot be read (the journal counts it as a record that does not read).
            StoreUnavailable: the server does not answer.
        """

    def write(self, data: bytes) -> None:
        """Replace the record with `data`, durably: it outlives a kill of this process (or a server's restart)."""

    def remove(self) -> None:
        """Flush what the store wrote, then remove the record (nothing when there is none)."""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(folder: Path) -> None:
    """Write back every dirty page of the filesystem holding `folder`: Linux's syncfs(2) through libc (the
    standard library has only os.sync, every filesystem's; used where libc lacks syncfs)."""
    syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


class FilePlace:
    """The record as a file (the embedded store: `<data folder>/restore-journal.json`): written to a temporary
    file, fsynced, renamed over the old one and the folder fsynced, so the file is the old record or the new
    one, after a kill or a power cut alike."""

    shared = False  # the service cannot start on the folder while it holds a record: restore with it stopped

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)

    def read(self) -> bytes | None:
        """See `JournalPlace.read`. Anything at the path is a record: one that is not a regular file (a link,
        even to nothing, a FIFO, a folder, a device) or is larger than any record is one that does not read,
        and is not opened (a FIFO there hung the service, a link to nothing passed for no record: a break test).

        Raises:
            OSError: the path holds something that is no record file, or it cannot be read.
        """
        try:
            found = os.lstat(self.path)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(found.st_mode):
            raise OSError(0, f"it is {_kind(found.st_mode)}, not a file")
        if found.st_size > MAX_RECORD_BYTES:
            raise OSError(0, f"it is {found.st_size:,} bytes, larger than any record")
        fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped since the lstat
                raise OSError(0, "it is not a file")
            return f.read(MAX_RECORD_BYTES + 1)

    def write(self, data: bytes) -> None:
        """See `JournalPlace.write`."""
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def remove(self) -> None:
        """See `JournalPlace.remove`: the data folder's filesystem is synced first (the swapped-in shard folders,
        `aliases.json`, an import's WAL), so the record never goes before what it guards is on disk."""
        sync_filesystem(self.path.parent)
        self.path.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)


def _kind(mode: int) -> str:
    """What a file mode says a path is, for a message."""
    kinds = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
    return next((name for test, name in kinds if test(mode)), "something else")


class CollectionPlace:
    """The record as the payload of one point in a payload-only collection of its own, `_multivec_restore` (a
    Qdrant server, or `:memory:`): every replica of the service sees it, and a restore never replaces it (a backup
    leaves it out, and a backup naming it is refused). Written with `wait`, so the server has it in its WAL."""

    shared = True  # every replica reads it; a running one may finish the restore

    def __init__(self, store: Store) -> None:
        self.store = store
        self.where = f"collection {JOURNAL_COLLECTION}"

    def read(self) -> bytes | None:
        """See `JournalPlace.read`; the collection without its point (a write cut between the two) is no record:
        nothing was replaced before the point was written."""
        if not self.store.collection_exists(JOURNAL_COLLECTION):
            return None
        points = self.store.retrieve(JOURNAL_COLLECTION, [_POINT])
        if not points:
            return None
        record = points[0].payload.get("record")
        return record.encode() if isinstance(record, str) else repr(record).encode()

    def write(self, data: bytes) -> None:
        """See `JournalPlace.write`."""
        self.store.create_collection(JOURNAL_COLLECTION, {})
        self.store.upsert(JOURNAL_COLLECTION, [PointWrite(id=_POINT, vectors={},
                                                           payload={"record": data.decode()})])

    def remove(self) -> None:
        """See `JournalPlace.remove` (the server's writes were acknowledged with `wait`: nothing to flush here)."""
        self.store.delete_collection(JOURNAL_COLLECTION)


def place_for(store: Store) -> JournalPlace:
    """Where `store` keeps a restore's record: a file in the embedded store's data folder (`store.root`, the
    adapter's own attribute: only that process may open the folder), else a collection on the server."""
    if store.kind == "edge":
        return FilePlace(Path(store.root) / JOURNAL_FILE)  # type: ignore[attr-defined]
    return CollectionPlace(store)
