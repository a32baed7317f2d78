"""The router section of `scripts/evaluate`: fit a router (`--fit-router`) or read one (`--router FILE`), and
report it beside its candidate plans, the oracle (best plan per query), the default and all spaces fused.

Relevance comes from the per-space lists fused offline (exact: app.eval.runs); the store time of every
plan, and of the router as served (a bare request through the search service, routed from a profile
file), comes from real searches interleaved per query (app.eval.timing). When the router is unsure, the
evaluation runs what the service runs then: its default ranking (the stored ranking profile, else the
settings' default plan), planned by the search service itself (`UNSURE`). A router that scores below that
default ranking on the evaluation queries is not stored (`--save`); router.json records both scores, which
`scripts/evaluate install --router` checks too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from app.container import Services
from app.domain.plan import QueryPlan
from app.domain.query_features import FEATURES, DocFrequencies, feature_vector, query_features
from app.domain.router import QueryRouter, RoutePlan
from app.domain.text import normalize_for
from app.eval.cascade import plan_run
from app.eval.metrics import ndcg_per_query, paired_bootstrap_ci, score_run
from app.eval.router_fit import UNSURE, Table, below_default, build_table, candidate_plans, fit_router, route_all
from app.eval.runs import Lists
from app.eval.timing import interleave
from app.repos.profiles import ProfileRepo
from app.services.plans import plan_names
from app.services.query_router import QueryRouting, routed_request
from app.services.search import SearchRequest


def doc_frequencies(services: Services, space: str = "keywords", *, min_df: int = 2) -> tuple[DocFrequencies, int]:
    """Count the documents holding each term of `space`'s live sparse vectors (scrolled from the store).

    Returns:
        The table (terms held by at least `min_df` documents) and the number of distinct terms seen.
    """
    alias = services.registry.alias
    vector = services.registry.get().live_version(space).name
    counts: Counter[int] = Counter()
    docs, offset = 0, None
    while True:
        points, offset = services.store.scroll(alias, filter=None, limit=512, offset=offset, with_vectors=[vector])
        for p in points:
            v = p.vectors.get(vector)
            if v is not None:
                counts.update(set(getattr(v, "indices", ())))
                docs += 1
        if offset is None:
            break
    return DocFrequencies.from_counts(counts, docs=max(docs, 1), min_df=min_df), len(counts)


def query_terms(services: Services, texts: Mapping[str, str], space: str = "keywords"
                ) -> tuple[dict[str, tuple[int, ...]], float]:
    """Each query's distinct BM25 term ids, as the search encodes it for `space`; and the median
    microseconds that encoding took."""
    version = services.registry.get().live_version(space)
    encoder = services.encoders.get(version.model)
    terms, times = {}, []
    for q, t in texts.items():
        t0 = time.perf_counter()
        terms[q] = tuple(getattr(encoder.embed_query(normalize_for(version.kind, t)), "indices", ()))
        times.append((time.perf_counter() - t0) * 1e6)
    return terms, statistics.median(times) if times else float("nan")


def _rows(table: Table, ids: Sequence[str]) -> np.ndarray:
    pos = {q: i for i, q in enumerate(table.qids)}
    return np.array([pos[q] for q in ids if q in pos], dtype=int)


def _report_rows(table: Table, plans: Sequence[RoutePlan], rows: np.ndarray, routed: Mapping[str, np.ndarray],
                 qrels: Mapping[str, Mapping[str, int]], seed: int) -> list[dict[str, Any]]:
    """One row per plan, per router and for the oracle (each query's best plan, the default ranking included:
    the bound of a routed policy): metrics, spaces per query, nDCG CI vs `all` and vs the default ranking."""
    ids = [table.qids[r] for r in rows]
    judged = {q: qrels[q] for q in ids}
    cost = np.array([p.spaces for p in plans], dtype=float)
    choices = {p.name: np.full(len(rows), i) for i, p in enumerate(plans)}
    choices |= dict(routed)
    choices["oracle"] = np.array([int(np.argmax(table.ndcg[r])) for r in rows], dtype=int)  # UNSURE included
    runs = {n: {q: table.runs[plans[int(c)].name][q] for q, c in zip(ids, ch, strict=True)}
            for n, ch in choices.items()}
    per_q = {n: ndcg_per_query(run, judged) for n, run in runs.items()}
    out = []
    for n, ch in choices.items():
        row: dict[str, Any] = {"name": n, "metrics": score_run(runs[n], judged), "spaces": float(cost[ch].mean()),
                               "plans": dict(Counter(plans[int(c)].name for c in ch))}
        for base in ("all", UNSURE):
            if base in per_q and base != n:
                row[f"ci_vs_{base}"] = list(paired_bootstrap_ci([per_q[n][q] for q in ids],
                                                                [per_q[base][q] for q in ids], seed=seed))
        out.append(row)
    return out


def _latency(services: Services, plans: Sequence[RoutePlan], router: QueryRouter, texts: Mapping[str, str],
             expected: Mapping[str, str], *, seed: int) -> tuple[dict[str, dict[str, float]], float]:
    """Store and total time of every plan and of the router as served; and the share of queries the served
    router routed as the offline evaluation did."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.json"
        path.write_text(json.dumps({"name": router.name, "version": 1, "router": router.to_dict()}))
        search = services.search
        served = search.router
        search.router = QueryRouting(profiles=ProfileRepo(store=services.store, alias=services.registry.alias,
                                                          profile_path=path), encoders=services.encoders)
        by_name = {p.name: p for p in plans}
        agree: list[bool] = []

        def call(name: str, item: tuple[str, str]) -> tuple[float, Any]:
            qid, text = item
            req = SearchRequest(query=text, limit=10)
            cache: dict[tuple[str, str], Any] = {}
            if name == "router":
                plan, ranking = search.plan_ranking(req, cache=cache)
                agree.append(ranking.route is not None and ranking.route.label == expected[qid])
            elif name == UNSURE:  # a bare request, unrouted: the default ranking
                plan = search.plan_ranking(req, use_router=False)[0]
            else:
                plan = search.plan_ranking(routed_request(req, by_name[name]), use_router=False)[0]
            _, t = search.run(plan, text, cache=cache)
            return t["store"], None

        try:
            run = interleave([*by_name, "router"], list(texts.items()), call, seed=seed)
        finally:
            search.router = served
    return {n: t.summary() for n, t in run.plans.items()}, sum(agree) / len(agree) if agree else float("nan")


