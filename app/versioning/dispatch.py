"""The one step table: each step's strict body model and the migrator call it makes (admin API and CLI alike)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.domain.bounds import shown
from app.errors import InvalidInput
from app.versioning.declare import Migration
from app.versioning.engine import Migrator
from app.versioning.render import result_lines
from app.versioning.shape import Integer, validate_shape
from app.versioning.steps import DEFAULT_BATCH, DEFAULT_GRACE_S, DEFAULT_MARGIN, Progress, StepResult
from app.versioning.validate import QuerySet

MAX_GRACE_S = 10 * 365 * 86400.0
CURSOR = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"  # a point id
TARGET = Field(default=None, max_length=200, description="Migration revision, label or version name; "
                                                         "default: the latest applied.")


class StepIn(BaseModel):
    """What every step takes: strict types ("5" is not 5), no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dry_run: bool = Field(default=False, description="Check preconditions and say what would happen; write nothing.")


class PlanIn(StepIn):
    """plan: every migration file, as declared."""

    migrations: list[dict[str, Any]] | None = Field(default=None, description="Every migration file's declaration.")


class ApplyIn(StepIn):
    """apply: the migration to apply, or a chain of them in order."""

    migration: dict[str, Any] | None = Field(default=None, description="The migration's declaration.")
    migrations: list[dict[str, Any]] | None = Field(default=None, max_length=1000, description=(
        "Instead of `migration`: declarations to apply in order, each depending on those before it; a dry "
        "run previews each as if the ones before it were applied (`data.migrations`: one result each)."))


class BackfillIn(StepIn):
    """backfill: which migration, batch size, and where this slice starts and stops."""

    target: str | None = TARGET
    batch: Integer = Field(default=DEFAULT_BATCH, ge=1, le=4096)
    max_points: Integer | None = Field(default=None, ge=1, description="Stop after this many points.")
    start: str | None = Field(default=None, pattern=CURSOR,
                              description="The cursor the previous slice returned (a point id).")


class ValidateIn(StepIn):
    """validate: which migration, the query set, k."""

    target: str | None = TARGET
    query_set: dict[str, Any] | None = Field(default=None, description="Queries and qrels.")
    k: Integer = Field(default=10, ge=1, le=100)
    force: bool = Field(default=False, description="Validate below 100 % coverage.")


class PromoteIn(StepIn):
    """promote: which migration, the gate's margin, force."""

    target: str | None = TARGET
    margin: float = Field(default=DEFAULT_MARGIN, ge=0, le=1, description="How much worse (absolute nDCG@10) "
                          "the candidate may be, in the fused search and in its space alone.")
    force: bool = Field(default=False, description="Promote past the gate (recorded with the migration).")
    percent: Integer | None = Field(default=None, ge=1, le=99, description="A gradual rollout: send this share of "
                                "live searches (picked by a stable hash of the query) to the new version, not all; "
                                "a full promote or a rollback ends it.")


class RollbackIn(StepIn):
    """rollback: which migration."""

    target: str | None = TARGET


class RetireIn(StepIn):
    """retire: which migration, the grace period, force."""

    target: str | None = TARGET
    grace_s: float = Field(default=DEFAULT_GRACE_S, ge=0, le=MAX_GRACE_S)
    force: bool = Field(default=False, description="Retire within the grace period (recorded with the migration).")


def _plan(m: Migrator, p: PlanIn, _: Progress | None) -> StepResult:
    return m.plan([Migration.from_dict(d, path=f"migrations[{i}]") for i, d in enumerate(p.migrations or [])])


def _apply(m: Migrator, p: ApplyIn, _: Progress | None) -> StepResult:
    if (p.migration is None) == (p.migrations is None):
        raise InvalidInput("migration: required for apply (or migrations, not both): the declaration from the "
                           "migration file, or a list of them to apply in order")
    if p.migration is not None:
        return m.apply(Migration.from_dict(p.migration), dry_run=p.dry_run)
    chain = [Migration.from_dict(d, path=f"migrations[{i}]") for i, d in enumerate(p.migrations or [])]
    results = m.apply_all(chain, dry_run=p.dry_run)
    return StepResult(step="apply", target=", ".join(r.target for r in results), dry_run=p.dry_run,
                      actions=[f"{r.target}: {a}" for r in results for a in r.actions],
                      notes=[f"{r.target}: {n}" for r in results for n in r.notes],
                      data={"migrations": [r.to_dict() for r in results]})


