"""Where backups live: a new backup's folder name, claiming a folder for one backup, the newest backup."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from pathlib import Path

from app.errors import BackupInvalid, Conflict
from app.services.backup_manifest import FORMAT, FORMAT_VERSION, MANIFEST, parse_manifest

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "claim", "default_name", "latest", "parse_manifest"]


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


def latest(root: Path, *, skipped: Callable[[Path, str], None] | None = None) -> Path | None:
    """The newest backup under `root` whose manifest reads, by the time it records (a copied folder's file
    times say nothing), or None. Manifests record the time to the microsecond; older ones to the second, so
    backups of one second tie and the one claimed last wins: `-10` after `-9` after the unnumbered first.

    Args:
        root: the backup root (`MULTIVEC_BACKUP_DIR`).
        skipped: called with each backup folder passed over and why (its manifest is corrupted, of another
            format version, or records no time that parses); never for the one chosen.
    """
    report = skipped or (lambda _folder, _why: None)

    def created(folder: Path) -> dt.datetime | None:
        try:
            when = dt.datetime.fromisoformat(str(parse_manifest(folder / MANIFEST)["created_at"]))
        except BackupInvalid as e:
            report(folder, e.message)
            return None
        except (ValueError, KeyError):
            report(folder, f"the manifest {folder / MANIFEST} records no creation time that parses")
            return None
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)

    def claimed(folder: Path) -> int:  # `claim` numbers a second backup of one second `-2`, then `-3`, ...
        number = re.search(r"-(\d+)$", folder.name)
        return int(number.group(1)) if number else 1

    dated = [(when, folder) for folder in sorted(p.parent for p in Path(root).glob(f"*/{MANIFEST}"))
             if (when := created(folder)) is not None]
    return max(dated, key=lambda d: (d[0], claimed(d[1]), d[1].name))[1] if dated else None
