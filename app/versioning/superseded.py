"""Versions an install holds for nothing: a shipped migration it started past (recorded as superseded, with
nothing to add or backfill), and versions ingest still writes though nothing will serve them (`left_written`)."""

from __future__ import annotations

from typing import Any

from app.domain.versions import Registry, SpaceState, VectorVersion
from app.repos.registry import now
from app.versioning.declare import AddVersion, Migration
from app.versioning.steps import Context, StepResult, run_actions


def started_past(ctx: Context, live: VectorVersion, number: int, space: SpaceState | None = None) -> bool:
    """The install began with `live`, numbered above `number`, and no applied migration made it or any other
    version of the space (`space`) numbered at or above `number` (the spaces of a new install may already be
    at the versions later shipped migrations make; a migration numbered below a version another one made is
    refused, not recorded as superseded: a break test found it recorded)."""
    made = {r.get("version") for r in ctx.records.applied().values()
            if not r.get("superseded_by") and not r.get("started_with")}
    above = [v for v in (space.versions.values() if space else [live]) if v.version >= number]
    return live.version > number and not any(v.name in made for v in above)


def recorded_only(record: dict[str, Any]) -> bool:
    """The migration only recorded a version the install started with or past (`superseded_by`, `started_with`;
    records older than `started_with` cannot say it)."""
    return bool(record.get("superseded_by") or record.get("started_with"))


def made_nothing(ctx: Context, m: Migration, version: VectorVersion, record: dict[str, Any]) -> str | None:
    """Why a rollback of `m` is refused when it made nothing: it only recorded `version`, which the install
    started with (or started past): a rollback took that space out of search, and a retire then deleted it (a
    break test). Records older than `started_with` tell it by the promote gate: a version a migration made went
    live past it, so it was validated or the promote was forced (an override on the record)."""
    promoted = ctx.records.verdict(version.name) is not None or bool(record.get("overrides"))
    if not (recorded_only(record) or not promoted):
        return None
    return (f"nothing to roll back: {m.label} only recorded {version.name}, which this install started with "
            f"(nothing was added or promoted); a rollback would take space {version.space!r} out of search")


def record_superseded(ctx: Context, m: Migration, number: int, live: VectorVersion, result: StepResult, *,
                      recorded: bool) -> StepResult:
    """Record `m` (adding v`number`) as applied with nothing to do: the install started past it (e.g.
    migrations/0001's title v2 on an install made with the shared title v3 of 0006).

    Returns:
        `result` with `data` = `{version, replaces: None, superseded_by}` and a note; the record is
        written once (`recorded`: it already is).
    """
    result.data = {"version": live.name, "replaces": None, "superseded_by": live.name}
    result.notes.append(f"{m.label} is superseded: this install started with {live.name}, numbered above "
                        f"v{number}; nothing to add or backfill (a new version of {live.space!r} must be "
                        f"numbered above v{live.version})")
    return result if recorded else run_actions(result, [(
        f"record {m.label} as applied (superseded by {live.name})",
        lambda: ctx.records.record_applied(m.revision, {"migration": m.to_dict(), "applied": now(), **result.data}))])


RECORD_ONLY = "apply (records it: nothing to add, backfill or validate)"


def pending_state(ctx: Context, m: Migration, reg: Registry) -> tuple[str, str]:
    """Where a migration not applied yet stands, and the step it needs: `("pending", "apply")`, or, for a
    version this install already has live (it started there) or started past (a new install begins at the
    versions later migrations make), `("live in this install" | "superseded", RECORD_ONLY)`."""
    change = m.change
    if not isinstance(change, AddVersion) or change.space not in reg.spaces or reg.spaces[change.space].live is None:
        return "pending", "apply"
    live = reg.live_version(change.space)
    if (live.model, live.version) == (change.model, change.version):
        return "live in this install", RECORD_ONLY
    return ("superseded", RECORD_ONLY) if started_past(ctx, live, change.version, reg.spaces[change.space]) \
        else ("pending", "apply")



WRITTEN_NOT_LIVE = ("shadow", "backfilling", "ready")


def replaced_left(space: SpaceState, new: VectorVersion, record: dict[str, Any]) -> bool:
    """The migration's version was retired after a later one replaced it, while the version it had replaced
    is still written and not live (0007's entities v1 once 0009's v3 retired v2): its retire ends that one."""
    old = record.get("replaces")
    return (new.status == "retired" and old is not None and old != space.live and old in space.versions
            and space.versions[old].status in WRITTEN_NOT_LIVE)


def left_written(space: SpaceState, v: VectorVersion, old: str | None) -> tuple[str, str] | None:
    """A version an applied migration made or replaced that every ingest still writes for nothing, as
    (state, next step: retire it), or None:

    - its version was never made live (or was, then replaced) and a higher version of the space is live
      (0001's title v2 on an install that went on to 0006's v3);
    - its version is retired, and the version it replaced is still written, not live (`replaced_left`).
    """
    if v.status == "retired":
        if old is None or old == space.live or old not in space.versions:
            return None
        left = space.versions[old]
        return (f"retired; {old} still written", "retire (stops writing it)") if left.status in WRITTEN_NOT_LIVE \
            else None
    if space.live is None or space.live == v.name or v.status not in WRITTEN_NOT_LIVE:
        return None
    live = space.versions[space.live]
    if live.version <= v.version:
        return None
    return f"{v.status}, below live {live.name} (still written)", "retire (stops writing it)"


def progress(ctx: Context, m: Migration, record: dict[str, Any], reg: Registry) -> tuple[str, str]:
    """Where an `AddVersion` migration stands (shadow, backfilling, ready, validated, live, done) and what comes
    next; one that made nothing (it recorded a version the install started with) and was replaced since says so,
    and that the retire of the migration that replaced it is the way (its own would delete that one's rollback
    target: a break test)."""
    if record.get("superseded_by"):
        return "superseded", "-"
    name = record["version"]
    v = reg.find(name)
    space = reg.space(v.space)
    if space.live not in (None, name) and recorded_only(record):
        return f"{v.status}, replaced by {space.live}", "- (retire the migration that replaced it)"
    old = record.get("replaces")
    old_status = space.versions[old].status if old and old in space.versions else "retired"
    if (left := left_written(space, v, old)) is not None:
        return left
    if v.status == "retired":  # the version it replaced retired too: it was live, then replaced in turn
        return ("retired (replaced since)" if old and old_status == "retired" else "abandoned (retired)"), "-"
    if space.rollout and space.rollout.version == name and space.live != name:
        return f"rollout {space.rollout.percent} %", "promote (every search) or rollback"
    if v.status in ("shadow", "backfilling"):
        return v.status, "backfill"
    if v.status == "ready":
        return ("ready", "validate") if ctx.records.verdict(name) is None else ("validated", "promote")
    if old_status != "retired":
        return "live", f"retire {old} (after the grace period)"
    return "done", "-"
