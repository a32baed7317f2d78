"""Named search plans from settings: what a request naming `plan` (or none: the default) asks for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.bounds import shown
from app.domain.router import Route
from app.errors import UnknownPlan, UnknownSpace
from app.search_settings import AUTO, FUSED
from app.settings import PlanSettings, SearchSettings


@dataclass(frozen=True)
class PlanRequest:
    """A named plan as request overrides: the spaces fused for candidates, their fusion and weights,
    and a cascade's rerank spaces, depth and final weighting (see app.domain.plan.build_plan).

    `weights` name candidate and rerank spaces alike; a request that names `fields` itself starts
    from equal weights instead (`app.services.search.default_weights`).
    """

    name: str
    fields: list[str] | None
    fusion: str
    rrf_k: int
    weights: dict[str, float]
    rerank: list[str]
    candidates: int
    candidates_weight: float
    max_demotion: float | None = None


CUSTOM, PROFILE = "custom", "profile"  # plan labels of a request that tunes its own ranking, or a stored profile's


def plan_label(plan: str | None, tunes_fusion: bool, route: Route | None, profiled: bool, default: str) -> str:
    """A search's `plan` label in metrics and logs, bounded (never the client's free text): `custom` for a request
    that names fields, weights, fusion or k; else the plan it named (a known one: an unknown plan is a 422 first)
    or `auto`; for a bare request, `auto` when a stored query router decided, `profile` when a stored ranking
    profile ranked it, else the default plan that ran (`default`).

    Args:
        plan: the plan the request named as sent (before the router or `auto` changed it), or None.
        tunes_fusion: the request named fields, weights, fusion or k (`SearchRequest.tunes_fusion`).
        route: the query router's decision (None: not asked; reason `missing`: no router stored).
        profiled: a stored ranking profile set the ranking.
        default: the plan a bare request runs.
    """
    if tunes_fusion:
        return CUSTOM
    if plan:
        return plan
    routed = route is not None and route.reason != "missing"  # a stored router decided, whatever it chose
    return AUTO if routed else PROFILE if profiled else default


def plan_names(search: SearchSettings) -> list[str]:
    """Every plan a request may name: `fused` and the settings' `plans`, sorted."""
    return sorted({FUSED, *search.plans})


def requestable_plans(search: SearchSettings) -> list[str]:
    """What a request's `plan` may be: every plan (`plan_names`), then `auto` (the query router picks one)."""
    return [*plan_names(search), AUTO]


def plan_settings(search: SearchSettings, name: str) -> PlanSettings:
    """The settings of plan `name`; `fused` is the settings' fusion, k, weights and default fields
    unless `plans` defines it.

    Raises:
        UnknownPlan: no plan of that name (the message lists the known ones).
    """
    if name in search.plans:
        return search.plans[name]
    if name == FUSED:
        return PlanSettings(fields=search.default_fields, weights=dict(search.weights), fusion=search.fusion,
                            rrf_k=search.rrf_k)
    known = requestable_plans(search)
    raise UnknownPlan(f"unknown plan {shown(name)}: expected one of {known} ({AUTO!r}: the query router picks one)",
                      {"plan": name, "known": known})


def plan_request(search: SearchSettings, name: str | None = None) -> PlanRequest:
    """Plan `name` (default: `search.plan`) as request overrides, ready for `SearchRequest`/`build_plan`:
    the one call a router needs to run a plan it picked by name.

    Raises:
        UnknownPlan: no plan of that name.
    """
    chosen = name or search.plan
    p = plan_settings(search, chosen)
    return PlanRequest(name=chosen, fields=list(p.fields) if p.fields else None, fusion=p.fusion, rrf_k=p.rrf_k,
                       weights=dict(p.weights), rerank=list(p.rerank), candidates=p.candidates,
                       candidates_weight=p.candidates_weight, max_demotion=p.max_demotion)


def first_stage_of(plan: PlanRequest, live: Sequence[str]) -> dict[str, float]:
    """The spaces (-> weight) plan `plan` finds candidates with: its fields, or every live space."""
    return {name: plan.weights.get(name, 1.0) for name in (plan.fields or live)}


def cascade_args(search: SearchSettings, plan: PlanRequest, rerank: list[str] | None, candidates: int | None, *,
                 first_stage: dict[str, float], weights: dict[str, float] | None = None,
                 first_stage_from: str = "the default first stage") -> dict[str, Any]:
    """`build_plan`'s cascade arguments: the request's rerank spaces and depth (None: the plan's), the
    plan's final weighting, `first_stage`, which finds the candidates for a rerank-only space
    searched alone (the search's default first stage, with the request's `weights` over its own: a
    space the request weighs 0 finds nothing; `first_stage_from` names it in the plan's note), and how a
    cascade runs (`search.cascade_requests`)."""
    first_stage = {n: (weights or {}).get(n, w) for n, w in first_stage.items()}
    return {"rerank": plan.rerank if rerank is None else rerank, "candidates": candidates or plan.candidates,
            "candidates_weight": plan.candidates_weight, "max_demotion": plan.max_demotion, "first_stage": first_stage,
            "first_stage_from": first_stage_from, "max_candidates": search.max_candidates,
            "staged": search.cascade_requests == "staged"}


def check_named_spaces(search: SearchSettings, spaces: Iterable[str]) -> None:
    """At startup: the spaces the search settings name for every search exist in the collection
    (`default_fields`, and `weights` above 0 when set), so that a typo fails the start with one line
    rather than every search with a 422 that blames the client.

    Args:
        spaces: the collection's spaces (the registry's, migrations' spaces included).

    Raises:
        UnknownSpace: naming the setting and the spaces it names that do not exist.
    """
    known = set(spaces)
    named = {"search.default_fields": set(search.default_fields or [])}
    if "weights" in search.model_fields_set:  # the built-in weights name the optional splade space too
        named["search.weights"] = {n for n, w in search.weights.items() if w > 0}
    for where, names in named.items():
        if names - known:
            raise UnknownSpace(f"{where} names spaces this collection does not have: {sorted(names - known)} "
                               f"(its spaces: {sorted(known)})")
