"""Bounds on everything a client sends, checked before anything is encoded or written.

Qdrant's storage cannot read back a payload nested 127 levels deep (after which the shard's WAL
cannot be replayed), stores integers as signed 64-bit, and cannot hold strings that are not valid
Unicode. These checks keep every such value out of the store and say which limit was passed.
Pure: the limits come in as a `Limits`-shaped object (`app.settings.LimitSettings`).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.domain.text import blank
from app.errors import InvalidInput

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# the OpenAPI extension key of `DocumentsIn.documents` declaring `max_batch_chars` (scripts/load reads it)
MAX_BATCH_CHARS_KEY = "x-max-batch-chars"


class Limits(Protocol):
    """The bounds these checks read (`app.settings.LimitSettings` has them): counts, and sizes in characters
    (`*_chars`) or bytes (`max_metadata_bytes`, of the metadata as JSON)."""

    max_batch: int
    max_batch_chars: int
    max_id_chars: int
    max_title_chars: int
    max_text_chars: int
    max_entities: int
    max_entity_chars: int
    max_metadata_depth: int
    max_metadata_keys: int
    max_metadata_key_chars: int
    max_metadata_string_chars: int
    max_metadata_bytes: int


def valid_unicode(text: str) -> bool:
    """False for strings holding lone surrogates (JSON `"\\ud800"`), which no store can encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def invalid_unicode_at(value: Any, path: str = "") -> str | None:
    """The path of the first string (value or key) in `value` that is not valid Unicode, or None."""
    for node in _walk(value, path or "$"):
        texts = [node.value] if isinstance(node.value, str) else []
        if isinstance(node.value, dict):
            texts += [k for k in node.value if isinstance(k, str)]
        if any(not valid_unicode(t) for t in texts):
            return node.path
    return None


def check_text(value: str, where: str, max_chars: int) -> None:
    """Raises: InvalidInput naming `where` when `value` is too long or not valid Unicode."""
    if len(value) > max_chars:
        raise InvalidInput(f"{where}: {len(value)} characters, over the limit of {max_chars}")
    if not valid_unicode(value):
        raise InvalidInput(f"{where}: not valid Unicode (a lone surrogate such as \\ud800)")


def integral(value: Any) -> Any:
    """A JSON number with no fractional part (`1.0`, `1e1`) as the integer it is, within signed 64 bits; any other
    value as is. JSON Schema's `integer` is such a number (2020-12, 6.1.1: "1.0" is an integer), so an integer
    field takes it; a strict model then refuses `1.5`, `"1"` and `true` as ever."""
    if isinstance(value, float) and value.is_integer() and INT64_MIN <= value <= INT64_MAX:
        return int(value)
    return value


def check_int(value: int, where: str) -> None:
    """Raises: InvalidInput when `value` does not fit Qdrant's signed 64-bit integers."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidInput(f"{where}: integer {value} is outside the signed 64-bit range [-2^63, 2^63 - 1]")


def check_id(doc_id: str, where: str, max_chars: int) -> None:
    """One rule for ids: 1 to `max_chars` characters of valid Unicode, none of them a control
    character, not blank, not `.` or `..` (which clients rewrite in URLs). Any such id can be read
    and deleted at `/documents/{percent-encoded id}`.

    Raises: InvalidInput naming the id.
    """
    check_text(doc_id, f"{where}.id", max_chars)
    if blank(doc_id):
        raise InvalidInput(f"{where}.id is empty or blank (only spaces or invisible characters)")
    if any(unicodedata.category(ch) == "Cc" for ch in doc_id):
        raise InvalidInput(f"{where}.id {shown(doc_id)} holds a control character (tab, newline, NUL ...)")
    if not doc_id.strip("/"):
        raise InvalidInput(f"{where}.id {doc_id!r} is only slashes, which URL paths collapse, so it could not be"
                           " read or deleted")
    if doc_id in (".", ".."):
        raise InvalidInput(f"{where}.id {doc_id!r} is a dot segment, which HTTP clients rewrite in a URL path, so"
                           " it could not be read or deleted")


@dataclass(frozen=True)
class _Node:
    value: Any
    path: str
    depth: int


def _walk(value: Any, path: str) -> Iterator[_Node]:
    """Every value inside `value`, depth-first, without recursion (so any depth is safe to walk)."""
    stack = [_Node(value, path, 1 if isinstance(value, dict | list) else 0)]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node.value, dict):
            stack.extend(_Node(v, f"{node.path}.{k}", node.depth + isinstance(v, dict | list))
                         for k, v in node.value.items())
        elif isinstance(node.value, list):
            stack.extend(_Node(v, f"{node.path}[{i}]", node.depth + isinstance(v, dict | list))
                         for i, v in enumerate(node.value))


def written_path(loc: Iterable[str | int]) -> str:
    """A field's location as every message writes it: `("documents", 0, "id")` -> `documents[0].id`."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).removeprefix(".")


def short(path: str, keep: int = 80) -> str:
    """A path for a message: deep ones keep their start and end (a key in it may be a client's, of any length)."""
    return path if len(path) <= keep else f"{path[: keep // 2]}…{path[-keep // 2:]}"


SHOWN_CHARS = 60  # how much of a client's name, key or id a message repeats


def shown(text: str, keep: int = SHOWN_CHARS) -> str:
    """A client's name, key or id as every message quotes it: its repr, cut after `keep` characters with `…`
    (a JSON key or a path can be megabytes long; an error must not echo it whole)."""
    return repr(text) if len(text) <= keep else f"{text[:keep]!r}…"


