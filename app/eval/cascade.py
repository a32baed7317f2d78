"""Cascade rows of `scripts/evaluate`: stage-1 choices, rerank spaces, the final formula, candidate depths.

Each judged query is searched twice more, once: a cascade plan with `explain` gives every stage-1
candidate's score in each rerank space (`body`, `entities`) over the union of the candidate spaces'
own top lists. Every cascade variant is then computed offline from those scores and the per-space
lists with the same math as the store (app.domain.cascade.cascade_stages), its final-formula weights
fitted on the fit queries, and its real plan timed through the search service like every other row.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from app.container import Services
from app.domain.cascade import FINAL, cascade_stages
from app.domain.plan import QueryPlan
from app.eval.metrics import ndcg_per_query
from app.eval.runs import Lists, Variant, offline_run, subset
from app.services.plans import plan_names
from app.services.search import SearchRequest

Scores = dict[str, dict[str, dict[str, float]]]  # query id -> rerank space -> doc id -> its score
RERANK = ("body", "entities")
FIRST = ("document", "keywords")
CANDIDATE_WEIGHTS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
ENTITY_WEIGHTS = (0.1, 0.25, 0.5, 1.0)  # the first is the one used without fit queries (fitted on SciFact)


@dataclass(frozen=True)
class CascadeVariant:
    """A cascade to evaluate: stage-1 spaces fused, rerank spaces, depth, final weighting."""

    name: str
    first: tuple[str, ...] = FIRST
    first_weights: tuple[float, ...] = (1.0, 1.5)
    fusion: str = "dbsf"
    rrf_k: int = 60
    rerank: tuple[str, ...] = ("body",)
    rerank_weights: tuple[float, ...] = (1.0,)
    candidates: int = 100
    candidates_weight: float = 0.0
    group: str = "cascade"
    plan_name: str | None = None  # run as `{"plan": name}` (a named plan from settings)

    @property
    def spaces(self) -> tuple[str, ...]:
        """Every space the cascade searches: stage 1's, then the rerank spaces."""
        return self.first + self.rerank

    @property
    def weight_map(self) -> dict[str, float]:
        """space -> its weight, stage 1's and the rerank spaces' (the request's `weights`).

        Raises:
            ValueError: a weight tuple is not as long as its spaces.
        """
        return dict(zip(self.first + self.rerank, self.first_weights + self.rerank_weights, strict=True))

    @property
    def label(self) -> str:
        """`dbsf(document + keywords*1.5) top 100 -> body; 1*cand + 1*body`."""
        w = self.weight_map
        how = f"rrf k={self.rrf_k}" if self.fusion == "rrf" else "dbsf"
        first = " + ".join(s if w[s] == 1.0 else f"{s}*{w[s]:g}" for s in self.first)
        if len(self.first) > 1:
            first = f"{how}({first})"
        out = f"{first} top {self.candidates} -> {' + '.join(self.rerank)}"
        terms = ([f"{self.candidates_weight:g}*cand"] if self.candidates_weight else [])
        if terms or len(self.rerank) > 1:
            out += "; " + " + ".join(terms + [f"{w[s]:g}*{s}" for s in self.rerank])
        return out

    def request(self, query: str, limit: int) -> SearchRequest:
        """The search request that runs this cascade (the final weighting is set on its plan)."""
        if self.plan_name:
            return SearchRequest(query=query, limit=limit, plan=self.plan_name)
        return SearchRequest(query=query, limit=limit, fields=list(self.first), fusion=self.fusion,
                             weights=self.weight_map, rrf_k=self.rrf_k, rerank=list(self.rerank),
                             candidates=self.candidates)

    def plan_for(self, services: Services, query: str, limit: int) -> QueryPlan:
        """The real plan: the request's, with this variant's final weighting."""
        plan = services.search.plan(self.request(query, limit))
        return plan if self.plan_name else replace(plan, candidates_weight=self.candidates_weight)

    @classmethod
    def from_plan(cls, name: str, plan: QueryPlan, *, plan_name: str, group: str = "plan") -> CascadeVariant:
        """The variant a cascade plan describes (a named plan from settings)."""
        return cls(name=name, first=tuple(s.space for s in plan.spaces),
                   first_weights=tuple(s.weight for s in plan.spaces), fusion=plan.fusion, rrf_k=plan.rrf_k,
                   rerank=tuple(s.space for s in plan.rerank), rerank_weights=tuple(s.weight for s in plan.rerank),
                   candidates=plan.candidates, candidates_weight=plan.candidates_weight, group=group,
                   plan_name=plan_name)


