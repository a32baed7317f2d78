"""Reports for operators: every version with its coverage, the applied migrations and their next step, the plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain.gates import Coverage
from app.versioning.declare import Migration
from app.versioning.steps import ChangeSteps, Context, StepResult, tagged_filter
from app.versioning.superseded import pending_state

StepsFor = Callable[[Migration], ChangeSteps]


def status(ctx: Context, steps_for: StepsFor) -> dict[str, Any]:
    """Where everything stands.

    Args:
        ctx: the collaborators.
        steps_for: the steps of a migration's kind of change (the migrator's dispatch table).

    Returns:
        `{alias, physical, points, revision, versions: [...], migrations: [...], rebuild}`: each
        version with its status, coverage, storage datatype (`float32` | `float16`, None for sparse) and
        `rollout` (the percent of searches it serves in a rollout), each applied migration with its state,
        next step and overrides, the rebuild marker
        (with `live`, where the alias points) or None.
    """
    reg = ctx.registry.get()
    physical = ctx.registry.physical()
    total = ctx.store.count(physical)
    specs = ctx.store.vector_specs(physical)
    datatypes = ctx.store.vector_datatypes(physical)
    versions = []
    for space in reg.spaces.values():
        for v in sorted(space.versions.values(), key=lambda v: v.version):
            covered = ctx.store.count(physical, tagged_filter(v.name)) if v.name in specs else None
            versions.append({
                "space": space.name, "version": v.name, "status": v.status, "model": v.model, "dim": v.dim,
                "distance": specs[v.name].distance if v.name in specs else v.distance,
                "datatype": datatypes.get(v.name),  # as the live collection stores it; None: sparse or not there
                "live": space.live == v.name, "previous": space.previous == v.name,
                "rollout": space.rollout.percent if space.rollout and space.rollout.version == v.name else None,
                "covered": covered, "total": total,
                "percent": None if covered is None else Coverage(covered, total).percent,
                "status_changed": v.status_changed,
            })
    migrations = []
    for revision, record in sorted(ctx.records.applied().items()):
        m = Migration.from_dict(record["migration"])
        state, nxt = steps_for(m).progress(m, record, reg)
        migrations.append({"revision": revision, "label": m.label, "description": m.change.describe(),
                           "change": m.to_dict()["change"], "applied": record.get("applied"), "state": state,
                           "next": nxt, "overrides": list(record.get("overrides", []))})
    rebuild = ctx.registry.rebuild()
    if rebuild:
        rebuild = {**rebuild, "live": physical}
    return {"alias": ctx.alias, "physical": physical, "points": total, "revision": reg.revision,
            "versions": versions, "migrations": migrations, "rebuild": rebuild}


def same_change(m: Migration, record: dict[str, Any]) -> bool:
    """Whether `record` is of migration `m`'s change, its fields read as `m`'s are (a record written before a
    field existed, such as a rebuild's `datatype`, takes its default: an unchanged file was shown refused)."""
    return Migration.from_dict(record.get("migration", {})).to_dict()["change"] == m.to_dict()["change"]


def plan(ctx: Context, steps_for: StepsFor, migrations: list[Migration],
         dry_apply: Callable[[list[Migration]], list[StepResult]]) -> StepResult:
    """Each migration file: applied (with its state and next step) or pending; a dry run of `apply`
    (every pending migration, in order, each seeing what the ones before it would do).

    Args:
        ctx: the collaborators.
        steps_for: the steps of a migration's kind of change.
        migrations: every migration file, in order.
        dry_apply: runs `apply` of a chain as a dry run (a refusal ends it with a `refused:` note).

    Returns:
        A dry-run result; `data["migrations"]` has one row per file: label, state, next, description;
        the actions are each pending migration's, prefixed with its label.
    """
    result = StepResult(step="plan", dry_run=True)
    applied = ctx.records.applied()
    reg = ctx.registry.get()
    rows = []
    clashes = {m.revision: Migration.from_dict(applied[m.revision]["migration"]).label for m in migrations
               if m.revision in applied and not same_change(m, applied[m.revision])}  # apply refuses the file
    for m in migrations:
        if m.revision in clashes:
            state, nxt = f"refused: revision {m.revision} is applied as {clashes[m.revision]}", "renumber this file"
        elif m.revision in applied:
            state, nxt = steps_for(m).progress(m, applied[m.revision], reg)
        else:
            state, nxt = pending_state(ctx, m, reg)
        rows.append({"label": m.label, "state": state, "next": nxt, "description": m.change.describe()})
    result.data["migrations"] = rows
    pending = [m for m in migrations if m.revision not in applied or m.revision in clashes]
    if pending:
        result.notes.append(f"next: apply {', '.join(m.label for m in pending)}")
        for dry in dry_apply(pending):
            result.actions += [f"{dry.target}: {a}" for a in dry.actions]
            result.notes += [f"{dry.target}: {n}" for n in dry.notes if n.startswith("refused:")]
            for row in rows if dry.data.get("refused") else []:  # the row says what the note says (it said
                if row["label"] == dry.target and not row["state"].startswith("refused"):  # `superseded`)
                    row["state"], row["next"] = "refused (see the note)", "fix or renumber this file"
    return result
