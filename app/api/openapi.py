"""The OpenAPI contract: the error answers each route declares (all `ErrorBody`), and the limits from settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema

from app.api.schemas import ErrorBody, filter_values_schema
from app.domain.bounds import MAX_BATCH_CHARS_KEY

if TYPE_CHECKING:
    from litestar.openapi.spec import OpenAPI

    from app.settings import Settings

# Why each status is answered; the body is always {code, message, detail}.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request: the body is not valid JSON (`malformed_request`).",
    413: "The request body is larger than the service accepts (64 MiB).",
    415: "The body is not sent as `content-type: application/json` (UTF-8) in one content-type header, or is "
         "compressed (any `content-encoding` but identity): `unsupported_media_type`, naming what was received; "
         "nothing was changed.",
    401: "No valid credential: a missing or wrong API key, or admin token (`unauthorized`).",
    403: "The read-only API key was given for a write (`forbidden`).",
    404: "Not found: no document with that id, or no such collection, backup or route.",
    409: "A precondition of the migration step or restore does not hold (`conflict`); nothing was changed.",
    422: "Invalid input: a missing, wrong-typed, unknown or out-of-bounds field, or a backup whose manifest "
         "or checksums do not hold (`backup_invalid`); the message names it.",
    503: "The store or an encoder is unavailable after bounded retries (`store_unavailable`, `store_locked`, "
         "`encoder_failed`), the collection replaced under the request by a restore or migration, still so after "
         "the service re-read the registry and tried again (`collection_changed`, naming the vector), a fan-out "
         "search in which no space answered in time (`search_deadline`), work "
         "the embedded store's disk could not hold (`disk_full`: `detail` gives free and needed MB; nothing "
         "was written), or a store holding a restore that did not finish (`store_unavailable`: `detail.restore` "
         "names it, `detail.commands` the restore that finishes it).",
}

READ = (401, 503)  # every route that reads the store, behind read_guard or admin_guard
WRITE = (401, 403, 503)


def error_responses(*statuses: int, reads_body: bool = False) -> dict[int, ResponseSpec]:
    """OpenAPI responses for these error statuses, each with the `ErrorBody` schema.

    Declaring 400 here also replaces the body Litestar declares by default for validation errors,
    which is not the shape the service answers with.

    Args:
        statuses: the error statuses the route answers (keys of ERROR_DESCRIPTIONS).
        reads_body: the route reads a JSON body, so it can also answer 413 (too large) and 415 (not sent as
            JSON), which are then declared with it; a route that reads none (GET, DELETE) answers neither.

    Raises:
        KeyError: a status with no entry in ERROR_DESCRIPTIONS.
    """
    wanted = set(statuses) | ({413, 415} if reads_body else set())
    return {s: ResponseSpec(data_container=ErrorBody, description=ERROR_DESCRIPTIONS[s],
                           generate_examples=False)
            for s in sorted(wanted)}


@dataclass
class _BatchSchema(Schema):
    """An array schema that also says how many characters of text a batch may hold in all, as an `x-` key
    (OpenAPI's way to extend a schema; JSON Schema has no keyword for a sum over the items)."""

    max_batch_chars: int | None = field(default=None, metadata={"alias": MAX_BATCH_CHARS_KEY})


# Request models that refuse unknown keys (extra="forbid"); Litestar does not say so in the schema.
# (migration steps: closed in their hand-given schemas)
CLOSED_MODELS = ("DocumentsIn", "DocumentIn", "SearchIn", "BackupIn", "RestoreIn")


def declare_limits(openapi: OpenAPI, settings: Settings) -> None:
    """Write what the service refuses into the generated schema: the limits from settings and closed models.

    The limits are runtime settings, so the request models cannot carry them; `app.api.limits` enforces them
    (422) and this declares the same numbers as maxItems / maxLength / maximum, and a batch's characters of
    text in all as `x-max-batch-chars` on `DocumentsIn.documents`. Models that forbid unknown keys get
    `additionalProperties: false`.

    Raises:
        KeyError: a schema or property named here is no longer generated (a renamed field).
    """
    lim = settings.limits
    bounds: dict[tuple[str, str], dict[str, int]] = {
        ("DocumentsIn", "documents"): {"min_items": 1, "max_items": lim.max_batch},
        ("DocumentIn", "id"): {"max_length": lim.max_id_chars},
        ("DocumentIn", "title"): {"max_length": lim.max_title_chars},
        ("DocumentIn", "body"): {"max_length": lim.max_text_chars},
        ("DocumentIn", "summary"): {"max_length": lim.max_text_chars},
        ("DocumentIn", "entities"): {"max_items": lim.max_entities},
        ("SearchIn", "query"): {"max_length": lim.max_query_chars},
        ("SearchIn", "limit"): {"maximum": settings.search.max_limit},
        ("SearchIn", "budget_ms"): {"maximum": settings.search.max_budget_ms},
        ("SearchIn", "candidates"): {"maximum": settings.search.max_candidates},
    }
    schemas = openapi.components.schemas if openapi.components else {}
    for model in CLOSED_MODELS:
        schemas[model].additional_properties = False
    for (model, prop), keywords in bounds.items():
        field_schema = schemas[model].properties[prop]  # type: ignore[index]
        for keyword, value in keywords.items():
            setattr(field_schema, keyword, value)
    for component in schemas.values():
        for prop in (getattr(component, "properties", None) or {}).values():
            if isinstance(prop, Schema):
                _bound_the_array(prop)
    # each item of a list of strings: the entities' length (the spaces' names are bounded in the model itself)
    _bound_the_items(schemas["DocumentIn"].properties["entities"], 1, lim.max_entity_chars)  # type: ignore[index,arg-type]
    search_filter = schemas["SearchIn"].properties["filter"]  # type: ignore[index]
    search_filter.max_properties = lim.max_filter_conditions  # type: ignore[union-attr]
    search_filter.additional_properties = filter_values_schema(lim.max_metadata_string_chars,  # type: ignore[union-attr]
                                                               lim.max_filter_values)
    documents = schemas["DocumentsIn"].properties["documents"]  # type: ignore[index]
    schemas["DocumentsIn"].properties["documents"] = _BatchSchema(  # type: ignore[index]
        **{f.name: getattr(documents, f.name) for f in fields(Schema)}, max_batch_chars=lim.max_batch_chars)
    _declare_document_id(openapi, lim.max_id_chars)


def _bound_the_items(prop: Schema, min_length: int, max_length: int) -> None:
    """The strings of an optional list (`oneOf: [array, null]`) get `minLength` / `maxLength` on its `items`."""
    array = next(b for b in prop.one_of or () if isinstance(b, Schema) and b.type == OpenAPIType.ARRAY)
    if isinstance(array.items, Schema):
        array.items.min_length, array.items.max_length = min_length, max_length


def _bound_the_array(prop: Schema) -> None:
    """An optional list (`oneOf: [array, null]`) gets its length bounds beside the `oneOf`, as `minLength` /
    `maxLength` (Litestar's generator, and `declare_limits` above), and `uniqueItems` there too: they belong on
    the array, as `minItems` / `maxItems` (a JSON Schema validator ignores `minLength` on an array)."""
    array = next((b for b in prop.one_of or () if isinstance(b, Schema) and b.type == OpenAPIType.ARRAY), None)
    if array is None:
        return
    array.min_items = array.min_items or prop.min_items or prop.min_length
    array.max_items = array.max_items or prop.max_items or prop.max_length
    array.unique_items = array.unique_items or prop.unique_items
    prop.min_items = prop.max_items = prop.min_length = prop.max_length = prop.unique_items = None


def _declare_document_id(openapi: OpenAPI, max_chars: int) -> None:
    """`/documents/{doc_id}` takes a `:path` (so an id may hold `/`), which Litestar declares as a URI;
    it is an id: a string of 1 to `max_chars` characters, percent-encoded in the path."""
    item = (openapi.paths or {})["/documents/{doc_id}"]
    for operation in (item.get, item.delete):
        for param in (operation.parameters if operation else None) or []:
            if getattr(param, "name", None) == "doc_id":
                param.schema = Schema(type=OpenAPIType.STRING, min_length=1, max_length=max_chars)  # type: ignore[union-attr]
                param.description = "The document id, percent-encoded (`/` as `%2F`)."  # type: ignore[union-attr]


def declare_bodies(openapi: OpenAPI, routes: Iterable[Any]) -> None:
    """Say which request bodies are optional: Litestar declares every body `required`, but a handler whose
    `data` has a default (`data: BackupIn | None = None`) answers a request without one, from its defaults.
    A handler whose `data` has none refuses a missing or `null` body (400 `malformed_request`).

    Args:
        openapi: the generated document, changed in place.
        routes: the app's routes (`Litestar.routes`).
    """
    for route in routes:
        for handler in getattr(route, "route_handlers", ()):
            data = handler.parsed_fn_signature.parameters.get("data")
            item = (openapi.paths or {}).get(route.path_format)
            if data is None or not data.has_default or item is None:
                continue
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if operation is not None and operation.request_body is not None:
                    operation.request_body.required = False
