"""Corpus records: a JSONL file or BEIR folder read into documents in the API's shape, each with its `file:line`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.corpus.jsonl import BadRecord, CorpusNotFound, json_type, lines, parse
from app.domain.documents import Document

# --- documents ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One corpus record: the document in the API's shape, or the reason it cannot be sent."""

    where: str
    doc: dict[str, Any] | None
    problem: str | None = None

    @property
    def id(self) -> str | None:
        """The record's id, or None for a record that cannot be read."""
        return self.doc["id"] if self.doc else None


def corpus_file(path: Path) -> Path:
    """The JSONL file of a corpus: the path itself, or `corpus.jsonl` inside a BEIR folder.

    Raises:
        CorpusNotFound: nothing there.
    """
    file = path / "corpus.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise CorpusNotFound(f"no corpus at {file}")
    return file


def record_id(raw: dict[str, Any]) -> str:
    """The record's id (`id`, else BEIR's `_id`) as a string; a string or an integer, never invented.

    Raises:
        ValueError: no id, a blank one, one of another type, or `id` and `_id` that differ.
    """
    value = raw["id"] if raw.get("id") is not None else raw.get("_id")
    if raw.get("id") is not None and raw.get("_id") is not None and str(raw["id"]) != str(raw["_id"]):
        raise ValueError("both `id` and `_id` are given, with different values: keep one (`_id` is BEIR's name "
                         "for the id)")  # `_id` was dropped without a word, as `text` beside `body` once was
    if value is None:
        raise ValueError("record has no id (`id` or `_id`)")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"id must be a string or an integer, not {type(value).__name__} {value!r:.40}")
    text = str(value)
    if not text.strip():
        raise ValueError("record has an empty id")
    return text


# the keys a record may hold: the API's document fields, BEIR's `_id` and `text`
FIELDS = ("id", "_id", "title", "body", "text", "summary", "entities", "metadata")


def to_document(raw: dict[str, Any], doc_id: str) -> dict[str, Any]:
    """A corpus record in the API's document shape; every value passed through as written, for the API's own
    checks (a `title` of `0` or `null`, a `metadata` of `[]`, is refused there, with its message, not rewritten).

    A key left out is what the API's default is: `title`, `body` "", `metadata` {}, `summary` and `entities`
    derived (`null` too; `[]` is the author's "no entities", kept). The body is `body`, or BEIR's `text` when
    `body` is left out or `null`; a record giving both, different, is refused (one would be lost).

    Raises:
        ValueError: a key the API does not take (put such values in `metadata`), or `body` and `text` that
            differ.
    """
    unknown = sorted(k for k in raw if k not in FIELDS)
    if unknown:
        raise ValueError(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: a record "
                         f"holds {', '.join(FIELDS)} (put other values in `metadata`)")
    body, text = raw.get("body"), raw.get("text")
    if body is not None and text is not None and body != text:
        raise ValueError("both `body` and `text` are given, with different values: keep one (`text` is BEIR's "
                         "name for the body)")
    doc = {
        "id": doc_id,
        "title": raw.get("title", ""),
        "body": body if body is not None else text if text is not None else raw.get("body", ""),
        "metadata": raw.get("metadata", {}),
    }
    for derived in ("summary", "entities"):
        if raw.get(derived) is not None:
            doc[derived] = raw[derived]
    return doc


def read_records(path: Path) -> Iterator[Record]:
    """Every record of a JSONL file or BEIR folder, each with its `file:line`; bad ones carry a `problem`.

    A record is refused when it is not a JSON object, has no usable id, repeats an earlier id, or `to_document`
    refuses it (a key the API does not take, `body` and `text` that differ); its values are the API's to check.

    Raises:
        CorpusNotFound: the path names no corpus.
    """
    file = corpus_file(path)
    first_seen: dict[str, str] = {}
    for where, line in lines(file):
        try:
            raw = parse(line)
        except ValueError as e:
            yield Record(where, None, str(e))
            continue
        if not isinstance(raw, dict):
            yield Record(where, None, f"not a JSON object but {json_type(raw)}")
            continue
        try:
            doc_id = record_id(raw)
        except ValueError as e:
            yield Record(where, None, str(e))
            continue
        if doc_id in first_seen:
            yield Record(where, None, f"duplicate id {doc_id!r}, first at {first_seen[doc_id]}")
            continue
        try:
            doc = to_document(raw, doc_id)
        except ValueError as e:
            yield Record(where, None, f"{e} (id {doc_id!r})")
            continue
        first_seen[doc_id] = where
        yield Record(where, doc)


def read_corpus(path: Path) -> Iterator[dict[str, Any]]:
    """Documents (the API's JSON shape) from a JSONL file or a BEIR folder (`corpus.jsonl` with `_id`, `title`, `text`).

    Raises:
        CorpusNotFound: the path names no corpus.
        BadRecord: at the first record that cannot be loaded.
    """
    for record in read_records(path):
        if record.doc is None:
            raise BadRecord(record.where, record.problem or "unreadable")
        yield record.doc


def read_documents(path: Path) -> list[Document]:
    """`read_corpus` as `Document`s.

    Raises:
        CorpusNotFound, BadRecord: as `read_corpus`.
    """
    return [Document.from_dict(d) for d in read_corpus(path)]


