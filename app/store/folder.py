"""The embedded store's data folder: a lock so one process owns it, and the alias map edge lacks."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from app.errors import StoreLocked

UNKNOWN_URL = "URL"  # stands in a hint's command line when no service recorded its address


class FolderLock:
    """An exclusive `flock` on `<root>/.lock`, which names the holder for the next one to read: its pid
    (`pid N`) and, for the service, the URL it listens on (`url U`, written by `announce_url`)."""

    def __init__(self, root: Path) -> None:
        """Take the lock.

        Raises:
            StoreLocked: another process holds it (its pid is in the message).
        """
        self._file = (root / ".lock").open("a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            fields = dict(line.split(" ", 1) for line in self._file.read().splitlines() if " " in line)
            self._file.close()
            holder = f"pid {fields['pid']}" if "pid" in fields else "another process"
            url = fields.get("url")
            raise StoreLocked(
                f"data folder {root} is in use by {holder}" + (f" (the service at {url})" if url else "") +
                "; edge allows one process per folder. "
                "Stop that process, or run this command through the running service's admin API.",
                {"path": str(root), "service_url": url},
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()}\n")
        self._file.flush()

    @staticmethod
    def announce_url(root: Path, url: str) -> None:
        """Record, in the lock this process holds on `root`, the URL it serves on (`scripts/serve`), so a
        command refused the folder can name the service to go through."""
        with (root / ".lock").open("a") as f:
            f.write(f"url {url}\n")

    def release(self) -> None:
        """Let the next process take the folder."""
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()


def through_service(error: StoreLocked, configured: str | None, command: str) -> str:
    """`command` with `{url}` replaced by the URL of the service holding the folder: the one it recorded
    beside its lock, else `configured` (MULTIVEC_SERVICE_URL), else a placeholder and a line saying what
    to put there (never a guessed port).

    Args:
        error: the refusal `FolderLock` raised (its detail carries the recorded URL, if any).
        configured: the URL the settings name, or None.
        command: the command line to show, with `{url}` where the URL goes.
    """
    url = (error.detail or {}).get("service_url") or configured
    line = command.replace("{url}", url or UNKNOWN_URL)
    return line if url else f"{line}  ({UNKNOWN_URL}: the service's URL, e.g. http://127.0.0.1:PORT)"


class AliasFile:
    """`aliases.json` under `root`: alias -> collection. A write replaces the file (temp file, then
    `os.replace`) and the in-memory map in one reference swap, so a reader sees old or new."""

    def __init__(self, root: Path) -> None:
        self._path = root / "aliases.json"
        self.map: dict[str, str] = json.loads(self._path.read_text()) if self._path.exists() else {}

    def resolve(self, name: str) -> str:
        """The collection `name` points at when it is an alias; else `name` itself."""
        return self.map.get(name, name)

    def get(self, alias: str) -> str | None:
        """The collection `alias` points at, or None."""
        return self.map.get(alias)

    def set(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection` (the caller checks the collection exists)."""
        self._write({**self.map, alias: collection})

    def delete(self, alias: str) -> None:
        """Remove `alias`; nothing if absent."""
        self._write({a: c for a, c in self.map.items() if a != alias})

    def _write(self, aliases: dict[str, str]) -> None:
        tmp = self._path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(aliases, indent=1))
        os.replace(tmp, self._path)  # atomic on disk: the old map or the new one
        self.map = aliases
