"""Fusion math, the same as Qdrant's: weighted RRF and (weighted) DBSF over ranked lists.

Used where the store cannot fuse (weighted DBSF), to explain what each space contributed, and by
the evaluation harness to try fusion variants on per-space results fetched once.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

Ranked = Sequence[tuple[Hashable, float]]  # (id, score), best first


def rrf(lists: Sequence[Ranked], *, k: int, weights: Sequence[float] | None = None) -> list[tuple[Hashable, float]]:
    """Weighted reciprocal rank fusion as Qdrant computes it: w / (rank + 1 + w * (k - 1))."""
    weights = weights or [1.0] * len(lists)
    scores: dict[Hashable, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        if w <= 0:
            continue
        for rank, (pid, _) in enumerate(ranked):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / ((rank + 1.0) / w + k - 1.0)
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))


def dbsf_normalize(ranked: Ranked) -> list[tuple[Hashable, float]]:
    """Scale scores so mean - 3 sd -> 0 and mean + 3 sd -> 1 (sample variance, as Qdrant)."""
    n = len(ranked)
    if n == 0:
        return []
    if n == 1:
        return [(ranked[0][0], 0.5)]
    mean = sum(s for _, s in ranked) / n
    var = sum((s - mean) ** 2 for _, s in ranked) / (n - 1)
    if var == 0:
        return [(pid, 0.5) for pid, _ in ranked]
    sd = math.sqrt(var)
    low, high = mean - 3 * sd, mean + 3 * sd
    return [(pid, (s - low) / (high - low)) for pid, s in ranked]


def dbsf(lists: Sequence[Ranked], *, weights: Sequence[float] | None = None) -> list[tuple[Hashable, float]]:
    """Distribution-based score fusion: sum of (weighted) normalised scores."""
    weights = weights or [1.0] * len(lists)
    scores: dict[Hashable, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        if w <= 0:
            continue
        for pid, s in dbsf_normalize(ranked):
            scores[pid] = scores.get(pid, 0.0) + w * s
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))


def fuse(
    lists: Sequence[Ranked], *, method: str, k: int, weights: Sequence[float] | None = None
) -> list[tuple[Hashable, float]]:
    if method == "rrf":
        return rrf(lists, k=k, weights=weights)
    if method == "dbsf":
        return dbsf(lists, weights=weights)
    raise ValueError(f"unknown fusion {method!r}")
