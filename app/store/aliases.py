"""Aliases for the embedded store, which has none: a JSON map in the data folder, replaced atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path


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
