"""Similarity thresholds from judged data: a precision-recall curve per vector version, best F-beta.

Pairs are (query, document) from one space's ranked lists: the raw score of that space and
whether the document is judged relevant. Recall counts every judged relevant document, found or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.profiles import VersionThreshold, passes, voting_thresholds


@dataclass(frozen=True)
class CurvePoint:
    """One point of a precision-recall curve: keep raw scores >= threshold; precision, recall, F-beta in [0, 1]."""

    threshold: float
    precision: float
    recall: float
    f_beta: float


def pr_curve(scores: Sequence[float], labels: Sequence[bool], total_relevant: int, *, beta: float = 1.0,
             ) -> list[CurvePoint]:
    """One point per distinct score t: keep pairs scoring >= t; precision, recall and F-beta of that.

    Args:
        scores: raw scores of retrieved (query, document) pairs.
        labels: whether each pair is judged relevant.
        total_relevant: judged relevant pairs in all (the recall denominator).
        beta: recall counts beta times as much as precision.
    """
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    out: list[CurvePoint] = []
    tp = kept = 0
    b2 = beta * beta
    for i, (s, rel) in enumerate(pairs):
        kept += 1
        tp += bool(rel)
        if i + 1 < len(pairs) and pairs[i + 1][0] == s:
            continue  # equal scores are kept or dropped together
        p = tp / kept
        r = tp / total_relevant if total_relevant else 0.0
        f = (1 + b2) * p * r / (b2 * p + r) if p + r > 0 else 0.0
        out.append(CurvePoint(s, p, r, f))
    return out


def best_threshold(scores: Sequence[float], labels: Sequence[bool], total_relevant: int, *,
                   beta: float = 1.0) -> CurvePoint | None:
    """The curve point of highest F-beta (the higher threshold on a tie); None without pairs."""
    curve = pr_curve(scores, labels, total_relevant, beta=beta)
    if not curve:
        return None
    return max(curve, key=lambda c: (round(c.f_beta, 12), c.threshold))


def pairs_of(lists: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]], qrels: Mapping[str, Mapping[str, int]],
             space: str, *, depth: int = 100) -> tuple[list[float], list[bool], int]:
    """Scores and labels of one space's top `depth` over the judged queries, and the relevant total."""
    scores: list[float] = []
    labels: list[bool] = []
    total = 0
    for q, rel in qrels.items():
        if q not in lists:
            continue
        total += sum(1 for g in rel.values() if g > 0)
        for d, s in list(lists[q].get(space, []))[:depth]:
            scores.append(float(s))
            labels.append(rel.get(d, 0) > 0)
    return scores, labels, total


def calibrate(lists: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]], qrels: Mapping[str, Mapping[str, int]],
              versions: Mapping[str, str], *, beta: float = 2.0, depth: int = 100,
              kinds: Mapping[str, str] | None = None,
              fitted_on: Mapping[str, object] | None = None) -> dict[str, VersionThreshold]:
    """A threshold per vector version (`versions`: space -> version name) from the judged queries.

    Args:
        beta: F-beta to maximise. The default 2 weighs recall double: a relevant hit dropped costs
            more than a wrong one shown, and sparse judgements (about one relevant document per
            SciFact query) make measured precision a floor, which pushes F1 thresholds too high.
        kinds: space -> dense | multi | sparse, stored with each threshold (decides who votes).
    """
    out: dict[str, VersionThreshold] = {}
    for space, version in versions.items():
        scores, labels, total = pairs_of(lists, qrels, space, depth=depth)
        point = best_threshold(scores, labels, total, beta=beta)
        if point is None:
            continue
        out[version] = VersionThreshold(
            version=version, threshold=round(point.threshold, 6), beta=beta, precision=round(point.precision, 4),
            recall=round(point.recall, 4), f_beta=round(point.f_beta, 4), kind=(kinds or {}).get(space, "dense"),
            fitted_on={**(fitted_on or {}), "pairs": len(scores), "relevant": total, "depth": depth})
    return out


def threshold_effect(lists: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]],
                     run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]],
                     versions: Mapping[str, str], thresholds: Mapping[str, VersionThreshold], *, k: int = 10,
                     ) -> dict[str, object]:
    """What the API's rule (a voting space at or above its threshold) does to top-k results.

    Args:
        lists: per-space ranked lists (doc id, raw score) of each query.
        run: the fused top-k of each query.
        qrels: judgements; queries missing here count as unjudged (noise) queries.
        versions: space -> vector version for the spaces searched.
        thresholds: vector version -> its calibrated threshold.
    """
    voting = voting_thresholds({v: thresholds[v].kind if v in thresholds else "dense" for v in versions.values()},
                               thresholds)
    kept_rel = all_rel = kept_non = all_non = empty = kept_total = 0
    for q, ranked in run.items():
        scores = {versions[s]: dict(lists[q].get(s, [])) for s in versions}
        kept = [d for d in ranked[:k] if passes({v: sc.get(d) for v, sc in scores.items()}, voting)]
        rel = qrels.get(q, {})
        kept_total += len(kept)
        empty += not kept
        for d in ranked[:k]:
            is_rel = rel.get(d, 0) > 0
            all_rel += is_rel
            all_non += not is_rel
            if d in kept:
                kept_rel += is_rel
                kept_non += not is_rel
    n = max(1, len(run))
    return {
        "queries": len(run),
        "voting": sorted(voting),
        "relevant_kept": kept_rel / all_rel if all_rel else float("nan"),
        "nonrelevant_dropped": 1 - kept_non / all_non if all_non else float("nan"),
        "empty_results": empty / n,
        "mean_hits_kept": kept_total / n,
    }
