"""Query plans as data: which spaces, which vector versions, what fusion, and a payload filter
(app.domain.filters, whose names are re-exported here)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from app.domain.bounds import shown
from app.domain.filters import FILTER_KEY as FILTER_KEY
from app.domain.filters import Condition as Condition
from app.domain.filters import Filter as Filter
from app.domain.filters import HasId as HasId
from app.domain.filters import Match as Match
from app.domain.filters import MatchAny as MatchAny
from app.domain.filters import Scalar as Scalar
from app.domain.filters import filter_path as filter_path
from app.domain.filters import metadata_filter as metadata_filter
from app.domain.scorer import LearnedScorer, learned_fields
from app.domain.versions import Registry, SpaceKind
from app.errors import InvalidInput

Fusion = Literal["rrf", "dbsf", "learned"]

MAX_RRF_K = 10_000
MAX_WEIGHT = 1_000.0
# A weight above 0 but below this changes no ranking (5e-324 * a score is 0, or lost to float rounding beside the
# others) while its space is still searched: a weight is 0 (not fused) or at least this.
MIN_WEIGHT = 1e-6
MAX_CANDIDATES = 1_000  # stage-1 depth of a cascade at most (each candidate is rescored by every rerank space)


@dataclass(frozen=True)
class SpaceQuery:
    """One prefetch: a space searched through one named vector."""

    space: str
    vector_name: str
    kind: SpaceKind
    model: str
    weight: float


@dataclass(frozen=True)
class QueryPlan:
    """Everything a store needs to run one search; a test can compare it, `explain` shows it.

    A plan has one stage (`spaces` fused) or, with `rerank`, is a cascade: stage 1 fuses `spaces`
    into `candidates` points, stage 2 rescores only those with each `rerank` space, and a final
    score-formula stage combines the stage scores (see `formula`).
    """

    spaces: tuple[SpaceQuery, ...]
    fusion: Fusion
    rrf_k: int
    limit: int
    prefetch_limit: int
    filter: Filter
    explain: bool = False
    # Spaces weighted to zero: not fused, but with `explain` their own lists are still shown.
    observed: tuple[SpaceQuery, ...] = ()
    # Rerank-only spaces weighted to zero: no own list to show, so with `explain` each scores the hits exactly.
    scored: tuple[SpaceQuery, ...] = ()
    # Stage 2: spaces that rescore the stage-1 candidates (their weights are the formula's).
    rerank: tuple[SpaceQuery, ...] = ()
    candidates: int = 0  # stage-1 depth: how many points stage 2 rescores
    candidates_weight: float = 0.0  # weight of the stage-1 score in the final formula (0: not in it)
    # final formula: a rerank space's term counts at least norm(candidates) - this (None: as it is); see
    # app.domain.cascade.final_scores
    max_demotion: float | None = None
    notes: tuple[str, ...] = ()  # why the plan is not quite what was asked (a rerank-only space moved)
    staged: bool = True  # a cascade's stage 1 runs once, its rescoring in a second request (app.store.cascade)
    scorer: LearnedScorer | None = None  # fusion "learned": ranks the union of the spaces' lists

    @property
    def listed(self) -> tuple[SpaceQuery, ...]:
        """The spaces whose own ranked lists a store returns (app.domain.fusion.needs_per_space)."""
        return self.spaces + self.observed

    @property
    def weighted(self) -> bool:
        """True when some fused space weighs other than 1.0."""
        return any(s.weight != 1.0 for s in self.spaces)

    @property
    def normalises_sparse(self) -> bool:
        """DBSF over several spaces, one of them sparse: its list is normalised at its depth
        (app.domain.fusion.zero_floors), which no engine request does, so the service fuses it (a cascade's
        stage 1 included: such a cascade always runs staged)."""
        return self.fusion == "dbsf" and len(self.spaces) > 1 and any(s.kind == "sparse" for s in self.spaces)

    @property
    def cascade(self) -> bool:
        """True when stage 2 rescores stage 1's candidates."""
        return bool(self.rerank)

    @property
    def formula(self) -> bool:
        """True when a final formula combines stage scores: the stage-1 score is weighted in, or
        several rerank spaces are; otherwise one rerank space's own score orders the hits."""
        return self.cascade and (self.candidates_weight > 0 or len(self.rerank) > 1)

    @property
    def all_spaces(self) -> tuple[SpaceQuery, ...]:
        """Every space the plan's query vectors are needed for: listed, reranking and scoring the hits."""
        return self.listed + self.rerank + self.scored

    def describe(self, fused_in: str) -> dict[str, object]:
        """The plan as `explain` shows it; `fused_in` is who fuses it (app.domain.fusion.fused_in)."""
        out: dict[str, object] = {
            "spaces": [_describe_space(s) for s in self.spaces],
            "fusion": self.fusion if len(self.spaces) > 1 or self.scorer else "none",
            "rrf_k": self.rrf_k if self.fusion == "rrf" else None,
            "fused_in": fused_in,
            "limit": self.limit,
            "prefetch_limit": self.prefetch_limit,
            "observed_only": [s.space for s in self.observed],
            "scored_only": [s.space for s in self.scored],
        }
        if self.cascade:  # `requests`: how it ran (app.store.cascade)
            out |= {"rerank": [_describe_space(s) for s in self.rerank], "candidates": self.candidates,
                    "stages": self.stages(), "requests": "staged" if self.staged else "nested"}
        if self.notes:
            out["notes"] = list(self.notes)
        if self.scorer is not None:
            out["scorer"] = self.scorer.describe()
        return out

    def stages(self) -> list[dict[str, object]]:
        """A cascade's stages as `explain` shows them, in the order they run."""
        first = {"stage": "candidates", "spaces": [s.space for s in self.spaces], "limit": self.candidates,
                 "fusion": self.fusion if len(self.spaces) > 1 else "none"}
        out: list[dict[str, object]] = [first]
        out += [{"stage": "rerank", "space": s.space, "limit": self.candidates,
                 "rescores": "candidates"} for s in self.rerank]
        if self.formula:
            terms = ([f"{self.candidates_weight:g}*norm(candidates)"] if self.candidates_weight > 0 else [])
            bound = "" if self.max_demotion is None else f", norm(candidates) - {self.max_demotion:g}"
            terms += [f"{s.weight:g}*max(norm({s.space}){bound})" if bound else f"{s.weight:g}*norm({s.space})"
                      for s in self.rerank]
            out.append({"stage": "final", "formula": " + ".join(terms), "limit": self.limit,
                        "norm": "each stage's scores over the candidates, scaled as DBSF does (mean +- 3 sd -> 0..1)"})
        else:
            out.append({"stage": "final", "formula": f"score({self.rerank[0].space})", "limit": self.limit})
        return out


