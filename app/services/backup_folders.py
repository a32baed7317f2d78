"""Where backups live: a new backup's folder name, claiming a folder for one backup, the newest backup."""

from __future__ import annotations

import datetime as dt
import itertools
import json
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
    say nothing), or None. A manifest that cannot be read sorts oldest."""
    def created(folder: Path) -> str:
        try:
            return str(json.loads((folder / MANIFEST).read_text()).get("created_at", ""))
        except (OSError, ValueError, AttributeError):
            return ""

    found = sorted((p.parent for p in Path(root).glob(f"*/{MANIFEST}")), key=lambda p: (created(p), p.name))
    return found[-1] if found else None
