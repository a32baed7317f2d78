"""A search as a caller asks for it (`SearchRequest`) and the answer it gets (`SearchResponse`): plain data,
shared by the API, validation, evaluation and the inspection page (app.services.search runs them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.plan import Filter, stages_problem
from app.errors import InvalidInput


@dataclass(frozen=True)
class SearchRequest:
    """One search, as the API (or validation, or evaluation) asks for it; None means the default."""

    query: str
    limit: int | None = None
    fields: list[str] | None = None
    fusion: str | None = None
    weights: dict[str, float] | None = None
    filter: Filter = field(default_factory=Filter)
    explain: bool = False
    rrf_k: int | None = None
    versions: dict[str, str] | None = None  # pin a space to a version (validation, A/B)
    collection: str | None = None  # a physical collection instead of the alias (validating a rebuild)
    threshold: bool = False  # drop hits no searched space scores at or above its calibrated threshold
    fanout: bool | None = None  # a request per space, each under a deadline (None: settings `execution`)
    budget_ms: int | None = None  # this search's fan-out budget in ms (asks for fan-out)
    plan: str | None = None  # a named plan from settings (app.services.plans), or "auto" (the query router)
    rerank: list[str] | None = None  # spaces that rescore the candidates (a cascade); None: the plan's
    candidates: int | None = None  # a cascade's stage-1 depth; None: the plan's

    def __post_init__(self) -> None:
        """Raises: InvalidInput naming a space the request names both to find candidates and to rescore them."""
        problem = stages_problem(self.fields, self.rerank)
        if problem is not None:
            raise InvalidInput(problem)

    @property
    def names_ranking(self) -> bool:
        """True when the request chooses spaces, fusion or weights itself (so no profile applies)."""
        return self.names_plan or self.weights is not None

    @property
    def tunes_fusion(self) -> bool:
        """True when the request names spaces, fusion, k or weights: it fuses what it names (the `fused` plan)."""
        return bool(self.fields or self.fusion or self.rrf_k) or self.weights is not None

    @property
    def names_plan(self) -> bool:
        """True when the request chooses a plan, spaces, fusion, k or versions (weights, rerank spaces and
        candidates alone only adjust)."""
        return bool(self.plan or self.fields or self.fusion or self.rrf_k or self.versions)


@dataclass
class SearchResponse:
    """Hits (dicts: id, point_id, score, title, summary, metadata, explain?), and with `explain`
    the plan and timings in milliseconds; `note` says why hits were dropped by a threshold;
    `degraded` the spaces a fan-out search answered without (empty: the answer is whole)."""

    hits: list[dict[str, Any]]
    plan: dict[str, Any] | None = None
    timings_ms: dict[str, float] | None = None
    note: str | None = None
    degraded: list[str] = field(default_factory=list)
