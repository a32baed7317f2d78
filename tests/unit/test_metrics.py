"""Ranking metrics against cases computed by hand; the evaluation library (ir-measures) against our own."""

from __future__ import annotations

import math

import pytest

from app.domain.metrics import mrr_at_k, ndcg_at_k, overlap_at_k, recall_at_k
from app.eval.metrics import per_query, percentile, score_run

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


# -- the library the harness scores with agrees with the domain's own per-query metrics ------------------------

HAND_CASES = [  # (ranking, judgements): the hand-computed cases above, and edge cases
    (["a", "b", "c"], {"b": 1}),
    (["a", "b", "c"], {"a": 2, "c": 1}),
    (["a", "x"], {"a": 1, "b": 1}),
    (["x", "y", "a"], {"a": 1}),
    (["a", "a", "b"], {"b": 1}),
    ([], {"a": 1}),
    ([f"d{i}" for i in range(150)], {"d3": 1, "d11": 2, "d99": 1, "d140": 3, "zz": 1}),
]


def _ours(ranked: list[str], rel: dict[str, int]) -> dict[str, float]:
    return {"ndcg@10": ndcg_at_k(ranked, rel, 10), "recall@10": recall_at_k(ranked, rel, 10),
            "recall@100": recall_at_k(ranked, rel, 100), "mrr@10": mrr_at_k(ranked, rel, 10)}


@pytest.mark.parametrize(("ranked", "rel"), HAND_CASES)
def test_library_metrics_equal_ours_on_hand_cases(ranked: list[str], rel: dict[str, int]) -> None:
    lib = {m: v["q"] for m, v in per_query({"q": ranked}, {"q": rel}).items()}
    assert lib == pytest.approx(_ours(ranked, rel), abs=1e-12)


def _real_case() -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """CISI's judgements (or SciFact's graded ones) with seeded rankings of the real corpus ids."""
    import random
    from pathlib import Path

    from app.corpus import load_beir

    repo = Path(__file__).resolve().parents[2]
    roots = [repo.parent / "shared" / "datasets", repo.parents[1] / "shared" / "datasets"]  # a clone, a worktree
    found = [r / n for r in roots for n in ("cisi", "scifact") if (r / n / "corpus.jsonl").exists()]
    if not found:
        pytest.skip(f"no shared datasets under {roots[0]}")
    ds = load_beir(found[0], "test")
    ids = sorted(d.id for d in ds.docs)
    rng = random.Random(7)
    run = {}
    for q, rel in ds.qrels.items():
        ranked = rng.sample(ids, 120)
        for d in rel:  # put each relevant document somewhere in the top 150, or leave it out
            if rng.random() < 0.6:
                ranked.insert(rng.randrange(0, 40), d)
        run[q] = ranked
    return run, ds.qrels


def test_library_metrics_equal_ours_on_a_real_dataset() -> None:
    run, qrels = _real_case()
    lib = per_query(run, qrels)
    for q, rel in qrels.items():
        ours = _ours(run[q], rel)
        assert {m: lib[m][q] for m in ours} == pytest.approx(ours, abs=1e-12), q
    means = score_run(run, qrels)
    assert means["ndcg@10"] == pytest.approx(sum(ndcg_at_k(run[q], r, 10) for q, r in qrels.items()) / len(qrels))


def test_overlap_denominator_is_the_larger_top_k() -> None:
    assert overlap_at_k(["a", "b"], ["b", "a"], 10) == 1.0
    assert overlap_at_k(["a", "b"], ["a", "b", "c", "d"], 10) == pytest.approx(2 / 4)
    assert overlap_at_k(["a", "b", "c"], ["c", "x", "y"], 2) == 0.0
    assert overlap_at_k([], [], 10) == 1.0
