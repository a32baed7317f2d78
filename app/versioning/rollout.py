"""An added version's way to live: the promote gate, checked once, and the gradual rollout step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain import lifecycle
from app.domain.gates import Gate, promote_gate
from app.domain.versions import Registry
from app.errors import Conflict
from app.repos.registry import now
from app.versioning.declare import Migration
from app.versioning.steps import Context, StepResult, run_actions


def checked_gate(ctx: Context, name: str, what: str, *, margin: float, force: bool) -> Gate:
    """The promote gate for version `name` (its coverage and validation verdict), past which users see it.

    Returns:
        The gate, allowed (`force` lets it past its blockers, which it still lists).

    Raises:
        Conflict: the gate refuses (the message starts with `what`, e.g. "promote", and names the blockers).
    """
    gate = promote_gate(coverage=ctx.coverage(name), verdict=ctx.records.verdict(name), margin=margin, force=force)
    if not gate.allowed:
        raise Conflict(f"{what} {name} refused: {gate.message()} (--force to override)",
                       {"blockers": list(gate.blockers)})
    return gate


def rollout(ctx: Context, save: Callable[[Registry, Registry], None], m: Migration, record: dict[str, Any], *,
            percent: int, margin: float, force: bool, dry_run: bool) -> StepResult:
    """`AddVersionSteps.rollout`: send `percent` % of live searches to the record's version, writing the
    registry with `save(checked_on, new)`.

    Raises:
        Conflict: as `AddVersionSteps.rollout` says.
    """
    name = record["version"]
    reg = ctx.registry.get()
    version = reg.find(name)
    space = reg.space(version.space)
    result = StepResult(step="promote", target=name, dry_run=dry_run)
    if space.live == name:
        result.notes.append(f"{name} is already live: nothing to roll out")
        return result
    if version.status == "retired":
        raise Conflict(f"{name} is retired")
    current = space.rollout
    if current and current.version == name and current.percent == percent:
        result.notes.append(f"{name} already serves {percent} % of searches (since {current.started})")
        return result
    gate = checked_gate(ctx, name, "rollout of", margin=margin, force=force)
    new = lifecycle.start_rollout(reg, name, percent=percent, at=now())  # refuses before any dry run says
    result.notes += [f"forced past: {b}" for b in gate.blockers] + list(gate.notes)
    what = (f"change the rollout of {name} from {current.percent} % to {percent} % of searches"
            if current else f"send {percent} % of live searches to {name} for space {version.space!r} "
                            f"(a stable hash of the query picks them); the rest stay on {space.live}")
    result.data = {"rollout": {"space": version.space, "version": name, "percent": percent,
                               "live": space.live}}
    run_actions(result, [(what, lambda: save(reg, new)),
                         *ctx.override_actions(m.revision, gate, step="rollout", target=name, margin=margin,
                                               percent=percent)])
    result.notes.append(f"next: watch the shadow overlap and latency (/inspect, /metrics), then "
                        f"scripts/migrate promote {m.revision} (every search) or scripts/migrate rollback "
                        f"{m.revision} (none)")
    return result
