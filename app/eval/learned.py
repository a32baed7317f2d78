"""Fit a learned scorer (app.domain.scorer) on judged queries with scikit-learn; pick the model by cross-validation.

Each judged query's candidates are the union of the spaces' own lists (as the store returns them for
client-side fusion), with the features app.domain.learned computes at search time, so what is fitted
here is what serving applies. Three linear models are compared, all scikit-learn's
`LogisticRegression` on standardised features (folded back into plain coefficients):

- `pointwise`: relevant or not, per candidate (class-balanced);
- `pairwise`: on differences of (more relevant, less relevant) candidate pairs of one query, both
  ways round (RankNet / RankSVM-style, no intercept);
- `pairwise-top`: the same, each pair weighted 1 / log2(2 + rank) of its less relevant candidate in
  the equal-weight DBSF ranking, so the pairs that decide the top 10 count most (LambdaRank-style).

Feature sets, models and the regularisation C are chosen by mean nDCG@10 over k folds of the fit
queries (folds by query), then the best is refitted on all of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.domain.fusion import Ranked, dbsf
from app.domain.learned import feature_matrix, learned_fusion
from app.domain.metrics import ndcg_at_k
from app.domain.scorer import LearnedScorer
from app.errors import InvalidInput

Lists = Mapping[str, Mapping[str, Ranked]]  # query id -> space -> its ranked list
Qrels = Mapping[str, Mapping[str, int]]

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "score": ("found", "dbsf"),
    "score+rank": ("found", "dbsf", "rr", "rank"),
    "all": ("found", "dbsf", "minmax", "rr", "rank", "score"),
}
METHODS = ("pointwise", "pairwise", "pairwise-top")
C_GRID = (0.01, 0.1, 1.0, 10.0)
SOLVER = "newton-cholesky"  # many more rows than features: a few Newton steps (scikit-learn's advice)


def terms_for(spaces: Sequence[str], features: Sequence[str], *, interactions: bool = False) -> tuple[str, ...]:
    """`space:feature` for every space and feature; with `interactions`, every pair's `a:dbsf*b:dbsf` too."""
    terms = [f"{s}:{f}" for s in spaces for f in features]
    if interactions:
        terms += [f"{a}:dbsf*{b}:dbsf" for a, b in itertools.combinations(spaces, 2)]
    return tuple(terms)


@dataclass(frozen=True)
class QueryRows:
    """One judged query's candidates: ids, term values (candidates x terms), grades, baseline rank."""

    qid: str
    pids: list[str]
    x: np.ndarray
    grades: np.ndarray
    baseline_rank: np.ndarray  # 0-based rank in the equal-weight DBSF fusion of the spaces


def build_rows(lists: Lists, qrels: Qrels, spaces: Sequence[str], terms: Sequence[str], *,
               depth: int) -> list[QueryRows]:
    """Every judged query's candidates and term values (queries without judgements are skipped)."""
    rows = []
    for q, per_space in lists.items():
        if not qrels.get(q):
            continue
        own = {s: per_space.get(s, []) for s in spaces}
        pids, x = feature_matrix(own, terms, depth)
        fused = {pid: i for i, (pid, _) in enumerate(dbsf(list(own.values())))}
        rows.append(QueryRows(q, pids, x, np.array([qrels[q].get(p, 0) for p in pids], dtype=float),
                              np.array([fused.get(p, len(pids)) for p in pids], dtype=float)))
    return rows


MAX_PAIRS = 2000  # per query: a query with many relevant documents (CISI has ~40) would otherwise dominate


