"""Bulk loading: read a corpus, send it in batches, check every answer, go on past refused documents when asked.

Library code: everything here raises `LoadError`s; only `app.cli` prints and exits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import httpx

    from app.container import Services

T = TypeVar("T")


# --- errors -------------------------------------------------------------------------------------------------------


class LoadError(Exception):
    """Base of every error the loader reports."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CorpusNotFound(LoadError):
    """The path names no corpus file."""


class BadRecord(LoadError):
    """A corpus record that cannot be loaded (not JSON, no id, ...); `where` is `file:line`."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class Invalid:
    """One document the service refused, by its position in the batch sent."""

    index: int
    id: str | None
    message: str


class DocumentsRefused(LoadError):
    """A batch refused for its documents' content (a 422): nothing of it was written.

    `invalid` lists the refused documents when the answer names them, else it is None.
    """

    def __init__(self, message: str, invalid: list[Invalid] | None = None) -> None:
        super().__init__(message)
        self.invalid = invalid


class RequestFailed(LoadError):
    """Any other failure to write: no connection, refused credentials, a server or store error, a locked store."""


class OptimizeFailed(LoadError):
    """The documents are written but the index was not optimised."""


class LoadStopped(LoadError):
    """The load stopped before the end; `report` says what was written and where to go on from.

    `refused` is True when it stopped on documents refused for their content (so `--skip-invalid` would go on).
    """

    def __init__(self, message: str, report: LoadReport, *, refused: bool) -> None:
        super().__init__(message)
        self.report = report
        self.refused = refused


# --- reading ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One corpus record: the document in the API's shape, or the reason it cannot be sent."""

    where: str
    doc: dict[str, Any] | None
    problem: str | None = None

    @property
    def id(self) -> str | None:
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
    for key in ("summary", "entities"):
        if raw.get(key):
            doc[key] = raw[key]
    return doc


def read_records(path: Path) -> Iterator[Record]:
    """Every record of a JSONL file or BEIR folder, each with its `file:line`; bad ones carry a `problem`.

    A record is refused when it is not a JSON object, has no usable id, or repeats an earlier id.

    Raises:
        CorpusNotFound: the path names no corpus.
    """
    file = corpus_file(path)
    first_seen: dict[str, str] = {}
    with file.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{file}:{n}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                yield Record(where, None, f"not JSON: {e}")
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
    """Documents from a JSONL file or a BEIR folder (`corpus.jsonl` with `_id`, `title`, `text`).

    Raises:
        CorpusNotFound: the path names no corpus.
        BadRecord: at the first record that cannot be loaded.
    """
    for record in read_records(path):
        if record.doc is None:
            raise BadRecord(record.where, record.problem or "unreadable")
        yield record.doc


def start_after(records: Iterable[Record], doc_id: str) -> Iterator[Record]:
    """The records after the one with this id (to go on after a stop).

    Raises:
        LoadError: no record has that id.
    """
    it = iter(records)
    for record in it:
        if record.id == doc_id:
            yield from it
            return
    raise LoadError(f"--start-after {doc_id!r}: no record has that id")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last one shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- writing ------------------------------------------------------------------------------------------------------


class Writer(Protocol):
    """Where documents go: the running service (HTTP) or the store itself (direct)."""

    def write(self, docs: list[dict[str, Any]]) -> None:
        """Write one batch, all or nothing.

        Raises:
            DocumentsRefused: refused for its content; nothing written.
            RequestFailed: any other failure.
        """

    def optimize(self) -> None:
        """Build the indexes after the load.

        Raises:
            OptimizeFailed: refused or failed.
        """


