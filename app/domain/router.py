"""A query router: a small classifier, stored as data, that picks one of a few candidate plans per query. No I/O.

Fitted by `scripts/evaluate --fit-router` (app.eval.router_fit, with scikit-learn) and stored in the
ranking profile as plain arrays: a multinomial logistic regression (standardisation, coefficients,
intercepts) or a decision tree (node arrays). Serving applies it here with a few lines of numpy, so
the served app needs no learning library. The router is valid only for the vector versions it was
fitted on; when it is missing, fitted on other versions, or unsure (its top probability is under
the threshold chosen at fit time), the default plan runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.domain.plan import weight_problem
from app.domain.profiles import versions_mismatch
from app.domain.query_features import FEATURES, DocFrequencies, feature_vector, rounded


@dataclass(frozen=True)
class RouterModel:
    """A fitted classifier as arrays: `kind` logistic or tree, over `features`, predicting `classes` (plans).

    logistic params: mean, scale (F), coef (C x F, or 1 x F for two classes), intercept (C, or 1).
    tree params: left, right (child node or -1), feature (index into `features`), threshold, value
    (nodes x C class weights at each node); a sample goes left when x[feature] <= threshold.
    """

    kind: str
    features: tuple[str, ...]
    classes: tuple[str, ...]
    params: dict[str, Any]

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"router model reads features this service does not compute: {unknown}")
        if self.kind not in ("logistic", "tree"):
            raise ValueError(f"unknown router model kind {self.kind!r} (logistic or tree)")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (C,) for one feature vector x (F,), in `classes` order; they sum to 1."""
        p = self.params
        if self.kind == "logistic":
            z = ((x - np.asarray(p["mean"])) / np.asarray(p["scale"])) @ np.asarray(p["coef"]).T \
                + np.asarray(p["intercept"])
            if len(self.classes) == 2 and np.size(z) == 1:  # sklearn's binary case: one logit for class 1
                z = np.array([0.0, float(np.ravel(z)[0])])
            e = np.exp(z - z.max())
            return np.asarray(e / e.sum())
        left, right, feature, threshold = p["left"], p["right"], p["feature"], p["threshold"]
        node = 0
        while left[node] != -1:
            node = left[node] if x[feature[node]] <= threshold[node] else right[node]
        v = np.asarray(p["value"][node], dtype=float)
        return v / v.sum() if v.sum() > 0 else np.full(len(v), 1.0 / len(v))

    def to_dict(self) -> dict[str, Any]:
        """kind, features, classes and params (lists of numbers), JSON-ready; `from_dict` reads it back."""
        return {"kind": self.kind, "features": list(self.features), "classes": list(self.classes),
                "params": self.params}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouterModel:
        """A model from its stored form.

        Raises:
            KeyError: kind, features, classes or params is missing.
            ValueError: an unknown kind, or a feature this service does not compute.
        """
        return cls(str(data["kind"]), tuple(data["features"]), tuple(data["classes"]), dict(data["params"]))


