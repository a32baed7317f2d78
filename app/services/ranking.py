"""Where a search's ranking comes from: a stored ranking profile, the query router, or the settings and request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.profiles import RankingProfile
from app.domain.router import Route
from app.domain.versions import Registry
from app.services.plans import PlanRequest


@dataclass(frozen=True)
class Ranking:
    """Where a plan's fusion settings came from: a ranking profile, or settings and request."""

    profile: RankingProfile | None = None
    skipped: str | None = None  # why a stored profile was not used
    route: Route | None = None  # what the query router decided, for a request it routes

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"profile": self.profile.describe() if self.profile else None}
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


def with_request_weights(defaults: dict[str, float], requested: dict[str, float] | None) -> dict[str, float]:
    """A request changes only the weights it names; every other space keeps its default weight."""
    return {**defaults, **(requested or {})}