def _feature_cost(router: QueryRouter, texts: Mapping[str, str], terms: Mapping[str, Sequence[int]]) -> float:
    """Median microseconds to compute a query's features and apply the model (BM25 encoding not included)."""
    times = []
    for q, text in texts.items():
        t0 = time.perf_counter()
        router.model.predict_proba(feature_vector(query_features(text, terms[q], router.dfs), router.model.features))
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times) if times else float("nan")


def named_plans(services: Services) -> list[RoutePlan]:
    """The settings' named plans (app.services.plans), as planned now: spaces, weights, rerank spaces."""
    out = []
    for name in plan_names(services.settings.search):
        plan = services.search.plan_ranking(SearchRequest(query="probe", plan=name), use_router=False)[0]
        out.append(RoutePlan(name, tuple(s.space for s in plan.spaces), plan.fusion,
                             {s.space: s.weight for s in plan.spaces}, plan.rrf_k, named=True,
                             rerank=tuple(s.space for s in plan.rerank)))
    return out


def unsure_plan(services: Services, queries: Mapping[str, str], lists: Lists, *, depth: int
                ) -> tuple[RoutePlan, dict[str, list[str]], str]:
    """What the service runs when the router is unsure (or routes nothing): its default ranking, as the search
    service plans a bare request now (the stored ranking profile when it fits the live versions, with its
    learned scorer when that is its default; else the settings' default plan).

    Returns:
        The plan as a `UNSURE` RoutePlan (its spaces, fusion, weights, k, rerank spaces), its offline run
        (app.eval.cascade.plan_run: fused, learned or a cascade's stages), and what it is, in words.
    """
    s = services.settings.search
    plan, ranking = services.search.plan_ranking(SearchRequest(query="probe"), use_router=False)
    run = plan_run(services, UNSURE, plan, s.plan, queries, lists, depth=depth)[1]
    return _route_plan(plan), run, describe_default(plan, ranking.profile.id if ranking.profile else None, s.plan)


def _route_plan(plan: QueryPlan) -> RoutePlan:
    return RoutePlan(UNSURE, tuple(x.space for x in plan.spaces), plan.fusion, {x.space: x.weight for x in plan.spaces},
                     plan.rrf_k, rerank=tuple(x.space for x in plan.rerank))


def describe_default(plan: QueryPlan, profile: str | None, settings_plan: str) -> str:
    """The default ranking in words: `the ranking profile X (...)` or `the settings' default plan `cascade``."""
    how = "its learned scorer" if plan.scorer is not None else f"{plan.fusion}" + (
        f" k={plan.rrf_k}" if plan.fusion == "rrf" else "")
    if profile:
        return f"the stored ranking profile {profile} ({how})"
    return f"the settings' default plan `{settings_plan}`" + (" (a cascade)" if plan.cascade else f" ({how})")


