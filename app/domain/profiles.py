"""Ranking profiles (fitted fusion settings) and similarity thresholds, tied to vector versions. No I/O.

A profile is valid only for the vector versions it was fitted on: scores of another model or
version have other distributions, so a stale profile is ignored, never half-applied.

Thresholds apply to a single space's raw score (cosine for dense, MaxSim for multivector, BM25 for
sparse), calibrated per vector version: those scores mean the same thing whatever the fusion, its
weights or the other spaces searched. Fused scores do not (an RRF score is a function of ranks
only; DBSF rescales each query's list), so a threshold on them would need recalibrating for every
fusion setting. A hit passes when at least one searched space scored it at or above that space's
version threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RankingProfile:
    """Fusion settings fitted on judged queries: method, RRF k, a weight per space (0 = not searched)."""

    name: str
    version: int
    fusion: str  # rrf | dbsf
    rrf_k: int
    weights: dict[str, float]
    vector_versions: dict[str, str]  # space -> the vector version the weights were fitted on
    fitted_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"

    @property
    def fields(self) -> list[str]:
        """The spaces the profile searches (those with a positive weight)."""
        return [s for s, w in self.weights.items() if w > 0]

    def mismatch(self, live: Mapping[str, str]) -> str | None:
        """Why the profile does not fit the live versions (`{space: version}`), or None when it does."""
        if dict(live) == self.vector_versions:
            return None
        changed = sorted(s for s in set(live) | set(self.vector_versions)
                         if live.get(s) != self.vector_versions.get(s))
        return "fitted on other vector versions: " + ", ".join(
            f"{s}: {self.vector_versions.get(s)} (live {live.get(s)})" for s in changed)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "fusion": self.fusion, "rrf_k": self.rrf_k if self.fusion == "rrf" else None,
                "weights": self.weights, "fitted_on": self.fitted_on}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RankingProfile:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class VersionThreshold:
    """A calibrated score threshold for one vector version, with what it achieved when fitted."""

    version: str
    threshold: float
    beta: float
    precision: float
    recall: float
    f_beta: float
    fitted_on: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionThreshold:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def passes(space_scores: Mapping[str, float | None], thresholds: Mapping[str, float]) -> bool:
    """True when some space scored the hit at or above its threshold.

    Args:
        space_scores: raw score of the hit in each searched space, keyed by vector version
            (None where the space did not return the hit among its candidates).
        thresholds: calibrated threshold per vector version; spaces without one do not vote.
    """
    return any(score is not None and version in thresholds and score >= thresholds[version]
               for version, score in space_scores.items())
