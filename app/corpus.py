"""The one reader of corpora, queries and judgements: BEIR folders and our JSONL.

A BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv.
Library code: everything here raises `CorpusError`s (an `InvalidInput`), each naming its `file:line`
where there is one; only the command-line entry points print and exit. Used by the loader
(`scripts/load`), the migration validator's query sets (`scripts/migrate`), and the evaluation harness.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain.bounds import invalid_unicode_at
from app.domain.documents import Document
from app.errors import InvalidInput

Qrels = dict[str, dict[str, int]]  # query id -> {doc id: grade > 0}


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
        ValueError: no id, a blank one, or one of another type.
    """
    value = raw["id"] if raw.get("id") is not None else raw.get("_id")
    if value is None:
        raise ValueError("record has no id (`id` or `_id`)")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"id must be a string or an integer, not {type(value).__name__} {value!r:.40}")
    text = str(value)
    if not text.strip():
        raise ValueError("record has an empty id")
    return text


def to_document(raw: dict[str, Any], doc_id: str) -> dict[str, Any]:
    """A corpus record in the API's document shape (BEIR's `text` is the body)."""
    doc = {
        "id": doc_id,
        "title": raw.get("title") or "",
        "body": raw.get("body", raw.get("text")) or "",
        "metadata": raw.get("metadata") or {},
    }
    if raw.get("summary"):
        doc["summary"] = raw["summary"]
    if raw.get("entities") is not None:  # `[]` is the author's "no entities", kept (None: derived)
        doc["entities"] = raw["entities"]
    return doc


def _lines(file: Path) -> Iterator[tuple[str, str]]:
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


