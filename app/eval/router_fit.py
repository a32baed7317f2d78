"""Fit a query router (`scripts/evaluate --fit-router`): label each training query with its best plan, fit
a small classifier with scikit-learn, choose its confidence threshold by cross-validation, export it as data.

Each candidate plan's nDCG@10 per query comes from the harness's per-space lists fused offline with
Qdrant's math (app.eval.runs, checked against the store's own fusion). A query's label is the plan with
the best nDCG@10, ties going to the cheapest (fewest spaces searched). Out-of-fold probabilities give,
for every model and threshold tried, the nDCG@10 and spaces per query of the routed policy (the default
plan when unsure); the best nDCG@10 wins, and within `TOLERANCE` of it the fewest spaces.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.domain.query_features import FEATURES, DocFrequencies, feature_vector, query_features
from app.domain.router import QueryRouter, RoutePlan, RouterModel, cheapest
from app.eval.metrics import ndcg_per_query
from app.eval.runs import Lists, Variant, offline_run

THRESHOLDS = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.01)  # 1.01: never route
TOLERANCE = 0.002  # cross-validated nDCG@10 this close to the best counts as equal: then fewer spaces win
FOLDS = 5
# the candidate plans besides the settings' named ones: BM25 alone, the document vector alone, both fused
PLAN_NAMES = ("only-keywords", "only-document", "pair")
# what the service runs when the router is unsure: its default ranking (the stored ranking profile, else the
# settings' default plan; app.services.search). A column of the table, never a class the router may pick.
UNSURE = "default ranking"


def candidate_plans(spaces: Sequence[str], named: Sequence[RoutePlan], names: Sequence[str] | None = None
                    ) -> list[RoutePlan]:
    """The plans a router chooses among: the settings' named plans (`named`: `fused`, the default, `all`,
    `keyword`, `dense`, `cascade`, ...) and three of our own as request overrides over the live `spaces`:
    `only-keywords` (BM25 alone), `only-document` (the one-vector space alone), `pair` (both, DBSF).

    Args:
        names: which of them (default: all of them).

    Raises: ValueError naming an unknown plan, or one whose spaces are not live.
    """
    table = {"only-keywords": RoutePlan("only-keywords", ("keywords",)),
             "only-document": RoutePlan("only-document", ("document",)),
             "pair": RoutePlan("pair", ("document", "keywords")), **{p.name: p for p in named}}
    out = []
    for n in names or [*PLAN_NAMES, *(p.name for p in named)]:
        if n not in table:
            raise ValueError(f"unknown router plan {n!r}: expected some of {', '.join(table)}")
        if not set(table[n].fields) <= set(spaces):
            raise ValueError(f"router plan {n!r} needs spaces {list(table[n].fields)}; live: {list(spaces)}")
        out.append(table[n])
    return out


def variant(plan: RoutePlan) -> Variant:
    """The harness variant that runs `plan` (its weighted spaces, fusion, k and weights)."""
    fields = tuple(f for f in plan.fields if plan.weights.get(f, 1.0) > 0)
    return Variant(f"plan {plan.name}", fields, fusion=plan.fusion, rrf_k=plan.rrf_k,
                   weights=tuple(plan.weights.get(f, 1.0) for f in fields), group="router")


@dataclass(frozen=True)
class Table:
    """Per judged query: features (Q x F), nDCG@10 of every plan (Q x P), and the label (best, cheapest)."""

    qids: tuple[str, ...]
    x: np.ndarray
    ndcg: np.ndarray
    labels: np.ndarray
    runs: dict[str, dict[str, list[str]]]  # plan name -> query id -> ranked doc ids


def build_table(plans: Sequence[RoutePlan], lists: Lists, qrels: Mapping[str, Mapping[str, int]],
                texts: Mapping[str, str], terms: Mapping[str, Sequence[int]], dfs: DocFrequencies,
                given: Mapping[str, dict[str, list[str]]] | None = None, *, sparse: Collection[str]) -> Table:
    """Every plan's run and nDCG@10 for the judged queries of `lists`, with their features and labels.

    `given`: plan name -> its run, computed elsewhere (a cascade's, app.eval.cascade; the `UNSURE` plan's);
    other plans are fused here from the per-space lists, those of the `sparse` spaces (`Registry.sparse`) as
    complete. A query's label is its best plan among the router's candidates: never `UNSURE`, which is what
    runs when the router does not choose.
    """
    qids = tuple(q for q in lists if qrels.get(q))
    judged = {q: qrels[q] for q in qids}
    runs = {p.name: (given or {}).get(p.name) or offline_run(variant(p), lists, sparse) for p in plans}
    per_plan = [ndcg_per_query(runs[p.name], judged) for p in plans]
    ndcg = np.array([[pp[q] for pp in per_plan] for q in qids]).reshape(len(qids), len(plans))
    x = np.array([feature_vector(query_features(texts[q], terms[q], dfs), FEATURES) for q in qids])
    pickable = np.array([p.name != UNSURE for p in plans])
    labels = np.array([cheapest(plans, np.where(pickable, row, -np.inf).tolist()) for row in ndcg], dtype=np.int64)
    return Table(qids, x.reshape(len(qids), len(FEATURES)), ndcg, labels, runs)


def policy(proba: np.ndarray, threshold: float, default: int) -> np.ndarray:
    """The plan index each query runs, shape (Q,): the most probable plan when its probability is at least
    `threshold`, else `default`.

    Args:
        proba: (Q, C) class probabilities, one row per query, columns in the router's class order.
        threshold: the confidence below which the default plan runs, in [0, 1].
        default: the default plan's column.
    """
    top = proba.argmax(axis=1)
    return np.where(proba.max(axis=1) >= threshold, top, default)


def _weights(table: Table, rows: np.ndarray, how: str) -> np.ndarray | None:
    """Sample weights: none, or how much the choice matters for the query (best minus worst nDCG@10)."""
    if how == "uniform":
        return None
    spread = table.ndcg[rows].max(axis=1) - table.ndcg[rows].min(axis=1)
    return spread + 0.01  # a query where every plan ties still counts a little (toward the cheapest)


def _estimator(config: Mapping[str, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    if config["kind"] == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=config["C"], max_iter=2000))
    return DecisionTreeClassifier(max_depth=config["depth"], min_samples_leaf=config["leaf"], random_state=0)


def _fit(config: Mapping[str, Any], x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> Any:
    est = _estimator(config)
    key = "logisticregression__sample_weight" if config["kind"] == "logistic" else "sample_weight"
    return est.fit(x, y, **({key: w} if w is not None else {}))


def _proba(est: Any, x: np.ndarray, n_plans: int) -> np.ndarray:
    """Probabilities over every plan index (a plan absent from the training labels gets 0)."""
    out = np.zeros((len(x), n_plans))
    out[:, est.classes_] = est.predict_proba(x)
    return out


CONFIGS: tuple[dict[str, Any], ...] = tuple(
    [{"kind": "logistic", "C": c, "weights": w} for c in (0.05, 0.3, 1.0) for w in ("uniform", "spread")]
    + [{"kind": "tree", "depth": d, "leaf": leaf, "weights": w} for d in (2, 3, 4) for leaf in (20,)
       for w in ("uniform", "spread")])


def cross_validate(table: Table, rows: np.ndarray, plans: Sequence[RoutePlan], default: int, *,
                   seed: int) -> list[dict[str, Any]]:
    """For every config and threshold: out-of-fold nDCG@10 and mean spaces of the routed policy on `rows`."""
    from sklearn.model_selection import KFold

    cost = np.array([p.spaces for p in plans], dtype=float)
    folds = list(KFold(FOLDS, shuffle=True, random_state=seed).split(rows))
    out = []
    for config in CONFIGS:
        oof = np.zeros((len(rows), len(plans)))
        for train, test in folds:
            tr = rows[train]
            if len(set(table.labels[tr].tolist())) < 2:
                oof[test, table.labels[tr][0]] = 1.0
                continue
            est = _fit(config, table.x[tr], table.labels[tr], _weights(table, tr, config["weights"]))
            oof[test] = _proba(est, table.x[rows[test]], len(plans))
        for t in THRESHOLDS:
            chosen = policy(oof, t, default)
            out.append({**config, "threshold": t,
                        "ndcg@10": float(table.ndcg[rows, chosen].mean()), "spaces": float(cost[chosen].mean()),
                        "routed": float((oof.max(axis=1) >= t).mean())})
    return out


def choose(results: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The best cross-validated nDCG@10; within TOLERANCE of it, the fewest spaces (then the higher nDCG)."""
    best = max(r["ndcg@10"] for r in results)
    return min((r for r in results if r["ndcg@10"] >= best - TOLERANCE), key=lambda r: (r["spaces"], -r["ndcg@10"]))


