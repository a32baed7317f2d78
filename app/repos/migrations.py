"""Migration records in the store's meta: the applied migrations (with their overrides) and validation verdicts."""

from __future__ import annotations

from typing import Any

from app.domain.gates import Verdict
from app.errors import Conflict, InvalidInput
from app.store.base import Store
from app.versioning.declare import Migration


class MigrationRecords:
    """Reads and writes the migration records of one collection alias.

    Meta keys: `migrations:<alias>` holds `{"applied": {revision: record}}`, where a record is the
    declaration and what `apply` noted (`applied` time, `version`/`replaces` or `source`/`target`,
    `overrides`); `validation:<alias>:<target>` holds the latest verdict for a target.
    """

    def __init__(self, *, store: Store, alias: str) -> None:
        self.store = store
        self.alias = alias
        self.applied_key = f"migrations:{alias}"

    def applied(self) -> dict[str, dict[str, Any]]:
        """Applied migrations by revision.

        Returns:
            `{revision: record}`; empty when none is applied.
        """
        return dict((self.store.get_meta(self.applied_key) or {}).get("applied", {}))

    def record_applied(self, revision: str, record: dict[str, Any]) -> None:
        """Store (or replace) the record of one applied migration.

        Args:
            revision: the migration's revision, e.g. `0001`.
            record: the declaration (`migration`) and what apply noted.
        """
        applied = self.applied()
        applied[revision] = record
        self.store.put_meta(self.applied_key, {"applied": applied})

    def add_override(self, revision: str, entry: dict[str, Any]) -> None:
        """Append a forced step (`--force` past a gate) to the applied migration's `overrides`.

        Args:
            revision: the migration the step ran on; nothing is written when it is not applied.
            entry: what the gate recorded (step, time, blockers overridden, context).
        """
        applied = self.applied()
        if revision in applied:
            rec = applied[revision]
            self.record_applied(revision, {**rec, "overrides": [*rec.get("overrides", []), entry]})

    def verdict_key(self, target: str) -> str:
        """The meta key of the verdict for `target` (a version name, or a rebuild's collection)."""
        return f"validation:{self.alias}:{target}"

    def save_verdict(self, verdict: Verdict) -> None:
        """Store the verdict the promote gate of `verdict.target` reads."""
        self.store.put_meta(self.verdict_key(verdict.target), verdict.to_dict())

    def verdict(self, target: str) -> Verdict | None:
        """The latest verdict for `target`, or None when it was never validated."""
        data = self.store.get_meta(self.verdict_key(target))
        return Verdict.from_dict(data) if data else None

    def resolve(self, target: str | None) -> tuple[Migration, dict[str, Any]]:
        """An applied migration and its record.

        Args:
            target: a revision (`0001`), a label (`0001_title_...`) or the version the migration
                added; None for the latest applied one.

        Returns:
            The migration as declared, and its record.

        Raises:
            Conflict: no migration is applied yet.
            InvalidInput: no applied migration matches `target` (the applied ones are in the detail).
        """
        applied = self.applied()
        if not applied:
            raise Conflict("no migration is applied yet: run `apply` first")
        if target is None:
            revision = max(applied)
        else:
            matches = [r for r, rec in applied.items()
                       if target in (r, Migration.from_dict(rec["migration"]).label, rec.get("version"))]
            if not matches:
                raise InvalidInput(f"no applied migration matches {target!r}", {"applied": sorted(applied)})
            revision = matches[0]
        record = applied[revision]
        return Migration.from_dict(record["migration"]), record
