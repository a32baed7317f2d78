"""The one latency harness: run named plans interleaved per query, in a shuffled order, and time them.

Interleaving puts load from elsewhere on the machine on every plan alike, which keeps the ratios
between plans fair. `scripts/evaluate` times real search requests (encode + store) with it,
`scripts/bench` times prebuilt plans on real or synthetic vectors.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.eval.metrics import percentile

Q = TypeVar("Q")

# One timed call: run plan `name` for query `q`; returns (store milliseconds, anything to keep, e.g. the top ids).
Call = Callable[[str, Q], tuple[float, Any]]


@dataclass
class Timings:
    """Per plan: encode + store and store-only milliseconds, one per query timed, and what each call kept."""

    total_ms: list[float] = field(default_factory=list)
    store_ms: list[float] = field(default_factory=list)
    kept: list[Any] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """p50 / p95 of both, in ms, and the number of queries timed."""
        return {"p50_ms": percentile(self.total_ms, 50), "p95_ms": percentile(self.total_ms, 95),
                "store_p50_ms": percentile(self.store_ms, 50), "store_p95_ms": percentile(self.store_ms, 95),
                "n": len(self.total_ms)}


@dataclass
class Run(Generic[Q]):
    """The result of `interleave`: timings per plan name, and how many queries were timed."""

    plans: dict[str, Timings]
    queries: int


def interleave(names: Sequence[str], queries: Sequence[Q], call: Call[Q], *, warmup: int = 3, seed: int = 0,
               budget_s: float | None = None) -> Run[Q]:
    """Time `call(name, q)` for every plan name and query; per query the plans run in a shuffled order.

    Args:
        names: plan names, passed back to `call`.
        queries: whatever `call` needs per query (a text, or synthetic vectors).
        call: runs one plan for one query; returns (store ms, something to keep). Its whole wall time,
            measured here with perf_counter, is the total (encode + store) latency.
        warmup: the first this many queries are run once through every plan, untimed.
        seed: of the shuffles (same seed, same order).
        budget_s: stop after the query during which this many seconds of timing went by (None: all).

    Returns:
        Timings per name (lists in query order) and the number of queries timed.
    """
    rng = random.Random(seed)
    for q in queries[:warmup]:
        for n in names:
            call(n, q)
    out = {n: Timings() for n in names}
    t_start = time.perf_counter()
    done = 0
    for q in queries:
        order = list(names)
        rng.shuffle(order)
        for n in order:
            t0 = time.perf_counter()
            store_ms, kept = call(n, q)
            out[n].total_ms.append((time.perf_counter() - t0) * 1000)
            out[n].store_ms.append(store_ms)
            out[n].kept.append(kept)
        done += 1
        if budget_s and time.perf_counter() - t_start > budget_s:
            break
    return Run(out, done)