def check_metadata(metadata: dict[str, Any], where: str, limits: Limits) -> None:
    """Metadata is free-form JSON, within bounds: nesting depth (objects and arrays), total key
    count, key and string length, integers in signed 64 bits, finite numbers, valid Unicode, and
    the encoded size in bytes.

    Raises: InvalidInput naming the path of the first value past a bound, and the bound.
    """
    import json

    keys = 0
    for node in _walk(metadata, f"{where}.metadata"):
        if node.depth > limits.max_metadata_depth:
            raise InvalidInput(f"{short(node.path)}: metadata is nested more than {limits.max_metadata_depth} levels"
                               " deep")
        v = node.value
        if isinstance(v, dict):
            keys += len(v)
            if keys > limits.max_metadata_keys:
                raise InvalidInput(f"{where}.metadata: more than {limits.max_metadata_keys} keys (nested ones count)")
            for k in v:
                if blank(k):
                    raise InvalidInput(f"{node.path}: a metadata key is empty or blank (only spaces or invisible "
                                       "characters)")
                check_text(k, f"{short(node.path)}: key {shown(k)}", limits.max_metadata_key_chars)
        elif isinstance(v, str):
            check_text(v, node.path, limits.max_metadata_string_chars)
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, int):
            check_int(v, node.path)
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise InvalidInput(f"{node.path}: {v} is not a finite number")
        elif not isinstance(v, list):
            raise InvalidInput(f"{node.path}: {type(v).__name__} is not a JSON value")
    size = len(json.dumps(metadata, ensure_ascii=False).encode())
    if size > limits.max_metadata_bytes:
        raise InvalidInput(f"{where}.metadata: {size} bytes as JSON, over the limit of {limits.max_metadata_bytes}")


def document_problem(doc: Any, where: str, limits: Limits) -> str | None:
    """The first bound `doc` (an `app.domain.documents.Document`) passes, as a message; None if none.

    Never raises: each `InvalidInput` of the checks (id, texts, entities, metadata) becomes its message, prefixed
    with `where` (for example `documents[3]`).
    """
    try:
        check_id(doc.id, where, limits.max_id_chars)
        check_text(doc.title, f"{where}.title", limits.max_title_chars)
        check_text(doc.body, f"{where}.body", limits.max_text_chars)
        if doc.summary is not None:
            check_text(doc.summary, f"{where}.summary", limits.max_text_chars)
            if blank(doc.summary):
                raise InvalidInput(f"{where}.summary is blank (only spaces or invisible characters): leave it out "
                                   "and one is derived")
        if blank(doc.title) and blank(doc.body):
            raise InvalidInput(f"{where} (id {shown(doc.id)}) has neither title nor body (only spaces or invisible "
                               "characters)")
        if doc.entities is not None:
            if len(doc.entities) > limits.max_entities:
                raise InvalidInput(f"{where}.entities: {len(doc.entities)} entities, over the limit of "
                                   f"{limits.max_entities}")
            for i, entity in enumerate(doc.entities):
                check_text(entity, f"{where}.entities[{i}]", limits.max_entity_chars)
                if blank(entity):
                    raise InvalidInput(f"{where}.entities[{i}] is blank (only spaces or invisible characters)")
        check_metadata(doc.metadata, where, limits)
    except InvalidInput as e:
        return e.message
    return None


def text_chars(doc: Any) -> int:
    """Characters of text a document (`Document`-shaped) adds to its batch, against `max_batch_chars`: its title,
    body, summary and entities."""
    return len(doc.title) + len(doc.body) + len(doc.summary or "") + sum(map(len, doc.entities or ()))


def check_batch(docs: Sequence[Any], limits: Limits) -> None:
    """A batch is written whole or not at all: every document is checked, and every refusal listed.

    Raises:
        InvalidInput: the batch is empty, too large or repeats an id; or some documents pass a bound.
            Then `detail = {"invalid": [{"index", "id", "message"}, ...]}` lists every refused
            document, so a loader can resend the others.
    """
    if not docs:
        raise InvalidInput("empty batch: send at least one document")
    if len(docs) > limits.max_batch:
        raise InvalidInput(f"batch of {len(docs)} documents is over the limit of {limits.max_batch}")
    chars = sum(map(text_chars, docs))
    if chars > limits.max_batch_chars:
        raise InvalidInput(f"batch of {len(docs)} documents holds {chars} characters of text, over the limit of "
                           f"{limits.max_batch_chars}: send fewer documents per batch")
    invalid = []
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        where = f"documents[{i}]"
        problem = document_problem(doc, where, limits)
        if problem is None and doc.id in seen:
            problem = f"{where}: duplicate ids in one batch: {shown(doc.id)} appears twice"
        seen.add(doc.id)
        if problem is not None:
            # the id as sent, so a loader can match it; none when it is not one (not Unicode, or too long to repeat)
            sendable = valid_unicode(doc.id) and len(doc.id) <= limits.max_id_chars
            invalid.append({"index": i, "id": doc.id if sendable else None, "message": problem})
    if invalid:
        more = f" (and {len(invalid) - 1} more)" if len(invalid) > 1 else ""
        raise InvalidInput(f"{invalid[0]['message']}{more}; nothing was written", {"invalid": invalid})


def nested_past(value: Any, max_depth: int) -> str | None:
    """Where `value` first nests deeper than `max_depth` levels (objects and arrays), written as every message
    writes a path (`documents[0].metadata.a`; "" at the top), or None when it does not."""
    return next((short(node.path.removeprefix(".")) for node in _walk(value, "") if node.depth > max_depth), None)


def check_json_value(value: Any, *, max_depth: int) -> None:
    """Any decoded request body nests at most `max_depth` levels (objects and arrays).

    Raises: InvalidInput naming the path (`nested_past`).
    """
    where = nested_past(value, max_depth)
    if where is not None:
        raise InvalidInput(f"{where or 'the request body'}: the request is nested more than {max_depth} levels deep")
