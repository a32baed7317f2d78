"""Learned scoring at search time: each hit's per-space features, the fused ranking, and what each term added.

The scorer (app.domain.scorer) is data; this module computes its features from the spaces' own
lists (those the store returns for client-side fusion) and ranks every candidate by it. `fuse_plan`
is what the store runner and fan-out call to fuse any plan's lists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from app.domain.fusion import Ranked, dbsf_normalize, fuse, zero_floors
from app.domain.plan import QueryPlan
from app.domain.scorer import FEATURES, LearnedScorer, parse_term


def space_features(ranked: Ranked, depth: int) -> dict[str, dict[str, float]]:
    """Each hit's features in one space's list (see the module's table).

    Args:
        ranked: the space's (id, score) list, best first, as the store returned it (ties by point id).
        depth: the depth the scorer was fitted on (scales `rank`).

    Returns:
        id -> feature -> value, for the hits in the list (a hit listed twice keeps its best rank).
    """
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    low, high = min(scores), max(scores)
    norm = dict(dbsf_normalize(ranked))
    out: dict[str, dict[str, float]] = {}
    for pos, (pid, score) in enumerate(ranked):
        if pid in out:
            continue
        out[pid] = {"found": 1.0, "dbsf": norm[pid], "minmax": (score - low) / (high - low) if high > low else 1.0,
                    "rr": 1.0 / (pos + 1), "rank": max(0.0, 1.0 - pos / depth), "score": float(score)}
    return out


def feature_matrix(lists: Mapping[str, Ranked], terms: Sequence[str], depth: int
                   ) -> tuple[list[str], np.ndarray]:
    """Every candidate's term values: the rows the scorer (or its fitting) multiplies by the coefficients.

    Args:
        lists: space -> its ranked list; a space missing from the mapping found nothing.
        terms: `space:feature` or products of them.
        depth: as `space_features`.

    Returns:
        (candidate ids sorted by `str(id)`, array of shape (candidates, terms)).
    """
    per_space = {space: space_features(ranked, depth) for space, ranked in lists.items()}
    pids = sorted({pid for feats in per_space.values() for pid in feats}, key=str)
    x = np.ones((len(pids), len(terms)))
    for j, term in enumerate(terms):
        for space, feature in parse_term(term):
            feats = per_space.get(space, {})
            x[:, j] *= [feats[pid][feature] if pid in feats else 0.0 for pid in pids]
    return pids, x


def learned_fusion(lists: Mapping[str, Ranked], scorer: LearnedScorer) -> list[tuple[str, float]]:
    """The scorer's fused ranking of every candidate of the spaces' lists.

    Args:
        lists: space -> its ranked (id, score) list, best first; only the scorer's spaces are read.

    Returns:
        (id, score) best first, score = sum of coefficient x term; equal scores by `str(id)`.
    """
    pids, x = feature_matrix({s: lists.get(s, []) for s in scorer.spaces}, scorer.terms, scorer.depth)
    scores = x @ np.asarray(scorer.coefficients, dtype=float) if pids else np.zeros(0)
    return sorted(zip(pids, scores.tolist(), strict=True), key=lambda item: (-item[1], str(item[0])))


def learned_contributions(lists: Mapping[str, Ranked], scorer: LearnedScorer, pids: Sequence[str]
                          ) -> dict[str, dict[str, dict[str, Any]]]:
    """For `explain`: each hit's rank, raw score, features and each term's contribution, by space.

    A product term is listed under its first factor's space. The spaces' `contribution`s of a hit
    add up to its fused score.

    Args:
        lists: space -> its ranked (id, score) list, best first (other listed spaces may be there too).
        scorer: the scorer that fused them.
        pids: the hits' ids.

    Returns:
        id -> space -> `{"rank": 1-based or None, "score": raw or None, "weight": 1.0, "features": {feature:
        value}, "terms": {term: coefficient x value}, "contribution": the sum of its terms}`.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    features = {s: space_features(lists.get(s, []), scorer.depth) for s in scorer.spaces}
    positions = {s: {pid: (pos, score) for pos, (pid, score) in reversed(list(enumerate(lists.get(s, []))))}
                 for s in scorer.spaces}
    for pid in pids:
        by_space: dict[str, dict[str, Any]] = {}
        for s in scorer.spaces:
            pos, score = positions[s].get(pid, (None, None))
            by_space[s] = {"rank": None if pos is None else pos + 1, "score": score, "weight": 1.0,
                           "features": features[s].get(pid, dict.fromkeys(FEATURES, 0.0)),
                           "terms": {}, "contribution": 0.0}
        for term, coef in zip(scorer.terms, scorer.coefficients, strict=True):
            factors = parse_term(term)
            value = coef * math.prod(by_space[s]["features"][f] for s, f in factors)
            entry = by_space[factors[0][0]]
            entry["terms"][term] = value
            entry["contribution"] += value
        out[pid] = by_space
    return out


def fuse_plan(plan: QueryPlan, lists: Sequence[Ranked]) -> list[tuple[str, float]]:
    """Fuse the lists of `plan.spaces` (in that order) as the plan says: its learned scorer, or Qdrant's formulas.

    Returns:
        (id, fused score) best first; equal scores by `str(id)`.
    """
    if not plan.spaces:  # a plan that only lists spaces (to explain, or one space of a fan-out)
        return []
    if plan.scorer is not None:
        return learned_fusion({s.space: ranked for s, ranked in zip(plan.spaces, lists, strict=False)}, plan.scorer)
    return fuse(lists, method=plan.fusion, k=plan.rrf_k, weights=[s.weight for s in plan.spaces],
                depths=zero_floors([s.kind == "sparse" for s in plan.spaces], lists, plan.prefetch_limit))

