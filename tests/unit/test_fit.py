"""Learned fusion weights: the array scoring agrees with the metric code and the fusion math."""

from __future__ import annotations

import random

import numpy as np
import pytest

from app.domain.fusion import fuse
from app.domain.metrics import ndcg_at_k
from app.domain.profiles import RankingProfile
from app.eval.fit import build_matrix, fit_fusion, objective, split_queries

SPACES = ("good", "bad", "mixed")


def make_lists(seed: int = 1) -> tuple[dict, dict]:
    """`good` ranks each query's relevant doc first, `bad` never returns it, `mixed` at rank 3."""
    rng = random.Random(seed)
    lists, qrels = {}, {}
    for qi in range(12):
        rel = f"r{qi}"
        noise = [f"d{rng.randrange(40)}" for _ in range(30)]
        noise = list(dict.fromkeys(noise))[:8]
        lists[f"q{qi}"] = {
            "good": [(d, 1.0 - i * 0.05) for i, d in enumerate([rel, *noise[:5]])],
            "bad": [(d, 0.9 - i * 0.01) for i, d in enumerate(noise[::-1])],
            "mixed": [(d, 0.8 - i * 0.1) for i, d in enumerate([*noise[2:4], rel, *noise[4:6]])],
        }
        qrels[f"q{qi}"] = {rel: 1}
    return lists, qrels


@pytest.mark.parametrize(("fusion", "k", "weights"), [
    ("dbsf", 60, (1.0, 1.0, 1.0)), ("dbsf", 60, (0.5, 2.0, 0.0)), ("rrf", 60, (1.0, 1.0, 1.0)),
    ("rrf", 2, (1.0, 3.0, 0.25)), ("rrf", 1, (0.0, 1.0, 1.0)),
])
def test_matrix_objective_equals_metric_over_offline_fusion(fusion: str, k: int, weights: tuple) -> None:
    lists, qrels = make_lists()
    m = build_matrix(lists, qrels, SPACES)
    expected = np.mean([
        ndcg_at_k([str(d) for d, _ in fuse([lists[q][s] for s in SPACES], method=fusion, k=k, weights=list(weights))],
                  qrels[q], 10)
        for q in lists])
    assert objective(m, fusion, k, np.array(weights)) == pytest.approx(expected)


def test_fit_weights_the_space_that_finds_the_relevant_documents() -> None:
    lists, qrels = make_lists()
    fitted = fit_fusion(build_matrix(lists, qrels, SPACES))
    assert fitted.score == pytest.approx(1.0)
    assert fitted.weights["good"] > fitted.weights["bad"]
    assert {t["fusion"] for t in fitted.tried} == {"rrf", "dbsf"}


def test_split_is_reproducible_and_disjoint() -> None:
    ids = [f"q{i}" for i in range(10)]
    fit, held = split_queries(ids, fraction=0.6, seed=3)
    assert (fit, held) == split_queries(ids, fraction=0.6, seed=3)
    assert len(fit) == 6 and len(held) == 4 and not set(fit) & set(held)
    assert sorted(fit + held) == sorted(ids)


def test_profile_applies_only_to_the_versions_it_was_fitted_on() -> None:
    p = RankingProfile(name="p", version=2, fusion="rrf", rrf_k=10, weights={"a": 1.0, "b": 0.0},
                       vector_versions={"a": "a.m.v1", "b": "b.m.v1"})
    assert p.id == "p.v2" and p.fields == ["a"]
    assert p.mismatch({"a": "a.m.v1", "b": "b.m.v1"}) is None
    assert "a.m.v1 (live a.m.v2)" in (p.mismatch({"a": "a.m.v2", "b": "b.m.v1"}) or "")
    assert p.mismatch({"a": "a.m.v1", "b": "b.m.v1", "c": "c.m.v1"})  # a space added since
    assert RankingProfile.from_dict({**p.to_dict(), "unknown": 1}) == p