def _error_parts(response: httpx.Response) -> tuple[str, str, Any]:
    """(code, message, detail) of an error answer, tolerant of bodies that are not our JSON shape."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return str(body.get("code") or ""), str(body["message"]), body.get("detail")
    return "", (response.text or response.reason_phrase).strip()[:300], None


def parse_invalid(detail: Any) -> list[Invalid] | None:
    """The refused documents a 422's `detail` names, if it names them.

    Either our `{"invalid": [{index, id, message}]}`, or the schema's list of `{key: "documents.3.title",
    message}`; anything else (or a problem with the batch as a whole) gives None.
    """
    if isinstance(detail, list):
        return _schema_invalid(detail)
    items = detail.get("invalid") if isinstance(detail, dict) else None
    if not isinstance(items, list) or not items:
        return None
    out: list[Invalid] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("index"), int) or isinstance(item["index"], bool):
            return None
        doc_id = item.get("id")
        out.append(Invalid(item["index"], None if doc_id is None else str(doc_id), str(item.get("message") or "")))
    return out


def _schema_invalid(problems: list[Any]) -> list[Invalid] | None:
    """Schema errors keyed `documents.<index>.<field>` as refused documents; None unless every one names one."""
    out: list[Invalid] = []
    for p in problems:
        parts = str(p.get("key") or "").split(".", 2) if isinstance(p, dict) else []
        if len(parts) < 2 or parts[0] != "documents" or not parts[1].isdigit():
            return None
        field_name = parts[2] if len(parts) > 2 else "document"
        out.append(Invalid(int(parts[1]), None, f"{field_name}: {p.get('message')}"))
    return out or None


class HttpWriter:
    """Writes through the running service; every answer is checked.

    Args:
        client: an httpx client whose base URL is the service (tests pass one bound to the app).
        api_key: the service's read-write key, sent as `api-key` (MULTIVEC_API_KEY).
        admin_token: the admin token, sent as `Authorization: Bearer` to `/admin/optimize` (MULTIVEC_ADMIN_TOKEN).
    """

    def __init__(self, client: httpx.Client, *, api_key: str | None = None, admin_token: str | None = None) -> None:
        self.client = client
        self.headers = {"api-key": api_key} if api_key else {}
        self.admin_headers = {**self.headers, **({"Authorization": f"Bearer {admin_token}"} if admin_token else {})}

    def _post(self, path: str, *, headers: dict[str, str], json_body: Any, error: type[LoadError]) -> httpx.Response:
        import httpx

        try:
            return self.client.post(path, json=json_body, headers=headers)
        except httpx.HTTPError as e:
            raise error(f"cannot reach the service at {self.client.base_url}: {type(e).__name__}: {e}") from e

    def write(self, docs: list[dict[str, Any]]) -> None:
        r = self._post("/documents", headers=self.headers, json_body={"documents": docs}, error=RequestFailed)
        if r.is_success:
            return
        code, message, detail = _error_parts(r)
        if r.status_code == 422:
            raise DocumentsRefused(message, parse_invalid(detail))
        hint = " (set MULTIVEC_API_KEY to the service's read-write key)" if r.status_code in (401, 403) else ""
        raise RequestFailed(f"POST /documents answered {r.status_code} {code or r.reason_phrase}: {message}{hint}")

    def optimize(self) -> None:
        r = self._post("/admin/optimize", headers=self.admin_headers, json_body=None, error=OptimizeFailed)
        if not r.is_success:
            code, message, _ = _error_parts(r)
            raise OptimizeFailed(f"POST /admin/optimize answered {r.status_code} {code or r.reason_phrase}: {message}")


def _pydantic_refusal(error: Any) -> DocumentsRefused:
    """A schema error over `{"documents": [...]}`, named per document as the API's 422 names them."""
    problems = [{"key": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")} for e in error.errors()]
    message = "; ".join(f"{p['key']}: {p['message']}" for p in problems)
    return DocumentsRefused(message, _schema_invalid(problems))


class DirectWriter:
    """Writes straight to the store (the service stopped), with the same checks the API makes."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def write(self, docs: list[dict[str, Any]]) -> None:
        from pydantic import ValidationError

        from app.api.schemas import DocumentsIn
        from app.domain.documents import Document
        from app.errors import AppError, InvalidInput, UnknownSpace

        try:
            data = DocumentsIn.model_validate({"documents": docs})
        except ValidationError as e:
            raise _pydantic_refusal(e) from e
        try:  # upsert validates every bound first (IngestService.validate), as the API does
            self.services.ingest.upsert([Document.from_dict(d.model_dump()) for d in data.documents])
        except (InvalidInput, UnknownSpace) as e:
            raise DocumentsRefused(e.message, parse_invalid(e.detail)) from e
        except AppError as e:
            raise RequestFailed(f"{e.code}: {e.message}") from e

    def optimize(self) -> None:
        from app.errors import AppError

        try:
            self.services.store.optimize(self.services.registry.physical())
        except AppError as e:
            raise OptimizeFailed(f"{e.code}: {e.message}") from e


# --- the load -----------------------------------------------------------------------------------------------------


@dataclass
class Skipped:
    """A record left out, and why."""

    where: str
    id: str | None
    reason: str


@dataclass
class LoadReport:
    """What a load did; `resume_after` is the id of the last record of the last batch fully handled.

    `refused` holds the records that stopped a load (without `--skip-invalid`), `skipped` those passed over.
    """

    written: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    refused: list[Skipped] = field(default_factory=list)
    resume_after: str | None = None
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int], None]


class Loader:
    """Sends records in batches through a writer and keeps the report.

    Args:
        writer: HttpWriter or DirectWriter.
        skip_invalid: go on past documents refused for their content (else stop at the first refused batch).
        progress: called with the number of records handled (written or skipped) as the load advances.
    """

    def __init__(self, writer: Writer, *, skip_invalid: bool = False, progress: Progress | None = None) -> None:
        self.writer = writer
        self.skip_invalid = skip_invalid
        self.progress = progress or (lambda n: None)
        self.report = LoadReport()

    def run(self, records: Iterable[Record], *, batch_size: int = 64, optimize: bool = True) -> LoadReport:
        """Load every record, then optimise.

        Raises:
            LoadStopped: stopped on refused records or a failed write; `report` says how far it got.
            OptimizeFailed: everything was handled but the index was not optimised.
        """
        t0 = time.perf_counter()
        try:
            good = self._refuse_unreadable(list(records))
            for n, batch in enumerate(batched(good, batch_size)):
                self._send(batch, n)
                self.report.resume_after = batch[-1].id
        finally:
            self.report.seconds = time.perf_counter() - t0
        if optimize:
            self.writer.optimize()
        return self.report

    def _refuse_unreadable(self, records: list[Record]) -> list[Record]:
        """Records the loader itself refuses (no id, not JSON, duplicates): skipped, or the load stops first."""
        bad = [r for r in records if r.doc is None]
        if bad and not self.skip_invalid:
            self.report.refused = [Skipped(r.where, None, r.problem or "unreadable") for r in bad]
            listed = "; ".join(f"{r.where}: {r.problem}" for r in bad[:5])
            more = f"; and {len(bad) - 5} more (listed above)" if len(bad) > 5 else ""
            raise LoadStopped(f"{len(bad)} record(s) refused before anything was sent: {listed}{more}",
                              self.report, refused=True)
        for r in bad:
            self.report.skipped.append(Skipped(r.where, None, r.problem or "unreadable"))
        self.progress(len(bad))
        return [r for r in records if r.doc is not None]

    def _send(self, batch: list[Record], n: int) -> None:
        try:
            self._write(batch)
        except DocumentsRefused as e:  # only without skip_invalid
            named = _named(batch, e.invalid)
            self.report.refused = [Skipped(batch[i].where, batch[i].id, m) for i, m in named]
            listed = "; ".join(f"{batch[i].id!r} ({batch[i].where}): {m}" for i, m in named[:5])
            more = f"; and {len(named) - 5} more (listed above)" if len(named) > 5 else ""
            raise LoadStopped(f"batch {n + 1} ({len(batch)} documents from {batch[0].where}) refused, nothing of it "
                              f"written: {listed + more if named else e.message}", self.report, refused=True) from e
        except RequestFailed as e:
            raise LoadStopped(e.message, self.report, refused=False) from e

    def _write(self, batch: list[Record]) -> None:
        """Write a batch; with skip_invalid, resend it without the refused documents until it goes through."""
        try:
            self.writer.write([r.doc for r in batch])  # type: ignore[misc]
        except DocumentsRefused as e:
            if not self.skip_invalid:
                raise
            self._write_around(batch, e)
            return
        self.report.written += len(batch)
        self.progress(len(batch))

    def _write_around(self, batch: list[Record], refusal: DocumentsRefused) -> None:
        """Skip the documents the answer names and resend the rest; if it names none, bisect.

        Each request is atomic, so a half that goes through is written exactly once.
        """
        named = _named(batch, refusal.invalid)
        if named:
            for i, message in named:
                self._skip(batch[i], message)
            rest = [r for i, r in enumerate(batch) if i not in dict(named)]
            if rest:
                self._write(rest)
        elif len(batch) == 1:
            self._skip(batch[0], refusal.message)
        else:
            mid = len(batch) // 2
            self._write(batch[:mid])
            self._write(batch[mid:])

    def _skip(self, record: Record, reason: str) -> None:
        self.report.skipped.append(Skipped(record.where, record.id, reason))
        self.progress(1)


def _named(batch: list[Record], invalid: list[Invalid] | None) -> list[tuple[int, str]]:
    """(index, message) of the refused documents named by the answer, when they match the batch; else []."""
    if not invalid:
        return []
    named: dict[int, str] = {}
    for item in invalid:
        if not 0 <= item.index < len(batch) or (item.id is not None and item.id != batch[item.index].id):
            return []  # the answer does not describe this batch: find the bad documents by bisection instead
        named[item.index] = "; ".join(filter(None, (named.get(item.index), item.message)))
    return sorted(named.items())
