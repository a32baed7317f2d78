"""Ranking profiles (fitted fusion settings) and similarity thresholds, tied to vector versions. No I/O.

A profile is valid only for the vector versions it was fitted on: scores of another model or
version have other distributions, so a stale profile is ignored, never half-applied.

Thresholds apply to a single space's raw score, calibrated per vector version: a raw score means
the same thing whatever the fusion, its weights or the other spaces searched. Fused scores do not
(an RRF score is a function of ranks only; DBSF rescales each query's own list), so a threshold on
them would need recalibrating for every fusion setting. A hit passes when at least one voting space
of the search scored it at or above that space's version threshold.

Dense and multivector spaces vote (cosine and MaxSim-of-cosines are bounded and comparable from one
query to the next). A sparse BM25 space votes only in a search with no voting dense space: its raw
score grows with the query's length and the rarity of its terms, so one threshold does not fit all
queries. Measured on SciFact with CISI's queries as unrelated traffic: with BM25 voting, 54% of the
unrelated queries still returned hits; with the dense spaces alone, none did.

The stored profile may also hold a query router (app.domain.router), tied to its own vector versions;
a record holding only a router has no fusion settings (`RankingProfile` is then absent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from app.domain.plan import MAX_RRF_K, weight_problem
from app.domain.scorer import LearnedScorer


def versions_mismatch(fitted: Mapping[str, str], live: Mapping[str, str]) -> str | None:
    """Why settings fitted on `fitted` vector versions (`{space: version}`) do not fit the `live` ones, or None."""
    if dict(live) == dict(fitted):
        return None
    changed = sorted(s for s in set(live) | set(fitted) if live.get(s) != fitted.get(s))
    return "fitted on other vector versions: " + ", ".join(
        f"{s}: {fitted.get(s)} (live {live.get(s)})" for s in changed)


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
    # A learned scorer fitted beside the weights (LearnedScorer.to_dict), kept under its own key:
    # selectable with `fusion: "learned"`, and the default ranking when its `default` is true.
    scorer: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        """Raises: ValueError naming the first field whose value no search could use."""
        if self.fusion not in ("rrf", "dbsf"):
            raise ValueError(f"fusion {self.fusion!r} is not rrf or dbsf")
        if isinstance(self.rrf_k, bool) or not isinstance(self.rrf_k, int) or not 1 <= self.rrf_k <= MAX_RRF_K:
            raise ValueError(f"rrf_k {self.rrf_k!r} is not a whole number from 1 to {MAX_RRF_K}")
        if not isinstance(self.vector_versions, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.vector_versions.items()):
            raise ValueError("vector_versions is not a map of space -> vector version name")
        if not isinstance(self.weights, dict):
            raise ValueError("weights is not a map of space -> weight")
        for space, w in self.weights.items():
            if (problem := weight_problem(w)) is not None:
                raise ValueError(f"weight of {space!r} is {problem}")
            if w > 0 and space not in self.vector_versions:
                raise ValueError(f"weight of {space!r}: the profile names no vector version for that space")
        if not any(w > 0 for w in self.weights.values()):
            raise ValueError("every weight is 0: the profile searches nothing")

    @property
    def id(self) -> str:
        """`<name>.v<version>`: how logs, metrics and `explain` name the profile."""
        return f"{self.name}.v{self.version}"

    @property
    def fields(self) -> list[str]:
        """The spaces the profile searches (those with a positive weight)."""
        return [s for s, w in self.weights.items() if w > 0]

    def mismatch(self, live: Mapping[str, str]) -> str | None:
        """Why the profile does not fit the live versions (`{space: version}`), or None when it does."""
        return versions_mismatch(self.vector_versions, live)

    def learned(self) -> LearnedScorer | None:
        """The profile's learned scorer, or None when it holds none.

        Raises:
            ValueError: the stored scorer is malformed.
        """
        return LearnedScorer.from_dict(self.scorer) if self.scorer else None

    def describe(self) -> dict[str, Any]:
        """What `explain` shows of the profile: id, fusion, RRF k (None under DBSF), weights, what it was fitted
        on, and its learned scorer's model and whether it is the default ranking."""
        out = {"id": self.id, "fusion": self.fusion, "rrf_k": self.rrf_k if self.fusion == "rrf" else None,
               "weights": self.weights, "fitted_on": self.fitted_on}
        if self.scorer:
            out["scorer"] = {"model": self.scorer.get("model"), "default": bool(self.scorer.get("default"))}
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready: the record the profiles repository stores (`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RankingProfile:
        """A profile from its stored record; keys it does not know (a newer record's) are ignored.

        Raises:
            TypeError: a required field (name, version, fusion, rrf_k, weights, vector_versions) is missing.
            ValueError: a field's value no search could use (`__post_init__`).
        """
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
    kind: str = "dense"  # dense | multi | sparse: which kind of score (see voting_thresholds)
    fitted_on: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionThreshold:
        """A threshold from its stored record; keys it does not know are ignored.

        Raises:
            TypeError: a required field (version, threshold, beta, precision, recall, f_beta) is missing.
        """
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def voting_thresholds(searched: Mapping[str, str], stored: Mapping[str, VersionThreshold]) -> dict[str, float]:
    """The thresholds that decide for a search: those of its dense and multivector versions, or, when
    it searches none with a threshold, those of its sparse versions.

    Args:
        searched: vector version -> kind (dense | multi | sparse), for each space the search uses.
        stored: the calibrated thresholds, by vector version.
    """
    calibrated = {v: stored[v] for v in searched if v in stored}
    bounded = {v: t.threshold for v, t in calibrated.items() if searched[v] != "sparse"}
    return bounded or {v: t.threshold for v, t in calibrated.items()}


def passes(space_scores: Mapping[str, float | None], thresholds: Mapping[str, float]) -> bool:
    """True when some space scored the hit at or above its threshold.

    Args:
        space_scores: raw score of the hit in each searched space, keyed by vector version
            (None where the space did not return the hit among its candidates).
        thresholds: calibrated threshold per vector version; spaces without one do not vote.
    """
    return any(score is not None and version in thresholds and score >= thresholds[version]
               for version, score in space_scores.items())
