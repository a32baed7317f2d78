"""Ranking metrics of one query that serving needs (the migration gate): nDCG@k, Recall@k, MRR@k, overlap@k.

Pure and dependency-free, so the served app never loads the evaluation harness. Definitions as in
BEIR / trec_eval: gains are the judged grades (linear, not 2^g - 1), discount 1 / log2(rank + 1),
the ideal ranking sorts every judged relevant document by grade. `app.eval.metrics` scores whole
runs with ir-measures (trec_eval); tests/unit/test_metrics.py checks that both agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains listed in rank order (rank 1 first)."""
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k: DCG of the top k over the DCG of the best possible top k; 0 when nothing is relevant.

    Args:
        ranked: document ids, best first (duplicates count once, at their first rank).
        relevant: judged ids and their grades (> 0 is relevant; the ideal ranking counts only those).
        k: cut-off, in ranks.

    Returns:
        A value in [0, 1].
    """
    ideal = dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([relevant.get(d, 0) for d in dedupe(ranked)[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """The share of judged relevant documents found in the top k (0 when nothing is relevant).

    Args:
        ranked: document ids, best first (duplicates count once).
        relevant: judged ids and their grades (> 0 is relevant).
        k: cut-off, in ranks.
    """
    rel = {d for d, g in relevant.items() if g > 0}
    if not rel:
        return 0.0
    return len(rel.intersection(dedupe(ranked)[:k])) / len(rel)


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document in the top k, else 0.

    Args:
        ranked: document ids, best first (duplicates count once).
        relevant: judged ids and their grades (> 0 is relevant).
        k: cut-off, in ranks.
    """
    for rank, d in enumerate(dedupe(ranked)[:k], 1):
        if relevant.get(d, 0) > 0:
            return 1.0 / rank
    return 0.0


def overlap_at_k(a: Sequence[str], b: Sequence[str], k: int) -> float:
    """Share of the top k that two rankings have in common, order ignored.

    Denominator: min(k, the larger of the two top-k sets), so 1.0 means the same documents, and a
    ranking that is a strict prefix of the other scores below 1. Two empty rankings agree: 1.0.

    Args:
        a, b: document ids, best first.
        k: cut-off, in ranks.

    Returns:
        A value in [0, 1].
    """
    top_a, top_b = set(a[:k]), set(b[:k])
    size = min(k, max(len(top_a), len(top_b)))
    return len(top_a & top_b) / size if size else 1.0


def dedupe(ranked: Sequence[str]) -> list[str]:
    """The ids in order, each at its first rank only."""
    seen: set[str] = set()
    out = []
    for d in ranked:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out