def _describe_space(s: SpaceQuery) -> dict[str, object]:
    return {"space": s.space, "vector": s.vector_name, "kind": s.kind, "model": s.model, "weight": s.weight}


def build_plan(
    registry: Registry,
    *,
    fields: list[str] | None,
    fusion: Fusion,
    rrf_k: int,
    weights: dict[str, float],
    limit: int,
    prefetch_limit: int,
    filter: Filter,
    explain: bool = False,
    versions: dict[str, str] | None = None,
    rerank: list[str] | None = None,
    candidates: int = 100,
    candidates_weight: float = 0.0,
    max_demotion: float | None = None,
    first_stage: dict[str, float] | None = None,
    first_stage_from: str = "the default first stage",
    max_candidates: int = MAX_CANDIDATES,
    scorer: LearnedScorer | None = None,
    staged: bool = True,
) -> QueryPlan:
    """Resolve spaces to their live vector versions (or pinned `versions`), validate weights, and
    split a cascade into its stages. With no `fields`, the live spaces are searched, and any space
    that has no live version but is pinned.

    A space named in `rerank` rescores the candidates of the others (stage 2). A rerank-only space
    (stored without an HNSW graph, `index: rerank`) is never searched on its own: named in `fields`
    it moves to stage 2 too, and when no other space is left to find candidates, `first_stage`
    (space -> weight: the default plan's first stage, or the named plan's) finds them. `plan.notes` says so,
    naming `first_stage_from`.

    With `fusion="learned"` the plan searches the `scorer`'s spaces (the other live spaces listed,
    weight 0, to be explained), as deep as it was fitted (app.domain.scorer.learned_fields).

    Args:
        candidates: the stage-1 depth (1..`max_candidates`; raised to `limit` when below it).
        candidates_weight: weight of the stage-1 score in the final formula (0: not in it).
        max_demotion: how far below its stage-1 standing a rerank space may put a candidate in the final formula
            (app.domain.cascade.final_scores); None: no bound.
        scorer: the learned scorer, for fusion "learned".
        staged: a cascade's stage 1 runs once, its rescoring in a second request (False: one nested request).

    Raises:
        UnknownSpace: a field, rerank space or weight names a space that does not exist.
        InvalidInput: weights are negative or all zero, or zero for every candidate space of a cascade;
            `candidates` out of bounds; a space listed twice; no space left to find candidates; fields,
            weights, rerank spaces or a rerank-only space with fusion "learned".
        NoLearnedScorer: fusion "learned" with no scorer, or one fitted on other vector versions.
    """
    if fusion == "learned":
        fields, weights, prefetch_limit = learned_fields(registry, scorer, fields=fields, weights=weights,
                                                         rerank=rerank, explain=explain)
    # by default the live spaces, and a space pinned before it has a live version (validating a new space)
    names = list(fields) if fields else registry.live_spaces() + [
        s for s in (versions or {}) if s in registry.spaces and registry.spaces[s].live is None]
    rerank_names = list(rerank or [])
    if not names and not rerank_names:
        raise InvalidInput("no spaces to search")
    for what, listed in (("fields", names), ("rerank", rerank_names)):
        twice = sorted({n for n in listed if listed.count(n) > 1})
        if twice:
            raise InvalidInput(f"{what} lists a space twice: {', '.join(map(shown, twice))}")
    for name in list(weights) + rerank_names:
        if name not in registry.spaces:
            registry.space(name)  # raises UnknownSpace naming it
    for name, weight in weights.items():  # every weight, also of a space this plan leaves out
        check_weight(name, weight)
    if not 1 <= rrf_k <= MAX_RRF_K:
        raise InvalidInput(f"rrf_k {rrf_k} is outside 1..{MAX_RRF_K}")
    if not 1 <= candidates <= max_candidates:
        raise InvalidInput(f"candidates {candidates} is outside 1..{max_candidates}")
    check_weight("candidates", candidates_weight)

    def resolve(name: str, weight: float) -> tuple[SpaceQuery, str]:
        pinned = (versions or {}).get(name)
        version = registry.find(pinned) if pinned else registry.live_version(name)
        if version.space != name:
            raise InvalidInput(f"version {pinned!r} is not a version of space {name!r}")
        check_weight(name, weight)
        return SpaceQuery(name, version.name, version.kind, version.model, weight), version.index

    spaces: list[SpaceQuery] = []
    moved: list[SpaceQuery] = []  # rerank-only spaces named as fields: they rescore instead
    unsearched: list[str] = []  # rerank-only spaces weighted 0: nothing to rescore with, not searched
    for name in names:
        if name in rerank_names:
            continue
        sq, index = resolve(name, float(weights.get(name, 1.0)))
        if index == "hnsw":
            spaces.append(sq)
        elif sq.weight > 0:
            moved.append(sq)
        else:
            unsearched.append(name)
    stage2 = [resolve(n, float(weights.get(n, 1.0)))[0] for n in rerank_names] + moved
    if all(s.weight == 0 for s in spaces + stage2):
        raise InvalidInput("all weights are zero: the searched spaces (" + ", ".join(names) + ") all weigh 0")
    notes = [f"{s.space} is rerank-only (stored without an HNSW graph): it rescored the candidates" for s in moved]
    notes += [f"{n} is a rerank space here: it rescored the candidates, it did not find them"
              for n in names if n in rerank_names and float(weights.get(n, 1.0)) > 0]  # else: "weighted 0" below
    notes += [f"{n} is rerank-only and weighted 0: not searched; explain shows its exact score of each hit"
              for n in unsearched if explain]
    if stage2 and spaces and not any(s.weight > 0 for s in spaces):
        raise InvalidInput("weights are zero for every space that finds the candidates to rescore ("
                           + ", ".join(s.space for s in spaces) + ") with " + ", ".join(s.space for s in stage2)
                           + ": give one of them a weight above 0, or rerank with fewer spaces")
    borrowed = bool(stage2) and not spaces
    if borrowed:
        taken = {s.space for s in stage2}
        spaces = [sq for n, w in (first_stage or {}).items() if w > 0 and n not in taken and n in registry.spaces
                  for sq, index in [resolve(n, w)] if index == "hnsw"]
        if not spaces:
            raise InvalidInput(f"no space left to find candidates for {sorted(taken)} to rescore: name a space "
                               "with an HNSW index in `fields`, weighted above 0")
        notes.append(f"candidates from {first_stage_from}: " + ", ".join(s.space for s in spaces))
    if moved and not rerank_names and not borrowed and candidates_weight == 0:
        # a fused plan, cascaded because a space it fuses is rerank-only: stage 1 keeps its weight
        candidates_weight = sum(s.weight for s in spaces)
    if fusion == "learned" and scorer is not None:
        scorer.check(searched={s.space: s.vector_name for s in spaces}, rerank_only=[s.space for s in moved])
    observed = tuple(s for s in spaces if s.weight == 0) if explain else ()  # weight 0: not fused, only explained
    scored = tuple(resolve(n, 0.0)[0] for n in unsearched) if explain else ()  # rerank-only, weight 0: explained
    reranking = tuple(s for s in stage2 if s.weight > 0)
    unweighted = [s.space for s in stage2 if not s.weight and s.space in rerank_names]
    notes += [f"{name} is weighted 0: it does not rescore" for name in unweighted]
    if reranking and candidates < limit:
        notes.append(f"candidates {candidates} raised to the limit, {limit}: stage 1 finds at least the hits asked for")
    plan = QueryPlan(
        spaces=tuple(s for s in spaces if s.weight > 0),
        observed=observed,
        scored=scored,
        fusion=fusion,
        rrf_k=rrf_k,
        limit=limit,
        prefetch_limit=max(prefetch_limit, limit),
        filter=filter,
        explain=explain,
        rerank=reranking,
        candidates=max(candidates, limit) if reranking else 0,
        candidates_weight=candidates_weight if reranking else 0.0,
        max_demotion=max_demotion if reranking else None,
        notes=tuple(notes),
        staged=staged,
        scorer=scorer if fusion == "learned" else None,
    )
    if plan.cascade and not plan.staged and plan.normalises_sparse:  # the service fuses such a stage 1
        return replace(plan, staged=True, notes=(*plan.notes, "staged, not nested: stage 1 fuses a sparse space, "
                                                               "which the service normalises"))
    return plan


