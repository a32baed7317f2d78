"""A learned scorer, as data: a linear model over each space's features of a hit. Pure, no I/O.

A hit is any document one of the scorer's spaces returned in its own top `depth` (the lists the
store returns for client-side fusion). For each space it has a few features, computed from that
space's list alone, so they mean the same from one query to the next:

| feature | value where the space found the hit | where it did not |
|---|---|---|
| `found` | 1 | 0 |
| `dbsf` | the score scaled as Qdrant's DBSF does (mean - 3 sd -> 0, mean + 3 sd -> 1) | 0 |
| `minmax` | (score - min) / (max - min) of the list (1 when all equal) | 0 |
| `rr` | 1 / rank (1-based) | 0 |
| `rank` | 1 - (rank - 1) / depth: 1 at the top, near 0 at the bottom | 0 |
| `score` | the raw score (cosine, MaxSim or BM25) | 0 |

A term is `space:feature`, or a product of two (`keywords:dbsf*document:dbsf`). The fused score is
the sum of coefficient x term, with no intercept (it would not change the ranking), so a hit's score
is exactly the sum of its terms' contributions, and `explain` can show each. The coefficients are
fitted offline (app.eval.learned, scikit-learn) and applied by app.domain.learned, which serving
uses: no model library at search time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.versions import Registry
from app.errors import InvalidInput, NoLearnedScorer

FEATURES = ("found", "dbsf", "minmax", "rr", "rank", "score")


@dataclass(frozen=True)
class LearnedScorer:
    """A linear scorer over per-space features, fitted on judged queries for some vector versions.

    Attributes:
        spaces: the spaces whose lists it reads (the plan searches exactly these).
        terms: `space:feature` or `a:f*b:g`, one per coefficient.
        coefficients: one per term (the unit of the fused score is arbitrary; higher is better).
        depth: the list depth (prefetch limit) the features were computed on, e.g. 100.
        vector_versions: space -> the vector version it was fitted on (compared with the ones searched).
        intercept: the fitted model's intercept; not part of the fused score (ranking only).
        model: how it was fitted (e.g. `pairwise logistic regression`), for people.
        default: True when evaluation made it the default ranking of the profile holding it.
    """

    spaces: tuple[str, ...]
    terms: tuple[str, ...]
    coefficients: tuple[float, ...]
    depth: int
    vector_versions: tuple[tuple[str, str], ...]
    intercept: float = 0.0
    model: str = "linear"
    default: bool = False
    fitted_on: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    metrics: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(self.terms) != len(self.coefficients):
            raise ValueError(f"{len(self.terms)} terms but {len(self.coefficients)} coefficients")
        if not self.spaces or len(set(self.spaces)) != len(self.spaces):
            raise ValueError(f"a scorer needs distinct spaces, got {list(self.spaces)}")
        if self.depth < 1:
            raise ValueError(f"depth must be at least 1, got {self.depth}")
        for term in self.terms:
            for space, feature in parse_term(term):
                if space not in self.spaces or feature not in FEATURES:
                    raise ValueError(f"term {term!r}: {space!r} is not one of the scorer's spaces {list(self.spaces)} "
                                     f"or {feature!r} is not a feature ({', '.join(FEATURES)})")
        if not all(math.isfinite(c) for c in self.coefficients):
            raise ValueError("coefficients must be finite")

    @property
    def versions(self) -> dict[str, str]:
        """Space -> the vector version the scorer was fitted on."""
        return dict(self.vector_versions)

    def mismatch(self, searched: Mapping[str, str]) -> str | None:
        """Why the scorer does not fit the vector versions searched (`{space: version}`), or None when it does."""
        changed = [s for s in self.spaces if searched.get(s) != self.versions.get(s)]
        if not changed:
            return None
        return "fitted on other vector versions: " + ", ".join(
            f"{s}: {self.versions.get(s)} (searched {searched.get(s)})" for s in changed)

    def check(self, *, searched: Mapping[str, str], rerank_only: Sequence[str] = ()) -> None:
        """Refuse to rank a search whose versions or spaces the scorer does not fit.

        Args:
            searched: space -> the vector version the search uses.
            rerank_only: the scorer's spaces stored without an HNSW graph (they cannot be searched).

        Raises:
            NoLearnedScorer: the scorer was fitted on other vector versions (the message names them).
            InvalidInput: one of its spaces is rerank-only.
        """
        reason = self.mismatch(searched)
        if reason:
            raise NoLearnedScorer(f"the stored learned scorer was {reason}; refit it on these versions "
                                  "(scripts/evaluate --fit FRACTION --save) or search with another fusion",
                                  {"fitted_on": self.versions})
        if rerank_only:
            raise InvalidInput(f"fusion 'learned' searches each of its spaces, and {', '.join(rerank_only)} is "
                               "rerank-only (no HNSW graph): refit the scorer without it")

    def describe(self) -> dict[str, Any]:
        """What `explain` shows of the scorer: its model, spaces, depth and coefficients."""
        return {"model": self.model, "spaces": list(self.spaces), "depth": self.depth,
                "coefficients": dict(zip(self.terms, self.coefficients, strict=True))}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, as stored in the ranking profile's `scorer` key."""
        return {"model": self.model, "spaces": list(self.spaces), "depth": self.depth, "default": self.default,
                "terms": [{"term": t, "coefficient": c} for t, c in zip(self.terms, self.coefficients, strict=True)],
                "intercept": self.intercept, "vector_versions": self.versions,
                "fitted_on": dict(self.fitted_on), "metrics": dict(self.metrics)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LearnedScorer:
        """The scorer `to_dict` stored.

        Raises:
            ValueError: a field missing or malformed (unknown feature, term of another space, ...).
        """
        try:
            terms = [(str(t["term"]), float(t["coefficient"])) for t in data["terms"]]
            return cls(spaces=tuple(data["spaces"]), terms=tuple(t for t, _ in terms),
                       coefficients=tuple(c for _, c in terms), depth=int(data["depth"]),
                       vector_versions=tuple(sorted(dict(data["vector_versions"]).items())),
                       intercept=float(data.get("intercept", 0.0)), model=str(data.get("model", "linear")),
                       default=bool(data.get("default", False)), fitted_on=dict(data.get("fitted_on", {})),
                       metrics=dict(data.get("metrics", {})))
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a learned scorer: {e!r}") from None


def learned_fields(registry: Registry, scorer: LearnedScorer | None, *, fields: list[str] | None,
                   weights: dict[str, float], rerank: list[str] | None, explain: bool
                   ) -> tuple[list[str], dict[str, float], int]:
    """The fields, weights and list depth of a learned plan: the scorer's spaces at 1.0 (and, to
    explain, every other live space at 0), as deep as the scorer was fitted.

    Raises:
        NoLearnedScorer: no scorer is stored.
        InvalidInput: `fields` other than the scorer's spaces, any `weights`, or `rerank` spaces.
    """
    if scorer is None:
        raise NoLearnedScorer("fusion 'learned' needs a learned scorer in the ranking profile, and none is stored: "
                              "fit one with scripts/evaluate --fit FRACTION --save")
    if fields and sorted(fields) != sorted(scorer.spaces):
        raise InvalidInput("fusion 'learned' searches the spaces its scorer was fitted on ("
                           f"{', '.join(scorer.spaces)}); fields lists {fields}")
    if weights:
        raise InvalidInput("weights do not apply to fusion 'learned': its scorer weighs each space's features "
                           f"itself (see explain); weights were given for {sorted(weights)}")
    if rerank:
        raise InvalidInput(f"fusion 'learned' ranks its spaces' own lists; it does not rescore a cascade's "
                           f"candidates (rerank {rerank})")
    others = [n for n in registry.live_spaces() if n not in scorer.spaces] if explain else []
    return ([*scorer.spaces, *others], {**dict.fromkeys(scorer.spaces, 1.0), **dict.fromkeys(others, 0.0)},
            scorer.depth)


def parse_term(term: str) -> list[tuple[str, str]]:
    """`keywords:dbsf*document:rr` -> [("keywords", "dbsf"), ("document", "rr")].

    Raises:
        ValueError: a factor that is not `space:feature`.
    """
    out = []
    for factor in term.split("*"):
        space, sep, feature = factor.partition(":")
        if not sep or not space or not feature:
            raise ValueError(f"term {term!r}: {factor!r} is not space:feature")
        out.append((space, feature))
    return out