def router_section(args: argparse.Namespace, services: Services, *, lists: Lists, queries: Mapping[str, str],
                   qrels: Mapping[str, Mapping[str, int]], fit_ids: Sequence[str], held_ids: Sequence[str],
                   runs: Mapping[str, dict[str, list[str]]], live: dict[str, str], name: str,
                   out_dir: Path) -> dict[str, Any]:
    """Fit (`args.fit_router`) or read (`args.router`) a router and report it beside what runs when it is unsure
    (`unsure_plan`); write router.json to `out_dir`. With `args.save` the fitted router, or the one read with
    this index's document frequencies, is stored in the index's ranking profile, unless it scores below the
    default ranking on the evaluation queries (`section["saved"]` or `section["not_saved"]` says which).

    Raises:
        ValueError: too few training queries, or an unknown plan in `args.router_plans`.
    """
    spaces = list(live)
    terms, encode_us = query_terms(services, queries)
    dfs, vocabulary = doc_frequencies(services)
    section: dict[str, Any] = {"features": list(FEATURES)}
    if args.router:
        router = QueryRouter.from_dict(json.loads(Path(args.router).read_text()))
        plans = [p for p in router.plans.values() if p.name != UNSURE]  # what it ran when unsure: re-planned here
        rows_ids, source = list(queries), f"router from {args.router} (fitted on {router.fitted_on})"
    else:
        names = args.router_plans.split(",") if args.router_plans else None
        plans = candidate_plans(spaces, named_plans(services), names)
        rows_ids, source = list(held_ids), "held-out queries"
    if any(p.name == UNSURE for p in plans):
        raise ValueError(f"a router plan is named {UNSURE!r}, the name of what runs when the router is unsure")
    fallback, fallback_run, default_words = unsure_plan(services, queries, lists, depth=args.depth)
    plans.append(fallback)
    given = {p.name: runs[f"plan {p.name}"] for p in plans if p.named and f"plan {p.name}" in runs}
    given[UNSURE] = fallback_run
    if any(p.rerank and p.name not in given for p in plans):
        raise ValueError("a cascade plan's rows need the cascade evaluation (run without --no-cascade)")
    sparse = services.registry.get().sparse()  # their lists are normalised as complete, as served
    table = build_table(plans, lists, qrels, queries, terms, router.dfs if args.router else dfs, given, sparse=sparse)
    unsure = len(plans) - 1
    if not args.router:
        router, cv = fit_router(table, _rows(table, fit_ids), plans, default=UNSURE, seed=args.seed,
                                vector_versions=live, dfs=dfs,
                                name=f"{name}-{args.split}-router-fit{int(args.fit * 100)}-seed{args.seed}",
                                fitted_on={"dataset": name, "split": args.split, "seed": args.seed,
                                           "fraction": args.fit, "default": default_words})
        section["cv"] = cv
    rows = _rows(table, rows_ids)
    routed = {"router": route_all(router, table, plans, rows, unsure=unsure)}
    judged = "router"
    if args.router:  # the same model, with IDF from this collection instead of the one it was fitted on
        local = build_table(plans, lists, qrels, queries, terms, dfs, given, sparse=sparse)
        router = QueryRouter.from_dict({**router.to_dict(), "dfs": dfs.to_dict()})
        routed[judged := "router, this index's DF"] = route_all(router, local, plans, rows, unsure=unsure)
    section["rows"] = _report_rows(table, plans, rows, routed, qrels, args.seed)
    by_row = {r["name"]: r["metrics"]["ndcg@10"] for r in section["rows"]}
    versus = {"queries": len(rows), "default": default_words, "router_ndcg@10": round(by_row[judged], 6),
              "default_ndcg@10": round(by_row[UNSURE], 6)}  # rounded: a stored float reads back the same
    router = replace(router, metrics={**router.metrics, "vs_default": versus})
    section["vs_default"] = versus
    if args.save:
        if below_default(router) is None:
            version = services.search.profiles.save_router(router)  # the repo the search reads (and caches)
            section["saved"] = f"profile:{services.registry.alias} version {version}" + (
                ", this index's DF" if args.router else "")
        else:
            section["not_saved"] = below_default(router)
            print(f"evaluate: router NOT stored: {section['not_saved']}", file=sys.stderr)
    if not args.router:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "router.json").write_text(json.dumps(router.to_dict(), indent=1))
    lat_ids = [table.qids[r] for r in rows][: args.latency_queries or None]
    expected = {table.qids[r]: plans[int(c)].name if float(router.model.predict_proba(table.x[r]).max())
                >= router.threshold else "default" for r, c in zip(rows, routed[judged], strict=True)}
    latency, agreement = _latency(services, plans, router, {q: queries[q] for q in lat_ids}, expected, seed=args.seed)
    for row in section["rows"]:
        row["latency"] = latency.get(row["name"])
    section.update({
        "source": source, "queries": len(rows), "plans": [p.to_dict() for p in plans], "default": default_words,
        "threshold": router.threshold, "model": {k: router.model.to_dict()[k] for k in ("kind", "classes")},
        "metrics": router.metrics, "served_route_agreement": agreement, "latency_queries": len(lat_ids),
        "feature_us_p50": _feature_cost(router, queries, terms), "bm25_encode_us_p50": encode_us,
        "df_table": {"terms": len(dfs.ids), "vocabulary": vocabulary, "docs": dfs.docs, "min_df": dfs.min_df,
                     "json_bytes": len(json.dumps(dfs.to_dict())),
                     "router_json_bytes": len(json.dumps(router.to_dict()))},
    })
    return section

