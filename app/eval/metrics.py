"""Scoring whole runs against judgements with ir-measures: nDCG@10, Recall@10/100, MRR@10; latency percentiles; CIs.

nDCG and recall are trec_eval's (ir-measures' pytrec_eval provider, the implementation BEIR reports
with), MRR@10 is the MS MARCO evaluator's (ir-measures' msmarco provider): linear gains, discount
1 / log2(rank + 1), the ideal ranking from every judged relevant document. The per-query functions the
migration gate needs are pure code in app.domain.metrics; tests/unit/test_metrics.py checks that the
two agree on hand-computed and real rankings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import ir_measures
from ir_measures import RR, R, nDCG

from app.domain.metrics import dedupe

Run = Mapping[str, Sequence[str]]  # query id -> ranked doc ids, best first
Qrels = Mapping[str, Mapping[str, int]]  # query id -> {doc id: grade}

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
_TREC = {nDCG @ 10: "ndcg@10", R @ 10: "recall@10", R @ 100: "recall@100"}  # pytrec_eval
_MSMARCO = {RR @ 10: "mrr@10"}  # trec_eval's recip_rank has no cut-off


def _scored(run: Run, qids: Sequence[str]) -> dict[str, dict[str, float]]:
    """Rankings as the scores trec_eval sorts by: n - rank, distinct, so no tie-breaking rule applies.

    A duplicate id counts at its first rank only; queries with no ranking are left out (scored 0 later).
    """
    out: dict[str, dict[str, float]] = {}
    for q in qids:
        ids = dedupe(run.get(q, []))
        if ids:
            out[q] = {d: float(len(ids) - i) for i, d in enumerate(ids)}
    return out


def per_query(run: Run, qrels: Qrels) -> dict[str, dict[str, float]]:
    """Every metric of METRICS for every judged query.

    Args:
        run: ranked doc ids per query; a query of `qrels` missing from it (or with no ids) scores 0.
        qrels: judged grades per query; grades <= 0 are not relevant, a query with none scores 0.

    Returns:
        {metric name: {query id: value in [0, 1]}}, every query of `qrels` present.
    """
    judged = {q: {d: int(g) for d, g in rel.items() if g > 0} for q, rel in qrels.items()}
    judged = {q: rel for q, rel in judged.items() if rel}
    out = {m: dict.fromkeys(qrels, 0.0) for m in METRICS}
    if not judged:
        return out
    scored = _scored(run, list(judged))
    for provider, names in ((ir_measures.pytrec_eval, _TREC), (ir_measures.msmarco, _MSMARCO)):
        for row in provider.evaluator(list(names), judged).iter_calc(scored):
            out[names[row.measure]][row.query_id] = float(row.value)
    return out


def score_run(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean of each metric in METRICS over the judged queries (a query missing from `run` scores 0).

    Args:
        run: ranked doc ids per query, best first.
        qrels: query id -> {doc id: grade}; the mean is over all of its queries.

    Returns:
        {"ndcg@10", "recall@10", "recall@100", "mrr@10"} -> mean value in [0, 1] (all 0 without queries).
    """
    if not qrels:
        return dict.fromkeys(METRICS, 0.0)
    return {m: sum(values.values()) / len(qrels) for m, values in per_query(run, qrels).items()}


def ndcg_per_query(run: Run, qrels: Qrels) -> dict[str, float]:
    """nDCG@10 of each query of `qrels` (0 for a query missing from `run`)."""
    return per_query(run, qrels)["ndcg@10"]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (q in 0..100) with linear interpolation between closest ranks (numpy's default).

    Returns:
        In the unit of `values` (ms for latencies); NaN for no values.
    """
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], *, resamples: int = 2000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of mean(a - b) over paired per-query scores.

    Neither ir-measures nor ranx computes a bootstrap interval (ranx's tests give p-values), and
    `scipy.stats.bootstrap` draws differently, so the published intervals are reproduced by these
    few lines of numpy: `resamples` draws of the queries with replacement, seeded.

    Args:
        a, b: per-query scores of two runs, in the same query order (same length).
        resamples: bootstrap draws.
        seed: numpy Generator seed (the same seed gives the same interval).
        level: coverage, e.g. 0.95.

    Returns:
        (low, high) in the unit of the scores; (nan, nan) for no queries.
    """
    import numpy as np

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(resamples, diff.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def delta_ci(run: Run, base: Run, qrels: Qrels, seed: int) -> list[float]:
    """95% paired-bootstrap interval of the nDCG@10 difference (run - base) over `qrels`' queries."""
    a, b = ndcg_per_query(run, qrels), ndcg_per_query(base, qrels)
    return list(paired_bootstrap_ci([a[q] for q in qrels], [b[q] for q in qrels], seed=seed))
