"""Learn fusion settings (method, RRF k, a weight per space) that maximise nDCG@10 on judged queries.

Every query's per-space lists are packed into arrays once (candidates x spaces: rank and DBSF-
normalised score), so one setting is scored over hundreds of queries in a few milliseconds with
the same math as app.domain.fusion (ties broken by document id, as there). Coordinate ascent then
walks the weights (and k) over a small grid from two starts, for each fusion method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.domain.fusion import dbsf_normalize
from app.domain.profiles import RankingProfile

WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
K_GRID = (1, 2, 5, 10, 20, 40, 60, 100)


@dataclass(frozen=True)
class FusionMatrix:
    """The per-space lists of many queries as padded arrays (Q queries x C candidates x S spaces)."""

    spaces: tuple[str, ...]
    qids: tuple[str, ...]
    ranks: np.ndarray  # 0-based rank in each space's list; inf where the space did not return it
    norm: np.ndarray  # DBSF-normalised score; 0 where absent
    gains: np.ndarray  # Q x C judged grade
    valid: np.ndarray  # Q x C: a real candidate (not padding)
    idcg: np.ndarray  # Q: ideal DCG@cutoff from every judged relevant document
    cutoff: int = 10


def build_matrix(lists: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]],
                 qrels: Mapping[str, Mapping[str, int]], spaces: Sequence[str], *, cutoff: int = 10) -> FusionMatrix:
    """Pack the judged queries' lists (queries without judgements are skipped)."""
    qids = [q for q in lists if qrels.get(q)]
    cands = [sorted({d for s in spaces for d, _ in lists[q].get(s, [])}) for q in qids]  # sorted: tie order
    n_q, n_c, n_s = len(qids), max((len(c) for c in cands), default=1), len(spaces)
    ranks = np.full((n_q, n_c, n_s), np.inf)
    norm = np.zeros((n_q, n_c, n_s))
    gains = np.zeros((n_q, n_c))
    valid = np.zeros((n_q, n_c), dtype=bool)
    idcg = np.zeros(n_q)
    discount = 1.0 / np.log2(np.arange(2, cutoff + 2))
    for qi, (q, cand) in enumerate(zip(qids, cands, strict=True)):
        pos = {d: i for i, d in enumerate(cand)}
        valid[qi, : len(cand)] = True
        for d, i in pos.items():
            gains[qi, i] = qrels[q].get(d, 0)
        for si, s in enumerate(spaces):
            ranked = list(lists[q].get(s, []))
            for r, (d, _) in enumerate(ranked):
                ranks[qi, pos[d], si] = min(ranks[qi, pos[d], si], r)
            for pid, v in dbsf_normalize(ranked):
                norm[qi, pos[str(pid)], si] = v
        ideal = sorted(qrels[q].values(), reverse=True)[:cutoff]
        idcg[qi] = float(np.dot(ideal, discount[: len(ideal)]))
    return FusionMatrix(tuple(spaces), tuple(qids), ranks, norm, gains, valid, idcg, cutoff)


def fused_scores(m: FusionMatrix, fusion: str, k: int, weights: np.ndarray) -> np.ndarray:
    """(Q, C) fused scores for weights (S,), one per space of `m.spaces`; -inf for padding and for candidates no
    weighted space returned.

    Raises:
        ValueError: a fusion other than "rrf" or "dbsf".
    """
    w = np.asarray(weights, dtype=float)
    on = w > 0
    present = np.isfinite(m.ranks[:, :, on]).any(axis=2) & m.valid
    if fusion == "dbsf":
        scores = (m.norm[:, :, on] * w[on]).sum(axis=2)
    elif fusion == "rrf":
        with np.errstate(divide="ignore"):
            contrib = 1.0 / ((m.ranks[:, :, on] + 1.0) / w[on] + k - 1.0)  # 1/inf = 0 where absent
        scores = contrib.sum(axis=2)
    else:
        raise ValueError(f"unknown fusion {fusion!r}")
    return np.where(present, scores, -np.inf)


def ndcg_per_query(m: FusionMatrix, fusion: str, k: int, weights: np.ndarray) -> np.ndarray:
    """nDCG@cutoff of every query of the matrix under one fusion setting.

    Args:
        m: the packed lists.
        fusion: "rrf" or "dbsf" (Qdrant's formulas, as app.domain.fusion).
        k: RRF's k (ignored by DBSF).
        weights: shape (S,), one per space of `m.spaces`; 0 leaves a space out.

    Returns:
        Shape (Q,), values in [0, 1].

    Raises:
        ValueError: an unknown fusion.
    """
    scores = fused_scores(m, fusion, k, weights)
    order = np.argsort(-scores, axis=1, kind="stable")[:, : m.cutoff]  # stable: ties by document id
    top_scores = np.take_along_axis(scores, order, axis=1)
    gains = np.where(np.isfinite(top_scores), np.take_along_axis(m.gains, order, axis=1), 0.0)
    discount = 1.0 / np.log2(np.arange(2, order.shape[1] + 2))
    return (gains @ discount) / m.idcg


