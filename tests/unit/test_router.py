"""The query router's pure parts: query features, the document-frequency table, applying a stored model."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from app.domain.query_features import FEATURES, DocFrequencies, feature_vector, is_code, query_features
from app.domain.router import QueryRouter, RoutePlan, RouterModel, cheapest, decide
from app.errors import InvalidInput
from app.services.query_router import routed_request, wants_route
from app.services.search import SearchRequest

ROOT = Path(__file__).resolve().parents[2]
PLANS = {"keyword": RoutePlan("keyword", ("keywords",)), "dense": RoutePlan("dense", ("document",)),
         "fused": RoutePlan("fused", ("document", "body", "keywords"), "dbsf", {"keywords": 1.5})}
LIVE = {"keywords": "keywords.bm25.v2", "document": "document.minilm.v1", "body": "body.minilm.v1"}


def dfs() -> DocFrequencies:
    # 100 documents; term 7 in 50 of them, term 9 in 2, term 11 in one (below min_df: unknown)
    return DocFrequencies.from_counts({7: 50, 9: 2, 11: 1}, docs=100)


def test_text_features_count_digits_codes_capitals_and_questions() -> None:
    f = query_features("What does BRCA1 do to p53 in IL-6 signalling?", [], None)
    assert f["tokens"] == 9 and f["chars"] == len("What does BRCA1 do to p53 in IL-6 signalling?")
    assert f["digit_share"] == pytest.approx(3 / 9)  # BRCA1, p53, IL-6
    assert f["code_share"] == pytest.approx(3 / 9)
    assert f["caps_share"] == pytest.approx(2 / 9)  # BRCA1, IL-6 (the first token's capital is not counted)
    assert f["acronym_share"] == pytest.approx(2 / 9)
    assert f["question_word"] == 1.0 and f["question_mark"] == 1.0
    plain = query_features("the printing press and the reformation", [], None)
    assert plain["digit_share"] == plain["code_share"] == plain["caps_share"] == 0.0
    assert plain["question_word"] == plain["question_mark"] == 0.0


@pytest.mark.parametrize(("token", "code"), [("p53", True), ("BRCA1", True), ("IL-6", True), ("COVID-19", True),
                                             ("TNF-alpha", True), ("H2O", True), ("well-known", False),
                                             ("1999", False), ("protein", False)])
def test_codes_mix_letters_and_digits_or_are_hyphenated_ids(token: str, code: bool) -> None:
    assert is_code(token) is code


def test_idf_features_follow_qdrants_idf_and_count_rare_terms_as_unknown() -> None:
    table = dfs()
    f = query_features("a b c d", [7, 9, 11, 12], table)
    idf = [math.log1p((100 - df + 0.5) / (df + 0.5)) for df in (50, 2)]
    assert f["terms"] == 4 and f["unknown_share"] == 0.5  # 11 (df 1) and 12 (never seen)
    assert f["idf_max"] == pytest.approx(max(idf)) and f["idf_min"] == pytest.approx(min(idf))
    assert f["idf_mean"] == pytest.approx(sum(idf) / 2) and f["idf_sum"] == pytest.approx(sum(idf))
    none = query_features("the of", [], table)  # only stopwords: no terms at all
    assert none["terms"] == 0 and none["unknown_share"] == 0 and none["idf_max"] == 0 and none["stop_share"] == 1


def test_features_are_finite_for_any_query() -> None:
    for text in ["", "   ", "???", "日本語の検索", "x" * 2000, "Ünïcödé 42-ÄB"]:
        f = query_features(text, [1, 2], dfs())
        assert list(f) == list(FEATURES) and all(math.isfinite(v) for v in f.values())


def test_document_frequencies_round_trip_through_json_compactly() -> None:
    rng = np.random.default_rng(0)
    counts = {int(t): int(c) for t, c in zip(rng.integers(0, 2**32, 5000), rng.integers(1, 500, 5000), strict=True)}
    table = DocFrequencies.from_counts(counts, docs=5000)
    back = DocFrequencies.from_dict(json.loads(json.dumps(table.to_dict())))
    assert back.docs == 5000 and np.array_equal(back.ids, table.ids) and np.array_equal(back.counts, table.counts)
    kept = {t: c for t, c in counts.items() if c >= 2}
    probe = [*list(kept)[:50], 123]
    assert back.lookup(probe).tolist() == [float(kept.get(t, 0)) for t in probe]
    assert len(json.dumps(table.to_dict())) < 8 * len(kept)  # well under a JSON list of pairs
    with pytest.raises(ValueError, match="do not decode"):
        DocFrequencies.from_dict({**table.to_dict(), "ids": "not base64 zlib"})


def logistic(threshold: float = 0.5) -> QueryRouter:
    """Routes on one feature: many digits -> keyword, else dense (coefficients written by hand)."""
    i = FEATURES.index("digit_share")
    coef = np.zeros((2, len(FEATURES)))
    coef[0, i], coef[1, i] = 10.0, -10.0
    model = RouterModel("logistic", FEATURES, ("keyword", "dense"), {
        "mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES), "coef": coef.tolist(),
        "intercept": [-2.0, 2.0]})
    return QueryRouter("hand", model, PLANS, "fused", threshold, LIVE, dfs())


def test_a_stored_logistic_model_gives_softmax_probabilities() -> None:
    router = logistic()
    x = feature_vector(query_features("p53 BRCA1 42", [], None), FEATURES)  # digit share 1
    z = np.array([10.0 - 2.0, -10.0 + 2.0])
    expected = np.exp(z) / np.exp(z).sum()
    assert router.model.predict_proba(x) == pytest.approx(expected)


def test_stored_models_reproduce_scikit_learn() -> None:
    """The arrays exported by the fitting code give scikit-learn's own probabilities, with no sklearn at serving."""
    from app.eval.router_fit import _fit, export

    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, len(FEATURES)))
    y = (x[:, 0] + x[:, 3] > 0).astype(int) + (x[:, 5] > 1).astype(int)  # three classes
    plans = list(PLANS.values())
    for config in ({"kind": "logistic", "C": 0.5}, {"kind": "tree", "depth": 3, "leaf": 5}):
        est = _fit(config, x, y, None)
        model = RouterModel.from_dict(json.loads(json.dumps(export(est, config, plans).to_dict())))
        mine = np.array([model.predict_proba(row) for row in x])
        assert np.allclose(mine, est.predict_proba(x), atol=1e-9), config
    binary = _fit({"kind": "logistic", "C": 1.0}, x, (x[:, 0] > 0).astype(int), None)
    model = export(binary, {"kind": "logistic", "C": 1.0}, plans)
    assert np.allclose([model.predict_proba(r) for r in x], binary.predict_proba(x), atol=1e-9)


