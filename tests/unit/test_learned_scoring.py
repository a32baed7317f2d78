"""Learned scoring: the features, the fused score and its explanation, the stored scorer, the plan, the fit."""

from __future__ import annotations

import json
import math

import pytest

from app.domain.fusion import fused_in, needs_per_space
from app.domain.learned import feature_matrix, fuse_plan, learned_contributions, learned_fusion, space_features
from app.domain.metrics import ndcg_at_k
from app.domain.plan import Filter, build_plan
from app.domain.profiles import RankingProfile
from app.domain.scorer import LearnedScorer
from app.errors import InvalidInput, NoLearnedScorer
from app.store.adapter import IN_STORE_FUSIONS
from tests.unit.test_domain import registry
from tests.unit.test_fit import SPACES, make_lists

LISTS = {
    "title": [("a", 0.9), ("b", 0.7), ("c", 0.5)],
    "keywords": [("c", 12.0), ("d", 4.0)],
}


def scorer(**changes: object) -> LearnedScorer:
    fields: dict[str, object] = dict(
        spaces=("title", "keywords"), depth=10,
        terms=("title:found", "title:dbsf", "keywords:rr", "keywords:minmax", "title:rank*keywords:found"),
        coefficients=(0.5, 2.0, 1.0, -0.25, 3.0),
        vector_versions=(("keywords", "keywords.bm25.v1"), ("title", "title.m.v1")), model="pairwise")
    return LearnedScorer(**{**fields, **changes})  # type: ignore[arg-type]


def test_space_features_by_hand() -> None:
    f = space_features(LISTS["title"], depth=10)
    mean, sd = 0.7, 0.2  # sample sd of 0.9, 0.7, 0.5
    low, high = mean - 3 * sd, mean + 3 * sd
    assert f["a"] == pytest.approx({"found": 1.0, "dbsf": (0.9 - low) / (high - low), "minmax": 1.0, "rr": 1.0,
                                    "rank": 1.0, "score": 0.9})
    assert f["b"]["minmax"] == pytest.approx(0.5) and f["b"]["rr"] == 0.5 and f["b"]["rank"] == pytest.approx(0.9)
    assert f["c"]["minmax"] == 0.0 and f["c"]["rr"] == pytest.approx(1 / 3)
    assert space_features([("x", 3.0)], depth=10)["x"]["minmax"] == 1.0  # one hit: the top of its list
    assert space_features([], depth=10) == {}


def test_feature_matrix_gives_zero_where_a_space_did_not_find_the_hit_and_multiplies_products() -> None:
    pids, x = feature_matrix(LISTS, ["title:found", "keywords:score", "title:rr*keywords:rr"], depth=10)
    assert pids == ["a", "b", "c", "d"]
    assert x.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 12.0, pytest.approx(1 / 3)], [0.0, 4.0, 0.0]]


def test_learned_fusion_is_the_sum_of_coefficient_times_term_and_breaks_ties_by_id() -> None:
    s = scorer()
    fused = dict(learned_fusion(LISTS, s))
    title = space_features(LISTS["title"], 10)
    expected_c = (0.5 + 2.0 * title["c"]["dbsf"] + 1.0 * 1.0 - 0.25 * 1.0 + 3.0 * title["c"]["rank"] * 1.0)
    assert fused["c"] == pytest.approx(expected_c)
    assert fused["d"] == pytest.approx(1.0 * 0.5 - 0.25 * 0.0)
    assert fused["a"] == pytest.approx(0.5 + 2.0 * title["a"]["dbsf"])
    ranked = learned_fusion(LISTS, s)
    assert [pid for pid, _ in ranked] == sorted(fused, key=lambda p: (-fused[p], p))
    tie = LearnedScorer(spaces=("title",), terms=("title:found",), coefficients=(1.0,), depth=10,
                        vector_versions=(("title", "title.m.v1"),))
    assert [pid for pid, _ in learned_fusion({"title": [("b", 2.0), ("a", 1.0)]}, tie)] == ["a", "b"]


def test_contributions_show_features_and_terms_and_add_up_to_the_fused_score() -> None:
    s = scorer()
    fused = dict(learned_fusion(LISTS, s))
    explained = learned_contributions(LISTS, s, ["c", "d"])
    for pid in ("c", "d"):
        assert sum(e["contribution"] for e in explained[pid].values()) == pytest.approx(fused[pid])
    c_title = explained["c"]["title"]
    assert c_title["rank"] == 3 and c_title["score"] == 0.5 and c_title["features"]["found"] == 1.0
    assert set(c_title["terms"]) == {"title:found", "title:dbsf", "title:rank*keywords:found"}  # first factor's space
    assert explained["d"]["title"] == {"rank": None, "score": None, "weight": 1.0, "contribution": 0.0,
                                       "terms": pytest.approx({"title:found": 0.0, "title:dbsf": 0.0,
                                                               "title:rank*keywords:found": 0.0}),
                                       "features": dict.fromkeys(explained["d"]["title"]["features"], 0.0)}
    assert explained["d"]["keywords"]["terms"] == pytest.approx({"keywords:rr": 0.5, "keywords:minmax": -0.0})