def _backfill(m: Migrator, p: BackfillIn, progress: Progress | None) -> StepResult:
    return m.backfill(p.target, batch=p.batch, max_points=p.max_points, start=p.start, dry_run=p.dry_run,
                      on_progress=progress)


def _validate(m: Migrator, p: ValidateIn, progress: Progress | None) -> StepResult:
    if not p.query_set:
        raise InvalidInput("query_set: required for validate: queries (and qrels, when judged)")
    query_set = QuerySet.from_dict(p.query_set)
    n = len(query_set.queries)
    return m.validate(p.target, query_set, k=p.k, dry_run=p.dry_run, force=p.force,
                      on_query=(lambda i: progress(i, n)) if progress else None)


def _promote(m: Migrator, p: PromoteIn, _: Progress | None) -> StepResult:
    return m.promote(p.target, margin=p.margin, force=p.force, dry_run=p.dry_run, percent=p.percent)


def _rollback(m: Migrator, p: RollbackIn, _: Progress | None) -> StepResult:
    return m.rollback(p.target, dry_run=p.dry_run)


def _retire(m: Migrator, p: RetireIn, progress: Progress | None) -> StepResult:
    return m.retire(p.target, grace_s=p.grace_s, force=p.force, dry_run=p.dry_run, on_progress=progress)


@dataclass(frozen=True)
class Step:
    """One step: its body model, what it calls, and what the API says of it."""

    body: type[StepIn]
    run: Callable[[Migrator, Any, Progress | None], StepResult]
    summary: str
    needs_body: bool = False  # the step has nothing to run without one (apply: a declaration; validate: queries)

    def schema(self) -> dict[str, Any]:
        """The body's JSON schema as the OpenAPI document shows it: closed, or (when the step runs on its
        defaults) no body at all."""
        closed = {"type": "object", "additionalProperties": False,
                  "properties": self.body.model_json_schema()["properties"]}
        return closed if self.needs_body else {"oneOf": [closed, {"type": "null"}]}


STEPS: dict[str, Step] = {
    "plan": Step(PlanIn, _plan, "Each migration: applied (and its next step) or pending; what apply would do"),
    "apply": Step(ApplyIn, _apply, "Add the named vector (or the new collection) and start the shadow write",
                  needs_body=True),
    "backfill": Step(BackfillIn, _backfill, "Encode the new version for the points already there (resumable)"),
    "validate": Step(ValidateIn, _validate, "Compare live and candidate on a query set; store the verdict",
                     needs_body=True),
    "promote": Step(PromoteIn, _promote, "Make the new version live (one registry write, or an alias swap); "
                                        "with `percent`, for that share of searches only (a gradual rollout)"),
    "rollback": Step(RollbackIn, _rollback, "Make the previous version live again"),
    "retire": Step(RetireIn, _retire, "Delete the version (or collection) no longer live, after the grace period"),
}


def check_step(step: str) -> Step:
    """The step named `step`.

    Raises:
        InvalidInput: `step` is not one of STEPS (named in the message).
    """
    if step not in STEPS:
        raise InvalidInput(f"unknown step {shown(step)}; steps: {', '.join(STEPS)}", {"steps": list(STEPS)})
    return STEPS[step]


def run_step(migrator: Migrator, step: str, body: Any, *, progress: Progress | None = None) -> dict[str, Any]:
    """Run one step with its parameters, checked strictly against the step's body model.

    Args:
        migrator: the one migrator (built in app.container).
        step: one of STEPS.
        body: the decoded JSON parameters (None: the defaults).
        progress: called with (done, to do) as a long step (backfill, validate) goes on.

    Returns:
        The step's result as JSON, with the operator's lines in `text`.

    Raises:
        InvalidInput: an unknown step, a malformed parameter, declaration or query set (naming the field).
        Conflict: the step's preconditions do not hold, or another step changed the registry meanwhile.
    """
    spec = check_step(step)
    params = validate_shape(spec.body, {} if body is None else body, path="",
                            expectations={("start",): "expected the cursor a previous backfill slice returned "
                                                      "(a point id)"})
    out = spec.run(migrator, params, progress).to_dict()
    out["text"] = result_lines(out)
    return out