def test_decide_routes_when_sure_and_falls_back_when_unsure_or_mismatched() -> None:
    digits = query_features("p53 42", [], None)
    words = query_features("galaxies rotate", [], None)
    assert decide(logistic(), digits, LIVE).plan == PLANS["keyword"]
    routed = decide(logistic(), words, LIVE)
    assert routed.plan == PLANS["dense"] and routed.reason == "routed" and routed.label == "dense"
    assert set(routed.describe()) >= {"plan", "reason", "probabilities", "features", "threshold"}
    unsure = decide(logistic(threshold=0.999), words, LIVE)
    assert unsure.plan is None and unsure.reason == "unsure" and unsure.label == "default"
    assert "under the threshold 0.999" in unsure.detail
    stale = decide(logistic(), words, LIVE | {"document": "document.other.v2"})
    assert stale.plan is None and stale.reason == "mismatch" and "document.other.v2" in stale.detail


def test_a_tree_model_walks_its_node_arrays() -> None:
    i = FEATURES.index("question_word")
    model = RouterModel("tree", FEATURES, ("keyword", "dense"), {
        "left": [1, -1, -1], "right": [2, -1, -1], "feature": [i, -2, -2], "threshold": [0.5, -2.0, -2.0],
        "value": [[5, 5], [9, 1], [2, 8]]})
    assert model.predict_proba(feature_vector(query_features("p53 binds DNA", [], None), FEATURES)).tolist() == \
        pytest.approx([0.9, 0.1])
    assert model.predict_proba(feature_vector(query_features("how does p53 bind", [], None), FEATURES)).tolist() == \
        pytest.approx([0.2, 0.8])


def test_a_router_round_trips_and_refuses_what_it_cannot_serve() -> None:
    router = logistic()
    back = QueryRouter.from_dict(json.loads(json.dumps(router.to_dict())))
    assert back.to_dict() == router.to_dict()
    with pytest.raises(ValueError, match="does not define"):
        QueryRouter("x", router.model, {"keyword": PLANS["keyword"]}, "fused", 0.5, LIVE, dfs())
    with pytest.raises(ValueError, match="features this service does not compute"):
        RouterModel("tree", ("tokens", "moon_phase"), ("keyword",), {})


def test_ties_go_to_the_cheapest_plan() -> None:
    plans = [PLANS["fused"], PLANS["dense"], PLANS["keyword"]]
    assert cheapest(plans, [0.5, 0.5, 0.5]) == 1  # dense and keyword tie at one space: the first listed
    assert cheapest(plans, [0.6, 0.5, 0.5]) == 0
    assert cheapest(plans, [0.5, 0.4, 0.5]) == 2


def test_which_requests_are_routed() -> None:
    assert wants_route(SearchRequest(query="q"))
    assert wants_route(SearchRequest(query="q", plan="auto", limit=5, explain=True))
    for named in ({"fields": ["title"]}, {"fusion": "rrf"}, {"weights": {"title": 2.0}}, {"rrf_k": 3},
                  {"versions": {"title": "title.x.v1"}}):
        assert not wants_route(SearchRequest(query="q", **named))  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match='plan "auto"'):
            wants_route(SearchRequest(query="q", plan="auto", **named))  # type: ignore[arg-type]
    routed = routed_request(SearchRequest(query="q", plan="auto", limit=3), PLANS["fused"])
    assert (routed.fields, routed.fusion, routed.weights, routed.limit, routed.plan) == (
        ["document", "body", "keywords"], "dbsf", {"keywords": 1.5}, 3, None)


def test_serving_code_never_imports_scikit_learn() -> None:
    """The router is applied with numpy alone: only the evaluation harness (app/eval) may import sklearn."""
    found = []
    for path in (ROOT / "app").rglob("*.py"):
        if "eval" in path.relative_to(ROOT / "app").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "sklearn"]
    assert found == []
