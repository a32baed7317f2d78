"""A weight is 0 (not fused) or from MIN_WEIGHT to MAX_WEIGHT, wherever weights arrive: a request (build_plan,
a cascade's candidates weight too), the settings' weights and named plans, and a stored ranking profile."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.domain.plan import MAX_WEIGHT, MIN_WEIGHT, Filter, build_plan, check_weight, weight_problem
from app.domain.profiles import RankingProfile
from app.errors import InvalidInput
from app.search_settings import PlanSettings, SearchSettings
from tests.unit.test_domain import registry

TINY = [5e-324, 1e-300, 1e-7, MIN_WEIGHT * 0.999]
GOOD = [0, 0.0, MIN_WEIGHT, 1, 2.5, MAX_WEIGHT]


@pytest.mark.parametrize("weight", TINY)
def test_a_weight_too_small_to_matter_is_refused_naming_the_space_and_value(weight: float) -> None:
    assert weight_problem(weight) is not None
    with pytest.raises(InvalidInput, match=rf"weight of 'body' is {weight!r}, too small"):
        check_weight("body", weight)
    for kwargs in ({"fields": None, "weights": {"body": weight}},  # a searched space
                   {"fields": ["title"], "weights": {"title": 1.0, "body": weight}},  # a space the plan leaves out
                   {"fields": ["title"], "weights": {"title": 1.0}, "rerank": ["body"], "candidates_weight": weight}):
        with pytest.raises(InvalidInput, match=repr(weight)):
            build_plan(registry(), fusion="rrf", rrf_k=60, limit=5, prefetch_limit=5, filter=Filter(),
                       **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("weight", GOOD)
def test_zero_and_weights_from_the_minimum_up_are_kept(weight: float) -> None:
    assert weight_problem(weight) is None
    check_weight("body", weight)
    assert PlanSettings(weights={"body": weight}, candidates_weight=weight).weights == {"body": weight}


@pytest.mark.parametrize("weight", TINY)
def test_settings_and_stored_profiles_refuse_the_same_weights(weight: float) -> None:
    with pytest.raises(ValidationError, match="body"):
        PlanSettings(weights={"body": weight})
    with pytest.raises(ValidationError, match="candidates"):
        PlanSettings(rerank=["body"], candidates_weight=weight)
    with pytest.raises(ValidationError, match=r"search\.weights"):
        SearchSettings(weights={"document": 1.0, "body": weight})
    with pytest.raises(ValueError, match=r"weight of 'body' is .*too small"):
        RankingProfile(name="p", version=1, fusion="dbsf", rrf_k=60, weights={"title": 1.0, "body": weight},
                       vector_versions={"title": "title.m.v1", "body": "body.m.v1"})


@pytest.mark.parametrize("weight", TINY)
def test_a_stored_router_plan_with_such_a_weight_does_not_parse(weight: float) -> None:
    """So the router is `invalid` and the default plan runs (app.services.query_router), not a 422 for a client."""
    from app.domain.router import RoutePlan

    stored = {"name": "pair", "fields": ["title", "body"], "weights": {"title": 1.0, "body": weight}}
    with pytest.raises(ValueError, match=r"plan 'pair': weight of 'body' is .*too small"):
        RoutePlan.from_dict(stored)
    assert RoutePlan.from_dict({**stored, "weights": {"title": 1.0, "body": 0}}).weights["body"] == 0
