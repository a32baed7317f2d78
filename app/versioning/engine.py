"""The migrator: one dispatch table from a kind of change to its steps, one lock, one entry per step.

Add a version in place (app.versioning.add_version): apply (named vector + shadow write) -> backfill
-> validate -> promote [-> rollback -> promote] -> retire (the version no longer live).
Rebuild (app.versioning.rebuild): apply (new collection + dual write) -> backfill (copy/re-embed)
-> validate -> promote (alias swap) [-> rollback] -> retire (old collection).

State lives in the store's meta, beside the data (app.repos): the registry (versions, live
pointers), the applied migrations, the latest validation verdict per target, and a rebuild marker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from app.domain.gates import Coverage
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import Conflict
from app.repos.migrations import MigrationRecords
from app.repos.registry import RegistryRepo
from app.services.search import SearchService
from app.settings import Settings
from app.store.base import Store
from app.versioning import status as reports
from app.versioning import verdicts
from app.versioning.add_version import AddVersionSteps
from app.versioning.declare import AddVersion, Migration, Rebuild
from app.versioning.dryrun import dry_context
from app.versioning.rebuild import RebuildSteps
from app.versioning.steps import (
    DEFAULT_BATCH,
    DEFAULT_GRACE_S,
    DEFAULT_MARGIN,
    ChangeSteps,
    Context,
    Progress,
    StepResult,
)
from app.versioning.superseded import recorded_only
from app.versioning.validate import QuerySet


def kinds_on(ctx: Context) -> dict[type, ChangeSteps]:
    """The one dispatch table: a kind of change -> its steps, acting on `ctx`."""
    return {AddVersion: AddVersionSteps(ctx), Rebuild: RebuildSteps(ctx)}


def _apply(ctx: Context, steps: ChangeSteps, m: Migration) -> StepResult:
    """Check what every kind shares (dependency applied, revision not reused), then `steps.apply`.

    Raises:
        Conflict: it depends on a migration not applied, its revision is applied with another change,
            or its kind's preconditions do not hold.
    """
    applied = ctx.records.applied()
    if m.depends_on and m.depends_on not in applied:
        raise Conflict(f"{m.label} depends on {m.depends_on}, which is not applied: apply it first")
    record = applied.get(m.revision)
    if record is not None and not reports.same_change(m, record):
        raise Conflict(f"revision {m.revision} is already applied with another change "
                       f"({Migration.from_dict(record['migration']).change.describe()}): a migration's "
                       "revision names one change; give this one the next revision", {"revision": m.revision})
    return steps.apply(m, record, dry_run=False)


class Migrator:
    """Runs migration steps against one collection alias; one step at a time per process.

    Built once, in the composition root (`app.container`), with the collaborators of the service.
    """

    def __init__(self, *, store: Store, encoders: EncoderPool, registry: RegistryRepo, settings: Settings,
                 search: SearchService, records: MigrationRecords | None = None) -> None:
        self.ctx = Context(store=store, encoders=encoders, registry=registry, settings=settings,
                           records=records or MigrationRecords(store=store, alias=registry.alias))
        self.search = search
        # the one dispatch table: a kind of change -> its steps
        self.kinds = kinds_on(self.ctx)
        self.lock = threading.RLock()

    # the collaborators, read by operators' tools and tests
    @property
    def store(self) -> Store:
        """The store the steps act on."""
        return self.ctx.store

    @property
    def registry(self) -> RegistryRepo:
        """The registry repository of the alias."""
        return self.ctx.registry

    @property
    def records(self) -> MigrationRecords:
        """The migration records (applied migrations, overrides, verdicts)."""
        return self.ctx.records

    @property
    def alias(self) -> str:
        """The collection alias migrated."""
        return self.ctx.alias

    def steps_for(self, m: Migration) -> ChangeSteps:
        """The steps of `m`'s kind of change."""
        return self.kinds[type(m.change)]

    def applied(self) -> dict[str, dict[str, Any]]:
        """Applied migrations by revision: the declaration and what apply recorded."""
        return self.records.applied()

    def coverage(self, version: str, collection: str | None = None) -> Coverage:
        """How many points of `collection` (default: the alias's) have `version`."""
        return self.ctx.coverage(version, collection)

    def _resolved(self, target: str | None, run: Callable[[ChangeSteps, Migration, dict[str, Any]], StepResult]
                  ) -> StepResult:
        with self.lock:
            m, record = self.records.resolve(target)
            return run(self.steps_for(m), m, record)

    def status(self) -> dict[str, Any]:
        """Every version with its coverage, the applied migrations with their next step, any rebuild."""
        return reports.status(self.ctx, self.steps_for)

    def plan(self, migrations: list[Migration]) -> StepResult:
        """Each migration file: applied (and its next step) or pending; a dry run of `apply` of the pending."""
        return reports.plan(self.ctx, self.steps_for, migrations, lambda ms: self.apply_all(ms, dry_run=True))

    def apply(self, m: Migration, *, dry_run: bool = False) -> StepResult:
        """Start migration `m` (see `ChangeSteps.apply`); a dry run lists what the real run would do.

        Raises:
            Conflict: it depends on a migration not applied, or its kind's preconditions do not hold.
        """
        [result] = self.apply_all([m], dry_run=dry_run)
        if result.data.get("refused"):
            raise Conflict(result.data["refused"], result.data["detail"])
        return result

    def apply_all(self, migrations: list[Migration], *, dry_run: bool = False) -> list[StepResult]:
        """Apply `migrations` in order (each may depend on the one before).

        A dry run is the real run on a copy-on-write view of the store (`app.versioning.dryrun`): each
        migration sees what the ones before it would have written, so the results list every change the
        real run makes, and nothing is written. A migration the real run would refuse ends a dry run
        with a result saying why; the results before it stand.

        Returns:
            One result per migration applied (or, in a dry run, previewed).

        Raises:
            Conflict: (real run) a migration's preconditions do not hold; the ones before it are applied.
        """
        with self.lock:
            ctx = dry_context(self.ctx) if dry_run else self.ctx
            kinds = kinds_on(ctx) if dry_run else self.kinds
            results: list[StepResult] = []
            for m in migrations:
                try:
                    results.append(_apply(ctx, kinds[type(m.change)], m))
                except Conflict as e:
                    if not dry_run:
                        raise
                    results.append(StepResult(step="apply", target=m.label, notes=[f"refused: {e.message}"],
                                              data={"refused": e.message, "detail": e.detail}))
                    break
            for r in results if dry_run else []:
                r.dry_run = True
            return results

    def backfill(self, target: str | None = None, *, batch: int = DEFAULT_BATCH, max_points: int | None = None,
                 start: str | None = None, dry_run: bool = False, on_progress: Progress | None = None) -> StepResult:
        """Bring the points already there to the new version or collection, resumably (`ChangeSteps.backfill`)."""
        return self._resolved(target, lambda s, m, r: s.backfill(
            m, r, batch=batch, max_points=max_points, start=start, dry_run=dry_run, on_progress=on_progress))

    def validate(self, target: str | None, query_set: QuerySet, *, k: int = 10, dry_run: bool = False,
                 force: bool = False, on_query: Callable[[int], None] | None = None) -> StepResult:
        """Run live and candidate side by side through the search service; store the verdict the promote gate
        reads (`verdicts.validate`). Not under the lock: it reads, and runs long."""
        m, record = self.records.resolve(target)
        arms = self.steps_for(m).arms(m, record, force=force)
        return verdicts.validate(m, arms, query_set, search=self.search, records=self.records, k=k,
                                 dry_run=dry_run, on_query=on_query)

    def promote(self, target: str | None = None, *, margin: float = DEFAULT_MARGIN, force: bool = False,
                dry_run: bool = False, percent: int | None = None) -> StepResult:
        """Make the new version (or collection) live, past the promote gate (`ChangeSteps.promote`); with
        `percent`, only that share of live searches (a gradual rollout, `AddVersionSteps.rollout`).

        Raises:
            Conflict: the gate refuses, or `percent` is given for a rebuild (it swaps whole collections).
        """
        if percent is None:
            return self._resolved(target, lambda s, m, r: s.promote(m, r, margin=margin, force=force,
                                                                     dry_run=dry_run))

        def rollout(steps: ChangeSteps, m: Migration, record: dict[str, Any]) -> StepResult:
            if not isinstance(steps, AddVersionSteps):
                raise Conflict(f"{m.label} is a rebuild: a rollout sends a share of searches to a new version of a "
                               "space, a rebuild swaps the whole collection; promote it without --percent")
            return steps.rollout(m, record, percent=percent, margin=margin, force=force, dry_run=dry_run)

        return self._resolved(target, rollout)

    def rollback(self, target: str | None = None, *, dry_run: bool = False) -> StepResult:
        """Make the previous version (or collection) live again (`ChangeSteps.rollback`). Without `target`, the
        latest applied migration; when that one only recorded a version (a shipped migration on a new install,
        whose rollback is refused), the migration whose version went live or into a rollout last (a bare rollback
        after promoting 0008 on a new install picked 0011: a break test)."""
        return self._resolved(target or self._last_changed(live=True),
                              lambda s, m, r: s.rollback(m, r, dry_run=dry_run))

    def _last_changed(self, *, live: bool) -> str | None:
        """None (the latest applied) unless that only recorded a version: then the revision of the version
        migration whose version changed status last (`live`: among those live or in a rollout), if any."""
        applied = self.records.applied()
        if not applied or not recorded_only(applied[max(applied)]):
            return None
        reg, found = self.registry.get(), []
        for revision, record in applied.items():
            name = str(record.get("version"))
            space = next((sp for sp in reg.spaces.values() if name in sp.versions), None)
            if space is None or recorded_only(record):
                continue
            if not live or space.live == name or (space.rollout and space.rollout.version == name):
                found.append((space.versions[name].status_changed, revision))
        return max(found)[1] if found else None

    def retire(self, target: str | None = None, *, grace_s: float = DEFAULT_GRACE_S, force: bool = False,
               dry_run: bool = False, on_progress: Progress | None = None) -> StepResult:
        """Delete what is no longer live, after the grace period (`ChangeSteps.retire`); `on_progress` is
        called with (points untagged, points to untag) as a retired version's tags come off. Without `target`,
        as `rollback`: the latest applied, or past one that only recorded a version, the migration whose version
        changed status last (a bare retire after rolling back 0008 said keywords v4 "made a new space")."""
        return self._resolved(target or self._last_changed(live=False), lambda s, m, r: s.retire(
            m, r, grace_s=grace_s, force=force, dry_run=dry_run, on_progress=on_progress))
