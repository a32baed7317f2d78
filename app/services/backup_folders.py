"""Where backups live: a new backup's folder name, claiming a folder for one backup, the newest backup."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from pathlib import Path

from app.errors import Conflict

MANIFEST = "manifest.json"


def default_name() -> str:
    """A new backup's folder name: `multivec-<UTC time to the second>`, so they sort by time."""
    return "multivec-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def claim(folder: Path | None, root: Path) -> Path:
    """Claim a folder for one backup by creating its `collections/` (atomic: of two backups into one folder,
    one claims it).

    Args:
        folder: the folder named by the caller (it must not exist or be empty); None: a new one under `root`,
            `default_name()`, or `<default_name()>-2`, `-3`, ... when another backup holds that name (two
            backups in the same second), so a name the service chose never collides.
        root: the backup root, for a new folder.

    Returns:
        The claimed folder.

    Raises:
        Conflict: `folder` holds files already (a backup is never written over another).
    """
    base = default_name()
    for n in itertools.count(1):
        path = Path(folder) if folder is not None else Path(root) / (base if n == 1 else f"{base}-{n}")
        try:
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise FileExistsError(path)
            (path / "collections").mkdir(parents=True)
            return path
        except FileExistsError:
            if folder is not None:
                raise Conflict(f"backup folder {path} is not empty: name a new one", {"path": str(path)}) from None
    raise AssertionError("unreachable")  # itertools.count never ends


def latest(root: Path) -> Path | None:
    """The newest backup under `root` by the time its manifest records (a copied folder's file times
    say nothing), or None. Manifests record the time to the microsecond; older ones to the second, so
    backups of one second tie and the one claimed last wins: `-10` after `-9` after the unnumbered first.
    A manifest that cannot be read, or whose time does not parse, sorts oldest."""
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)

    def created(folder: Path) -> dt.datetime:
        try:
            when = dt.datetime.fromisoformat(str(json.loads((folder / MANIFEST).read_text())["created_at"]))
        except (OSError, ValueError, TypeError, KeyError):
            return oldest
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)

    def claimed(folder: Path) -> int:  # `claim` numbers a second backup of one second `-2`, then `-3`, ...
        number = re.search(r"-(\d+)$", folder.name)
        return int(number.group(1)) if number else 1

    found = sorted((p.parent for p in Path(root).glob(f"*/{MANIFEST}")),
                   key=lambda p: (created(p), claimed(p), p.name))
    return found[-1] if found else None