def fetch_rerank_scores(services: Services, queries: Mapping[str, str], lists: Lists, *,
                        first: Sequence[str], rerank: Sequence[str] = RERANK, depth: int = 100,
                        progress: bool = True, versions: dict[str, str] | None = None) -> Scores:
    """Each rerank space's score of every document in the union of `first`'s own top `depth` lists.

    One cascade request per query (stage 1: `first` fused, deep enough to keep the whole union;
    `explain` returns each rerank space's list over it), so a variant's candidates, whatever its
    stage-1 fusion or depth, all have their scores. Doc ids are read from `lists`' own hits.
    """
    from tqdm import tqdm

    by_pid = _doc_ids(services)
    out: Scores = {}
    for qid, text in tqdm(queries.items(), desc="rerank scores", unit="q", file=sys.stderr, disable=not progress):
        union = {d for s in first for d, _ in lists[qid].get(s, [])}
        req = SearchRequest(query=text, limit=1, fields=list(first), fusion="dbsf", weights={},
                            rerank=list(rerank), candidates=max(1, len(union)), explain=True, versions=versions)
        plan = services.search.plan(req)
        result, _ = services.search.run(plan, text)
        out[qid] = {s: {by_pid[h.id]: h.score for h in result.stages.get(s, [])} for s in rerank}
    return out


def plan_run(services: Services, name: str, plan: QueryPlan, plan_name: str, queries: Mapping[str, str],
             lists: Lists, *, depth: int = 100, group: str = "plan", scores: Scores | None = None,
             versions: dict[str, str] | None = None) -> tuple[Any, dict[str, list[str]]]:
    """A plan as an evaluation variant and its offline run: a cascade ranked by its stages
    (app.domain.cascade), any other plan fused offline (app.eval.runs).

    Args:
        plan: the plan as the search service plans it; `plan_name` the name it runs by.
        scores: the rerank spaces' scores of the candidates, when already fetched; None: fetched here.
        versions: pinned vector versions (as the lists were fetched), or None for the live ones.
    """
    if not plan.cascade:
        fused = replace(Variant.from_plan(name, plan, group=group), plan_name=plan_name)
        return fused, offline_run(fused, lists, services.registry.get().sparse(), depth=depth)
    v = CascadeVariant.from_plan(name, plan, plan_name=plan_name, group=group)
    if scores is None:
        scores = fetch_rerank_scores(services, queries, lists, first=v.first, rerank=v.rerank, depth=depth,
                                     versions=versions)
    return v, offline_cascade(v, plan, lists, scores)


def _doc_ids(services: Services) -> dict[str, str]:
    ids: dict[str, str] = {}
    offset = None
    while True:
        points, offset = services.store.scroll(services.registry.alias, filter=None, limit=1024, offset=offset)
        ids |= {p.id: str(p.payload.get("doc_id")) for p in points}
        if offset is None:
            return ids


def offline_cascade(variant: CascadeVariant, template: QueryPlan, lists: Lists, scores: Scores
                    ) -> dict[str, list[str]]:
    """The ranking `variant` gives each query (app.domain.cascade.cascade_stages), from `template`, a
    plan of the variant with its weighting."""
    plan = replace(template, candidates=variant.candidates, candidates_weight=variant.candidates_weight)
    return {qid: [d for d, _ in cascade_stages(plan, lists[qid], scores[qid])[FINAL]] for qid in lists}


