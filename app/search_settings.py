"""Search settings: fusion defaults, named plans (cascades included), fan-out deadlines; part of
app.settings (`MULTIVEC_SEARCH__*`), which re-exports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator

from app.domain.plan import MAX_RRF_K, MAX_WEIGHT, MIN_WEIGHT, stages_problem, weight_problem
from app.domain.profiles import RankingProfile
from app.domain.versions import MAX_NAME_CHARS
from app.settings_checks import OptionalFile

FusionName = Literal["rrf", "dbsf"]
# The plan names a request may give besides the settings' `plans` (the one source of both; app.services.plans):
FUSED = "fused"  # the settings' own fusion, weights and default fields
AUTO = "auto"  # not a plan: the query router stored in the ranking profile picks one
DeadlineMs = Annotated[int, Field(ge=1, le=600_000)]  # a deadline or budget in milliseconds (at most 10 minutes)


def evaluated_weights() -> dict[str, float]:
    """Chosen by evaluation (docs/evaluation.md): DBSF of document + body + keywords*1.5 had the best
    mean nDCG@10 over SciFact (0.744) and CISI (0.439); all six spaces equally weighted scored
    0.707 / 0.410. Zero-weighted spaces are not fused, but `explain` still shows their ranks."""
    return {"document": 1.0, "body": 1.0, "keywords": 1.5, "title": 0.0, "summary": 0.0, "entities": 0.0,
            # the optional learned sparse space (migrations/0008): searched when named, not fused by default
            "splade": 0.0}


class PlanSettings(BaseModel):
    """A named search plan (`POST /search {"plan": name}`): the spaces fused for candidates, and optionally
    a cascade's rerank spaces (app.domain.plan.build_plan). Weights name candidate and rerank spaces alike."""

    model_config = {"extra": "forbid"}

    fields: list[str] | None = Field(default=None, description="Spaces fused (stage 1); None: every live space.")
    weights: dict[str, float] = Field(default_factory=dict, description="space -> weight; 1.0 when not named.")
    fusion: FusionName = "dbsf"
    rrf_k: int = Field(default=60, ge=1, le=10_000)
    rerank: list[str] = Field(default_factory=list, description="Spaces that rescore stage 1's candidates.")
    candidates: int = Field(default=100, ge=1, le=10_000, description="Stage-1 depth of a cascade.")
    candidates_weight: float = Field(default=0.0, ge=0, le=MAX_WEIGHT, description="Weight of the stage-1 score "
                                     "in the final formula; 0: the rerank spaces' scores alone order the hits.")
    max_demotion: float | None = Field(default=None, ge=0, le=MAX_WEIGHT, allow_inf_nan=False, description="In the "
                                       "final formula, how far below its stage-1 score (both scaled as DBSF does) a "
                                       "rerank space may put a candidate; None: no bound.")

    @field_validator("weights")
    @classmethod
    def _weights_in_range(cls, weights: dict[str, float]) -> dict[str, float]:
        return checked_weights("weights", weights)

    @field_validator("candidates_weight")
    @classmethod
    def _candidates_weight_in_range(cls, weight: float) -> float:
        checked_weights("candidates_weight", {"candidates": weight})
        return weight

    @field_validator("max_demotion", mode="before")
    @classmethod
    def _demotion_is_a_number(cls, value: object) -> object:
        if isinstance(value, bool):  # pydantic would read true as 1.0
            raise ValueError(f"max_demotion {value!r}: a number from 0 to {MAX_WEIGHT:g} (DBSF units), or null")
        return value

    @model_validator(mode="after")
    def _usable(self) -> PlanSettings:
        for what, names in (("fields", self.fields or []), ("rerank", self.rerank)):
            if len(set(names)) != len(names):
                raise ValueError(f"{what} {names} lists a space twice")
        if (problem := stages_problem(self.fields, self.rerank)) is not None:
            raise ValueError(problem)
        if self.fields and not any(self.weights.get(n, 1.0) > 0 for n in self.fields):
            raise ValueError(f"fields {self.fields} all weigh 0: the plan would search nothing")
        if self.max_demotion is not None and len(self.rerank) == 1 and self.candidates_weight == 0:
            raise ValueError(f"max_demotion {self.max_demotion:g} bounds a rerank space's term of the final formula, "
                             f"but with one rerank space ({self.rerank[0]}) and candidates_weight 0 there is none: "
                             "that space's own score orders the hits; give stage 1 a candidates_weight, or drop it")
        return self


def checked_weights(where: str, weights: dict[str, float]) -> dict[str, float]:
    """`weights` when each is 0 or a finite number from MIN_WEIGHT to MAX_WEIGHT. Raises: ValueError naming the
    others."""
    bad = {n: w for n, w in weights.items() if weight_problem(w) is not None}
    if bad:
        raise ValueError(f"{where} {bad}: a weight is a finite number from 0 to {MAX_WEIGHT:g}, and 0 (not fused) or "
                         f"at least {MIN_WEIGHT:g}")
    return weights