def _parse(line: str) -> Any:
    """One JSONL line as JSON; every string in it valid Unicode.

    Raises: ValueError saying what is wrong with the line.
    """
    if line.startswith("\0"):
        raise ValueError(line[1:])
    try:
        raw = json.loads(line)
        bad = invalid_unicode_at(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None
    except RecursionError:  # one record: --skip-invalid passes over it, else its file:line ends the run
        raise ValueError("nested too deeply to decode") from None
    if bad is not None:
        raise ValueError(f"{bad} is not valid Unicode (a lone surrogate such as \\ud800)")
    return raw


def read_records(path: Path) -> Iterator[Record]:
    """Every record of a JSONL file or BEIR folder, each with its `file:line`; bad ones carry a `problem`.

    A record is refused when it is not a JSON object, has no usable id, or repeats an earlier id.

    Raises:
        CorpusNotFound: the path names no corpus.
    """
    file = corpus_file(path)
    first_seen: dict[str, str] = {}
    for where, line in _lines(file):
        try:
            raw = _parse(line)
        except ValueError as e:
            yield Record(where, None, str(e))
            continue
        if not isinstance(raw, dict):
            yield Record(where, None, f"not a JSON object but {type(raw).__name__}")
            continue
        try:
            doc_id = record_id(raw)
        except ValueError as e:
            yield Record(where, None, str(e))
            continue
        if doc_id in first_seen:
            yield Record(where, None, f"duplicate id {doc_id!r}, first at {first_seen[doc_id]}")
            continue
        first_seen[doc_id] = where
        yield Record(where, to_document(raw, doc_id))


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


# --- any JSONL ----------------------------------------------------------------------------------------------------


def read_json_objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:line`, object) of every non-blank line of a JSONL file.

    Raises:
        CorpusNotFound: no such file.
        BadRecord: a line that is not a JSON object.
    """
    if not path.is_file():
        raise CorpusNotFound(f"no file at {path}")
    for where, line in _lines(path):
        try:
            raw = _parse(line)
        except ValueError as e:
            raise BadRecord(where, str(e)) from e
        if not isinstance(raw, dict):
            raise BadRecord(where, f"not a JSON object but {type(raw).__name__}")
        yield where, raw


# --- queries and judgements ---------------------------------------------------------------------------------------


def read_queries(path: Path) -> tuple[list[tuple[str, str]], Qrels]:
    """Queries from a JSONL file (BEIR's queries.jsonl, or a canary file) or from plain text, one query a line.

    JSONL records give the text as `query` or `text`, the id as `id` or `_id` (else the line number),
    and optionally `relevant` doc ids (a list, grade 1, or a map of doc id to grade). Blank lines and
    lines starting with `#` are skipped. Any other suffix than `.jsonl` / `.json` is plain text.

    Returns:
        ([(query id, text)] in file order, qrels of the records that named relevant documents).

    Raises:
        CorpusNotFound: no such file.
        BadRecord: `file:line: not JSON: ...` or `file:line: no \\`query\\` or \\`text\\``.
    """
    if not path.is_file():
        raise CorpusNotFound(f"no query file at {path}")
    queries: list[tuple[str, str]] = []
    qrels: Qrels = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if path.suffix in (".jsonl", ".json"):
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise BadRecord(f"{path}:{n}", f"not JSON: {e}") from e
            if not isinstance(raw, dict):
                raise BadRecord(f"{path}:{n}", f"not a JSON object but {type(raw).__name__}")
            text = raw.get("query", raw.get("text"))
            if not text:
                raise BadRecord(f"{path}:{n}", "no `query` or `text`")
            qid = str(raw.get("id", raw.get("_id", n)))
            relevant = raw.get("relevant") or []
            if relevant:
                qrels[qid] = {str(d): 1 for d in relevant} if isinstance(relevant, list) else \
                    {str(d): int(g) for d, g in relevant.items()}
        else:
            qid, text = str(n), line.strip()
        queries.append((qid, str(text)))
    return queries, qrels


def read_qrels(path: Path) -> Qrels:
    """`query-id  corpus-id  score` rows (tab separated, header first); grades <= 0 are dropped.

    Returns:
        query id -> {doc id: grade > 0}.

    Raises:
        CorpusNotFound: no such file.
        BadRecord: no header (`file:1`), or a grade that is not a number (`file:line`).
    """
    if not path.is_file():
        raise CorpusNotFound(f"no judgements at {path}")
    qrels: Qrels = {}
    with path.open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t")
        header = next(rows, None)
        if header is None or header[0].strip().lower() not in ("query-id", "query_id", "qid"):
            raise BadRecord(f"{path}:1", f"expected a header `query-id corpus-id score`, got {header}")
        for row in rows:
            if len(row) < 3 or not row[0].strip():
                continue
            try:
                grade = int(float(row[2]))
            except ValueError as e:
                raise BadRecord(f"{path}:{rows.line_num}", f"grade {row[2]!r} is not a number") from e
            if grade > 0:
                qrels.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    return qrels


def find_qrels(folder: Path, splits: list[str]) -> Path:
    """The first `qrels/<split>.tsv` of `splits` that exists in a BEIR folder.

    Raises:
        CorpusNotFound: none of them.
    """
    found = next((folder / "qrels" / f"{s}.tsv" for s in splits if (folder / "qrels" / f"{s}.tsv").exists()), None)
    if found is None:
        raise CorpusNotFound(f"no qrels/{'|'.join(splits)}.tsv in {folder}")
    return found


# --- a judged BEIR dataset ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A judged dataset: documents, the queries of one split, and their relevance judgements."""

    name: str
    split: str
    docs: list[Document]
    queries: dict[str, str]  # query id -> text, only queries with at least one relevant document
    qrels: Qrels  # query id -> {doc id: grade > 0}


def load_beir(folder: Path, split: str = "test") -> Dataset:
    """Read a BEIR folder; queries without a judged relevant document are left out.

    Raises:
        CorpusNotFound: `not a BEIR folder: <file> is missing`.
        BadRecord: a record or row that cannot be read, with its `file:line`.
    """
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for p in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not p.exists():
            raise CorpusNotFound(f"not a BEIR folder: {p} is missing")
    docs = read_documents(folder)
    qrels = read_qrels(qrels_path)
    queries = {qid: text for qid, text in read_queries(folder / "queries.jsonl")[0] if qid in qrels}
    qrels = {q: rel for q, rel in qrels.items() if q in queries}
    return Dataset(name=folder.name, split=split, docs=docs, queries=queries, qrels=qrels)
