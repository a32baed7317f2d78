"""The step interface: what every kind of change implements, the collaborators it gets, and what a step returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.domain.documents import Document, PreparedDocument, prepare
from app.domain.gates import Coverage, Gate
from app.domain.plan import Filter, Match, MatchAny
from app.domain.versions import Registry
from app.encoders.fastembed_encoder import EncoderPool
from app.repos.migrations import MigrationRecords
from app.repos.registry import RegistryRepo, now
from app.settings import Settings
from app.store.base import Store
from app.versioning.declare import Migration

TAGS = "vector_versions"  # payload key: the versions a point has a vector for
Progress = Callable[[int, int], None]  # (points done in this run, points to do in this run)

DEFAULT_MARGIN = 0.02
DEFAULT_BATCH = 256  # measured: 18 % more docs/s than 64 on SciFact titles (scripts/bench_backfill)
DEFAULT_GRACE_S = 24 * 3600.0


@dataclass
class StepResult:
    """What a step did (or, in a dry run, would do); rendered for operators, sent as JSON by the API."""

    step: str
    target: str = ""
    dry_run: bool = False
    actions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True when the step wrote something (it had actions and was not a dry run)."""
        return bool(self.actions) and not self.dry_run

    def to_dict(self) -> dict[str, Any]:
        """The JSON the admin API answers: step, target, dry_run, changed, actions, notes, data."""
        return {"step": self.step, "target": self.target, "dry_run": self.dry_run, "changed": self.changed,
                "actions": self.actions, "notes": self.notes, "data": self.data}


Action = tuple[str, Callable[[], object]]  # a description and what does it (its result is unused)


def run_actions(result: StepResult, actions: list[Action]) -> StepResult:
    """Do each action in order (nothing in a dry run) and record it: the plan and the log are one list.

    Args:
        result: the step's result; its `dry_run` decides whether anything runs.
        actions: (description, what does it), in order.

    Returns:
        `result`, with every description appended to its actions.
    """
    for description, fn in actions:
        if not result.dry_run:
            fn()
        result.actions.append(description)
    return result


@dataclass(frozen=True)
class Arms:
    """What the validate step compares: two arms (`baseline`, `candidate`), each a collection and
    pinned versions, searched in each mode (a mode is the fields it searches; None: the default)."""

    target: str  # what the verdict is stored for: a version name, or a rebuild's target collection
    collections: dict[str, str]
    pins: dict[str, dict[str, str]]
    modes: dict[str, list[str] | None]
    describe: dict[str, str]


@dataclass(frozen=True)
class Context:
    """The collaborators every step works with (pass fakes in unit tests)."""

    store: Store
    encoders: EncoderPool
    registry: RegistryRepo
    records: MigrationRecords
    settings: Settings

    @property
    def alias(self) -> str:
        """The collection alias the migrations act on."""
        return self.registry.alias

    def override_actions(self, revision: str, gate: Gate, *, step: str, **context: Any) -> list[Action]:
        """When `--force` took a step past its gate, or the gate ran looser than its default (a `grace_s` below a
        day, a `margin` above 0.02: `retire --grace 0` deleted a version a second after a promote with nothing
        on record, a break test), the action that records it in the applied migration's record (shown by
        `status` and `GET /admin/migrations`); none otherwise."""
        loosened = []
        if context.get("grace_s", DEFAULT_GRACE_S) < DEFAULT_GRACE_S:
            loosened.append(f"grace {context['grace_s']:g} s, below the default {DEFAULT_GRACE_S:g} s")
        if context.get("margin", DEFAULT_MARGIN) > DEFAULT_MARGIN:
            loosened.append(f"margin {context['margin']:g}, above the default {DEFAULT_MARGIN:g}")
        entry = gate.override(step=step, at=now(), **context) or \
            ({"step": step, "at": now(), "overrode": [], **context} if loosened else None)
        if entry is None:
            return []
        entry = {**entry, **({"loosened": loosened} if loosened else {})}
        what = f"forced {step} past {len(entry['overrode'])} blocker(s)" if entry["overrode"] else \
            f"{step} with a looser gate ({'; '.join(loosened)})"
        return [(f"record the override in {revision}'s record: {what}",
                 lambda: self.records.add_override(revision, entry))]

    def coverage(self, version: str, collection: str | None = None) -> Coverage:
        """How many points of `collection` (default: the alias's) are tagged with `version`."""
        collection = collection or self.registry.physical()
        return Coverage(covered=self.store.count(collection, tagged_filter(version)),
                        total=self.store.count(collection))

    def prepared(self, payload: dict[str, Any]) -> PreparedDocument:
        """Rebuild what ingest encoded from what it stored; the stored summary and entities are reused."""
        e = self.settings.encoders
        return prepare(Document.from_payload(payload), chunk_words=e.chunk_words, max_chunks=e.max_chunks,
                       max_entities=e.max_entities, max_passages=e.max_passages)


class ChangeSteps(Protocol):
    """The steps of one kind of change (add a version, rebuild a collection).

    Each checks its preconditions and raises `Conflict` naming the one that fails, honours
    `dry_run`, and does nothing when it finds its work done. `record` is the applied migration's
    record (`MigrationRecords.resolve`).
    """

    def apply(self, m: Migration, record: dict[str, Any] | None, *, dry_run: bool) -> StepResult:
        """Start the change (a named vector, or a new collection) and record the migration."""
        ...

    def backfill(self, m: Migration, record: dict[str, Any], *, batch: int, max_points: int | None,
                 start: str | None, dry_run: bool, on_progress: Progress | None) -> StepResult:
        """Bring the points already there to the new state, resumably."""
        ...

    def arms(self, m: Migration, record: dict[str, Any], *, force: bool) -> Arms:
        """What validation compares."""
        ...

    def promote(self, m: Migration, record: dict[str, Any], *, margin: float, force: bool,
                dry_run: bool) -> StepResult:
        """Make the new state live, past the promote gate."""
        ...

    def rollback(self, m: Migration, record: dict[str, Any], *, dry_run: bool) -> StepResult:
        """Make the old state live again."""
        ...

    def retire(self, m: Migration, record: dict[str, Any], *, grace_s: float, force: bool,
               dry_run: bool, on_progress: Progress | None = None) -> StepResult:
        """Delete what is no longer live, after the grace period (`on_progress`: points cleaned so far)."""
        ...

    def progress(self, m: Migration, record: dict[str, Any], reg: Registry) -> tuple[str, str]:
        """Where the applied migration stands, and the step to run next."""
        ...


def missing_filter(version: str) -> Filter:
    """Points without the version's tag: not backfilled yet (or written before the shadow write began)."""
    return Filter(must_not=(MatchAny(TAGS, (version,)),))


def tagged_filter(version: str) -> Filter:
    """Points tagged with the version: they have its vector."""
    return Filter(must=(Match(TAGS, version),))


def age_s(stamp: str) -> float:
    """Seconds since an ISO timestamp written by `now()`; 0 when unknown."""
    if not stamp:
        return 0.0
    return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(stamp)).total_seconds()
