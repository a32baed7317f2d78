"""Ranking metrics against cases computed by hand."""

from __future__ import annotations

import math

import pytest

from app.eval.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k, score_run

LOG2_3 = math.log2(3)


def test_ndcg_single_relevant_at_rank_two() -> None:
    # DCG = 1/log2(3); ideal DCG = 1/log2(2) = 1
    assert ndcg_at_k(["a", "b", "c"], {"b": 1}, 10) == pytest.approx(1 / LOG2_3)


def test_ndcg_graded_gains_use_the_grade_linearly() -> None:
    # DCG = 2/log2(2) + 1/log2(4) = 2.5; ideal = 2/1 + 1/log2(3)
    assert ndcg_at_k(["a", "b", "c"], {"a": 2, "c": 1}, 10) == pytest.approx(2.5 / (2 + 1 / LOG2_3))


def test_ndcg_ideal_counts_relevant_documents_never_retrieved() -> None:
    # found a at rank 1 (DCG 1); ideal has a and b at ranks 1 and 2
    assert ndcg_at_k(["a", "x"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_ndcg_is_cut_at_k_and_perfect_ranking_scores_one() -> None:
    assert ndcg_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0
    assert ndcg_at_k(["a", "b", "x"], {"a": 1, "b": 1}, 10) == pytest.approx(1.0)
    # ideal DCG is also cut at k: three relevant, k=1, the first is relevant -> 1
    assert ndcg_at_k(["a"], {"a": 1, "b": 1, "c": 1}, 1) == pytest.approx(1.0)


def test_ndcg_counts_a_duplicate_once() -> None:
    assert ndcg_at_k(["a", "a", "b"], {"b": 1}, 10) == pytest.approx(1 / LOG2_3)


def test_ndcg_without_relevant_documents_is_zero() -> None:
    assert ndcg_at_k(["a"], {}, 10) == 0.0


def test_recall_at_k() -> None:
    rel = {"a": 1, "b": 1, "c": 1}
    assert recall_at_k(["a", "x", "b"], rel, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "x", "b"], rel, 3) == pytest.approx(2 / 3)
    assert recall_at_k([], rel, 10) == 0.0


def test_mrr_at_k() -> None:
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0
    assert mrr_at_k(["a", "b"], {"a": 1, "b": 1}, 10) == 1.0


def test_score_run_means_over_judged_queries_and_missing_runs_score_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": ["a"], "q3": ["b"]}  # q2 has no run; q3 is not judged
    scores = score_run(run, qrels)
    assert scores["ndcg@10"] == pytest.approx(0.5)
    assert scores["recall@100"] == pytest.approx(0.5)
    assert scores["mrr@10"] == pytest.approx(0.5)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([7], 95) == 7
    assert math.isnan(percentile([], 50))


def test_paired_bootstrap_interval() -> None:
    from app.eval.metrics import paired_bootstrap_ci

    assert paired_bootstrap_ci([0.5, 0.7], [0.5, 0.7]) == (0.0, 0.0)
    low, high = paired_bootstrap_ci([0.6, 0.8, 0.3], [0.5, 0.7, 0.2])
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)
    low, high = paired_bootstrap_ci([1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    assert 0.0 <= low < 0.5 < high <= 1.0
