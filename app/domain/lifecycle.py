"""A vector version's lifecycle as pure transitions on the registry, refusing illegal moves.

shadow -> backfilling -> ready -> live; a promote puts the old live version back to ready (still
written, so a rollback loses nothing); a rollback swaps them again; retire ends any version that is
not live. A forced promote may make a version live before it is ready.
"""

from __future__ import annotations

from dataclasses import replace

from app.domain.versions import Registry, Status, VectorVersion
from app.errors import Conflict

# move -> (the statuses it may start from, the status it ends in)
TRANSITIONS: dict[str, tuple[frozenset[str], Status]] = {
    "start_backfill": (frozenset({"shadow"}), "backfilling"),
    "mark_ready": (frozenset({"shadow", "backfilling"}), "ready"),
    "make_live": (frozenset({"shadow", "backfilling", "ready"}), "live"),
    "demote": (frozenset({"live"}), "ready"),
    "retire": (frozenset({"shadow", "backfilling", "ready"}), "retired"),
}


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
    return new.with_live(version.space, name, old)


def rollback(reg: Registry, name: str, *, at: str) -> Registry:
    """Make the space's previous version live again; `name` (live now) goes back to ready.

    Raises:
        Conflict: `name` is not live, there is no previous version, or it is retired.
    """
    space = reg.space(reg.find(name).space)
    if space.live != name or space.previous is None:
        raise Conflict(f"{name} is not live with a previous version: nothing to roll back to")
    previous = space.previous
    new = reg.with_version(move(reg.find(previous), "make_live", at=at))
    new = new.with_version(move(new.find(name), "demote", at=at))
    return new.with_live(space.name, previous, None)


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
    return new