def objective(m: FusionMatrix, fusion: str, k: int, weights: np.ndarray) -> float:
    """Mean nDCG@cutoff over the matrix's queries, in [0, 1] (0.0 with none), for weights (S,): what the weight
    search maximises.

    Raises:
        ValueError: a fusion other than "rrf" or "dbsf".
    """
    return float(ndcg_per_query(m, fusion, k, weights).mean()) if m.qids else 0.0


@dataclass(frozen=True)
class Fitted:
    """The best fusion setting found: method, RRF k, weight per space, and its mean nDCG@10 where fitted."""

    fusion: str
    rrf_k: int
    weights: dict[str, float]
    score: float  # mean nDCG@10 on the queries it was fitted on
    tried: list[dict[str, object]] = field(default_factory=list)  # best of each method, for the report


def _ascend(m: FusionMatrix, fusion: str, k: int, w: np.ndarray, *, grid: Sequence[float],
            k_grid: Sequence[int], rounds: int) -> tuple[float, int, np.ndarray]:
    best = objective(m, fusion, k, w)
    for _ in range(rounds):
        improved = False
        for si in range(len(w)):
            for g in grid:
                if g == w[si]:
                    continue
                trial = w.copy()
                trial[si] = g
                if not (trial > 0).any():
                    continue
                v = objective(m, fusion, k, trial)
                if v > best + 1e-9:
                    best, w, improved = v, trial, True
        if fusion == "rrf":
            for kk in k_grid:
                if kk != k:
                    v = objective(m, fusion, kk, w)
                    if v > best + 1e-9:
                        best, k, improved = v, kk, True
        if not improved:
            break
    return best, k, w


def fit_fusion(m: FusionMatrix, *, methods: Sequence[str] = ("rrf", "dbsf"), grid: Sequence[float] = WEIGHT_GRID,
               k_grid: Sequence[int] = K_GRID, start_k: int = 60, rounds: int = 5) -> Fitted:
    """Coordinate ascent on mean nDCG@10, per method, from equal weights and from the best single space.

    Weights stay on the grid (readable); DBSF rankings do not depend on their scale, RRF's do.
    """
    n = len(m.spaces)
    singles = [objective(m, "dbsf", 60, np.eye(n)[i]) for i in range(n)]
    starts = [np.ones(n), np.eye(n)[int(np.argmax(singles))]]
    tried: list[dict[str, object]] = []
    best: tuple[float, str, int, np.ndarray] | None = None
    for method in methods:
        method_best: tuple[float, int, np.ndarray] | None = None
        for start in starts:
            result = _ascend(m, method, start_k, start.copy(), grid=grid, k_grid=k_grid, rounds=rounds)
            if method_best is None or result[0] > method_best[0] + 1e-9:
                method_best = result
        assert method_best is not None
        score, k, w = method_best
        tried.append({"fusion": method, "rrf_k": k if method == "rrf" else None, "score": score,
                      "weights": dict(zip(m.spaces, w.tolist(), strict=True))})
        if best is None or score > best[0] + 1e-9:
            best = (score, method, k, w)
    assert best is not None
    score, method, k, w = best
    weights = {s: round(float(x), 4) for s, x in zip(m.spaces, w, strict=True)}
    return Fitted(fusion=method, rrf_k=int(k), weights=weights, score=score, tried=tried)


def best_of(profile: RankingProfile, fitted: Fitted, fusion: str) -> RankingProfile:
    """`profile` with the best weights coordinate ascent found for `fusion` (e.g. the tuned weighted DBSF
    when RRF won overall: `fitted.tried` keeps each method's best)."""
    best: dict[str, Any] = next(t for t in fitted.tried if t["fusion"] == fusion)
    return replace(profile, fusion=fusion, rrf_k=int(best["rrf_k"] or profile.rrf_k),
                   weights={s: float(w) for s, w in best["weights"].items()})


def split_queries(qids: Sequence[str], *, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A reproducible random split: (fit, held out)."""
    rng = np.random.default_rng(seed)
    order = list(qids)
    rng.shuffle(order)
    cut = round(len(order) * fraction)
    return sorted(order[:cut]), sorted(order[cut:])