def test_a_scorer_round_trips_through_json_in_its_own_profile_key() -> None:
    s = scorer(default=True, fitted_on={"queries": 485}, metrics={"holdout": {"ndcg@10": 0.8}})
    profile = RankingProfile(name="p", version=1, fusion="dbsf", rrf_k=60, weights={"title": 1.0},
                             vector_versions=s.versions, scorer=s.to_dict())
    stored = RankingProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    back = stored.learned()
    assert back == s and back is not None and back.default and back.fitted_on == {"queries": 485}
    assert stored.describe()["scorer"] == {"model": "pairwise", "default": True}
    assert RankingProfile.from_dict({**profile.to_dict(), "scorer": None}).learned() is None
    # a stored profile from before learned scoring (no `scorer` key) still reads
    old = {k: v for k, v in profile.to_dict().items() if k != "scorer"}
    assert RankingProfile.from_dict(old).learned() is None


@pytest.mark.parametrize(("changes", "says"), [
    ({"terms": ("title:found",), "coefficients": (1.0, 2.0)}, "1 terms but 2 coefficients"),
    ({"terms": ("title:loudness",), "coefficients": (1.0,)}, "not a feature"),
    ({"terms": ("body:rr",), "coefficients": (1.0,)}, "not one of the scorer's spaces"),
    ({"terms": ("title",), "coefficients": (1.0,)}, "is not space:feature"),
    ({"terms": ("title:rr",), "coefficients": (math.nan,)}, "finite"),
    ({"depth": 0}, "depth"),
])
def test_a_malformed_scorer_is_refused(changes: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        scorer(**changes)
    with pytest.raises(ValueError, match="not a learned scorer"):
        LearnedScorer.from_dict({"spaces": ["title"]})


def test_a_learned_plan_searches_the_scorers_spaces_as_deep_as_it_was_fitted_and_is_fused_by_the_service() -> None:
    s = scorer()
    plan = build_plan(registry(), fields=None, fusion="learned", rrf_k=60, weights={}, limit=5, prefetch_limit=50,
                      filter=Filter(), explain=True, scorer=s)
    assert [q.space for q in plan.spaces] == ["title", "keywords"] and [q.space for q in plan.observed] == ["body"]
    assert plan.prefetch_limit == 10 and plan.scorer == s
    assert fused_in(plan, IN_STORE_FUSIONS) == "client" and needs_per_space(plan, IN_STORE_FUSIONS)
    assert plan.describe("client")["scorer"]["coefficients"]["title:dbsf"] == 2.0
    assert fuse_plan(plan, [LISTS["title"], LISTS["keywords"]]) == learned_fusion(LISTS, s)
    # one space under a scorer is still ranked by the scorer, not by the space's own score
    one = LearnedScorer(spaces=("title",), terms=("title:rr",), coefficients=(-1.0,), depth=10,
                        vector_versions=(("title", "title.m.v1"),))
    single = build_plan(registry(), fields=None, fusion="learned", rrf_k=60, weights={}, limit=5, prefetch_limit=50,
                        filter=Filter(), scorer=one)
    assert fused_in(single, IN_STORE_FUSIONS) == "client" and single.describe("client")["fusion"] == "learned"


def test_learned_fusion_is_refused_with_a_clear_reason() -> None:
    def plan(**kw: object) -> None:
        build_plan(registry(), **{"fields": None, "fusion": "learned", "rrf_k": 60, "weights": {}, "limit": 5,
                                  "prefetch_limit": 50, "filter": Filter(), **kw})  # type: ignore[arg-type]

    with pytest.raises(NoLearnedScorer, match="none is stored"):
        plan(scorer=None)
    with pytest.raises(NoLearnedScorer, match=r"fitted on other vector versions: title: title.other.v7 \(searched "
                                              r"title.m.v1\)"):
        plan(scorer=scorer(vector_versions=(("keywords", "keywords.bm25.v1"), ("title", "title.other.v7"))))
    with pytest.raises(InvalidInput, match="fields lists"):
        plan(scorer=scorer(), fields=["title"])
    with pytest.raises(InvalidInput, match="weights do not apply"):
        plan(scorer=scorer(), weights={"title": 2.0})
    with pytest.raises(InvalidInput, match="does not rescore a cascade"):
        plan(scorer=scorer(), rerank=["body"])
    plan(scorer=scorer(), fields=["keywords", "title"])  # its own spaces, in any order


def test_fitting_learns_to_trust_the_space_that_finds_the_relevant_documents() -> None:
    from app.eval.learned import scorer_run, select_scorer

    lists, qrels = make_lists()
    versions = {s: f"{s}.m.v1" for s in SPACES}
    selection = select_scorer(lists, qrels, SPACES, vector_versions=versions, depth=10, folds=3,
                              c_grid=(1.0,), interactions=(False,))
    fitted = selection.scorer
    coef = dict(zip(fitted.terms, fitted.coefficients, strict=True))
    assert coef["good:dbsf"] > 0 and coef["good:dbsf"] > coef["bad:dbsf"]
    assert fitted.versions == versions and fitted.depth == 10 and fitted.fitted_on["queries"] == 12
    assert {t["method"] for t in selection.tried} == {"pointwise", "pairwise", "pairwise-top"}
    run = scorer_run(fitted, lists)
    assert all(ndcg_at_k(run[q], qrels[q], 10) == 1.0 for q in qrels)
    assert LearnedScorer.from_dict(json.loads(json.dumps(fitted.to_dict()))) == fitted


def test_fitting_on_fewer_than_two_judged_queries_says_so_as_invalid_input() -> None:
    from app.eval.learned import select_scorer

    with pytest.raises(InvalidInput, match=r"1 judged queries to fit on: too few.*--fit"):
        select_scorer({"q1": {"title": [("d1", 1.0)]}}, {"q1": {"d1": 1}}, ["title"], vector_versions={})