def _fit(variant: CascadeVariant, template: QueryPlan, lists: Lists, scores: Scores, qrels: Mapping,
         grid: Sequence[tuple[float, tuple[float, ...]]]) -> CascadeVariant:
    """The variant with the (candidates weight, rerank weights) of `grid` best on these queries."""
    def mean_ndcg(v: CascadeVariant) -> float:
        run = offline_cascade(v, _weighted(template, v), lists, scores)
        per = ndcg_per_query(run, {q: qrels[q] for q in lists})
        return sum(per.values()) / max(1, len(per))

    tried = [replace(variant, candidates_weight=cw, rerank_weights=rw) for cw, rw in grid]
    return max(tried, key=mean_ndcg)


def _weighted(template: QueryPlan, v: CascadeVariant) -> QueryPlan:
    w = v.weight_map
    return replace(template, rerank=tuple(replace(s, weight=w[s.space]) for s in template.rerank))


def cascade_section(services: Services, queries: Mapping[str, str], qrels: Mapping, lists: Lists,
                    fit_ids: Sequence[str], *, depth: int = 100) -> tuple[list[Any], dict[str, dict[str, list[str]]]]:
    """The cascade variants (and every named plan from settings) and their offline runs.

    Args:
        fit_ids: queries the final-formula weights are fitted on; none: the settings' `cascade` plan's
            stage-1 weight (and `entities` 0.1), so nothing reported is fitted on itself.

    Returns:
        (variants, runs): variants ready for `measure_latency` and the report's rows; run per variant name.
    """
    names = services.registry.get().live_spaces()
    if not set(FIRST + RERANK) <= set(names):
        return [], {}
    scores = fetch_rerank_scores(services, queries, lists, first=[s for s in names if s not in RERANK],
                                 depth=depth)
    fit_lists, fit_scores = subset(lists, fit_ids), subset(scores, fit_ids)
    built_in = services.settings.search.plans.get("cascade")
    default_weight = built_in.candidates_weight if built_in else 1.0
    base = CascadeVariant("cascade: body")
    both = replace(base, name="cascade: body+entities, formula", rerank=RERANK, rerank_weights=(1.0, 0.25))
    variants: list[CascadeVariant] = [base, *(replace(base, name=f"cascade: body, {c} candidates", candidates=c)
                                             for c in (50, 200))]

    def fitted(v: CascadeVariant, grid: Sequence[tuple[float, tuple[float, ...]]]) -> CascadeVariant:
        if not fit_ids:  # nothing to fit on that is not also reported on: the `cascade` plan's weight
            return replace(v, candidates_weight=default_weight, rerank_weights=grid[0][1])
        return _fit(v, _template(services, v), fit_lists, fit_scores, qrels, grid)

    formula = fitted(replace(base, name="cascade: body, formula"), [(w, (1.0,)) for w in CANDIDATE_WEIGHTS])
    variants += [formula, *(replace(formula, name=f"cascade: body, formula, {c} candidates", candidates=c)
                            for c in (50, 200))]
    # what the `fused` plan becomes when body is stored rerank-only (stage 1 keeps its fused weight)
    variants.append(replace(base, name="cascade: body, formula 2.5 (fused, body rerank-only)", candidates_weight=2.5))
    variants.append(fitted(both, [(w, (1.0, e)) for e, w in itertools.product(ENTITY_WEIGHTS, CANDIDATE_WEIGHTS)]))
    for name, changes in (("stage 1 unweighted dbsf", {"first_weights": (1.0, 1.0)}),
                          ("stage 1 rrf k=60", {"fusion": "rrf"}), ("stage 1 rrf k=2", {"fusion": "rrf", "rrf_k": 2}),
                          ("stage 1 document only", {"first": ("document",), "first_weights": (1.0,)})):
        variants.append(fitted(replace(formula, name=f"cascade: body, formula, {name}", **changes),
                               [(w, (1.0,)) for w in CANDIDATE_WEIGHTS]))
    out: list[Any] = list(variants)
    runs = {v.name: offline_cascade(v, _template(services, v), lists, scores) for v in variants}
    for name in plan_names(services.settings.search):
        plan = services.search.plan(SearchRequest(query="probe", plan=name))
        v, runs[f"plan {name}"] = plan_run(services, f"plan {name}", plan, name, queries, lists, depth=depth,
                                           scores=scores)
        out.append(v)
    return out, runs


def _template(services: Services, v: CascadeVariant) -> QueryPlan:
    return v.plan_for(services, "probe", 10)
