"""Reading JSONL: the errors every reader of app.corpus raises, each line with its `file:line`, and the
JSON objects of any JSONL file."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.domain.bounds import invalid_unicode_at
from app.errors import InvalidInput


class CorpusError(InvalidInput):
    """A corpus, query or judgement file that cannot be read."""


class CorpusNotFound(CorpusError):
    """The path names no corpus (or no query or judgement file)."""


class BadRecord(CorpusError):
    """A record that cannot be read (not JSON, no id, ...); `where` is `file:line`."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (`null`, `array`, `number`, ...), for messages to people."""
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def lines(file: Path) -> Iterator[tuple[str, str]]:
    """(`file:line`, text) of every non-blank line; a UTF-8 byte-order mark is skipped. A line that
    is not UTF-8 comes back as "" with `where` saying so, for the caller to refuse."""
    with file.open("rb") as f:
        for n, data in enumerate(f, 1):
            try:
                line = data.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                yield f"{file}:{n}", f"\0not UTF-8: {e.reason} at byte {e.start}"
                continue
            if line.strip():
                yield f"{file}:{n}", line


def _finite(text: str) -> float:
    """A JSON number as a float, refused when it overflows (`1e400`): JSON cannot carry it to the service (a
    load through the service ended in a traceback there, while `--direct` refused the record: a break test)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range: no JSON number is that large")
    return value


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (write it as a string, or leave the field out)")


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys each appear once: a repeated key kept its last value, and the first was lost
    without a word (`{"id": "M1", "id": "M1b"}` loaded as M1b: a break test)."""
    obj = dict(pairs)
    if len(obj) < len(pairs):
        twice = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise ValueError(f"the key {twice[:60]!r} appears twice in one object: keep one")
    return obj


def parse(line: str) -> Any:
    """One JSONL line as JSON; every string in it valid Unicode.

    Raises: ValueError saying what is wrong with the line.
    """
    if line.startswith("\0"):
        raise ValueError(line[1:])
    try:
        raw = json.loads(line, parse_float=_finite, parse_constant=_not_a_number, object_pairs_hook=_once)
        bad = invalid_unicode_at(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None
    except RecursionError:  # one record: --skip-invalid passes over it, else its file:line ends the run
        raise ValueError("nested too deeply to decode") from None
    if bad is not None:
        raise ValueError(f"{bad} is not valid Unicode (a lone surrogate such as \\ud800)")
    return raw


# --- any JSONL ----------------------------------------------------------------------------------------------------


def read_json_objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:line`, object) of every non-blank line of a JSONL file.

    Raises:
        CorpusNotFound: no such file.
        BadRecord: a line that is not a JSON object.
    """
    if not path.is_file():
        raise CorpusNotFound(f"no file at {path}")
    for where, line in lines(path):
        try:
            raw = parse(line)
        except ValueError as e:
            raise BadRecord(where, str(e)) from e
        if not isinstance(raw, dict):
            raise BadRecord(where, f"not a JSON object but {json_type(raw)}")
        yield where, raw


