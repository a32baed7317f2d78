"""Strict shapes for what operators hand the engine (declarations, query sets), with errors that name the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict, StringConstraints, ValidationError

from app.domain.bounds import integral, short
from app.domain.versions import MAX_NAME_CHARS
from app.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]
# A field's own wording for the errors at it: keys are field paths, "*" stands for any list index or map key.
Expectations = Mapping[tuple[str, ...], str]

Name = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
# An integer field of a strict request model: `1.0` is the integer 1, as JSON Schema has it (app.domain.bounds.integral)
Integer = Annotated[int, BeforeValidator(integral)]


class StrictShape(BaseModel):
    """No coercion ("5" is not 5, "body" is not a list), no unknown keys, nothing mutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


_GENERIC = {
    "string_type": "a string", "int_type": "an integer", "float_type": "a number", "bool_type": "true or false",
    "list_type": "a list", "tuple_type": "a list", "dict_type": "an object", "model_type": "an object",
    "model_attributes_type": "an object", "union_tag_not_found": "an object",
}


def describe(value: Any) -> str:
    """How a JSON value reads in an error: `a string ('body')`, `null`, `an object`, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int):
        return f"an integer ({value})" if abs(value) < 10**12 else "an integer"
    if isinstance(value, float):
        return f"a number ({value:g})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})" if len(value) <= 40 else "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def field_path(prefix: str, loc: Loc) -> str:
    """`migration` + ("change", "reembed", 0) -> `migration.change.reembed[0]`."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _expected(loc: Loc, expectations: Expectations) -> str | None:
    for key, text in expectations.items():
        if len(key) == len(loc) and all(k == "*" or k == part for k, part in zip(key, loc, strict=True)):
            return text
    return None


def _problem(error: Mapping[str, Any], loc: Loc, expectations: Expectations) -> str:
    """One pydantic error as `expected ..., got ...` (or what is wrong), in the operator's words."""
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    own = _expected(loc, expectations)
    if own is not None:
        return f"{own}, got {describe(given)}"
    if kind in _GENERIC:
        return f"expected {_GENERIC[kind]}, got {describe(given)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {describe(given)}"
    return f"{str(error['msg'])[0].lower()}{str(error['msg'])[1:]}, got {describe(given)}"


def _without_tags(loc: Loc, tags: Mapping[str, Sequence[str]]) -> Loc:
    """Pydantic puts a tagged union's member name after the field (`change.rebuild.reembed`): drop it."""
    out: list[str | int] = []
    for part in loc:
        if out and isinstance(out[-1], str) and part in tags.get(out[-1], ()):
            continue
        out.append(part)
    return tuple(out)


def validate_shape(model: type[M], data: Any, *, path: str, expectations: Expectations | None = None,
                   tags: Mapping[str, Sequence[str]] | None = None) -> M:
    """Validate `data` against a strict model, or raise one InvalidInput naming every bad field.

    Args:
        model: the shape.
        data: the decoded JSON.
        path: where `data` sits in the request (`migration`, `migrations[2]`, `query_set`).
        expectations: a field's own wording, by field path (see `Expectations`).
        tags: tagged-union fields and their member names, which pydantic puts into the location.

    Returns:
        The validated model.

    Raises:
        InvalidInput: the message lists `path.to.field: expected ..., got ...` for every problem;
            the detail lists them one by one as `{key, message}`, as every other 422 does.
    """
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = []
        for error in e.errors():
            loc = _without_tags(tuple(error["loc"]), tags or {})
            if error["type"] == "union_tag_invalid":
                loc = (*loc, "kind")
            problems.append({"key": short(field_path(path, loc)), "message": _problem(error, loc, expectations or {})})
        message = "; ".join(f"{p['key']}: {p['message']}" for p in problems)
        raise InvalidInput(message, problems) from None  # `detail` as every 422 has it: [{key, message}]