def builtin_plans() -> dict[str, PlanSettings]:
    """The plans every install has besides `fused` (which is the settings' `fusion`, `weights` and
    `default_fields`: today's evaluated default). Figures in docs/evaluation.md#cascade."""
    return {
        "all": PlanSettings(),  # every space, equally weighted
        "keyword": PlanSettings(fields=["keywords", "document"], weights={"keywords": 2.0}),
        "dense": PlanSettings(fields=["document", "body"], weights={"body": 0.5}),
        # body may lower a candidate at most 0.7 below its stage-1 standing: a rare word's document stays in
        # the top 10 beside common words, and no judged query's top 10 moves (docs/evaluation.md#rare-words)
        "cascade": PlanSettings(fields=["document", "keywords"], weights={"keywords": 1.5}, rerank=["body"],
                                candidates=100, candidates_weight=1.0, max_demotion=0.7),
    }


class SearchSettings(BaseModel):
    """Search defaults, from evaluation; a stored ranking profile (scripts/evaluate --fit) overrides them.

    `fusion`, `rrf_k`, `weights` and `default_fields` make the plan named `fused`; `plans` holds the
    others, and `plan` names the one a request that names none runs (`app.services.plans`).
    """

    fusion: FusionName = "dbsf"
    rrf_k: int = Field(default=60, ge=1, le=MAX_RRF_K)
    prefetch_limit: int = Field(default=100, ge=1, le=10_000, description="Each space's own top list fused.")
    default_limit: int = Field(default=10, ge=1, le=10_000, description="Hits when a request names no `limit`.")
    max_limit: int = Field(default=100, ge=1, le=10_000, description="The largest `limit` a request may ask.")
    default_fields: list[str] | None = Field(default=None, min_length=1)
    weights: dict[str, float] = Field(default_factory=evaluated_weights)
    profile_path: OptionalFile = Field(default=None, description="A ranking profile file (JSON) read instead of "
                                       "the stored one; re-read when it changes.")

    @field_validator("weights")
    @classmethod
    def _weights_in_range(cls, weights: dict[str, float]) -> dict[str, float]:
        checked_weights("search.weights", weights)
        if weights and not any(w > 0 for w in weights.values()):
            raise ValueError("search.weights are all 0: the default search would search nothing")
        return weights

    @field_validator("profile_path")
    @classmethod
    def _profile_readable(cls, path: Path | None) -> Path | None:
        # a file that is not there yet is no profile (it may be written later); one that is there must parse
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError, RecursionError) as e:  # RecursionError: nested too deeply to decode
                raise ValueError(f"search.profile_path {str(path)!r} is not a readable JSON file: "
                                 f"{'nested too deeply to decode' if isinstance(e, RecursionError) else e}") from None
            if not isinstance(data, dict):
                raise ValueError(f"search.profile_path {str(path)!r}: a ranking profile is a JSON object")
            if "fusion" in data:
                try:
                    RankingProfile.from_dict(data)
                except (TypeError, ValueError) as e:
                    raise ValueError(f"search.profile_path {str(path)!r} is not a ranking profile: {e}") from e
        return path
    # fan-out execution (app.services.fanout): each space its own request, each with a deadline
    execution: Literal["batch", "fanout"] = Field(
        default="batch", description="`batch`: one store request for every space (answers whole or fails); "
        "`fanout`: a request per space in parallel, each under its deadline; what arrives in time is fused and "
        "the spaces that missed are listed in `degraded`. A request's `fanout` / `budget_ms` choose per search.")
    budget_ms: DeadlineMs = Field(default=1_000, description="Fan-out: how long a search waits for its spaces "
                                  "(ms, counted from when the requests are sent); a request may set its own.")
    deadlines_ms: dict[str, DeadlineMs] = Field(
        default_factory=dict, description="Fan-out: space -> its own, shorter deadline (ms); spaces not named get "
        "the budget, and a deadline over the budget is cut to it.")
    max_budget_ms: DeadlineMs = Field(default=30_000, description="The largest `budget_ms` a request may ask.")
    fanout_workers: int = Field(default=8, ge=1, le=256, description="Fan-out: threads sending space requests "
                                "(shared by all searches of the process).")
    fanout_queue: int = Field(default=32, ge=0, le=10_000, description="Fan-out: space requests that may wait "
                              "for a thread; past it a space is not sent and counts as missed (`busy`).")

    @model_validator(mode="after")
    def _within_maxima(self) -> SearchSettings:
        if self.budget_ms > self.max_budget_ms:
            raise ValueError(f"search.budget_ms ({self.budget_ms}) is over search.max_budget_ms ({self.max_budget_ms})")
        if self.default_limit > self.max_limit:
            raise ValueError(f"search.default_limit ({self.default_limit}) is over search.max_limit ({self.max_limit})")
        fields = self.default_fields or []
        if len(set(fields)) != len(fields):
            raise ValueError(f"search.default_fields {fields} lists a space twice")
        if fields and not any(self.weights.get(n, 1.0) > 0 for n in fields):
            raise ValueError(f"search.default_fields {fields} all weigh 0 in search.weights: the default search would "
                             "search nothing")
        return self

    @property
    def startup_notes(self) -> list[str]:
        """What the service logs at startup about its plans: `plan_fallback`, and how a `plans` setting departs
        from the built-in plans (those it drops, and the fields in which a plan of a built-in name differs:
        a plan given field by field, `MULTIVEC_SEARCH__PLANS__CASCADE__MAX_DEMOTION`, replaces the built-ins
        too, its other fields at their defaults); and a `profile_path` with no file yet (no ranking profile is used,
        the stored one neither, until one is written there: re-read when it changes)."""
        notes = [self.plan_fallback] if self.plan_fallback else []
        if self.profile_path is not None and not self.profile_path.exists():
            notes.append(f"search.profile_path {str(self.profile_path)!r} does not exist: no ranking profile is used "
                         "(nor the one stored with the data) until a file is written there")
        if "plans" not in self.model_fields_set:
            return notes
        built_in = builtin_plans()
        dropped = sorted(set(built_in) - set(self.plans))
        changed = {n: [f for f in PlanSettings.model_fields if getattr(p, f) != getattr(built_in[n], f)]
                   for n, p in self.plans.items() if n in built_in and p != built_in[n]}
        if dropped or changed:
            notes.append("search.plans replaces the built-in plans: " + "; ".join(
                ([f"gone: {', '.join(dropped)}"] if dropped else [])
                + [f"{n} differs from the built-in in {', '.join(fs)}" for n, fs in sorted(changed.items())])
                + " (a plan's fields it does not set take PlanSettings' defaults, not the built-in plan's)")
        return notes

    @property
    def plan_fallback(self) -> str | None:
        """Why `plan` is `fused` though the settings left it unset: a `plans` that replaced the built-ins without
        the default plan (the service logs it at startup), or None."""
        return self._plan_fallback

    # chosen by evaluation (docs/evaluation.md#the-default-plan): with the shared encoding mode, the cascade
    # ties the fused plan of separate passes on SciFact's held-out queries and beats it on CISI, searching
    # two spaces' indexes instead of three
    plan: str = Field(default="cascade", description="The plan a request that names none runs.")
    plans: dict[str, PlanSettings] = Field(default_factory=builtin_plans)
    max_candidates: int = Field(default=1_000, ge=1, le=10_000, description="The most stage-1 candidates a "
                                "cascade may ask for (`candidates` past it is a 422).")
    # why `plan` is not what the settings say, when a replaced `plans` left out the default (said at startup)
    _plan_fallback: str | None = PrivateAttr(default=None)
    cascade_requests: Literal["staged", "nested"] = Field(
        default="staged", description="How a cascade runs. `staged`: stage 1 once, then the rerank spaces score "
        "its candidates in a second request, and the final formula is computed in the service; `nested`: one Query "
        "API request of nested prefetches, where stage 1 runs again under each rerank branch (one round trip, "
        "more engine work). Same ranking either way (docs/evaluation.md#cascade); a stage 1 that fuses a sparse "
        "space by DBSF always runs staged (its list is normalised by the service: app.domain.fusion.zero_floors).")

    @model_validator(mode="after")
    def _plan_known(self) -> SearchSettings:
        if AUTO in self.plans:
            raise ValueError(f'search.plans names a plan {AUTO!r}: that name asks for the query router, so the plan '
                             "could never run; rename it")
        unnamed = sorted(n for n in self.plans if not 1 <= len(n.strip()) <= len(n) <= MAX_NAME_CHARS)
        if unnamed:
            raise ValueError(f"search.plans {unnamed}: a plan's name is 1 to {MAX_NAME_CHARS} characters, not blank "
                             "(a request could never name it)")
        names = {FUSED, *self.plans}
        if self.plan not in names and "plan" not in self.model_fields_set:
            self._plan_fallback = (f"search.plans holds no plan {self.plan!r} (the default plan): a search that names "
                                   f"no plan runs {FUSED!r}; set search.plan (MULTIVEC_SEARCH__PLAN) to choose one")
            self.plan = FUSED  # `plans` replaced the built-ins, the default `cascade` among them
        if self.plan not in names:
            raise ValueError(f"search.plan {self.plan!r} is not a plan: expected one of {sorted(names)}")
        deep = sorted(n for n, p in self.plans.items() if p.rerank and p.candidates > self.max_candidates)
        if deep:
            raise ValueError(f"search.plans {deep}: candidates over search.max_candidates ({self.max_candidates})")
        return self
