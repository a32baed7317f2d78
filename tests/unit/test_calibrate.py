"""Threshold calibration: precision-recall points and F-beta picks computed by hand."""

from __future__ import annotations

import pytest

from app.domain.profiles import VersionThreshold, passes, voting_thresholds
from app.eval.calibrate import best_threshold, calibrate, pr_curve, threshold_effect

# four retrieved pairs; a third relevant document was never retrieved (recall denominator 3)
SCORES = [0.9, 0.8, 0.7, 0.1]
LABELS = [True, False, True, False]


def test_pr_curve_points() -> None:
    curve = pr_curve(SCORES, LABELS, 3)
    assert [c.threshold for c in curve] == [0.9, 0.8, 0.7, 0.1]
    assert [c.precision for c in curve] == pytest.approx([1.0, 0.5, 2 / 3, 0.5])
    assert [c.recall for c in curve] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert [c.f_beta for c in curve] == pytest.approx([0.5, 0.4, 2 / 3, 4 / 7])


def test_best_threshold_by_f1_and_by_a_precision_leaning_beta() -> None:
    assert best_threshold(SCORES, LABELS, 3).threshold == 0.7  # F1 = 2/3
    # F0.5 at 0.9: 1.25 * 1 * 1/3 / (0.25 + 1/3) = 0.714 > F0.5 at 0.7 = 0.667
    assert best_threshold(SCORES, LABELS, 3, beta=0.5).threshold == 0.9
    assert best_threshold([], [], 3) is None


def test_equal_scores_are_kept_or_dropped_together() -> None:
    curve = pr_curve([0.5, 0.5, 0.2], [True, False, True], 2)
    assert [(c.threshold, c.precision) for c in curve] == [(0.5, 0.5), (0.2, pytest.approx(2 / 3))]


def test_calibrate_keys_thresholds_by_vector_version() -> None:
    lists = {"q1": {"dense": [("a", 0.9), ("x", 0.8)]}, "q2": {"dense": [("y", 0.85), ("b", 0.7), ("z", 0.1)]}}
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}}
    found = calibrate(lists, qrels, {"dense": "dense.m.v1"}, beta=1.0, kinds={"dense": "multi"})
    t = found["dense.m.v1"]
    assert t.kind == "multi" and t.beta == 1.0
    # pairs 0.9 R, 0.85 N, 0.8 N, 0.7 R, 0.1 N over 3 relevant: F1 0.5, 0.4, 1/3, 4/7, 0.5 -> 0.7
    assert t.threshold == 0.7 and t.recall == pytest.approx(0.6667, abs=1e-4)
    assert t.fitted_on["pairs"] == 5 and t.fitted_on["relevant"] == 3


def test_a_hit_passes_when_any_space_with_a_threshold_clears_it() -> None:
    th = {"d.v1": 0.5, "k.v1": 10.0}
    assert passes({"d.v1": 0.6, "k.v1": 1.0}, th)
    assert passes({"d.v1": None, "k.v1": 12.0}, th)
    assert not passes({"d.v1": 0.4, "k.v1": 9.0}, th)
    assert not passes({"t.v1": 0.99}, th)  # a space without a threshold does not vote


def th(version: str, value: float, kind: str = "dense") -> VersionThreshold:
    return VersionThreshold(version=version, threshold=value, beta=2, precision=0, recall=0, f_beta=0, kind=kind)


def test_dense_spaces_vote_and_sparse_ones_only_when_no_dense_space_can() -> None:
    stored = {"d.v1": th("d.v1", 0.5), "m.v1": th("m.v1", 0.6, "multi"), "k.v1": th("k.v1", 20.0, "sparse")}
    assert voting_thresholds({"d.v1": "dense", "k.v1": "sparse"}, stored) == {"d.v1": 0.5}
    assert voting_thresholds({"m.v1": "multi", "k.v1": "sparse", "t.v1": "dense"}, stored) == {"m.v1": 0.6}
    assert voting_thresholds({"k.v1": "sparse"}, stored) == {"k.v1": 20.0}
    assert voting_thresholds({"k.v1": "sparse", "t.v1": "dense"}, stored) == {"k.v1": 20.0}  # t has none
    assert voting_thresholds({"t.v1": "dense"}, stored) == {}


def test_threshold_effect_counts_kept_and_dropped_hits() -> None:
    lists = {"q1": {"s": [("a", 0.9), ("x", 0.2)]}, "q2": {"s": [("y", 0.3)]}}
    runs = {"q1": ["a", "x"], "q2": ["y"]}
    eff = threshold_effect(lists, runs, {"q1": {"a": 1}}, {"s": "s.v1"}, {"s.v1": th("s.v1", 0.5)})
    assert eff["relevant_kept"] == 1.0
    assert eff["nonrelevant_dropped"] == 1.0  # x and y dropped
    assert eff["empty_results"] == 0.5 and eff["mean_hits_kept"] == 0.5
