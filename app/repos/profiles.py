"""Ranking profiles (fusion settings and query router) and thresholds, kept in the store's meta beside the
registry (and a profile file)."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.domain.profiles import RankingProfile, VersionThreshold
from app.domain.router import QueryRouter
from app.store.base import Store

log = logging.getLogger("multivec.profiles")


class ProfileRepo:
    """Reads and writes the ranking profile and the version thresholds of one collection alias.

    The profile comes from `profile_path` when that is set (so a running embedded service, which
    holds its data folder, can be given one), else from the store meta `profile:<alias>`.
    Thresholds live in the meta `thresholds:<alias>`, keyed by vector version name.

    The profile record may hold a query router (`router`), read and written on its own: saving a profile
    keeps the stored router, saving a router keeps the stored fusion settings.

    Every search reads both, so reads are cached for `cache_s` seconds (a write through this repo
    clears the cache; another replica's write is seen within `cache_s`).
    """

    def __init__(self, *, store: Store, alias: str, profile_path: Path | None = None, cache_s: float = 5.0) -> None:
        self.store = store
        self.alias = alias
        self.profile_key = f"profile:{alias}"
        self.thresholds_key = f"thresholds:{alias}"
        self.profile_path = profile_path
        self.cache_s = cache_s
        self._file_cache: tuple[float, dict[str, Any] | None] | None = None
        self._router_cache: tuple[dict[str, Any] | None, QueryRouter | None] | None = None  # parsed once per read
        self._meta_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def _meta(self, key: str) -> dict[str, Any] | None:
        now = time.monotonic()
        hit = self._meta_cache.get(key)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        value = self.store.get_meta(key)
        self._meta_cache[key] = (now, value)
        return value

    def _write(self, key: str, value: dict[str, Any]) -> None:
        self.store.put_meta(key, value)
        self._meta_cache.pop(key, None)

    def _record(self) -> dict[str, Any] | None:
        """The stored profile record (from `profile_path` when set, else the meta), or None."""
        if self.profile_path is not None:
            return self._record_from_file(self.profile_path)
        return self._meta(self.profile_key)

    def profile(self) -> RankingProfile | None:
        """The ranking profile (from `profile_path` when set, else the meta), or None when there is none
        (or the record holds only a router)."""
        data = self._record()
        return RankingProfile.from_dict(data) if data and "fusion" in data else None

    def router(self) -> QueryRouter | None:
        """The query router stored in the profile record, or None.

        Raises: ValueError (or KeyError) when the stored router does not parse.
        """
        data = self._record()
        with self._lock:
            if self._router_cache is None or self._router_cache[0] is not data:
                raw = (data or {}).get("router")
                self._router_cache = (data, QueryRouter.from_dict(raw) if raw else None)
            return self._router_cache[1]

    def _record_from_file(self, path: Path) -> dict[str, Any] | None:
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        with self._lock:  # re-read only when the file changed
            if self._file_cache is None or self._file_cache[0] != mtime:
                try:
                    data = json.loads(path.read_text())
                    if not isinstance(data, dict):
                        raise ValueError("a ranking profile is a JSON object")
                    if "fusion" in data:
                        RankingProfile.from_dict(data)  # TypeError: a field missing; ValueError: one unusable
                except (OSError, ValueError, TypeError, RecursionError) as e:  # half-written, broken or nested too
                    # deeply to decode: keep serving the last good one
                    log.error("ranking profile %s does not read (%s); keeping the one read before", path, e)
                    data = self._file_cache[1] if self._file_cache else None
                self._file_cache = (mtime, data)
            return self._file_cache[1]

    def _save_record(self, changes: dict[str, Any], name: str) -> int:
        """Write the stored record with `changes` as its next version; returns that version."""
        current = self.store.get_meta(self.profile_key) or {"name": name}
        version = int(current.get("version", 0)) + 1
        self._write(self.profile_key, {**current, **changes, "version": version})
        return version

    def save_profile(self, profile: RankingProfile) -> RankingProfile:
        """Store `profile` in the meta as the next version of the stored one (keeping a stored router);
        returns what was stored."""
        current = self.store.get_meta(self.profile_key)
        version = int(current.get("version", 0)) + 1 if current else max(profile.version, 1)
        stored = RankingProfile.from_dict({**profile.to_dict(), "version": version})
        self._write(self.profile_key, {**stored.to_dict(), **({"router": current["router"]}
                                                             if current and current.get("router") else {})})
        return stored

    def save_router(self, router: QueryRouter) -> int:
        """Store `router` in the profile record (its fusion settings kept); returns the record's new version."""
        return self._save_record({"router": router.to_dict()}, router.name)

    def thresholds(self) -> dict[str, VersionThreshold]:
        """The calibrated similarity threshold of each vector version that has one, by version name."""
        data = self._meta(self.thresholds_key) or {}
        return {name: VersionThreshold.from_dict(t) for name, t in data.get("versions", {}).items()}

    def save_thresholds(self, thresholds: dict[str, VersionThreshold]) -> None:
        """Add or replace the thresholds of the given versions; others are kept."""
        data: dict[str, Any] = self.store.get_meta(self.thresholds_key) or {"versions": {}}
        data["versions"] = {**data.get("versions", {}), **{n: asdict(t) for n, t in thresholds.items()}}
        self._write(self.thresholds_key, data)
