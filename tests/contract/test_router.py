"""A search routed by a stored query router runs the routed plan, on every store adapter, and `explain` says why."""

from __future__ import annotations

from typing import Any

import pytest

from app.container import Services
from app.domain.profiles import RankingProfile
from app.domain.query_features import FEATURES, DocFrequencies
from app.domain.router import QueryRouter, RoutePlan, RouterModel
from app.errors import InvalidInput
from app.services.search import SearchRequest

CODES = "IL-6 and CRISPR-Cas9"  # codes: routed to keywords
WORDS = "why galaxies rotate too fast at their edges"  # no code: routed to the document vector
PLANS = {"keyword": RoutePlan("keyword", ("keywords",)), "dense": RoutePlan("dense", ("document",)),
         "fused": RoutePlan("fused", ("document", "body", "keywords"), "dbsf", {"keywords": 1.5})}


def live_versions(services: Services) -> dict[str, str]:
    reg = services.registry.get()
    return {s: reg.live_version(s).name for s in reg.live_spaces()}


def router_for(services: Services, *, threshold: float = 0.6, **changes: Any) -> QueryRouter:
    """A tree of one split, written by hand: a query with a code goes to `keyword` (0.9), others to `dense` (0.8)."""
    i = FEATURES.index("code_share")
    model = RouterModel("tree", FEATURES, ("keyword", "dense"), {
        "left": [1, -1, -1], "right": [2, -1, -1], "feature": [i, -2, -2], "threshold": [0.0, -2.0, -2.0],
        "value": [[1, 1], [0.2, 0.8], [0.9, 0.1]]})
    fields = {"name": "hand-router", "model": model, "plans": PLANS, "default": "fused", "threshold": threshold,
              "vector_versions": live_versions(services), "dfs": DocFrequencies.from_counts({}, docs=1)}
    return QueryRouter(**{**fields, **changes})


def search(services: Services, query: str, **kw: Any) -> tuple[list[str], dict[str, Any]]:
    out = services.search.search(SearchRequest(query=query, explain=True, **kw))
    assert out.plan is not None
    return [h["id"] for h in out.hits], out.plan


def spaces(plan: dict[str, Any]) -> list[str]:
    return [s["space"] for s in plan["spaces"]]


def test_a_stored_router_picks_each_querys_plan_and_explain_shows_the_route(loaded: Services) -> None:
    loaded.search.profiles.save_router(router_for(loaded))
    for query, name, space in ((CODES, "keyword", "keywords"), (WORDS, "dense", "document")):
        ids, plan = search(loaded, query)
        assert spaces(plan) == [space] and plan["route"] == name
        route = plan["router"]
        assert (route["plan"], route["reason"], route["router"]) == (name, "routed", "hand-router")
        assert route["probabilities"][name] >= 0.8 and route["threshold"] == 0.6
        assert set(route["features"]) == set(FEATURES) and (route["features"]["code_share"] > 0) == (query == CODES)
        # the routed plan is exactly what naming it gives
        assert ids == search(loaded, query, fields=[space])[0]
    # asked for explicitly, the same
    assert spaces(search(loaded, CODES, plan="auto")[1]) == ["keywords"]


