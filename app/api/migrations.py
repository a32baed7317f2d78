"""Admin endpoints for migrations: on the embedded store only the service's process may touch the data,
so `scripts/migrate --url ...` runs every step through these."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import Body, Parameter
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import admin_guard
from app.api.openapi import READ, error_responses
from app.container import Services
from app.errors import InvalidInput
from app.versioning.declare import Migration
from app.versioning.engine import DEFAULT_BATCH, DEFAULT_GRACE_S, DEFAULT_MARGIN, Migrator
from app.versioning.render import result_lines, status_lines
from app.versioning.shape import validate_shape
from app.versioning.validate import QuerySet

MAX_GRACE_S = 10 * 365 * 86400.0
CURSOR = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"  # a point id
STEPS = ("plan", "apply", "backfill", "validate", "promote", "rollback", "retire")
_LOCK = threading.Lock()


class StepIn(BaseModel):
    """Parameters of one step; each step reads the ones it needs."""

    model_config = ConfigDict(extra="forbid", strict=True)

    target: str | None = Field(default=None, max_length=200, description="Migration revision, label or version name.")
    migration: dict[str, Any] | None = Field(default=None, description="apply: the migration's declaration.")
    migrations: list[dict[str, Any]] | None = Field(default=None, description="plan: every migration file.")
    dry_run: bool = False
    force: bool = False
    batch: int = Field(default=DEFAULT_BATCH, ge=1, le=4096)
    max_points: int | None = Field(default=None, ge=1, description="backfill: stop after this many points.")
    start: str | None = Field(default=None, pattern=CURSOR,
                              description="backfill: the cursor the previous slice returned (a point id).")
    margin: float = Field(default=DEFAULT_MARGIN, ge=0, le=1, description="promote: how much worse (absolute "
                          "nDCG@10) the candidate may be, in the fused search and in its space alone.")
    grace_s: float = Field(default=DEFAULT_GRACE_S, ge=0, le=MAX_GRACE_S)
    query_set: dict[str, Any] | None = Field(default=None, description="validate: queries and qrels.")
    k: int = Field(default=10, ge=1, le=100)


# The body is validated here, strictly (Litestar validates pydantic bodies leniently: "5" would be 5),
# so the schema the OpenAPI document shows is StepIn's, given by hand.
STEP_SCHEMA = {"oneOf": [{"type": "object", "additionalProperties": False,
                          "properties": StepIn.model_json_schema()["properties"]},
                         {"type": "null"}]}


def migrator_for(state: State, services: Services) -> Migrator:
    """One Migrator per app (its lock serialises steps in this process)."""
    with _LOCK:
        migrator = state.get("migrator")
        if migrator is None or migrator.store is not services.store:
            migrator = Migrator(store=services.store, encoders=services.encoders, registry=services.registry,
                                settings=services.settings)
            state["migrator"] = migrator
        return migrator  # type: ignore[no-any-return]


def check_step(step: str) -> None:
    """Raises:
        InvalidInput: `step` is not one of STEPS (named in the message).
    """
    if step not in STEPS:
        raise InvalidInput(f"unknown step {step!r}; steps: {', '.join(STEPS)}", {"steps": list(STEPS)})


def run_step(migrator: Migrator, step: str, data: StepIn) -> dict[str, Any]:
    """Run one step with the request's parameters.

    Raises:
        InvalidInput: an unknown step, or a malformed declaration or query set (naming the field).
        Conflict: the step's preconditions do not hold, or another step changed the registry meanwhile.
    """
    check_step(step)
    if step == "plan":
        result = migrator.plan([Migration.from_dict(m, path=f"migrations[{i}]")
                                for i, m in enumerate(data.migrations or [])])
    elif step == "apply":
        if data.migration is None:
            raise InvalidInput("migration: required for apply: the declaration from the migration file")
        result = migrator.apply(Migration.from_dict(data.migration), dry_run=data.dry_run)
    elif step == "backfill":
        result = migrator.backfill(data.target, batch=data.batch, max_points=data.max_points, start=data.start,
                                   dry_run=data.dry_run)
    elif step == "validate":
        if not data.query_set:
            raise InvalidInput("query_set: required for validate: queries (and qrels, when judged)")
        result = migrator.validate(data.target, QuerySet.from_dict(data.query_set), k=data.k, dry_run=data.dry_run,
                                   force=data.force)
    elif step == "promote":
        result = migrator.promote(data.target, margin=data.margin, force=data.force, dry_run=data.dry_run)
    elif step == "rollback":
        result = migrator.rollback(data.target, dry_run=data.dry_run)
    else:
        result = migrator.retire(data.target, grace_s=data.grace_s, force=data.force, dry_run=data.dry_run)
    out = result.to_dict()
    out["text"] = result_lines(out)
    return out


class MigrationController(Controller):
    path = "/admin/migrations"
    tags = ["admin"]
    guards = [admin_guard]

    @get("/", sync_to_thread=True, summary="Versions, coverage, applied migrations, rebuild in progress",
         responses=error_responses(404, *READ))
    def status(self, services: Services, state: State) -> dict[str, Any]:
        data = migrator_for(state, services).status()
        return {"status": data, "text": status_lines(data)}

    @post("/{step:str}", status_code=200, sync_to_thread=True, summary="Run one migration step",
          responses=error_responses(400, 404, 409, 422, *READ))
    def step(self, step: Annotated[str, Parameter(schema_extra={"enum": list(STEPS)})], services: Services,
             state: State, data: Annotated[dict[str, Any] | None, Body(schema_extra=STEP_SCHEMA)] = None
             ) -> dict[str, Any]:
        """Steps: plan, apply, backfill, validate, promote, rollback, retire. Each checks its
        preconditions (409 with the reason when they do not hold), honours `dry_run`, and is safe to repeat.
        A malformed body or declaration is a 422 naming the field; a step that lost a race to another
        (the registry changed since it was read) is a 409 and changes nothing."""
        check_step(step)
        params = validate_shape(StepIn, {} if data is None else data, path="",
                                expectations={("start",): "expected the cursor a previous backfill slice returned "
                                                          "(a point id)"})
        return run_step(migrator_for(state, services), step, params)