def weight_problem(weight: object) -> str | None:
    """Why `weight` is no weight (a sentence to follow "weight of X is ..."), or None when it is one: 0, or a
    finite number from MIN_WEIGHT to MAX_WEIGHT."""
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        return f"{weight!r}: weights are numbers"
    if weight < 0:
        return f"negative: {weight!r}"
    if not (math.isfinite(weight) and weight <= MAX_WEIGHT):
        return f"{weight!r}: weights are finite numbers from 0 to {MAX_WEIGHT:g}"
    if 0 < weight < MIN_WEIGHT:
        return (f"{weight!r}, too small to change a ranking: a weight is 0 (not fused) or from {MIN_WEIGHT:g} to "
                f"{MAX_WEIGHT:g}")
    return None


def stages_problem(fields: Sequence[str] | None, rerank: Sequence[str] | None) -> str | None:
    """Why `fields` (find candidates) and `rerank` (rescore them) contradict: a space named in both; or None."""
    both = ", ".join(shown(n) for n in fields or () if n in (rerank or ()))
    return f"{both} named in both fields and rerank: a space finds the candidates or rescores them" if both else None


def check_weight(name: str, weight: float) -> None:
    """Raises: InvalidInput naming `name` and the value when `weight` is not 0 or from MIN_WEIGHT to MAX_WEIGHT."""
    problem = weight_problem(weight)
    if problem is not None:
        raise InvalidInput(f"weight of {shown(name)} is {problem}")


def among(plan: QueryPlan, ids: Sequence[str]) -> QueryPlan:
    """`plan` restricted to the points `ids` (a has-id filter beside its own filter), each space's own list as
    long as them: how a space scores exactly a set of points (a fan-out cascade's candidates, the hits a
    rerank-only space explains) without an index search."""
    return replace(plan, prefetch_limit=max(1, len(ids)),
                   filter=Filter(must=(*plan.filter.must, HasId(tuple(ids))), must_not=plan.filter.must_not))
