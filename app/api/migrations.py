"""Admin endpoints for migrations, one route per step: on the embedded store only the service's process may
touch the data, so `scripts/migrate --url ...` runs every step through these."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.params import Body, Parameter

from app.api.auth import admin_guard
from app.api.openapi import READ, error_responses
from app.versioning.dispatch import STEPS, check_step, run_step
from app.versioning.engine import Migrator
from app.versioning.render import status_lines

# Each body is validated by `run_step`, strictly (Litestar validates pydantic bodies leniently: "5" would
# be 5), so the schema the OpenAPI document shows is the step's model, given by hand, closed. A step that
# needs a body (`Step.needs_body`: apply, validate) takes `data` with no default, so no body is a 400; the
# others run on their defaults without one, and the document says so (`app.api.openapi.declare_bodies`).
STEP_ERRORS = error_responses(400, 404, 409, 422, *READ, reads_body=True)
DESCRIPTION = ("Checks its preconditions (409 with the reason when they do not hold), honours `dry_run`, and is "
               "safe to repeat. A malformed body or declaration is a 422 naming the field; a step that lost a "
               "race to another (the registry changed since it was read) is a 409 and changes nothing.")


def _body(step: str) -> Any:
    return Body(schema_extra=STEPS[step].schema())


def _step(path: str) -> Any:
    return post(f"/{path}", status_code=200, sync_to_thread=True, summary=STEPS[path].summary,
                description=DESCRIPTION, responses=STEP_ERRORS)


class MigrationController(Controller):
    """`GET /admin/migrations` and `POST /admin/migrations/<step>`, each step with its own body model."""

    path = "/admin/migrations"
    tags = ["admin"]
    guards = [admin_guard]

    @get("/", sync_to_thread=True, summary="Versions, coverage, applied migrations, rebuild in progress",
         responses=error_responses(404, *READ))
    def status(self, migrator: Migrator) -> dict[str, Any]:
        """The status, and the rendered table in `text`."""
        data = migrator.status()
        return {"status": data, "text": status_lines(data)}

    @_step("plan")
    def plan(self, migrator: Migrator, data: Annotated[dict[str, Any] | None, _body("plan")] = None
             ) -> dict[str, Any]:
        """Run `plan` with the body checked against its model (`app.versioning.dispatch.STEPS`)."""
        return run_step(migrator, "plan", data)

    @_step("apply")
    def apply(self, migrator: Migrator, data: Annotated[dict[str, Any], _body("apply")]
              ) -> dict[str, Any]:
        """Run `apply` with the body checked against its model (`app.versioning.dispatch.STEPS`)."""
        return run_step(migrator, "apply", data)

    @_step("backfill")
    def backfill(self, migrator: Migrator, data: Annotated[dict[str, Any] | None, _body("backfill")] = None
                 ) -> dict[str, Any]:
        """Run `backfill` with the body checked against its model (`app.versioning.dispatch.STEPS`)."""
        return run_step(migrator, "backfill", data)

    @_step("validate")
    def validate(self, migrator: Migrator, data: Annotated[dict[str, Any], _body("validate")]
                 ) -> dict[str, Any]:
        """Run `validate` with the body checked against its model (`app.versioning.dispatch.STEPS`)."""
        return run_step(migrator, "validate", data)

    @_step("promote")
    def promote(self, migrator: Migrator, data: Annotated[dict[str, Any] | None, _body("promote")] = None
                ) -> dict[str, Any]:
        """Run `promote` with the body checked against its model (`app.versioning.dispatch.STEPS`)."""
        return run_step(migrator, "promote", data)

    @_step("rollback")
    def rollback(self, migrator: Migrator, data: Annotated[dict[str, Any] | None, _body("rollback")] = None
                 ) -> dict[str, Any]:
        """Run `rollback` with the body checked against its model (`app.versioning.dispatch.STEPS`)."""
        return run_step(migrator, "rollback", data)

    @_step("retire")
    def retire(self, migrator: Migrator, data: Annotated[dict[str, Any] | None, _body("retire")] = None
               ) -> dict[str, Any]:
        """Run `retire` with the body checked against its model (`app.versioning.dispatch.STEPS`)."""
        return run_step(migrator, "retire", data)

    @post("/{step:str}", status_code=200, sync_to_thread=True, summary="Any other step: refused, naming the steps",
          responses=STEP_ERRORS)
    def unknown(self, step: Annotated[str, Parameter(description="Not a step: the steps have their own routes.")],
                data: Any = None) -> dict[str, Any]:
        """A 422 naming the steps (the known ones are answered by their own routes)."""
        check_step(step)  # raises for any name that reaches here
        return {}