def export(est: Any, config: Mapping[str, Any], plans: Sequence[RoutePlan]) -> RouterModel:
    """The fitted estimator as arrays (app.domain.router.RouterModel); never pickled."""
    classes = tuple(plans[int(c)].name for c in est.classes_)
    if config["kind"] == "logistic":
        scaler, lr = est[0], est[-1]
        params = {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(), "coef": lr.coef_.tolist(),
                  "intercept": lr.intercept_.tolist(), "C": config["C"]}
    else:
        t = est.tree_
        params = {"left": t.children_left.tolist(), "right": t.children_right.tolist(),
                  "feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
                  "value": t.value[:, 0, :].tolist(), "depth": config["depth"]}
    return RouterModel(config["kind"], FEATURES, classes, params)


def fit_router(table: Table, fit_rows: np.ndarray, plans: Sequence[RoutePlan], *, default: str, seed: int,
               vector_versions: dict[str, str], dfs: DocFrequencies, name: str,
               fitted_on: dict[str, Any]) -> tuple[QueryRouter, list[dict[str, Any]]]:
    """Cross-validate every config on `fit_rows`, refit the chosen one on all of them, export it.

    Args:
        default: the plan of `plans` that runs when the router is unsure (`UNSURE`: the service's default
            ranking, as planned now); the threshold is chosen against it.

    Returns:
        The router (threshold and model chosen by cross-validation), and every cross-validation row.

    Raises:
        ValueError: fewer than FOLDS training queries.
    """
    if len(fit_rows) < FOLDS:
        raise ValueError(f"a router needs at least {FOLDS} judged training queries; got {len(fit_rows)}")
    d = [p.name for p in plans].index(default)
    results = cross_validate(table, fit_rows, plans, d, seed=seed)
    best = choose(results)
    config = {k: best[k] for k in ("kind", "C", "depth", "leaf", "weights") if k in best}
    y = table.labels[fit_rows]
    if len(set(y.tolist())) < 2:  # every training query prefers one plan: a constant "model"
        model = RouterModel("tree", FEATURES, (plans[int(y[0])].name,),
                            {"left": [-1], "right": [-1], "feature": [-2], "threshold": [-2.0], "value": [[1.0]]})
    else:
        est = _fit(config, table.x[fit_rows], y, _weights(table, fit_rows, config["weights"]))
        model = export(est, config, plans)
        mine = np.array([model.predict_proba(x) for x in table.x[fit_rows]])
        if not np.allclose(mine, est.predict_proba(table.x[fit_rows]), atol=1e-9):
            raise AssertionError("the exported router does not reproduce scikit-learn's probabilities")
    labels = Counter(plans[int(i)].name for i in y)
    router = QueryRouter(
        name=name, model=model, plans={p.name: p for p in plans}, default=default, threshold=float(best["threshold"]),
        vector_versions=vector_versions, dfs=dfs, fitted_on={**fitted_on, "queries": len(fit_rows)},
        metrics={"cv": {k: best[k] for k in ("ndcg@10", "spaces", "routed")}, "labels": dict(labels),
                 "config": config},
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    return router, results


def route_all(router: QueryRouter, table: Table, plans: Sequence[RoutePlan], rows: np.ndarray, *,
              unsure: int) -> np.ndarray:
    """The plan index the router (applied as served, app.domain.router) gives each of `rows`: its most
    probable class when sure enough, else `unsure` (the column of what the service runs then, `UNSURE`;
    not `router.default`, which only records what that was when the router was fitted)."""
    names = [p.name for p in plans]
    d = unsure
    cls = [names.index(c) for c in router.model.classes]
    out = np.full(len(rows), d)
    for i, r in enumerate(rows):
        proba = router.model.predict_proba(table.x[r])
        if proba.max() >= router.threshold:
            out[i] = cls[int(proba.argmax())]
    return out


def below_default(router: QueryRouter) -> str | None:
    """Why `router` should not be served: it scored below the default ranking (what runs without it) on the
    queries it was evaluated on (`metrics["vs_default"]`, written by app.eval.router_eval); None when it did not,
    or when it records no such comparison."""
    v = router.metrics.get("vs_default")
    if not isinstance(v, dict) or v.get("router_ndcg@10") is None or v.get("default_ndcg@10") is None:
        return None
    if float(v["router_ndcg@10"]) >= float(v["default_ndcg@10"]):
        return None
    return (f"it scored nDCG@10 {float(v['router_ndcg@10']):.3f} on {v.get('queries')} evaluation queries, below "
            f"{float(v['default_ndcg@10']):.3f} of the default ranking it would replace ({v.get('default')})")
