"""Fetch each space's ranked list once per query, fuse variants offline, time real plans.

The store returns every space's own top-N in the same batch as a fused query (a plan with
`explain`), so each judged query is searched once; every fusion variant, weighting and ablation
is then computed from those lists with the fusion math Qdrant uses (app.domain.fusion). Latency
is measured separately by running the real plan of each variant through the search service
(app.eval.timing, the harness scripts/bench uses too).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.container import Services
from app.domain.fusion import Ranked, fuse, zero_floors
from app.domain.metrics import overlap_at_k
from app.domain.plan import Filter, QueryPlan, build_plan
from app.domain.profiles import RankingProfile
from app.domain.scorer import LearnedScorer
from app.eval.learned import scorer_run
from app.eval.timing import Timings, interleave
from app.services.search import SearchRequest

Lists = dict[str, dict[str, Ranked]]  # query id -> space -> its ranked list


@dataclass(frozen=True)
class Variant:
    """A way to search: which spaces, fused how. `group` says why it is in the report."""

    name: str
    spaces: tuple[str, ...]
    fusion: str = "dbsf"  # rrf | dbsf (ignored for a single space)
    rrf_k: int = 60
    weights: tuple[float, ...] | None = None  # one per space, in `spaces` order; None = equal
    group: str = "fusion"
    api_default: bool = False  # run as a bare request: whatever the API does by default
    plan_name: str | None = None  # run as `{"plan": name}`: a named plan from settings
    scorer: LearnedScorer | None = None  # fusion "learned": this scorer ranks (spaces = its spaces)
    fanout: bool = False  # timed as a fan-out search (a request per space under deadlines), not one batch
    exact_scan: bool = False  # a rerank-only space alone: ranked by an exact scan no served plan runs (not timed)

    @property
    def weight_map(self) -> dict[str, float]:
        """Space -> weight, 1.0 each when the variant has no weights."""
        return dict(zip(self.spaces, self.weights or [1.0] * len(self.spaces), strict=True))

    @property
    def label(self) -> str:
        """What the report shows: the space alone, or `dbsf: a + b*1.5` / `rrf k=60: ...`."""
        if self.exact_scan:
            return f"{self.spaces[0]}, exact scan (not served: alone it rescores the default's candidates)"
        if self.scorer is not None:
            return f"learned ({self.scorer.model.split(' (')[0]}): " + " + ".join(self.spaces)
        if len(self.spaces) == 1:
            return self.spaces[0]
        w = self.weight_map
        parts = [s if w[s] == 1.0 else f"{s}*{w[s]:g}" for s in self.spaces]
        how = f"rrf k={self.rrf_k}" if self.fusion == "rrf" else "dbsf"
        return f"{how}: " + " + ".join(parts)

    def request(self, query: str, limit: int) -> SearchRequest:
        """The search request that runs this variant for real (a bare request for the API default)."""
        if self.api_default:
            return SearchRequest(query=query, limit=limit)
        if self.plan_name:
            return SearchRequest(query=query, limit=limit, plan=self.plan_name)
        return SearchRequest(query=query, limit=limit, fields=list(self.spaces), fusion=self.fusion,
                             weights=self.weight_map, rrf_k=self.rrf_k)

    def plan_for(self, services: Services, query: str, limit: int) -> QueryPlan:
        """The real plan this variant runs for `query` (the search service plans its request, without the
        query router, which app.eval.router_eval times on its own; a learned scorer's plan is built as
        serving builds it)."""
        if self.scorer is None:
            return services.search.plan_ranking(self.request(query, limit), use_router=False)[0]
        s = services.settings.search
        return build_plan(services.registry.get(), fields=None, fusion="learned", rrf_k=s.rrf_k, weights={},
                          limit=limit, prefetch_limit=s.prefetch_limit, filter=Filter(), scorer=self.scorer)

    @classmethod
    def learned(cls, name: str, scorer: LearnedScorer, *, group: str = "learned") -> Variant:
        """The variant a learned scorer ranks."""
        return cls(name=name, spaces=scorer.spaces, fusion="learned", group=group, scorer=scorer)

    @classmethod
    def from_plan(cls, name: str, plan: QueryPlan, *, group: str, api_default: bool = False,
                  fanout: bool = False) -> Variant:
        """The variant a query plan describes (its spaces, fusion, k and weights)."""
        return cls(name=name, spaces=tuple(s.space for s in plan.spaces), fusion=plan.fusion, rrf_k=plan.rrf_k,
                   weights=tuple(s.weight for s in plan.spaces), group=group, api_default=api_default,
                   scorer=plan.scorer, fanout=fanout)

    @classmethod
    def from_profile(cls, name: str, profile: RankingProfile, *, group: str = "profile") -> Variant:
        """The variant a ranking profile describes (the spaces it weights)."""
        spaces = tuple(profile.fields)
        return cls(name=name, spaces=spaces, fusion=profile.fusion, rrf_k=profile.rrf_k,
                   weights=tuple(float(profile.weights[s]) for s in spaces), group=group)


def standard_variants(spaces: Sequence[str], *, fusion: str = "dbsf", rrf_k: int = 60,
                      rerank_only: Sequence[str] = ()) -> list[Variant]:
    """Each space alone; all spaces fused equally (RRF and DBSF, several k); every leave-one-out. A
    `rerank_only` space (no HNSW graph) is listed alone (its exact scan, to judge the space; `exact_scan`:
    no served plan ranks so, so it is neither timed nor checked against the service) but fused in none: the
    service never fuses its own list, so a ranking that did could not be served."""
    out = [Variant(f"only {s}", (s,), group="single", exact_scan=s in rerank_only) for s in spaces]
    spaces = tuple(s for s in spaces if s not in rerank_only)
    out.append(Variant("all, equal", spaces, fusion=fusion, rrf_k=rrf_k, group="fused"))
    other = "rrf" if fusion == "dbsf" else "dbsf"
    out.append(Variant(f"all, equal, {other}", spaces, fusion=other, rrf_k=rrf_k, group="fusion"))
    for k in (2, 10, 30, 100):
        if k != rrf_k:
            out.append(Variant(f"all, equal, rrf k={k}", spaces, fusion="rrf", rrf_k=k, group="fusion"))
    if len(spaces) > 2:
        for s in spaces:
            rest = tuple(x for x in spaces if x != s)
            out.append(Variant(f"all without {s}", rest, fusion=fusion, rrf_k=rrf_k, group="ablation"))
    return out


def fetch_lists(services: Services, queries: Mapping[str, str], *, depth: int = 100,
                spaces: Sequence[str] | None = None, progress: bool = True,
                versions: Mapping[str, str] | None = None) -> tuple[Lists, dict[str, list[str]]]:
    """Each space's top `depth` for every query (doc ids and raw scores), in one batch per query.

    `versions` pins spaces to vector versions (space -> version name); the others use their live one.

    A rerank-only space (no HNSW graph) has no index to search: its own list is an exact scan of every
    point, which offline evaluation needs and a served search never does.

    Returns:
        (lists, store_fused): the per-space lists, and the store's own equal-weight DBSF ranking
        of the same request over the indexed spaces (`Registry.indexed`: to check that offline fusion
        reproduces it).
    """
    from tqdm import tqdm

    names = list(spaces or services.registry.get().live_spaces())
    unindexed = set(names) - set(services.registry.get().indexed(names, versions))
    doc_ids = _doc_id_lookup(services)
    lists: Lists = {}
    fused: dict[str, list[str]] = {}
    for qid, text in tqdm(queries.items(), desc="search", unit="q", file=sys.stderr, disable=not progress):
        plan = services.search.plan(SearchRequest(query=text, limit=depth, fields=names, fusion="dbsf",
                                                  weights=dict.fromkeys(unindexed, 0.0), explain=True,
                                                  versions=dict(versions or {}) or None))
        plan = replace(plan, observed=plan.observed + plan.scored, scored=())  # rerank-only: listed by a scan
        result, _ = services.search.run(plan, text)
        lists[qid] = {s: [(doc_ids(h.id), h.score) for h in hits] for s, hits in result.per_space.items()}
        fused[qid] = [doc_ids(h.id, h.payload) for h in result.hits]
    return lists, fused


def _doc_id_lookup(services: Services):  # type: ignore[no-untyped-def]
    """point id -> external id, read from payloads once and cached (hits of per-space lists carry none)."""
    cache: dict[str, str] = {}

    def lookup(pid: str, payload: Mapping | None = None) -> str:
        if pid not in cache:
            if payload and "doc_id" in payload:
                cache[pid] = str(payload["doc_id"])
            else:
                recs = services.store.retrieve(services.registry.alias, [pid])
                cache[pid] = str(recs[0].payload.get("doc_id")) if recs else pid
        return cache[pid]

    _prime(services, cache)
    return lookup


def _prime(services: Services, cache: dict[str, str]) -> None:
    offset = None
    while True:
        points, offset = services.store.scroll(services.registry.alias, filter=None, limit=1024, offset=offset)
        for p in points:
            cache[p.id] = str(p.payload.get("doc_id"))
        if offset is None:
            break


def offline_run(variant: Variant, lists: Lists, sparse: Collection[str], *, depth: int = 100) -> dict[str, list[str]]:
    """The ranking `variant` gives each query, fused from the per-space lists as a served plan fuses them
    (Qdrant's formulas; the lists of the `sparse` spaces, `Registry.sparse`, normalised as complete:
    app.domain.fusion.zero_floors)."""
    run: dict[str, list[str]] = {}
    if variant.scorer is not None:
        return scorer_run(variant.scorer, lists, depth=depth)
    for qid, per_space in lists.items():
        if len(variant.spaces) == 1:
            run[qid] = [d for d, _ in per_space.get(variant.spaces[0], [])][:depth]
            continue
        w, own = variant.weight_map, [per_space.get(s, []) for s in variant.spaces]
        fused = fuse(own, method=variant.fusion, k=variant.rrf_k, weights=[w[s] for s in variant.spaces],
                     depths=zero_floors([s in sparse for s in variant.spaces], own, depth))
        run[qid] = [str(d) for d, _ in fused[:depth]]
    return run


@dataclass
class Latency(Timings):
    """A variant's timings (ms per query) and its real top-k per query id, to compare with the offline fusion;
    `ties`: per query id, a group number per position of `top` (positions with equal scores share one)."""

    top: dict[str, list[str]] = field(default_factory=dict)
    ties: dict[str, list[int]] = field(default_factory=dict)


def measure_latency(services: Services, variants: Sequence[Any], queries: Mapping[str, str], *,
                    limit: int = 10, warmup: int = 3, seed: int = 0) -> dict[str, Latency]:
    """Run each variant's real plan through the search service for each query; time encode + store.

    Variants are interleaved per query in a shuffled order (app.eval.timing). A variant is anything
    with a `name` and `plan_for(services, query, limit)` (a `Variant`, an app.eval.cascade.CascadeVariant);
    one with `fanout` set runs as a fan-out search under the settings' deadlines (app.services.fanout).

    Args:
        queries: query id -> text.
        limit: hits asked for (the top-k kept per query).

    Returns:
        Per variant name: total and store ms per query, and its top `limit` doc ids per query id.
    """
    by_name = {v.name: v for v in variants}
    items = list(queries.items())
    deadlines = services.search.fanout.deadlines(fanout=True, budget_ms=None)

    def call(name: str, item: tuple[str, str]) -> tuple[float, tuple[list[str], list[int]]]:
        text, variant = item[1], by_name[name]
        result, timings = services.search.run(variant.plan_for(services, text, limit), text,
                                              deadlines=deadlines if getattr(variant, "fanout", False) else None)
        return timings["store"], ([str((h.payload or {}).get("doc_id", h.id)) for h in result.hits],
                                  tie_groups([h.score for h in result.hits]))

    run = interleave(list(by_name), items, call, warmup=warmup, seed=seed)
    return {n: Latency(t.total_ms, t.store_ms, top={q: kept[0] for (q, _), kept in zip(items, t.kept, strict=True)},
                       ties={q: kept[1] for (q, _), kept in zip(items, t.kept, strict=True)})
            for n, t in run.plans.items()}


def tie_groups(scores: Sequence[float]) -> list[int]:
    """A group number per position of a ranked list: neighbours with equal scores (to 1e-9) share one.

    Which of two tied hits comes first is the store's choice (its internal order), not the ranking's, so a
    comparison with an offline ranking lets them swap (`agreement`)."""
    out: list[int] = []
    for i, score in enumerate(scores):
        same = i > 0 and math.isclose(score, scores[i - 1], rel_tol=1e-9, abs_tol=1e-12)
        out.append(out[-1] if same else (out[-1] + 1 if out else 0))
    return out


def _in_tie_order(ids: Sequence[str], groups: Sequence[int]) -> list[str]:
    """`ids` with each run of tied positions (`groups`) sorted: the same for any order within ties."""
    out, start = list(ids), 0
    for i in range(1, len(groups) + 1):
        if i == len(groups) or groups[i] != groups[start]:
            out[start:i] = sorted(out[start:i])
            start = i
    return out


def agreement(real: Mapping[str, list[str]], offline: Mapping[str, list[str]], k: int = 10,
              ties: Mapping[str, Sequence[int]] | None = None) -> float:
    """Share of queries whose real top-k equals the offline top-k, in order; with `ties` (`Latency.ties`:
    the real list's tie groups), hits the real search scored equal may come in either order."""
    qids = [q for q in real if q in offline]
    if not qids:
        return float("nan")
    ties = ties or {}

    def same(q: str) -> bool:
        a, b = real[q][:k], offline[q][:k]
        if a == b:
            return True
        groups = list(ties.get(q, ()))[:k]
        return len(groups) == len(a) == len(b) and _in_tie_order(a, groups) == _in_tie_order(b, groups)

    return sum(same(q) for q in qids) / len(qids)


def overlap(real: Mapping[str, list[str]], offline: Mapping[str, list[str]], k: int = 10) -> float:
    """Mean overlap@k (app.domain.metrics.overlap_at_k: over the larger top k) of the queries in both."""
    qids = [q for q in real if q in offline]
    if not qids:
        return float("nan")
    return sum(overlap_at_k(real[q], offline[q], k) for q in qids) / len(qids)


def subset(mapping: Mapping[str, object], keys: Iterable[str]) -> dict:
    """The entries of `mapping` (query id -> anything) whose key is in `keys`, in mapping order."""
    keys = set(keys)
    return {k: v for k, v in mapping.items() if k in keys}
