"""Where a search's ranking comes from: the settings, a stored ranking profile's weights or its learned
scorer, or the query router."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.domain.plan import Filter, QueryPlan, build_plan
from app.domain.profiles import RankingProfile
from app.domain.router import Route
from app.domain.scorer import LearnedScorer
from app.domain.versions import Registry
from app.errors import NoLearnedScorer
from app.repos.profiles import ProfileRepo
from app.services.plans import PlanRequest
from app.settings import SearchSettings


@dataclass(frozen=True)
class Ranking:
    """Where a plan's fusion settings came from: a ranking profile, or settings and request."""

    profile: RankingProfile | None = None
    skipped: str | None = None  # why a stored profile was not used
    route: Route | None = None  # what the query router decided, for a request it routes
    label: str | None = None  # the search's plan label (app.services.plans.plan_label): metrics and logs

    def describe(self) -> dict[str, Any]:
        """What `explain` adds to the plan: `plan_label` (`app.services.plans.plan_label`), `profile` (its
        description, or None), `profile_skipped` (why a stored one was not used), and for a routed request its
        `route` label and the router's decision."""
        out: dict[str, Any] = {"profile": self.profile.describe() if self.profile else None}
        if self.label is not None:
            out["plan_label"] = self.label
        if self.skipped:
            out["profile_skipped"] = self.skipped
        if self.route is not None:
            out |= {"route": self.route.label, "router": self.route.describe()}
        return out


def default_weights(plan: PlanRequest, registry: Registry, fields: list[str] | None) -> dict[str, float]:
    """The weights a search starts from: its plan's (for `fused`, the settings' `weights`, chosen by
    evaluation) for a search that names no fields; none for one that names fields (it wants those,
    equally weighted). A weight for a space not in the registry is ignored."""
    if fields:
        return {}
    return {name: w for name, w in plan.weights.items() if name in registry.spaces}


def with_request_weights(defaults: dict[str, float], requested: dict[str, float] | None,
                         rerank: list[str] | None = None) -> dict[str, float]:
    """A request changes only the weights it names; every other space keeps its default weight, except
    that a space the request names in `rerank` weighs 1.0 where its default is 0 (naming it asks for it,
    as naming `fields` does), unless the request weighs it itself.

    Returns:
        space -> weight.
    """
    asked = {n: 1.0 for n in rerank or [] if not defaults.get(n) and n not in (requested or {})}
    return {**defaults, **asked, **(requested or {})}


def stored_scorer(profile: RankingProfile | None) -> LearnedScorer | None:
    """The learned scorer a stored ranking profile holds, or None when there is no profile or no scorer.

    Raises:
        NoLearnedScorer: the stored scorer is malformed (it says how).
    """
    try:
        return profile.learned() if profile is not None else None
    except ValueError as e:
        raise NoLearnedScorer(f"the stored learned scorer of profile {profile.id if profile else '?'} cannot be "
                              f"read: {e}") from None


def default_scorer(profile: RankingProfile | None, weights: dict[str, float] | None) -> LearnedScorer | None:
    """The profile's learned scorer when evaluation made it the default ranking (`default`), for a
    request that names no ranking (only a profile that fits the live versions is passed here) and
    adjusts no weights (weights belong to the profile's weighted fusion); otherwise None.
    A malformed stored scorer is not a default (the weighted profile applies)."""
    if profile is None or weights is not None:
        return None
    try:
        scorer = profile.learned()
    except ValueError:
        return None
    return scorer if scorer is not None and scorer.default else None


def learned_plan(registry: Registry, search: SearchSettings, profiles: ProfileRepo, ranking: Ranking, *,
                 fusion: str | None, fields: list[str] | None, weights: dict[str, float] | None, limit: int,
                 filter: Filter, explain: bool, rerank: list[str] | None, versions: dict[str, str] | None
                 ) -> tuple[QueryPlan, Ranking] | None:
    """The plan of a search the learned scorer ranks: one asking for `fusion: "learned"` (the stored
    profile's scorer), or one naming no ranking when the matching profile's scorer is its default
    (`ranking`: the profile that matched, if any). The other arguments are the request's.

    Returns:
        (plan, where its ranking came from), or None when the learned scorer does not rank this search.

    Raises:
        NoLearnedScorer: fusion "learned" with no stored scorer, or one fitted on other versions.
        InvalidInput, UnknownSpace: as `build_plan`.
    """
    scorer = default_scorer(ranking.profile, weights)
    if fusion != "learned" and scorer is None:
        return None
    if scorer is None:
        ranking = replace(ranking, profile=profiles.profile())
        scorer = stored_scorer(ranking.profile)
    plan = build_plan(registry, fields=fields, fusion="learned", rrf_k=search.rrf_k, weights=weights or {},
                      limit=limit, prefetch_limit=search.prefetch_limit, filter=filter, explain=explain,
                      rerank=rerank, versions=versions, scorer=scorer,
                      staged=search.cascade_requests == "staged")
    return plan, ranking
