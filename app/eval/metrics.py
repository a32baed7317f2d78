"""Ranking metrics on one query's ranked ids against its judgements: nDCG@k, Recall@k, MRR@k.

Definitions as in BEIR / pytrec_eval: gains are the judged grades (linear, not 2^g - 1),
discount 1 / log2(rank + 1), the ideal ranking sorts every judged relevant document by grade.
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
        relevant: judged relevant ids and their grades (> 0).
        k: cut-off.
    """
    ideal = dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([relevant.get(d, 0) for d in _dedupe(ranked)[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """The share of judged relevant documents found in the top k (0 when nothing is relevant)."""
    rel = {d for d, g in relevant.items() if g > 0}
    if not rel:
        return 0.0
    return len(rel.intersection(_dedupe(ranked)[:k])) / len(rel)


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document in the top k, else 0."""
    for rank, d in enumerate(_dedupe(ranked)[:k], 1):
        if relevant.get(d, 0) > 0:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def score_run(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean of each metric in METRICS over the judged queries (a query missing from `run` scores 0)."""
    if not qrels:
        return dict.fromkeys(METRICS, 0.0)
    totals = dict.fromkeys(METRICS, 0.0)
    for qid, rel in qrels.items():
        ranked = run.get(qid, [])
        totals["ndcg@10"] += ndcg_at_k(ranked, rel, 10)
        totals["recall@10"] += recall_at_k(ranked, rel, 10)
        totals["recall@100"] += recall_at_k(ranked, rel, 100)
        totals["mrr@10"] += mrr_at_k(ranked, rel, 10)
    return {m: v / len(qrels) for m, v in totals.items()}


def ndcg_per_query(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]],
                   k: int = 10) -> dict[str, float]:
    return {q: ndcg_at_k(run.get(q, []), rel, k) for q, rel in qrels.items()}


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], *, resamples: int = 2000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of mean(a - b) over paired per-query scores, by resampling queries."""
    import numpy as np

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(resamples, diff.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def _dedupe(ranked: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for d in ranked:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out
