"""The Store port: what the services need from a vector store, in domain types only."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from app.domain.plan import Filter, QueryPlan
from app.errors import AppError, Conflict, StoreUnavailable

VectorValue = Any  # list[float] | list[list[float]] | SparseVec


@dataclass(frozen=True)
class VectorSpec:
    """How a named vector is stored: dense, multivector (MaxSim) or sparse (IDF)."""

    kind: str
    dim: int | None
    distance: str = "cosine"


@dataclass
class PointWrite:
    id: str
    vectors: dict[str, VectorValue]
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredPoint:
    id: str
    payload: dict[str, Any]
    vectors: dict[str, VectorValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class QueryResult:
    """Fused hits, and when the plan asks for them, each space's own ranked list."""

    hits: list[Hit]
    per_space: dict[str, list[Hit]] = field(default_factory=dict)


class Store(Protocol):
    """One interface, two backends (embedded edge shards; a Qdrant server or in-memory client)."""

    kind: str

    def ping(self) -> None: ...
    def close(self) -> None: ...

    def create_collection(self, name: str, vectors: dict[str, VectorSpec]) -> None: ...
    def collection_exists(self, name: str) -> bool: ...
    def delete_collection(self, name: str) -> None: ...
    def list_collections(self) -> list[str]: ...
    def vector_specs(self, name: str) -> dict[str, VectorSpec]: ...
    def add_vector(self, collection: str, name: str, spec: VectorSpec) -> None: ...
    def delete_vector(self, collection: str, name: str) -> None: ...
    def optimize(self, collection: str) -> None: ...

    def upsert(self, collection: str, points: Sequence[PointWrite], *, insert_only: bool = False) -> None: ...
    def update_vectors(
        self, collection: str, vectors: dict[str, dict[str, VectorValue]], *, only_if: Filter | None = None
    ) -> None: ...
    def set_payload(self, collection: str, ids: Sequence[str], payload: dict[str, Any]) -> None: ...
    def retrieve(
        self, collection: str, ids: Sequence[str], with_vectors: bool | Sequence[str] = False
    ) -> list[StoredPoint]: ...
    def delete(self, collection: str, ids: Sequence[str]) -> None: ...
    def scroll(
        self, collection: str, *, filter: Filter | None, limit: int, offset: str | None,
        with_vectors: bool | Sequence[str] = False,
    ) -> tuple[list[StoredPoint], str | None]: ...
    def count(self, collection: str, filter: Filter | None = None) -> int: ...
    def query(self, collection: str, plan: QueryPlan, vectors: dict[str, VectorValue]) -> QueryResult: ...

    def set_alias(self, alias: str, collection: str) -> None: ...
    def get_alias(self, alias: str) -> str | None: ...
    def list_aliases(self) -> dict[str, str]:
        """Every alias and the collection it points at, sorted by alias."""
        ...
    def delete_alias(self, alias: str) -> None: ...

    def put_meta(self, key: str, value: dict[str, Any], *, expect_revision: int | None = None) -> int | None:
        """Store `value` under `key`; with `expect_revision`, only if nobody changed it since it was read.

        Compare-and-set on the stored value's `revision` (the registry carries one): the write goes
        through only when the stored value's `revision` still equals `expect_revision` (0: no value
        yet), and stores `value` with `revision` set to `expect_revision + 1`. Without it, the write
        is unconditional (meta that no two steps update from a read: verdicts, profiles).

        Args:
            key: the meta key, e.g. `registry:documents`.
            value: a JSON-able mapping.
            expect_revision: the revision the caller read, or None for an unconditional write.

        Returns:
            The revision now stored (`expect_revision + 1`), or None for an unconditional write.

        Raises:
            Conflict: the stored revision is not `expect_revision` (another step changed it since it
                was read); nothing is written.
        """
        ...

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """The value stored under `key`, or None."""
        ...


T = TypeVar("T")


def port_methods() -> list[str]:
    """The names of the Store port's methods (from the protocol itself, so none can be forgotten)."""
    return sorted(n for n, v in vars(Store).items() if callable(v) and not n.startswith("_"))


def translate_errors(cls: type, translate: Callable[[BaseException, str], AppError]) -> None:
    """Wrap every port method of adapter class `cls` so any engine error leaves it as one of ours.

    `translate(error, what)` maps an engine error to an `AppError`; ours pass through untouched,
    and so do KeyboardInterrupt, SystemExit and GeneratorExit.
    """
    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (KeyboardInterrupt, SystemExit, GeneratorExit, AppError):
                raise
            except BaseException as e:
                raise translate(e, name) from e
        return call

    for name in port_methods():
        setattr(cls, name, wrap(name, getattr(cls, name)))


def with_retries(fn: Callable[..., T], *, attempts: int, wait_s: float) -> Callable[..., T]:
    """Retry a store call on StoreUnavailable a bounded number of times, then re-raise it."""
    return retry(
        retry=retry_if_exception_type(StoreUnavailable),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=wait_s, max=wait_s * 8),
        reraise=True,
    )(fn)


META_COLLECTION = "_multivec_meta"
META_REVISION = "value.revision"  # the payload path compare-and-set conditions on
WRITERS = "writers"  # payload: tokens of the latest conditional writes, newest last
KEEP_WRITERS = 32
_PROCESS = uuid.uuid4().hex  # tells this process's writes from another's