@dataclass(frozen=True)
class RoutePlan:
    """A candidate plan: a named plan from settings (`named`: run as `{"plan": name}`; its spaces as they
    were when the router was fitted), or the overrides a request would name: spaces, fusion, weights, k.
    `rerank` lists a cascade's rerank spaces (they count as searched)."""

    name: str
    fields: tuple[str, ...]
    fusion: str = "dbsf"
    weights: dict[str, float] = field(default_factory=dict)
    rrf_k: int = 60
    named: bool = False
    rerank: tuple[str, ...] = ()

    @property
    def spaces(self) -> int:
        """Spaces the plan searches (those not weighted 0, and rerank spaces): what it costs."""
        return sum(1 for f in self.fields if self.weights.get(f, 1.0) > 0) + len(self.rerank)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (tuples as lists); `from_dict` reads it back."""
        return {"name": self.name, "fields": list(self.fields), "fusion": self.fusion, "weights": self.weights,
                "rrf_k": self.rrf_k, "named": self.named, "rerank": list(self.rerank)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutePlan:
        """A plan from its stored form; absent fusion, weights, k, named and rerank take their defaults.

        Raises:
            KeyError: name or fields is missing.
            ValueError: a weight that is not 0 or from MIN_WEIGHT to MAX_WEIGHT (the router is then `invalid`).
        """
        weights = {k: float(v) for k, v in dict(data.get("weights") or {}).items()}
        for space, w in weights.items():
            if (problem := weight_problem(w)) is not None:
                raise ValueError(f"plan {data['name']!r}: weight of {space!r} is {problem}")
        return cls(str(data["name"]), tuple(data["fields"]), str(data.get("fusion", "dbsf")), weights,
                   int(data.get("rrf_k", 60)), bool(data.get("named", False)), tuple(data.get("rerank") or ()))


@dataclass(frozen=True)
class QueryRouter:
    """A fitted router: the model, its candidate plans, `default` (what ran when it was unsure at evaluation:
    serving then runs its default ranking, whatever this names; app.services.search), the confidence
    threshold, the vector versions it was fitted on and the BM25 document frequencies its IDF
    features read (`df_space`'s terms)."""

    name: str
    model: RouterModel
    plans: dict[str, RoutePlan]
    default: str
    threshold: float
    vector_versions: dict[str, str]
    dfs: DocFrequencies
    df_space: str = "keywords"
    fitted_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    def __post_init__(self) -> None:
        missing = [c for c in (*self.model.classes, self.default) if c not in self.plans]
        if missing:
            raise ValueError(f"router names plans it does not define: {missing}")

    def mismatch(self, live: Mapping[str, str]) -> str | None:
        """Why the router does not fit the live versions (`{space: version}`), or None when it does."""
        return versions_mismatch(self.vector_versions, live)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: model, plans and document frequencies in their own `to_dict` forms, the rest as is."""
        return {"name": self.name, "model": self.model.to_dict(),
                "plans": {n: p.to_dict() for n, p in self.plans.items()}, "default": self.default,
                "threshold": self.threshold, "vector_versions": self.vector_versions, "df_space": self.df_space,
                "dfs": self.dfs.to_dict(), "fitted_on": self.fitted_on, "metrics": self.metrics,
                "created": self.created}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueryRouter:
        """Raises: ValueError (or KeyError) when the stored router is incomplete or inconsistent."""
        return cls(name=str(data["name"]), model=RouterModel.from_dict(data["model"]),
                   plans={n: RoutePlan.from_dict(p) for n, p in data["plans"].items()},
                   default=str(data["default"]), threshold=float(data["threshold"]),
                   vector_versions=dict(data["vector_versions"]), dfs=DocFrequencies.from_dict(data["dfs"]),
                   df_space=str(data.get("df_space", "keywords")), fitted_on=dict(data.get("fitted_on") or {}),
                   metrics=dict(data.get("metrics") or {}), created=str(data.get("created", "")))


@dataclass(frozen=True)
class Route:
    """What the router decided for one query, and why: `plan` is the routed plan, or None when the
    default plan runs (`reason`: routed | unsure | mismatch | missing | invalid)."""

    plan: RoutePlan | None
    reason: str
    detail: str = ""
    router: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)
    threshold: float | None = None
    ms: float | None = None  # time to compute the features and apply the model

    @property
    def label(self) -> str:
        """The plan's name, or `default`: the `route` of logs and metrics (bounded: the router's classes)."""
        return self.plan.name if self.plan is not None else "default"

    def describe(self) -> dict[str, Any]:
        """What `explain` shows of the decision: plan label, reason, router, and when known the detail, class
        probabilities (4 decimals) with the threshold, the features, and the time taken (`ms`)."""
        out: dict[str, Any] = {"plan": self.label, "reason": self.reason, "router": self.router}
        if self.detail:
            out["detail"] = self.detail
        if self.probabilities:
            out["probabilities"] = {k: round(v, 4) for k, v in self.probabilities.items()}
            out["threshold"] = self.threshold
        if self.features:
            out["features"] = rounded(self.features)
        if self.ms is not None:
            out["ms"] = round(self.ms, 3)
        return out


def decide(router: QueryRouter, features: Mapping[str, float], live: Mapping[str, str]) -> Route:
    """Route one query: the most probable plan when its probability reaches the threshold, else the default.

    Args:
        router: the stored router.
        features: the query's features (app.domain.query_features.query_features).
        live: space -> the vector version each space searches now.
    """
    reason = router.mismatch(live)
    if reason:
        return Route(None, "mismatch", reason, router=router.name)
    proba = router.model.predict_proba(feature_vector(features, router.model.features))
    probabilities = dict(zip(router.model.classes, (float(p) for p in proba), strict=True))
    best = max(probabilities, key=lambda c: probabilities[c])
    if probabilities[best] < router.threshold:
        return Route(None, "unsure", f"top probability {probabilities[best]:.3f} ({best}) is under the threshold "
                     f"{router.threshold:.3f}: the default plan runs", router=router.name,
                     probabilities=probabilities, features=dict(features), threshold=router.threshold)
    return Route(router.plans[best], "routed", router=router.name, probabilities=probabilities,
                 features=dict(features), threshold=router.threshold)


def cheapest(plans: Sequence[RoutePlan], scores: Sequence[float], tol: float = 1e-9) -> int:
    """Index of the best-scoring plan, ties (within `tol`) broken toward fewer spaces, then list order."""
    top = max(scores)
    return min((i for i, s in enumerate(scores) if s >= top - tol), key=lambda i: (plans[i].spaces, i))
