"""The inspection page at /inspect: server-rendered, read-only, behind the read key when keys are set.

A thin controller: each handler reads its query string, asks a view-model builder
(app.services.inspect, app.services.playground; the playground's form is read by
app.api.inspect_form with the search API's own schema and limits) and renders a Jinja template from app/templates
(autoescaped: nothing a document holds reaches the page unescaped). `InspectPlugin` adds the
routes and the template engine to the app, so app/asgi.py registers the page in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.config.app import AppConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.plugins import InitPlugin
from litestar.response import Template
from litestar.template.config import TemplateConfig

from app.api.auth import read_guard
from app.api.inspect_form import PlaygroundForm
from app.api.observe import note_search
from app.container import Services
from app.services.inspect import MAX_PAGE, PointQuery, overview, points_page
from app.services.playground import playground
from app.versioning.steps import DEFAULT_MARGIN

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _base(services: Services, page: str) -> dict[str, Any]:
    return {"page": page, "alias": services.registry.alias, "store": services.store.kind}


class InspectController(Controller):
    """Collections, aliases, registry and migrations; a point browser; a search playground."""

    path = "/inspect"
    guards = [read_guard]
    include_in_schema = False  # HTML for people; the API's contract is the JSON routes

    @get("/", sync_to_thread=True)
    def index(self, services: Services, state: State) -> Template:
        """Collections, aliases and points; each space's versions with coverage; migrations and verdicts."""
        data = overview(services, services.migrator, margin=DEFAULT_MARGIN)
        return Template("inspect/overview.html", context={**_base(services, "overview"), **data})

    @get("/points", sync_to_thread=True)
    def points(
        self, services: Services,
        collection: str | None = None,
        key: Annotated[str, Parameter(max_length=256)] = "",
        value: Annotated[str, Parameter(max_length=8192)] = "",
        version: Annotated[str, Parameter(max_length=256)] = "",
        missing: Annotated[str, Parameter(max_length=256)] = "",
        derived: Annotated[str, Parameter(max_length=32)] = "",
        offset: Annotated[str, Parameter(max_length=64)] = "",
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 10,
        vectors: Annotated[int, Parameter(ge=0, le=1)] = 0,
    ) -> Template:
        """A page of points: payload, derived flags, version tags, vector shapes (values with `vectors=1`)."""
        q = PointQuery(collection=collection, key=key, value=value, version=version, missing=missing,
                       derived=derived, offset=offset, limit=limit, vectors=bool(vectors))
        versions = sorted(v.name for s in services.registry.get().spaces.values() for v in s.versions.values())
        return Template("inspect/points.html",
                        context={**_base(services, "points"), **points_page(services, q), "versions": versions})

    @get("/search", sync_to_thread=True)
    def search(
        self, services: Services, request: Request[Any, Any, Any],
        q: Annotated[str, Parameter(max_length=20000)] = "",
        limit: Annotated[str, Parameter(max_length=8)] = "5",
        fusion: Annotated[str, Parameter(max_length=8)] = "",
        fields: list[str] | None = None,
        weights: Annotated[str, Parameter(max_length=2000)] = "",
        plan: Annotated[str, Parameter(max_length=128)] = "",
    ) -> Template:
        """The playground: a search with `explain` (of a named plan, or the default), each hit's contribution per
        space drawn as bars."""
        form = PlaygroundForm(q=q, limit=limit, fusion=fusion, fields=list(fields or []), weights=weights, plan=plan)
        data = playground(services, form, lambda: form.request(services))
        if data["ran"]:  # a playground search is a search: counted and logged like one
            note_search(request, data["plan"], data["timings"])
        return Template("inspect/search.html", context={**_base(services, "search"), **data})


class InspectPlugin(InitPlugin):
    """Adds /inspect and the Jinja engine for app/templates to the app."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register `InspectController` and the Jinja template engine over app/templates (autoescaped)."""
        app_config.route_handlers.append(InspectController)
        app_config.template_config = TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)
        return app_config
