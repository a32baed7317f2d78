"""Fan-out execution: each space's query its own store request, in parallel, each under its deadline.

A batch search sends every space in one store request and answers whole or fails. A fan-out search
sends each listed space as its own request on a bounded thread pool (the embedded shard answers
concurrent queries from threads; on a server they are concurrent HTTP requests; qdrant-client's
in-memory mode takes them one at a time behind its lock), waits for each until its deadline, fuses
what arrived with the same math as a batch request of those spaces (app.domain.fusion: Qdrant's
formulas, equal scores by point id) and fetches the winners' payloads. Spaces that missed (timed out,
failed, or found the pool full) are named in `degraded`; only when no fused space answered does the
search fail, with `SearchDeadline` (503).

A cascade fans out too: stage 1's spaces as above, their lists fused into the candidates here
(app.domain.cascade.first_stage), then each rerank space scores exactly those candidates (a `HasId`
filter) in its own request, under its own deadline counted from the same start; the final formula
is app.domain.cascade.final_scores over the rerank spaces that answered. A rerank space that missed
is named in `degraded` and the candidates keep their stage-1 order where none answered.

The pool never grows: `fanout_workers` threads, and at most `fanout_queue` space requests waiting for
one. A space that finds it full is not sent and counts as missed (`busy`). A request still queued at
its deadline is cancelled; one already running is left to finish on its thread, and nobody waits
for it (its answer is dropped).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

from app.domain.cascade import CANDIDATES, final_scores, first_stage
from app.domain.learned import fuse_plan
from app.domain.plan import QueryPlan, SpaceQuery, among
from app.errors import AppError, InvalidInput, SearchDeadline, StoreUnavailable
from app.settings import SearchSettings
from app.store.base import Hit, QueryResult, Store, VectorValue
from app.store.types import with_payloads

log = logging.getLogger("multivec.fanout")

Status = Literal["answered", "timeout", "failed", "busy"]
Listed = tuple[list[Hit], float]  # a space's own ranked list, and ms from sending to its arrival


@dataclass(frozen=True)
class Deadlines:
    """How long a fan-out search waits for each space, in ms from when its requests are sent."""

    budget_ms: int
    per_space: Mapping[str, int] = field(default_factory=dict)

    def of(self, space: str) -> int:
        """The deadline of `space`: its own (settings `deadlines_ms`) or the budget, whichever is shorter."""
        return min(self.per_space.get(space, self.budget_ms), self.budget_ms)


@dataclass(frozen=True)
class SpaceOutcome:
    """What happened to one space's request: `answered`, `timeout`, `failed` (the store raised) or `busy`
    (not sent: the pool was full); `ms` is when its list arrived or when it was given up."""

    status: Status
    ms: float
    deadline_ms: int
    error: str | None = None

    def describe(self) -> dict[str, Any]:
        """What `explain` shows for the space: status, `ms` (2 decimals), its `deadline_ms`, and the error if any."""
        out: dict[str, Any] = {"status": self.status, "ms": round(self.ms, 2), "deadline_ms": self.deadline_ms}
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class FanOutResult(QueryResult):
    """A fan-out answer: hits fused from the spaces that answered, with their lists in `per_space`;
    `answered` is the plan cut to those spaces (what the hits were fused from, and what `explain`
    explains); `degraded` the fused spaces that missed, in plan order; `outcomes` every listed space's;
    `scored` each rerank-only space weighted 0 (`plan.scored`) that scored the hits within its deadline."""

    answered: QueryPlan | None = None
    scored: Mapping[str, list[Hit]] = field(default_factory=dict)
    degraded: tuple[str, ...] = ()
    outcomes: Mapping[str, SpaceOutcome] = field(default_factory=dict)
    budget_ms: int = 0

    def describe(self) -> dict[str, Any]:
        """What `explain` adds to the plan: `{execution, fused_in, budget_ms, degraded, fanout: {space: outcome}}`
        (fused here, by app.domain.fusion, whenever more than one space answered)."""
        fused = len(self.answered.spaces) if self.answered else 0
        staged = {"requests": "staged"} if self.stages else {}  # a cascade fanned out runs stage by stage
        return {"execution": "fanout", "fused_in": "client" if fused > 1 else "n/a", "budget_ms": self.budget_ms,
                "degraded": list(self.degraded), **staged,
                "fanout": {space: o.describe() for space, o in self.outcomes.items()}}


def space_plan(plan: QueryPlan, space: SpaceQuery) -> QueryPlan:
    """The plan that asks the store for `space`'s own ranked list and nothing else: no fused query and
    no payloads (`Store.query` returns a listed space's list, ids and scores, `prefetch_limit` long,
    when explaining), the same list a batch request of `plan` fuses."""
    return replace(plan, spaces=(), observed=(space,), rerank=(), explain=True, scorer=None)


def fuse_answered(plan: QueryPlan, lists: Mapping[str, Sequence[Hit]]) -> list[tuple[str, float]]:
    """Every (point id, score) as a batch request of `plan` ranks them, best first: one space by its
    own scores; several fused by app.domain.fusion (Qdrant's formulas, equal scores by point id), or by
    the plan's learned scorer (a space that missed its deadline found nothing).

    Args:
        plan: the plan; each of its fused spaces must have a list.
        lists: space -> its own list, ranked by score then point id (as `Store.query` answers it).
    """
    ranked = [[(h.id, h.score) for h in lists[s.space]] for s in plan.spaces]
    if len(ranked) == 1 and plan.scorer is None:
        return ranked[0]
    return fuse_plan(plan, ranked)


class FanOut:
    """Runs plans in fan-out mode on a bounded pool shared by every search of the process.

    Args:
        settings: the search settings: execution default, budget, per-space deadlines, pool bounds.
    """

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=settings.fanout_workers, thread_name_prefix="multivec-fanout")
        # requests running or waiting for a thread, at most: a full pool refuses at once, never queues more
        self._slots = threading.BoundedSemaphore(settings.fanout_workers + settings.fanout_queue)
        self._inflight: set[Future[Listed]] = set()  # sent and not done: what `close` waits for
        self._lock = threading.Lock()
        self._closed = False

    def deadlines(self, *, fanout: bool | None, budget_ms: int | None, experiment: bool = False) -> Deadlines | None:
        """Whether a search fans out, and its deadlines (None: one batch request).

        A request's `fanout` decides; else a `budget_ms` asks for fan-out; else settings `execution`,
        except for experiments (pinned versions or a collection: validation, A/B), which run as one
        batch request unless they ask, so that a missed space never skews a comparison.

        Args:
            fanout: the request's choice, or None.
            budget_ms: the request's budget in ms (implies fan-out), or None for the settings' `budget_ms`.
            experiment: the request pins versions or a collection.

        Raises:
            InvalidInput: `budget_ms` outside 1..`max_budget_ms`, or given with `fanout` false.
        """
        s = self.settings
        if budget_ms is not None:
            if fanout is False:
                raise InvalidInput("budget_ms is a fan-out deadline: it cannot be given with fanout false")
            if not 1 <= budget_ms <= s.max_budget_ms:
                raise InvalidInput(f"budget_ms {budget_ms} is outside 1..{s.max_budget_ms} "
                                   "(MULTIVEC_SEARCH__MAX_BUDGET_MS)")
        wanted = fanout if fanout is not None else (
            budget_ms is not None or (s.execution == "fanout" and not experiment))
        if not wanted:
            return None
        return Deadlines(budget_ms=budget_ms or s.budget_ms, per_space=dict(s.deadlines_ms))

    def run(self, store: Store, collection: str, plan: QueryPlan, vectors: Mapping[str, VectorValue],
            deadlines: Deadlines) -> FanOutResult:
        """Send each listed space of `plan` as its own request, fuse what answers in time, fetch payloads.

        Args:
            store: the store (its `query` is called once per space, from the pool's threads).
            collection: collection or alias.
            plan: the plan, as for `Store.query`.
            vectors: vector name -> the query vector, for every listed space.
            deadlines: each space's deadline and the budget.

        Returns:
            At most `plan.limit` hits with payloads, best first, equal scores by point id, fused from the
            spaces that answered (equal to a batch request of the plan cut to them), their own lists, and
            every space's outcome.

        Raises:
            SearchDeadline: no fused space answered (each timed out, failed or was not sent).
            CollectionNotFound, InvalidInput: the store refused a space's request (the same for every
                space, so the search is refused as a batch request would be).
            StoreUnavailable: fetching the winners' payloads failed.
        """
        started = time.perf_counter()
        lists, outcomes = self._gather(store, collection, plan, plan.listed, vectors, started, deadlines)
        degraded = tuple(s.space for s in plan.spaces if s.space not in lists)
        if len(degraded) == len(plan.spaces):
            raise _no_space_answered(plan, outcomes, deadlines)
        answered = replace(plan, spaces=tuple(s for s in plan.spaces if s.space in lists),
                           observed=tuple(s for s in plan.observed if s.space in lists))
        stages: dict[str, list[Hit]] = {}
        if plan.cascade:
            ranking, answered, stages, missed = self._rerank(store, collection, answered, lists, vectors, started,
                                                             deadlines, outcomes)
            degraded += missed
        else:
            ranking = fuse_answered(answered, lists)
        top = ranking[: plan.limit]
        scored: dict[str, list[Hit]] = {}
        if plan.scored and top:  # explained only: each scores the hits under its own deadline, as any space
            hits_only = among(plan, [pid for pid, _ in top])
            scored, answers = self._gather(store, collection, hits_only, plan.scored, vectors, started, deadlines)
            outcomes.update(answers)
        outcomes = {s.space: outcomes[s.space] for s in plan.all_spaces if s.space in outcomes}
        hits = with_payloads(ranking, plan.limit, lambda ids: store.retrieve(collection, ids))
        return FanOutResult(hits=hits, per_space={s.space: lists[s.space] for s in answered.listed}, stages=stages,
                            answered=answered, degraded=degraded, outcomes=outcomes, budget_ms=deadlines.budget_ms,
                            scored=scored)

    def _gather(self, store: Store, collection: str, plan: QueryPlan, spaces: Sequence[SpaceQuery],
                vectors: Mapping[str, VectorValue], started: float,
                deadlines: Deadlines) -> tuple[dict[str, list[Hit]], dict[str, SpaceOutcome]]:
        """Send each of `spaces` as its own request of `plan` and wait for each until its deadline:
        the lists that arrived in time, and every space's outcome."""
        sent: dict[str, Future[Listed]] = {}
        outcomes: dict[str, SpaceOutcome] = {}
        for s in spaces:
            fut = self._send(partial(self._list, store, collection, plan, s, vectors, started))
            if fut is None:
                outcomes[s.space] = SpaceOutcome("busy", 0.0, deadlines.of(s.space), "not sent: the pool is full")
            else:
                sent[s.space] = fut
        lists: dict[str, list[Hit]] = {}
        try:
            # shortest deadline first: each wait starts before that space's deadline has passed
            for space, fut in sorted(sent.items(), key=lambda item: deadlines.of(item[0])):
                outcomes[space] = self._wait(space, fut, started, deadlines.of(space), lists)
        finally:
            for fut in sent.values():
                fut.cancel()  # still queued: never sent; running: left to finish, not waited for
        return lists, outcomes

    def _rerank(self, store: Store, collection: str, plan: QueryPlan, lists: Mapping[str, list[Hit]],
                vectors: Mapping[str, VectorValue], started: float, deadlines: Deadlines,
                outcomes: dict[str, SpaceOutcome]) -> tuple[list[tuple[str, float]], QueryPlan,
                                                             dict[str, list[Hit]], tuple[str, ...]]:
        """A cascade's stage 2 in fan-out: `plan` (stage 1 cut to the spaces that answered) gives the
        candidates; each rerank space scores exactly them in its own request (`outcomes` gains theirs).

        Returns:
            Every candidate (id, final score), best first; the plan cut to the rerank spaces that answered;
            the stages (`candidates` and each of those spaces, as `explain` reads them); the rerank
            spaces that missed.
        """
        own = {space: [(h.id, h.score) for h in hits] for space, hits in lists.items()}
        candidates = first_stage(plan, own)
        ids = tuple(pid for pid, _ in candidates)
        candidates_only = among(plan, ids)
        scored, answers = self._gather(store, collection, candidates_only, plan.rerank, vectors, started, deadlines) \
            if ids else ({s.space: [] for s in plan.rerank}, {})
        outcomes.update(answers)
        kept = replace(plan, rerank=tuple(s for s in plan.rerank if s.space in scored))
        missed = tuple(s.space for s in plan.rerank if s.space not in scored)
        stages = {CANDIDATES: [Hit(id=pid, score=score) for pid, score in candidates]} | \
            {s.space: scored[s.space] for s in kept.rerank}
        if not kept.rerank:  # no rerank space answered: the candidates in their stage-1 order
            return candidates, kept, stages, missed
        ranked = {name: [(h.id, h.score) for h in hits] for name, hits in stages.items()}
        return final_scores(kept, ranked), kept, stages, missed

    @staticmethod
    def _wait(space: str, fut: Future[Listed], started: float, deadline: int,
              lists: dict[str, list[Hit]]) -> SpaceOutcome:
        """Wait for one space until its deadline; its list goes into `lists` when it answered."""
        left = started + deadline / 1000 - time.perf_counter()
        try:
            hits, ms = fut.result(timeout=max(0.0, left))
        except FutureTimeout:
            return SpaceOutcome("timeout", (time.perf_counter() - started) * 1000, deadline)
        except StoreUnavailable as e:
            log.warning("fan-out: space %s failed: %s", space, e.message)
            return SpaceOutcome("failed", (time.perf_counter() - started) * 1000, deadline, e.message)
        except AppError:
            raise  # the request's own fault (a missing collection, a refused vector): as a batch request
        except Exception as e:  # an engine error no adapter translated: the space missed, the search goes on
            log.exception("fan-out: space %s raised", space)
            return SpaceOutcome("failed", (time.perf_counter() - started) * 1000, deadline,
                                f"{type(e).__name__}: {e}"[:300])
        if ms > deadline:  # ready by the time this wait began, but it arrived after its deadline: missed
            return SpaceOutcome("timeout", ms, deadline, "arrived after its deadline")
        lists[space] = hits
        return SpaceOutcome("answered", ms, deadline)

    @staticmethod
    def _list(store: Store, collection: str, plan: QueryPlan, space: SpaceQuery,
              vectors: Mapping[str, VectorValue], started: float) -> Listed:
        """One space's own list (on a pool thread), and when it arrived."""
        result = store.query(collection, space_plan(plan, space), {space.vector_name: vectors[space.vector_name]})
        return result.per_space.get(space.space, []), (time.perf_counter() - started) * 1000

    def _send(self, job: Callable[[], Listed]) -> Future[Listed] | None:
        """Submit `job` when a slot is free; None when the pool is full (or closed): nothing waits for one."""
        if self._closed or not self._slots.acquire(blocking=False):
            return None
        try:
            fut = self._pool.submit(job)
        except RuntimeError:  # shut down meanwhile
            self._slots.release()
            return None
        with self._lock:
            self._inflight.add(fut)
        fut.add_done_callback(self._done)  # done, failed or cancelled
        return fut

    def _done(self, fut: Future[Listed]) -> None:
        with self._lock:
            self._inflight.discard(fut)
        self._slots.release()

    def close(self, timeout: float = 5.0) -> None:
        """Refuse new work, cancel queued requests, and wait up to `timeout` seconds for running ones, so
        the store is not closed under them (a request stalled longer is left to end on its own)."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = list(self._inflight)
        wait(running, timeout=timeout)


def _no_space_answered(plan: QueryPlan, outcomes: Mapping[str, SpaceOutcome], deadlines: Deadlines) -> SearchDeadline:
    what = {"timeout": "timed out after {d} ms", "failed": "failed", "busy": "was not sent (the fan-out pool is full)"}
    parts = [f"{s.space} {what[outcomes[s.space].status].format(d=outcomes[s.space].deadline_ms)}"
             for s in plan.spaces]
    return SearchDeadline(f"no space answered within the search's {deadlines.budget_ms} ms budget: "
                          + "; ".join(parts),
                          {"budget_ms": deadlines.budget_ms,
                           "spaces": {space: o.describe() for space, o in outcomes.items()}})