def _pairs(rows: Sequence[QueryRows], weighted: bool, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Differences x_better - x_worse of (more relevant, less relevant) pairs, and each pair's weight; at most
    MAX_PAIRS per query, drawn at random (seeded) when a query has more."""
    rng = np.random.default_rng(seed)
    diffs, weights = [], []
    for r in rows:
        for g in np.unique(r.grades[r.grades > 0]):
            better, worse = np.flatnonzero(r.grades == g), np.flatnonzero(r.grades < g)
            if not len(better) or not len(worse):
                continue
            pairs = np.stack(np.meshgrid(better, worse, indexing="ij"), axis=-1).reshape(-1, 2)
            if len(pairs) > MAX_PAIRS:
                pairs = pairs[rng.choice(len(pairs), MAX_PAIRS, replace=False)]
            diffs.append(r.x[pairs[:, 0]] - r.x[pairs[:, 1]])
            weights.append(1.0 / np.log2(2.0 + r.baseline_rank[pairs[:, 1]]) if weighted else np.ones(len(pairs)))
    if not diffs:
        raise ValueError("no query has a relevant candidate above a less relevant one: nothing to learn from")
    return np.vstack(diffs), np.concatenate(weights)


def fit_linear(rows: Sequence[QueryRows], columns: Sequence[int], *, method: str, c: float
               ) -> tuple[np.ndarray, float]:
    """Fit one model on the given term columns.

    Returns:
        (coefficients over `columns` in raw feature units, intercept) — the score is x @ coefficients.

    Raises:
        ValueError: an unknown method, or no relevant candidate to learn from.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one BLAS thread: on a shared machine more threads made each fit 30x slower
        return _fit_linear(rows, columns, method=method, c=c)


def _fit_linear(rows: Sequence[QueryRows], columns: Sequence[int], *, method: str, c: float
                ) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    cols = list(columns)
    x = np.vstack([r.x[:, cols] for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    if method == "pointwise":
        y = np.concatenate([r.grades > 0 for r in rows])
        if y.all() or not y.any():
            raise ValueError("pointwise fit needs relevant and non-relevant candidates")
        model = LogisticRegression(C=c, class_weight="balanced", solver=SOLVER, max_iter=500).fit((x - mean) / scale, y)
        coef = model.coef_[0] / scale
        return coef, float(model.intercept_[0] - (model.coef_[0] * mean / scale).sum())
    if method not in ("pairwise", "pairwise-top"):
        raise ValueError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    sub = [QueryRows(r.qid, r.pids, r.x[:, cols], r.grades, r.baseline_rank) for r in rows]
    d, w = _pairs(sub, weighted=method == "pairwise-top")
    d = d / scale
    model = LogisticRegression(C=c, fit_intercept=False, solver=SOLVER, max_iter=500).fit(
        np.vstack([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))], sample_weight=np.r_[w, w])
    return model.coef_[0] / scale, 0.0


def mean_ndcg(rows: Sequence[QueryRows], columns: Sequence[int], coef: np.ndarray, qrels: Qrels, k: int = 10
              ) -> float:
    """Mean nDCG@k of ranking each query's candidates by x @ coef (ties by id, as app.domain.learned)."""
    cols = list(columns)
    values = []
    for r in rows:
        scores = r.x[:, cols] @ coef
        order = sorted(range(len(r.pids)), key=lambda i: (-scores[i], str(r.pids[i])))
        values.append(ndcg_at_k([r.pids[i] for i in order], qrels[r.qid], k))
    return float(np.mean(values)) if values else 0.0


@dataclass
class Selection:
    """The model chosen by cross-validation, refitted on every fit query, and what each candidate scored."""

    scorer: LearnedScorer
    config: dict[str, Any]
    tried: list[dict[str, Any]] = field(default_factory=list)  # every config's mean CV nDCG@10


def select_scorer(lists: Lists, qrels: Qrels, spaces: Sequence[str], *, vector_versions: Mapping[str, str],
                  depth: int = 100, folds: int = 5, seed: int = 13, methods: Sequence[str] = METHODS,
                  feature_sets: Mapping[str, Sequence[str]] = FEATURE_SETS, c_grid: Sequence[float] = C_GRID,
                  interactions: Sequence[bool] = (False, True), fitted_on: Mapping[str, Any] | None = None
                  ) -> Selection:
    """Cross-validate every (feature set, interactions, method, C); refit the best on all the queries.

    Args:
        lists: the fit queries' per-space lists (doc ids and raw scores, best first, `depth` deep).
        qrels: their judgements.
        spaces: the spaces the scorer reads (searched at serving time).
        vector_versions: space -> the live vector version the lists came from.
        folds: k of the k-fold split of the queries (at most one fold per query).

    Returns:
        The scorer (coefficients in raw feature units), its config, and every config's CV nDCG@10.

    Raises:
        ValueError: no judged query, or no relevant candidate in any list.
    """
    from sklearn.model_selection import KFold
    from threadpoolctl import threadpool_limits

    all_terms = terms_for(spaces, FEATURE_SETS["all"], interactions=True)
    rows = build_rows(lists, qrels, spaces, all_terms, depth=depth)
    if len(rows) < 2:
        raise InvalidInput(f"{len(rows)} judged queries to fit on: too few to fit a scorer (at least 2; --fit is "
                           "the share of the queries fitted on: raise it, or use a larger query set)")
    splits = list(KFold(n_splits=min(folds, len(rows)), shuffle=True, random_state=seed).split(np.arange(len(rows))))
    # one BLAS thread for the whole search, set once: setting the limit costs ~1 ms, a fit ~2 ms
    with threadpool_limits(1):
        tried = _cross_validate(rows, qrels, spaces, all_terms, splits, feature_sets, interactions, methods, c_grid)
    if not tried:
        raise ValueError("no model could be fitted: no relevant candidate in the lists")
    best = max(tried, key=lambda t: t["cv_ndcg@10"])
    terms = terms_for(spaces, feature_sets[best["features"]], interactions=best["interactions"])
    coef, intercept = fit_linear(rows, [all_terms.index(t) for t in terms], method=best["method"], c=best["C"])
    scorer = LearnedScorer(
        spaces=tuple(spaces), terms=terms, coefficients=tuple(round(float(v), 6) for v in coef), depth=depth,
        vector_versions=tuple(sorted((s, vector_versions[s]) for s in spaces)), intercept=round(intercept, 6),
        model=f"{best['method']} logistic regression (scikit-learn), C={best['C']:g}",
        fitted_on={**(fitted_on or {}), "queries": len(rows), "folds": len(splits), **best})
    return Selection(scorer=scorer, config=best, tried=sorted(tried, key=lambda t: -t["cv_ndcg@10"]))


def _cross_validate(rows: Sequence[QueryRows], qrels: Qrels, spaces: Sequence[str], all_terms: Sequence[str],
                    splits: Sequence[tuple[np.ndarray, np.ndarray]], feature_sets: Mapping[str, Sequence[str]],
                    interactions: Sequence[bool], methods: Sequence[str], c_grid: Sequence[float]
                    ) -> list[dict[str, Any]]:
    """Each (feature set, interactions, method, C) that could be fitted, with its mean nDCG@10 over the
    folds' held-out queries (`_fit_linear`: the caller holds BLAS to one thread)."""
    tried: list[dict[str, Any]] = []
    for (set_name, features), inter, method, c in itertools.product(feature_sets.items(), interactions, methods,
                                                                     c_grid):
        terms = terms_for(spaces, features, interactions=inter)
        cols = [all_terms.index(t) for t in terms]
        scores = []
        for train, test in splits:
            try:
                coef, _ = _fit_linear([rows[i] for i in train], cols, method=method, c=c)
            except ValueError:
                continue
            scores.append(mean_ndcg([rows[i] for i in test], cols, coef, qrels))
        if scores:
            tried.append({"features": set_name, "interactions": inter, "method": method, "C": c,
                          "cv_ndcg@10": float(np.mean(scores))})
    return tried


def scorer_run(scorer: LearnedScorer, lists: Lists, *, depth: int = 100) -> dict[str, list[str]]:
    """The ranking the scorer gives each query (top `depth` doc ids), computed as serving computes it."""
    return {q: [str(d) for d, _ in learned_fusion(per_space, scorer)[:depth]] for q, per_space in lists.items()}


def judge_scorer(selection: Selection, runs: Mapping[str, Mapping[str, Sequence[str]]], held_qrels: Qrels, *,
                 seed: int, name: str = "learned scorer", against: Sequence[str] = ()) -> dict[str, Any]:
    """The held-out verdict: the scorer becomes the profile's default ranking only when its nDCG@10 beats
    every run of `against` (the tuned weights, today's default) by more than the bootstrap interval (the
    95 % paired CI of the difference entirely above 0); otherwise it stays selectable (`fusion: "learned"`).

    Args:
        selection: what `select_scorer` chose.
        runs: run name -> query id -> ranked doc ids; must hold `name` and every name of `against`.
        held_qrels: the held-out queries' judgements (none of them used to fit).
        against: the runs it must beat.

    Returns:
        {"scorer": the scorer as stored (default flag, held-out metrics and CIs), "config", "tried" (best 12),
        "default": bool, "ci": {run: [low, high] of the nDCG@10 difference, scorer minus run}}.
    """
    from app.eval.metrics import delta_ci, score_run

    ci = {other: delta_ci(runs[name], runs[other], held_qrels, seed) for other in against}
    wins = bool(ci) and all(low > 0 for low, _ in ci.values())
    scorer = replace(selection.scorer, default=wins, metrics={
        "holdout": score_run(runs[name], held_qrels), "holdout_queries": len(held_qrels), "ci": ci})
    return {"scorer": scorer.to_dict(), "config": selection.config, "tried": selection.tried[:12], "default": wins,
            "ci": ci}
