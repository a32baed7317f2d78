"""The Litestar application: routes, lifespan (services opened and closed), one error handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.pydantic import PydanticPlugin
from litestar.routes import HTTPRoute
from litestar.serialization import decode_json
from litestar.types import Empty

from app.api.admin import AdminController
from app.api.controllers import DocumentController, HealthController, SearchController
from app.api.head import HeadAsGet
from app.api.inspect import InspectPlugin
from app.api.media import BOM, check_json_media, leading_boms, unpaired_surrogate, without_bom
from app.api.migrations import MigrationController
from app.api.observe import MetricsController, RequestObserver
from app.api.openapi import declare_bodies, declare_limits
from app.container import Services, build_services
from app.domain.bounds import check_json_value, short, shown, written_path
from app.errors import AppError, InvalidInput, error_body, status_for
from app.observe.metrics import Metrics
from app.settings import MAX_BODY_BYTES, Settings

log = logging.getLogger("multivec")


def _app_error(_: Request[Any, Any, Any], exc: AppError) -> Response[dict[str, Any]]:
    status = status_for(exc)
    if status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return Response(error_body(exc.code, exc.message, exc.detail), status_code=status)


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    if any(e.get("key") == "data" and e.get("message") == "'data'" for e in extra if isinstance(e, dict)):
        # Litestar's way of saying a required body is missing (empty, or JSON `null`)
        return Response(error_body("malformed_request", "request body is empty or null: send a JSON object", None),
                        status_code=400)
    # Litestar writes `documents.0.id`; every other message `documents[0].id`; a body that is not an object, on a
    # route taking a plain object (the migration steps), is keyed by the handler's parameter, `data`: say `body`
    # (a key is the client's, any length: cut as every path in a message is)
    extra = [{**e, "key": "body" if e["key"] == "data" else short(written_path(int(p) if p.isdigit() else p
                                                                               for p in str(e["key"]).split(".")))}
             if isinstance(e, dict) and e.get("key") else e for e in extra]
    problems = [f"{e.get('key') or 'body'}: {e.get('message')}" for e in extra if isinstance(e, dict)]
    message = "; ".join(problems) if problems else str(exc.detail)
    code = "invalid_input" if problems else "malformed_request"
    return Response(error_body(code, message, extra or None), status_code=422 if problems else 400)


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unexpected error", exc_info=exc)
    return Response(error_body("internal_error", "unexpected server error; it is logged", None), status_code=500)


CLIENT_CLOSED = 499  # nginx's "client closed request": not a server error (it was counted as a 500: a break test)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code == 500 and exc.detail == "client disconnected prematurely":  # Litestar, reading the body
        log.info("the client closed the request before its body arrived")
        return Response(error_body("client_closed", "the client closed the request before its body arrived", None),
                        status_code=CLIENT_CLOSED)
    if exc.status_code == 400:  # Litestar's 400s here come from decoding the body
        return Response(error_body("malformed_request", f"request body is not valid JSON: {exc.detail}", None),
                        status_code=400)
    if exc.status_code == 413:  # Litestar's own refusal past `request_max_body_size`: name the limit
        return Response(error_body("payload_too_large", f"the request body is over the {MAX_BODY_BYTES // 2**20} MiB "
                                   "limit: send fewer documents a request", {"limit_bytes": MAX_BODY_BYTES}),
                        status_code=413)
    path = shown(request.scope.get("path", ""))  # a path of any length: its start
    message = str(exc.detail)
    if exc.status_code == 404:  # the router's (a missing document is an AppError, named by its id)
        message = f"no route at {path}: the API's paths are in /schema/openapi.json (the inspection page: /inspect/)"
    elif exc.status_code == 405:  # `Allow` lists every method of the route (app.api.head)
        message = f"{request.scope.get('method')} is not a method of {path}: see the Allow header"
    # keep the exception's headers: a 405 must say which methods are allowed (`Allow`)
    return Response(error_body("http_error", message, None), status_code=exc.status_code, headers=exc.headers)


def _provide(pick: Callable[[Services], Any], *, whole: bool = True) -> Provide:
    """A dependency taking one collaborator from the services the lifespan built; with `whole`, only from a store
    no restore left half done (`RegistryRepo.check`: 503 naming the restore and the command that finishes it,
    on every route that reads or writes the store, those that never read the registry too)."""
    async def provide(state: State) -> Any:
        registry = state.services.registry
        if whole and not registry.check(read=False):  # the journal's last read is stale: read it off the loop
            await sync_to_thread(registry.check)  # (a server's answer may take a while)
        return pick(state.services)

    return Provide(provide)


# Controllers name the one collaborator they need (`ingest: IngestService`, `migrator: Migrator`, ...).
PROVIDERS: dict[str, Provide] = {
    "ingest": _provide(lambda s: s.ingest),
    "search": _provide(lambda s: s.search),
    "migrator": _provide(lambda s: s.migrator),
    "registry": _provide(lambda s: s.registry),
    "backup": _provide(lambda s: s.backup, whole=False),  # a restore finishes one; a backup refuses it itself
    "services": _provide(lambda s: s),  # the inspection page only: it shows every part of the service
}


class ApiRequest(Request[Any, Any, Any]):
    """Requests whose JSON body is checked before any handler sees it: sent as uncompressed UTF-8 JSON
    (`app.api.media`; a leading byte order mark is ignored), and bounded in nesting depth (a body nested
    thousands of levels deep would exhaust the decoder's recursion)."""

    async def body(self) -> bytes:
        """The body as sent, without a leading UTF-8 byte order mark: a body that is only one, or only whitespace,
        is empty, and answered as a request without a body (Litestar reads a route's body only when this is not
        empty; app.api.media.without_bom)."""
        return without_bom(await super().body())

    async def json(self) -> Any:
        """The decoded body, checked against `MULTIVEC_LIMITS__MAX_JSON_DEPTH`. Litestar calls this only for a
        route that takes a body, and only when the body is not empty.

        Raises:
            UnsupportedMediaType: the body is not sent as `application/json`, or is compressed (415).
            InvalidInput: the body is nested deeper than the limit, or too deep for the decoder (422).
            SerializationException: the body is not valid JSON (a string holding half a surrogate pair is named),
                or starts with more than one byte order mark (Litestar answers 400).
        """
        if self._json is Empty:
            check_json_media(self.headers)
            body = await self.body()
            if body.startswith(BOM):
                raise SerializationException(f"it starts with {1 + leading_boms(body)} UTF-8 byte order marks "
                                             "(EF BB BF): send at most one before the JSON")
            try:
                value = decode_json(body or b"null", type_decoders=self.route_handler.resolve_type_decoders())
            except RecursionError:
                raise InvalidInput("the request body is nested too deeply to decode") from None
            except SerializationException as e:
                if (escape := unpaired_surrogate(body)) is None:
                    raise
                raise SerializationException(f"a string holds an unpaired surrogate, {escape} (half of a UTF-16 "
                                             "surrogate pair without its other half: not a character)") from e
            check_json_value(value, max_depth=self.app.state.services.settings.limits.max_json_depth)
            self._json = value
        return self._json


def create_app(settings: Settings | None = None, services: Services | None = None) -> Litestar:
    """Build the app. Nothing is opened here: the lifespan opens the store and encoders.

    Args:
        settings: defaults to Settings() read from the environment; API keys and the admin token come from here.
        services: already-built services (tests share one set across apps).
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings)
        # a rollout's searches and shadow reads go to this app's metrics while it runs
        stop_listening = app.state.services.search.rollouts.listen(app.state.metrics.rollout)
        try:
            yield
        finally:
            stop_listening()
            if owned:
                app.state.services.close()

    app = Litestar(
        route_handlers=[DocumentController, SearchController, HealthController, AdminController,
                        MigrationController, MetricsController],
        lifespan=[lifespan],
        dependencies=PROVIDERS,
        exception_handlers={
            AppError: _app_error,
            ValidationException: _validation_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        request_class=ApiRequest,
        plugins=[PydanticPlugin(validate_strict=True), InspectPlugin()],  # "5" is not a number, 1 is not a boolean
        openapi_config=OpenAPIConfig(title="multivec", version="0.1.0", path="/schema"),
        state=State({"settings": settings}),  # the guards read the keys from here
        request_max_body_size=MAX_BODY_BYTES,
    )
    declare_limits(app.openapi_schema, settings)
    declare_bodies(app.openapi_schema, app.routes)
    # metrics in a registry of this app's own; every request (404s too) gets an id, a log line, metrics
    app.state.metrics = Metrics(lambda: getattr(app.state, "services", None), [s.name for s in settings.spaces])
    allowed = {route.path_format: route.methods for route in app.routes if isinstance(route, HTTPRoute)}
    app.asgi_handler = RequestObserver(HeadAsGet(app.asgi_handler, allowed), app.state.metrics)
    return app
