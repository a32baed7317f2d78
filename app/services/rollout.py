"""A gradual rollout at search time: what each version served, and shadow reads off the request path.

`RolloutMonitor` keeps, per process and per rolled-out space, how many searches each version served
and their latency, and runs shadow reads: for a sample of searches the other version of the space is
searched too, by a small pool of worker threads fed by a bounded queue. A search never waits for its
shadow read (when the queue is full the read is dropped and counted), never has more than one, and
its answer is computed before the shadow read is queued, so the shadow cannot change it. Listeners
(the app's Prometheus metrics) get every event; `summary()` is what the inspection page shows.
"""

from __future__ import annotations

import logging
import queue
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.domain.metrics import overlap_at_k
from app.domain.rollout import Routing
from app.settings import RolloutSettings

log = logging.getLogger("multivec.rollout")

WINDOW = 1000  # latencies and overlaps kept per version for the medians the page shows
OVERLAP_K = 10


@dataclass(frozen=True)
class RolloutEvent:
    """One thing that happened: a search `served` by a version, a `shadow` read of one (with its
    overlap@10 against the answer), or a shadow read `dropped` (queue full) or `failed`."""

    kind: Literal["served", "shadow", "dropped", "failed"]
    space: str
    version: str
    seconds: float | None = None
    overlap: float | None = None


Listener = Callable[[RolloutEvent], None]


@dataclass
class VersionStats:
    """What one version did during a rollout, in this process."""

    served: int = 0
    served_s: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    shadow_runs: int = 0
    shadow_s: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    overlaps: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    dropped: int = 0
    failed: int = 0


def _median_ms(values: deque[float]) -> float | None:
    return round(statistics.median(values) * 1000, 2) if values else None


class RolloutMonitor:
    """Counts what each version served and runs shadow reads on a bounded pool (see the module docstring).

    Args:
        settings: shadow sample, workers and queue size.
    """

    def __init__(self, settings: RolloutSettings | None = None) -> None:
        self.settings = settings or RolloutSettings()
        self._stats: dict[str, tuple[str, dict[str, VersionStats]]] = {}  # space -> (rollout started, by version)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=self.settings.shadow_queue)
        self._workers: list[threading.Thread] = []
        self._closed = False

    # -- listeners -----------------------------------------------------------------------------------
    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every event from now on; returns what stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def _emit(self, event: RolloutEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener never breaks a search or a worker
                log.exception("rollout listener failed")

    def _version(self, space: str, started: str, version: str) -> VersionStats:
        """The stats of `version` in the rollout of `space` that began at `started` (a new rollout starts afresh).
        Called under the lock."""
        current = self._stats.get(space)
        if current is None or current[0] != started:
            current = (started, {})
            self._stats[space] = current
        return current[1].setdefault(version, VersionStats())

    # -- what searches report ------------------------------------------------------------------------
    def served(self, routing: Routing, seconds: float) -> None:
        """A search answered under `routing` (its fused spaces' decisions) in `seconds`."""
        with self._lock:
            for d in routing.decisions:
                stats = self._version(d.space, d.started, d.served)
                stats.served += 1
                stats.served_s.append(seconds)
        for d in routing.decisions:
            self._emit(RolloutEvent("served", d.space, d.served, seconds=seconds))

    def shadow(self, routing: Routing, served_ids: list[str], run: Callable[[], list[str]], *,
               k: int = OVERLAP_K) -> bool:
        """Queue one shadow read of a search answered under `routing`.

        Args:
            routing: the search's decisions; the shadow read runs each space's other version.
            served_ids: the point ids of the answer, best first.
            run: searches the other versions and returns their point ids, best first (on a worker).
            k: overlap@k (at most the search's limit).

        Returns:
            False when it was dropped: the queue is full, or the monitor is closed.
        """
        if not routing:
            return False

        def job() -> None:
            t0 = time.perf_counter()
            try:
                ids = run()
            except Exception as e:  # the store or an encoder failed: recorded, never raised
                log.warning("shadow read failed: %s", e)
                self._record(routing, "failed")
                return
            self._record(routing, "shadow", seconds=time.perf_counter() - t0, overlap=overlap_at_k(served_ids, ids, k))

        with self._lock:
            if self._closed:
                return False
            self._start_workers()
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                full = True
            else:
                full = False
                self._pending += 1
        if full:
            self._record(routing, "dropped")
            return False
        return True

    def _record(self, routing: Routing, kind: Literal["shadow", "dropped", "failed"], *,
                seconds: float | None = None, overlap: float | None = None) -> None:
        with self._lock:
            for d in routing.decisions:
                stats = self._version(d.space, d.started, d.other)
                if kind == "shadow":
                    stats.shadow_runs += 1
                    stats.shadow_s.append(seconds or 0.0)
                    stats.overlaps.append(overlap if overlap is not None else 0.0)
                elif kind == "dropped":
                    stats.dropped += 1
                else:
                    stats.failed += 1
        for d in routing.decisions:
            self._emit(RolloutEvent(kind, d.space, d.other, seconds=seconds, overlap=overlap))

    # -- the pool ------------------------------------------------------------------------------------
    def _start_workers(self) -> None:
        """Start the worker threads on first use (called under the lock)."""
        while len(self._workers) < self.settings.shadow_workers:
            t = threading.Thread(target=self._work, name=f"multivec-shadow-{len(self._workers)}", daemon=True)
            self._workers.append(t)
            t.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued shadow read has run (tests; a clean shutdown). False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Drop the shadow reads still queued and stop the workers (before the store closes)."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            while True:
                try:
                    if self._queue.get_nowait() is not None:
                        self._pending -= 1
                except queue.Empty:
                    break
            self._idle.notify_all()
        for _ in workers:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:  # a worker stuck in a read: it is a daemon thread, let it be
                break
        for t in workers:
            t.join(timeout)

    # -- what the inspection page shows -------------------------------------------------------------
    def summary(self) -> dict[str, dict[str, Any]]:
        """Per rolled-out space, since its rollout started (in this process): `{started, searches, versions:
        {version: {served, share, latency_p50_ms, shadow_runs, shadow_latency_p50_ms, overlap_mean,
        overlap_p50, dropped, failed}}}`; `share` is the version's part of the searches served."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for space, (started, versions) in self._stats.items():
                total = sum(v.served for v in versions.values())
                out[space] = {"started": started, "searches": total, "versions": {
                    name: {"served": v.served, "share": v.served / total if total else None,
                           "latency_p50_ms": _median_ms(v.served_s), "shadow_runs": v.shadow_runs,
                           "shadow_latency_p50_ms": _median_ms(v.shadow_s),
                           "overlap_mean": round(statistics.fmean(v.overlaps), 4) if v.overlaps else None,
                           "overlap_p50": round(statistics.median(v.overlaps), 4) if v.overlaps else None,
                           "dropped": v.dropped, "failed": v.failed}
                    for name, v in versions.items()}}
        return out
