"""The restore journal: a durable record that a restore is replacing the store's collections, so that a store a
restore left half done (its process killed between the first collection and the aliases) is refused, not served."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.errors import Conflict, StoreUnavailable
from app.store.journal_places import JournalPlace

FORMAT = "multivec-restore-journal"
TTL_S = 1.0  # how long a read of the record is reused (another process's restore on a server is seen this late)
_FIELDS: dict[str, type] = {"backup": str, "manifest_sha256": str, "created_at": str, "collections": list,
                            "aliases": dict, "started": str, "pid": int, "host": str}


@dataclass(frozen=True)
class RestoreRecord:
    """A restore under way: the backup (its folder; its name under the service's backup folder when it lies
    there, for `scripts/restore --url`; its manifest's sha256 and time), the collections it replaces and the
    aliases it sets, and who began it (UTC time, pid, host)."""

    backup: str
    name: str | None
    manifest_sha256: str
    created_at: str
    collections: list[str]
    aliases: dict[str, str]
    started: str
    pid: int
    host: str

    @classmethod
    def of(cls, folder: Path, root: Path, manifest: dict[str, Any], sha256: str) -> RestoreRecord:
        """The record of a restore of the backup in `folder` (`root`: the backup folder of the service)."""
        folder = Path(folder).absolute()
        return cls(backup=str(folder), name=folder.name if folder.parent.resolve() == Path(root).resolve() else None,
                   manifest_sha256=sha256, created_at=str(manifest.get("created_at", "")),
                   collections=sorted(manifest["collections"]), aliases=dict(manifest["aliases"]),
                   started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), pid=os.getpid(),
                   host=socket.gethostname())

    def to_bytes(self) -> bytes:
        """The record as the journal stores it: JSON with `format`."""
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=1, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> RestoreRecord:
        """The record `to_bytes` stored.

        Raises:
            ValueError: it does not read (not JSON, not a record, a field missing or of another type), naming why.
        """
        try:
            value = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise ValueError(f"it is not JSON ({' '.join(str(e).split())[:120]})") from None
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise ValueError(f"it is not a {FORMAT} record")
        for key, kind in _FIELDS.items():
            if not isinstance(value.get(key), kind) or isinstance(value.get(key), bool):
                raise ValueError(f"its {key!r} is missing or not a {kind.__name__}")
        if not isinstance(value.get("name"), str | None):
            raise ValueError("its 'name' is not a string")
        for key in ("backup", "name", "manifest_sha256", "created_at", "started", "host"):  # shown in one line
            if any(not c.isprintable() for c in value.get(key) or ""):
                raise ValueError(f"its {key!r} holds a control character")
        if not 0 < value["pid"] < 1 << 32:
            raise ValueError("its 'pid' is no process id")
        return cls(name=value.get("name"), **{key: value[key] for key in _FIELDS})


@dataclass(frozen=True)
class Unfinished:
    """What the journal holds: the record of a restore that has not finished (`record`), or a record that does not
    read (`record` None, `problem` says why), which counts as unfinished too: it is never taken for a clean store."""

    where: str
    record: RestoreRecord | None
    problem: str = ""
    shared: bool = False  # a server's journal: any running service may finish the restore, not only its own

    def commands(self) -> list[str]:
        """The commands that finish it: the same restore again, with the service stopped, then through a running
        service; each pasteable as is (a folder or name with spaces is quoted)."""
        r = self.record
        if r is None:
            return ["scripts/restore --force FOLDER", "scripts/restore --url URL --force NAME"]
        return [f"scripts/restore --force {shlex.quote(r.backup)}",
                *([f"scripts/restore --url URL --force {shlex.quote(r.name)}"] if r.name else [])]

    def message(self) -> str:
        """One line: which restore did not finish, why the store is not served, and the commands that finish it."""
        local, *remote = self.commands()
        # an embedded store's service cannot start on a folder holding the record: only the one that ran the
        # restore (and answers 503 since) can finish it through its API (a break test: the start's refusal offered it)
        still = "" if self.shared else ", while the service that ran the restore still runs"
        how = f"{local} with the service stopped" + (f", or {remote[0]} through the running service{still} (URL: "
                                                      "its address)" if remote else "")
        r = self.record
        keep = f" (do not remove {self.where} by hand: the half-restored store would then be served as whole)"
        if r is None:
            return (f"a restore did not finish and its record does not read ({self.where}: {self.problem}): which "
                    "backup it restored is unknown and the store may hold part of it, so it is not served. Restore a "
                    f"good backup, replacing everything: {how}{keep}")
        return (f"a restore of backup {r.name or r.backup} did not finish (begun {r.started} by pid {r.pid} on "
                f"{r.host}; backup folder {r.backup}, taken {r.created_at}, manifest sha256 {r.manifest_sha256[:12]}; "
                f"recorded in {self.where}): the store may hold part of that backup beside what it held before, so "
                f"it is not served. Run the same restore again to finish it: {how}{keep}")

    def detail(self) -> dict[str, Any]:
        """The error body's `detail`: the record (or why it does not read), where it is, the commands."""
        return {"restore": asdict(self.record) if self.record else None, "journal": self.where,
                "problem": self.problem or None, "commands": self.commands()}


class RestoreJournal:
    """The record of a restore under way, kept in `place` (app.store.journal_places) from before the first
    collection is replaced until the aliases are set and the store flushed. A record there when no restore of
    this process runs is one that did not finish: the registry then refuses to load (`check`, 503 and a one-line
    refusal at start, as for a registry that does not read), a backup is refused, and a restore of another backup
    needs `force`."""

    def __init__(self, place: JournalPlace, *, ttl_s: float = TTL_S) -> None:
        self.place = place
        self.ttl_s = ttl_s
        self._own = False  # a restore of this process is under way: its record is not an interrupted one
        self._seen: tuple[float, Unfinished | None] | None = None  # (monotonic time, what was read)

    def read(self) -> Unfinished | None:
        """What the journal holds now (read from its place), or None when no restore is recorded.

        Raises:
            StoreUnavailable: a server's journal cannot be read (the server does not answer).
        """
        where, shared = self.place.where, self.place.shared
        try:
            data = self.place.read()
            found = None if data is None else Unfinished(where, RestoreRecord.from_bytes(data), shared=shared)
        except OSError as e:
            found = Unfinished(where, None, f"it cannot be read: {e.strerror or e}", shared=shared)
        except ValueError as e:
            found = Unfinished(where, None, str(e), shared=shared)
        self._seen = (time.monotonic(), found)
        return found

    def check(self, *, read: bool = True) -> bool:
        """Refuse to serve a store holding an unfinished restore (a read is reused for `ttl_s`).

        Args:
            read: False checks only against the last read, and returns False without checking when it is older
                than `ttl_s` (an event loop then calls again with `read` in a worker thread).

        Returns:
            True when checked.

        Raises:
            StoreUnavailable: the message names the restore and the command that finishes it (503).
        """
        if self._own:
            return True
        seen = self._seen
        if seen is not None and time.monotonic() - seen[0] < self.ttl_s:
            found = seen[1]
        elif not read:
            return False
        else:
            found = self.read()
        if found is not None and not self._own:
            raise StoreUnavailable(found.message(), found.detail())
        return True

    def refuse_backup(self) -> None:
        """A backup would hold part of an unfinished restore.

        Raises:
            Conflict: the store holds one (409), naming it and the command that finishes it.
        """
        found = self.read()
        if found is not None:
            raise Conflict(f"no backup of a store holding an unfinished restore (it would hold part of it): "
                           f"{found.message()}", found.detail())

    def admit(self, sha256: str, *, force: bool) -> bool:
        """Whether a restore of the backup whose manifest has `sha256` may begin.

        Returns:
            True when it finishes the unfinished restore of the same backup (the documents the store holds are
            that restore's part: no `force` needed); False when there is none to finish.

        Raises:
            Conflict: an unfinished restore of another backup, or one whose record does not read, and no `force`.
        """
        found = self.read()
        if found is not None and found.record is not None and found.record.manifest_sha256 == sha256:
            return True
        if found is not None and not force:
            raise Conflict(f"{found.message()}. To restore this other backup in its place, pass force "
                           "(scripts/restore --force)", found.detail())
        return False

    @contextmanager
    def restoring(self, record: RestoreRecord) -> Iterator[None]:
        """Record `record` durably, run the block (the collections replaced, the aliases set), then flush and remove
        the record. A block that raises leaves the record: the store is refused until a restore finishes.

        Raises:
            StoreUnavailable: the record cannot be written (nothing was replaced).
        """
        try:
            self.place.write(record.to_bytes())
        except OSError as e:
            raise StoreUnavailable(f"cannot write the restore journal ({self.place.where}: {e.strerror or e}): "
                                   "nothing was replaced") from e
        self._own, self._seen = True, (time.monotonic(), Unfinished(self.place.where, record, shared=self.place.shared))
        try:
            yield
            self.place.remove()
            self._seen = (time.monotonic(), None)
        finally:
            self._own = False
