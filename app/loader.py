"""Bulk loading: send a corpus in batches, check every answer, go on past refused documents when asked.

Library code: everything here raises `LoadError`s (reading the corpus, app.corpus's `CorpusError`s);
only `app.cli` prints and exits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

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
from app.domain.bounds import text_chars

# The errors and writers live in app.load_writers; re-exported here for the loader's callers.
from app.load_writers import (  # noqa: F401
    BatchLimits,
    DirectWriter,
    DocumentsRefused,
    HttpWriter,
    Invalid,
    LoadError,
    OptimizeFailed,
    RequestFailed,
    Writer,
    parse_invalid,
)

T = TypeVar("T")

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


def record_chars(doc: dict[str, Any]) -> int:
    """Characters of text a document (the API's JSON shape) adds to a request, as the service counts them
    (`max_batch_chars`); a value of the wrong type counts 0 (the service refuses it for its type)."""
    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    entities = doc.get("entities")
    return text_chars(SimpleNamespace(title=text(doc.get("title")), body=text(doc.get("body")),
                                      summary=text(doc.get("summary")),
                                      entities=[text(e) for e in entities] if isinstance(entities, list) else []))


def record_bytes(doc: dict[str, Any]) -> int:
    """Bytes of JSON a document adds to a request, non-ASCII escaped (an upper bound of any encoder's)."""
    return len(json.dumps(doc, default=str)) + 1


def cut(records: Iterable[Record], size: int, limits: BatchLimits | None = None) -> Iterator[list[Record]]:
    """Consecutive batches of at most `size` records that each fit one request: at most `limits.documents`
    documents, `limits.chars` characters of text and `limits.bytes` bytes of JSON; a record over a limit alone
    is a batch of its own."""
    most = min(size, limits.documents) if limits else size
    batch: list[Record] = []
    chars = size_bytes = 0
    for record in records:
        n = record_chars(record.doc) if limits and record.doc else 0
        b = record_bytes(record.doc) if limits and record.doc else 0
        if batch and (len(batch) >= most or (limits and (chars + n > limits.chars or size_bytes + b > limits.bytes))):
            yield batch
            batch, chars, size_bytes = [], 0, 0
        batch.append(record)
        chars, size_bytes = chars + n, size_bytes + b
    if batch:
        yield batch


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
        """Documents written per second of the load (0 before any time has passed)."""
        return self.written / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int], None]


class LoadStopped(LoadError):
    """The load stopped before the end; `report` says what was written and where to go on from.

    `refused` is True when it stopped on documents refused for their content (so `--skip-invalid` would go on).
    """

    def __init__(self, message: str, report: LoadReport, *, refused: bool) -> None:
        super().__init__(message)
        self.report = report
        self.refused = refused


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

    def run(self, records: Iterable[Record], *, batch_size: int = 64,
            limits: Callable[[], BatchLimits] | None = None, optimize: bool = True) -> LoadReport:
        """Load every record in batches of at most `batch_size`, each cut to fit `limits()` (the service's, asked
        once the records read, so that no request is refused for its size), then optimise. A record whose text
        alone is over `limits().chars` is refused before anything is sent (skipped with `skip_invalid`).

        Raises:
            LoadStopped: stopped on refused records or a failed write; `report` says how far it got.
            OptimizeFailed: everything was handled but the index was not optimised.
        """
        t0 = time.perf_counter()
        try:
            good = self._refuse_unreadable(list(records))
            most = limits() if limits and good else None
            if most:
                good = self._refuse_unreadable([_over(r, most) for r in good])
            for n, batch in enumerate(cut(good, batch_size, most)):
                self._send(batch, n)
                self.report.resume_after = batch[-1].id
        finally:
            self.report.seconds = time.perf_counter() - t0
        if optimize:
            self.writer.optimize()
        return self.report

    def _refuse_unreadable(self, records: list[Record]) -> list[Record]:
        """Records the loader itself refuses (no id, not JSON, duplicates, more text than one request may hold):
        skipped, or the load stops first."""
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


def _over(record: Record, limits: BatchLimits) -> Record:
    """The record, or the same refused when its text or its JSON alone is more than one request may hold."""
    chars = record_chars(record.doc) if record.doc else 0
    if chars > limits.chars:
        return Record(record.where, None, f"document {record.id!r} holds {chars} characters of text, over the "
                                          f"service's limit of {limits.chars} for one request (max_batch_chars)")
    size = record_bytes(record.doc) if record.doc else 0
    if size > limits.bytes:
        return Record(record.where, None, f"document {record.id!r} is {size:,} bytes of JSON, over the "
                                          f"{limits.bytes:,} one request may hold")
    return record


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
