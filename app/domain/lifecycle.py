"""A vector version's lifecycle as pure transitions on the registry, refusing illegal moves.

shadow -> backfilling -> ready -> live; a promote puts the old live version back to ready (still
written, so a rollback loses nothing); a rollback swaps them again; retire ends any version that is
not live. A forced promote may make a version live before it is ready.

Between validate and promote a space may have a gradual rollout: a share of live searches uses a
version that is not live yet (`start_rollout`). A full promote, a rollback, or retiring the version
ends it; the version's status does not change while it is rolled out.
"""

from __future__ import annotations

from dataclasses import replace

from app.domain.versions import Registry, Rollout, Status, VectorVersion
from app.errors import Conflict

# move -> (the statuses it may start from, the status it ends in)
TRANSITIONS: dict[str, tuple[frozenset[str], Status]] = {
    "start_backfill": (frozenset({"shadow"}), "backfilling"),
    "mark_ready": (frozenset({"shadow", "backfilling"}), "ready"),
    "make_live": (frozenset({"shadow", "backfilling", "ready"}), "live"),
    "demote": (frozenset({"live"}), "ready"),
    "retire": (frozenset({"shadow", "backfilling", "ready"}), "retired"),
}
# what a rollout may send searches to: what a promote may make live (the gate refuses an incomplete one)
ROLLOUT_FROM: frozenset[str] = TRANSITIONS["make_live"][0]
MIN_PERCENT, MAX_PERCENT = 1, 99  # 0 is no rollout (rollback), 100 is a promote


def move(version: VectorVersion, name: str, *, at: str) -> VectorVersion:
    """One transition of one version.

    Args:
        version: the version as the registry has it.
        name: a key of TRANSITIONS.
        at: the time of the move (ISO), stored as `status_changed`.

    Returns:
        The version in its new status.

    Raises:
        Conflict: the move does not start from the version's status (the message names both).
    """
    sources, status = TRANSITIONS[name]
    if version.status not in sources:
        raise Conflict(f"{version.name} is {version.status}: it cannot move to {status} ({name})",
                       {"version": version.name, "status": version.status, "move": name})
    return replace(version, status=status, status_changed=at)


def start_backfill(reg: Registry, name: str, *, at: str) -> Registry:
    """shadow -> backfilling.

    Raises:
        Conflict: the version is not in shadow.
    """
    return reg.with_version(move(reg.find(name), "start_backfill", at=at))


def mark_ready(reg: Registry, name: str, *, at: str) -> Registry:
    """shadow or backfilling -> ready: every point has the version.

    Raises:
        Conflict: the version is not being built.
    """
    return reg.with_version(move(reg.find(name), "mark_ready", at=at))


def promote(reg: Registry, name: str, *, at: str) -> Registry:
    """Make `name` the live version of its space; the old live one goes back to ready and is kept as
    the version a rollback returns to.

    Raises:
        Conflict: `name` is live or retired, or the old live version is not live.
    """
    version = reg.find(name)
    old = reg.space(version.space).live
    new = reg.with_version(move(version, "make_live", at=at))
    if old:
        new = new.with_version(move(new.find(old), "demote", at=at))
    new = new.with_live(version.space, name, old)
    return new.with_rollout(version.space, None) if new.space(version.space).rollout else new


def rollback(reg: Registry, name: str, *, at: str, to: str | None = None) -> Registry:
    """Make the space's previous version (or `to`, a version of the space it replaced) live again; `name` (live
    now) goes back to ready.

    Raises:
        Conflict: `name` is not live, there is no previous version (nor `to`), or it is retired.
    """
    space = reg.space(reg.find(name).space)
    previous = to or space.previous
    if space.live != name or previous is None or previous == name or previous not in space.versions:
        raise Conflict(f"{name} is not live with a previous version: nothing to roll back to")
    new = reg.with_version(move(reg.find(previous), "make_live", at=at))
    new = new.with_version(move(new.find(name), "demote", at=at))
    new = new.with_live(space.name, previous, None)
    return new.with_rollout(space.name, None) if space.rollout else new


def withdraw(reg: Registry, name: str, *, at: str) -> Registry:
    """Roll back a new space: its only live version `name` goes back to ready and the space has no live
    version again (searches stop using it; it stays written, so a promote brings it back).

    Raises:
        Conflict: `name` is not live, or its space has a previous version (roll back to that instead).
    """
    space = reg.space(reg.find(name).space)
    if space.live != name or space.previous is not None:
        raise Conflict(f"{name} is not the live first version of a new space: nothing to withdraw")
    new = reg.with_version(move(reg.find(name), "demote", at=at)).with_live(space.name, None, None)
    return new.with_rollout(space.name, None) if space.rollout else new


def retire(reg: Registry, name: str, *, at: str) -> Registry:
    """Mark `name` retired (ingest stops writing it); it stops being the rollback target.

    Raises:
        Conflict: `name` is live or already retired.
    """
    version = reg.find(name)
    space = reg.space(version.space)
    new = reg.with_version(move(version, "retire", at=at))
    if space.previous == name:
        new = new.with_live(space.name, space.live, None)
    if space.rollout and space.rollout.version == name:  # searches must never reach a retired version
        new = new.with_rollout(space.name, None)
    return new


def start_rollout(reg: Registry, name: str, *, percent: int, at: str) -> Registry:
    """Send `percent` % of live searches (picked by a stable hash of the query) to `name`; the rest
    keep the space's live version. Re-run with another percent to change the share: `started` is kept.

    Args:
        reg: the registry.
        name: the version to roll out (not live, not retired).
        percent: 1 to 99.
        at: the time (ISO), stored as the rollout's `started` when it begins.

    Raises:
        Conflict: the percent is out of range, `name` is live or retired, its space has no live
            version, or another version of the space is being rolled out (roll that back first).
    """
    version = reg.find(name)
    space = reg.space(version.space)
    if not MIN_PERCENT <= percent <= MAX_PERCENT:
        raise Conflict(f"a rollout sends {MIN_PERCENT} to {MAX_PERCENT} % of searches, not {percent} "
                       "(promote without --percent to send them all)", {"percent": percent})
    if space.live is None or space.live == name:
        raise Conflict(f"{name} is {'live' if space.live == name else 'in a space with no live version'}: "
                       "nothing to roll out", {"version": name, "live": space.live})
    if version.status not in ROLLOUT_FROM:
        raise Conflict(f"{name} is {version.status}: it cannot be rolled out",
                       {"version": name, "status": version.status, "move": "start_rollout"})
    current = space.rollout
    if current and current.version != name:
        raise Conflict(f"{current.version} is being rolled out in space {space.name!r}: roll it back first",
                       {"rollout": current.version})
    started = current.started if current else at
    return reg.with_rollout(space.name, Rollout(version=name, percent=percent, started=started))


def end_rollout(reg: Registry, name: str) -> Registry:
    """Stop sending searches to `name`: every search uses the live version again.

    Raises:
        Conflict: `name` is not being rolled out.
    """
    space = reg.space(reg.find(name).space)
    if space.rollout is None or space.rollout.version != name:
        raise Conflict(f"{name} is not being rolled out: nothing to end", {"version": name})
    return reg.with_rollout(space.name, None)