@dataclass(frozen=True)
class MetaWrite:
    """One conditional meta write, as both adapters send it: the payload and who wrote it."""

    key: str
    expect: int
    payload: dict[str, Any]
    token: str
    done: bool = False  # already stored: nothing to send


def revision_of(payload: dict[str, Any] | None) -> int:
    """The revision of a stored meta payload (0 when there is none)."""
    value = (payload or {}).get("value") or {}
    revision = value.get("revision", 0)
    return revision if isinstance(revision, int) else 0


def lost_race(key: str, expect: int, found: int) -> Conflict:
    return Conflict(f"another step changed {key} meanwhile (revision expected {expect}, found {found}): "
                    "nothing was changed; look at the state again and re-run the step if it still applies",
                    {"key": key, "expected_revision": expect, "found_revision": found})


def write_token(key: str, value: dict[str, Any], expect: int) -> str:
    """Who writes: this process and thread, and what it writes. A retry of the same call (after a
    timeout whose write went through) finds its own token stored, and does not report a conflict."""
    body = json.dumps([_PROCESS, threading.get_ident(), key, expect, value], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def prepare_meta_write(key: str, value: dict[str, Any], expect: int, current: dict[str, Any] | None) -> MetaWrite:
    """The payload of a compare-and-set write, checked first against the payload read just before.

    The token, appended to the writers the stored payload lists, tells afterwards whether this write
    is the one that went through (a conditional upsert does not say whether it matched).

    Returns:
        The write; `done` when `current` already holds it (a retried call whose write went through).

    Raises:
        Conflict: `current` is already past `expect`.
    """
    token = write_token(key, value, expect)
    writers = list((current or {}).get(WRITERS) or [])
    found = revision_of(current) if current is not None else 0
    if found == expect + 1 and writers and writers[-1] == token:
        return MetaWrite(key=key, expect=expect, payload=current or {}, token=token, done=True)
    if found != expect or (current is None) != (expect == 0):
        raise lost_race(key, expect, found)
    payload = {"key": key, "value": {**value, "revision": expect + 1}, WRITERS: [*writers[-(KEEP_WRITERS - 1):], token]}
    return MetaWrite(key=key, expect=expect, payload=payload, token=token)


def confirm_meta_write(write: MetaWrite, stored: dict[str, Any] | None) -> int:
    """After the conditional upsert: the new revision if this write went through.

    Raises:
        Conflict: another write won the race (its revision is reported); ours changed nothing.
    """
    if stored is None or write.token not in (stored.get(WRITERS) or []):
        raise lost_race(write.key, write.expect, revision_of(stored))
    return write.expect + 1


BatchRunner = Callable[[QueryPlan, bool, bool], tuple[list[Hit] | None, list[list[Hit]]]]


def ranked(hits: Sequence[Hit]) -> list[Hit]:
    """Best first; equal scores by point id, so ties come back in the same order on every adapter."""
    return sorted(hits, key=lambda h: (-h.score, h.id))


def run_plan(
    plan: QueryPlan,
    batch: BatchRunner,
    retrieve: Callable[[list[str]], list[StoredPoint]],
) -> QueryResult:
    """Run a plan as one batch request and shape the answer; shared by both adapters.

    `batch(plan, main, per_space)` sends one request holding the fused (or single-space) query
    when `main`, and each space's own query when `per_space`; it returns (main hits, per-space
    hits). When the store does not fuse (`QueryPlan.fuse_in_store`), the per-space lists are fused
    here with Qdrant's formulas, and the winners' payloads fetched in one retrieve.

    Ties: the engine orders equal scores arbitrarily (and may cut a tie at `limit` anywhere), so
    the main query asks for more than `limit` and, while the tie at the cut reaches the end of
    what came back, for more again; hits are then ordered by score, then point id.
    """
    from dataclasses import replace

    from app.domain.fusion import fuse

    main_query = plan.fuse_in_store or len(plan.spaces) == 1
    fetch = replace(plan, limit=plan.limit + TIE_SLACK)
    while True:
        main, lists = batch(fetch, main_query, plan.needs_per_space)
        if main is None or not _tie_cut(ranked(main), plan.limit, fetch.limit):
            break
        fetch = replace(fetch, limit=fetch.limit * 2)
    lists = [ranked(hits) for hits in lists]
    per_space = {s.space: hits for s, hits in zip(plan.listed, lists, strict=False)}
    if main is None:
        fused_lists = [[(h.id, h.score) for h in hits] for hits in lists[: len(plan.spaces)]]
        fused = fuse(fused_lists, method=plan.fusion, k=plan.rrf_k, weights=[s.weight for s in plan.spaces])
        top = fused[: plan.limit]
        by_id = {p.id: p.payload for p in retrieve([str(pid) for pid, _ in top])}
        main = [Hit(id=str(pid), score=score, payload=by_id.get(str(pid))) for pid, score in top]
    else:
        main = ranked(main)[: plan.limit]
    return QueryResult(hits=main, per_space=per_space if plan.explain or not plan.fuse_in_store else {})


TIE_SLACK = 8  # extra hits asked for, so a tie at the cut is seen whole


def _tie_cut(hits: list[Hit], limit: int, asked: int) -> bool:
    """True when the engine may have cut a tie at `limit` short: the hit at the cut ties with the
    last one returned, and the engine returned all that was asked (so more may tie)."""
    return len(hits) >= asked and len(hits) > limit and hits[limit - 1].score == hits[-1].score
