"""Bulk loading: send a corpus in batches, check every answer, go on past refused documents when asked.

Library code: everything here raises `LoadError`s (reading the corpus, app.corpus's `CorpusError`s);
only `app.cli` prints and exits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

# The reader lives in app.corpus; its names are re-exported here for the loader's callers.
from app.corpus import (  # noqa: F401
    BadRecord,
    CorpusError,
    CorpusNotFound,
    Record,
    corpus_file,
    read_corpus,
    read_records,
    to_document,
)

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


# --- reading: app.corpus reads the records; these pick where to start and cut batches ---------------------------


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