def test_the_default_plan_runs_when_the_router_is_unsure_mismatched_missing_or_broken(loaded: Services) -> None:
    default = spaces(search(loaded, WORDS, fields=None)[1])
    assert search(loaded, WORDS)[1]["router"] == {"plan": "default", "reason": "missing", "router": None,
                                                  "detail": "no router is stored in the ranking profile"}
    loaded.search.profiles.save_router(router_for(loaded, threshold=0.85))  # dense at 0.8 is unsure, keyword sure
    _, plan = search(loaded, WORDS)
    # the default plan: the cascade (stage 1 document + keywords, body rescoring the candidates)
    assert spaces(plan) == default == ["document", "keywords"] and plan["route"] == "default"
    assert [s["space"] for s in plan["rerank"]] == ["body"]
    assert plan["router"]["reason"] == "unsure" and "under the threshold 0.850" in plan["router"]["detail"]
    assert spaces(search(loaded, CODES)[1]) == ["keywords"]

    stale = router_for(loaded, vector_versions=live_versions(loaded) | {"document": "document.other-model.v9"})
    loaded.search.profiles.save_router(stale)
    _, plan = search(loaded, CODES)
    assert spaces(plan) == default and plan["router"]["reason"] == "mismatch"
    assert "document.other-model.v9" in plan["router"]["detail"]

    record = loaded.store.get_meta(loaded.search.profiles.profile_key) or {}
    loaded.store.put_meta(loaded.search.profiles.profile_key, {**record, "router": {"name": "hand-edited"}})
    loaded.search.profiles._meta_cache.clear()
    _, plan = search(loaded, CODES)
    assert spaces(plan) == default and plan["router"]["reason"] == "invalid"


def test_a_request_that_names_its_plan_is_not_routed(loaded: Services) -> None:
    loaded.search.profiles.save_router(router_for(loaded))
    for named in ({"fields": ["title"]}, {"fusion": "rrf"}, {"weights": {"title": 1.0}}, {"rrf_k": 5}):
        _, plan = search(loaded, CODES, **named)
        assert "router" not in plan and "route" not in plan
    with pytest.raises(InvalidInput, match=r'plan "auto".*fields'):
        search(loaded, CODES, plan="auto", fields=["title"])


def test_router_and_fitted_fusion_share_the_profile(loaded: Services) -> None:
    repo = loaded.search.profiles
    weights = {s: 0.0 for s in live_versions(loaded)} | {"title": 1.0, "keywords": 1.0}
    repo.save_profile(RankingProfile(name="fitted", version=1, fusion="rrf", rrf_k=7, weights=weights,
                                     vector_versions=live_versions(loaded)))
    repo.save_router(router_for(loaded, threshold=0.85))
    # unsure: the default is the fitted profile, which saving the router kept
    _, plan = search(loaded, WORDS)
    assert plan["profile"]["id"] == "fitted.v2" and plan["fusion"] == "rrf" and spaces(plan) == ["title", "keywords"]
    assert plan["router"]["reason"] == "unsure"
    # sure: the routed plan, not the profile
    _, plan = search(loaded, CODES)
    assert plan["profile"] is None and spaces(plan) == ["keywords"]
    # saving a new profile keeps the router
    repo.save_profile(RankingProfile(name="fitted", version=1, fusion="dbsf", rrf_k=60, weights=weights,
                                     vector_versions=live_versions(loaded)))
    assert repo.router() is not None and repo.router().name == "hand-router"  # type: ignore[union-attr]


def test_a_router_can_pick_a_named_plan_such_as_the_cascade(loaded: Services) -> None:
    """A named plan runs as `{"plan": name}` would: the settings' plan, its cascade included."""
    cascade = RoutePlan("cascade", ("document", "keywords"), named=True, rerank=("body",))
    model = RouterModel("tree", FEATURES, ("cascade",), {"left": [-1], "right": [-1], "feature": [-2],
                                                         "threshold": [-2.0], "value": [[1.0]]})
    loaded.search.profiles.save_router(router_for(loaded, model=model, plans={**PLANS, "cascade": cascade}))
    ids, plan = search(loaded, WORDS)
    named_ids, named = search(loaded, WORDS, plan="cascade")
    assert plan["route"] == "cascade" and plan["router"]["probabilities"] == {"cascade": 1.0}
    routing = ("route", "router", "plan_label")  # how the plan was chosen: the router, or the request's name
    assert ids == named_ids and {k: v for k, v in plan.items() if k not in routing} == \
        {k: v for k, v in named.items() if k not in routing}
    assert (plan["plan_label"], named["plan_label"]) == ("auto", "cascade")
    assert cascade.spaces == 3
