"""`scripts/evaluate`: per-space, fused, ablated and fitted rankings on a BEIR dataset, with latency.

    scripts/evaluate DATASET [--split test] [--index-dir DIR] [--out DIR] [--fit 0.6] [--calibrate]
    scripts/evaluate install --index-dir DIR --profile FILE [--thresholds FILE] [--router FILE]   (into a store)
    scripts/evaluate compare DATASET --index-dir DIR --side NAME=space:version,... (versions side by side)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.eval.args import MAX_COUNT, MAX_DEPTH, MAX_SEED, fraction, number, out_folder, parse_checked, whole
from app.eval.metrics import delta_ci, score_run


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """`scripts/evaluate`'s flags (see --help); argparse exits 2 on a bad one."""
    p = argparse.ArgumentParser(prog="evaluate", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dataset", type=Path, help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    p.add_argument("--split", default="test", help="qrels split (default test)")
    p.add_argument("--index-dir", type=out_folder, help="embedded store folder, built once and reused "
                   "(default /tmp/eval-<dataset>)")
    p.add_argument("--out", type=out_folder, help="report folder (default reports/eval-<dataset>-<split>)")
    p.add_argument("--depth", type=whole(1, MAX_DEPTH), default=100, help="per-space list depth (the prefetch limit)")
    p.add_argument("--latency-queries", type=whole(0, MAX_COUNT), default=100, help="queries timed per plan (0 = all)")
    p.add_argument("--max-queries", type=whole(0, MAX_COUNT), default=0, help="evaluate only this many queries")
    p.add_argument("--fit", type=fraction, default=0.0, metavar="FRACTION",
                   help="fit a ranking profile on this share of the queries, report on the rest")
    p.add_argument("--seed", type=whole(0, MAX_SEED), default=13)
    p.add_argument("--baseline", default="all, equal", help="the plan every other is compared with (the "
                   "paired bootstrap interval of the nDCG@10 difference), e.g. 'API default' (default %(default)r)")
    p.add_argument("--learned-spaces", type=lambda v: v.split(","), metavar="A,B",
                   help="with --fit: the spaces the learned scorer reads (default: those the API default fuses)")
    p.add_argument("--profile", type=Path, action="append", default=[],
                   help="evaluate a saved ranking profile (JSON) as a plan; repeatable")
    p.add_argument("--save", action="store_true",
                   help="store the fitted profile, router (or --router's, recounted here) and thresholds in the "
                        "index's meta (profile:<alias>, thresholds:<alias>); always written as JSON to --out too")
    p.add_argument("--calibrate", action="store_true", help="calibrate similarity thresholds per vector version")
    p.add_argument("--thresholds", type=Path, help="instead of calibrating, show these thresholds' effect here")
    p.add_argument("--beta", type=number(above=0, below=1e6), default=2.0, help="F-beta (beta > 1 favours recall)")
    p.add_argument("--noise-queries", type=Path, help="queries.jsonl of unrelated queries: how often does "
                   "the threshold leave them empty?")
    p.add_argument("--fit-router", action="store_true", help="fit a query router on the --fit share, report it "
                   "on the rest (router.json in --out; --save stores it in the ranking profile)")
    p.add_argument("--router", type=Path, help="evaluate a saved router (router.json) on every judged query")
    p.add_argument("--router-plans", help="the router's candidate plans, comma-separated (default: "
                   "only-keywords,only-document,pair and every named plan)")
    p.add_argument("--batch", type=whole(1, MAX_DEPTH), default=64, help="documents per ingest batch when building")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-cascade", action="store_true", help="leave out the cascade variants and named plans")
    args = parse_checked(p, argv, index_dir=lambda a: Path(f"/tmp/eval-{a.dataset.name}"),
                         out=lambda a: Path(f"reports/eval-{a.dataset.name}-{a.split}"))  # checked too
    if args.fit_router and not args.fit:
        p.error("--fit-router needs --fit FRACTION (the share of the queries it is fitted on)")
    return args


def best_pair(lists: dict, qrels: dict, spaces: Sequence[str]):  # type: ignore[no-untyped-def]
    """The best two-space fusion on these queries (exhaustive: every pair, RRF k=60 and DBSF)."""
    import itertools

    import numpy as np

    from app.eval.fit import build_matrix, objective
    from app.eval.runs import Variant

    m = build_matrix(lists, qrels, spaces)
    best = None
    for a, b in itertools.combinations(range(len(spaces)), 2):
        w = np.zeros(len(spaces))
        w[[a, b]] = 1
        for fusion in ("dbsf", "rrf"):
            v = objective(m, fusion, 60, w)
            if best is None or v > best[0]:
                best = (v, fusion, (spaces[a], spaces[b]))
    assert best is not None
    _, fusion, pair = best
    return Variant(f"best pair ({fusion})", pair, fusion=fusion, group="selected")


def evaluate(args: argparse.Namespace, *, encoders: Any = None) -> dict[str, Any]:
    """Run the whole evaluation; returns {"result": the report document, "out": its folder}.

    Args:
        args: parsed `scripts/evaluate` arguments.
        encoders: an EncoderPool to share (tests); by default the configured models are loaded.

    Returns:
        "result": dataset, verification (shares in [0, 1]), one row per plan with its metrics (means in
        [0, 1]), the 95 % CI of its nDCG@10 difference to `--baseline` ("all, equal" unless given), and
        latency in ms; "out": a Path.

    Raises:
        CorpusError: the dataset, a profile or a thresholds file cannot be read.
        InvalidInput: `--baseline` names no plan of the run.
    """
    from app.corpus import load_beir
    from app.domain.profiles import RankingProfile
    from app.errors import InvalidInput
    from app.eval.cascade import CascadeVariant, cascade_section, plan_run
    from app.eval.fit import best_of, build_matrix, fit_fusion, split_queries
    from app.eval.index import build_index, eval_settings, open_index
    from app.eval.learned import judge_scorer, select_scorer
    from app.eval.runs import (
        Variant,
        agreement,
        fetch_lists,
        measure_latency,
        offline_run,
        overlap,
        standard_variants,
        subset,
    )
    from app.services.search import SearchRequest

    ds = load_beir(args.dataset, args.split)
    queries = dict(sorted(ds.queries.items()))
    if args.max_queries:
        queries = dict(list(queries.items())[: args.max_queries])
    qrels = {q: ds.qrels[q] for q in queries}
    fit_ids, held_ids = split_queries([*queries], fraction=args.fit, seed=args.seed) if args.fit else ([], [*queries])
    if args.fit and (len(fit_ids) < 2 or not held_ids):  # before the index is built, not after
        raise InvalidInput(f"--fit {args.fit:g} leaves {len(fit_ids)} of the {len(queries)} judged queries to fit on "
                           f"and {len(held_ids)} held out: at least 2 and 1 are needed; change --fit")
    index_dir, out_dir = args.index_dir, args.out  # their defaults filled in by parse_args
    settings = eval_settings(index_dir)
    services = open_index(index_dir, settings=settings, encoders=encoders)
    try:
        built = build_index(services, ds.docs, batch=args.batch)
        registry = services.registry.get()
        spaces = registry.live_spaces()
        indexed, sparse = registry.indexed(spaces), registry.sparse()  # what the service fuses; complete lists
        live = {s: registry.live_version(s).name for s in spaces}
        print(f"{ds.name}/{args.split}: {len(ds.docs)} documents, {len(queries)} judged queries, spaces {spaces}",
              file=sys.stderr)
        lists, store_fused = fetch_lists(services, queries, depth=args.depth, spaces=spaces)
        s, unindexed = settings.search, [n for n in spaces if n not in indexed]
        variants = standard_variants(spaces, fusion="dbsf", rrf_k=60, rerank_only=unindexed)
        default_plan, ranking = services.search.plan_ranking(SearchRequest(query="probe"), use_router=False)
        api: Any = (CascadeVariant.from_plan("API default", default_plan, plan_name=s.plan, group="default") if
                    default_plan.cascade else Variant.from_plan("API default", default_plan, group="default",
                                                                 api_default=True))
        api_note = f"API default = {api.label}, {f'profile {ranking.profile.id}' if ranking.profile else s.plan}"
        variants.insert(len(spaces) + 1, api)
        if not default_plan.cascade:  # the same ranking, each space its own request under a deadline
            variants.insert(len(spaces) + 2, Variant.from_plan("API default, fan-out", default_plan, group="default",
                                                               api_default=True, fanout=True))
        # chosen on the fit queries when there are some, so the held-out comparison stays fair
        variants.append(best_pair(subset(lists, fit_ids) if fit_ids else lists, qrels, indexed))
        for path in args.profile:
            prof = RankingProfile.from_dict(json.loads(path.read_text()))
            variants.append(Variant.from_profile(f"profile {prof.id}", prof))
            variants += [Variant.learned(f"profile {prof.id}, learned scorer", sc) for sc in [prof.learned()] if sc]

        fitted: RankingProfile | None = None
        if args.fit:
            result = fit_fusion(build_matrix(subset(lists, fit_ids), qrels, indexed))
            fitted = RankingProfile(
                name=f"{ds.name}-{args.split}-fit{int(args.fit * 100)}-seed{args.seed}", version=1,
                fusion=result.fusion, rrf_k=result.rrf_k, weights=result.weights, vector_versions=live,
                fitted_on={"dataset": ds.name, "split": args.split, "queries": len(fit_ids), "seed": args.seed,
                           "fraction": args.fit, "objective": "mean nDCG@10"},
                metrics={"fit_ndcg@10": round(result.score, 4), "tried": result.tried},
                created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
            variants.append(Variant.from_profile("learned profile", fitted))
            variants.append(Variant.from_profile("tuned weighted DBSF", best_of(fitted, result, "dbsf")))
            selection = select_scorer(subset(lists, fit_ids), qrels, args.learned_spaces or api.spaces, seed=args.seed,
                                      vector_versions=live, depth=args.depth, fitted_on={"dataset": ds.name})
            variants.append(Variant.learned("learned scorer", selection.scorer))

        extra, extra_runs = ([], {}) if args.no_cascade else cascade_section(
            services, queries, qrels, lists, fit_ids, depth=args.depth)
        runs = {v.name: offline_run(v, lists, sparse, depth=args.depth) for v in variants if v is not api} | extra_runs
        # a cascade is ranked by its stages (the cascade section ran the same plan unless --no-cascade)
        runs["API default"] = (default_plan.cascade and extra_runs.get(f"plan {s.plan}")) or plan_run(
            services, "API default", default_plan, s.plan, queries, lists, depth=args.depth)[1]
        variants += extra
        if args.baseline not in runs:
            raise InvalidInput(f"--baseline {args.baseline!r} names no plan; plans: {sorted(runs)}")
        rng = random.Random(args.seed)
        lat_ids = sorted(rng.sample(list(queries), min(len(queries), args.latency_queries or len(queries))))
        lat_queries = {q: queries[q] for q in lat_ids}
        rows: list[dict[str, Any]] = []
        identical: list[float] = []
        overlaps: list[float] = []
        # a row's latency and its match with the service are of the plan its ranking is (none for an exact scan)
        latencies = measure_latency(services, [v for v in variants if not getattr(v, "exact_scan", False)],
                                    lat_queries, seed=args.seed)
        for v in variants:
            lat = latencies.get(v.name)
            same = agreement(lat.top, runs[v.name], ties=lat.ties) if lat else None
            if lat and same is not None:
                identical.append(same)
                overlaps.append(overlap(lat.top, runs[v.name]))
            rows.append({"name": v.name, "group": v.group, "label": v.label, "spaces": list(v.spaces),
                         "fusion": v.fusion if len(v.spaces) > 1 else "none", "rrf_k": v.rrf_k,
                         "weights": v.weight_map, "metrics": score_run(runs[v.name], qrels),
                         "ci_vs_baseline": delta_ci(runs[v.name], runs[args.baseline], qrels, args.seed),
                         "ci_vs_default": delta_ci(runs[v.name], runs["API default"], qrels, args.seed),
                         "latency": lat.summary() if lat else None, "offline_matches_real": same})
            print(f"  {v.name:32s} nDCG@10 {rows[-1]['metrics']['ndcg@10']:.3f}  "
                  f"p50 {lat.summary()['p50_ms'] if lat else float('nan'):.1f} ms", file=sys.stderr)
        dbsf_all = offline_run(Variant("x", tuple(indexed), fusion="dbsf"), lists, sparse, depth=args.depth)
        result_doc: dict[str, Any] = {
            "dataset": {"name": ds.name, "split": args.split, "documents": len(ds.docs), "queries": len(queries),
                        "path": str(args.dataset)},
            "index": built.__dict__, "store": services.store.kind, "depth": args.depth,
            "latency_queries": len(lat_ids), "vector_versions": live, "baseline": args.baseline,
            "verification": {"queries": len(queries), "dbsf_identical_top10": agreement(store_fused, dbsf_all),
                             "dbsf_top10_overlap": overlap(store_fused, dbsf_all),
                             "mean_plan_identical": sum(identical) / len(identical),
                             "mean_plan_overlap": sum(overlaps) / len(overlaps)},
            "plans": rows, "notes": [api_note] + ([] if args.fit or not extra else [
                "cascade formula weights: the settings' `cascade` plan's (no --fit, so nothing is fitted here)"]),
        }
        if fitted is not None:
            held_qrels = {q: qrels[q] for q in held_ids}
            fit_qrels = {q: qrels[q] for q in fit_ids}
            fitted = RankingProfile.from_dict({**fitted.to_dict(), "metrics": {
                **fitted.metrics, "fit": score_run(runs["learned profile"], fit_qrels),
                "holdout": score_run(runs["learned profile"], held_qrels), "holdout_queries": len(held_ids)}})
            result_doc["learned"] = judge_scorer(selection, runs, held_qrels, seed=args.seed,
                                                 against=("learned profile", "tuned weighted DBSF", "API default"))
            fitted = RankingProfile.from_dict({**fitted.to_dict(), "scorer": result_doc["learned"]["scorer"]})
            if args.save:
                fitted = services.search.profiles.save_profile(fitted)  # the repo the search reads (and caches)
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "profile.json").write_text(json.dumps(fitted.to_dict(), indent=1))
            result_doc["profile"] = fitted.to_dict()
            result_doc["holdout"] = {
                "queries": len(held_ids), "fit_queries": len(fit_ids),
                "plans": [{**r, "metrics": score_run(runs[r["name"]], held_qrels), "latency": None,
                           "ci_vs_baseline": delta_ci(runs[r["name"]], runs[args.baseline], held_qrels,
                                                      args.seed),
                           "ci_vs_default": delta_ci(runs[r["name"]], runs["API default"], held_qrels, args.seed)}
                          for r in rows],
            }
        if args.calibrate or args.thresholds:
            # what the thresholds are shown on: the fitted profile, else a given one, else all spaces equal
            by_pref = sorted(variants, key=lambda v: (v.name != "learned profile", v.group != "profile",
                                                      v.name != "all, equal"))
            plan = by_pref[0]
            from app.eval.thresholds_eval import thresholds_section

            result_doc["thresholds"] = thresholds_section(
                args, services, lists, qrels, live, calibrate_ids=fit_ids or list(queries), report_ids=held_ids,
                runs=runs, plan=plan, name=ds.name)
        if args.fit_router or args.router:
            from app.eval.router_eval import router_section

            result_doc["router"] = router_section(args, services, lists=lists, queries=queries, qrels=qrels,
                                                  fit_ids=fit_ids, held_ids=held_ids, runs=runs, live=live,
                                                  name=ds.name, out_dir=out_dir)
        return {"result": result_doc, "out": out_dir}
    finally:
        services.close()


def main(argv: Sequence[str] | None = None) -> None:
    """`scripts/evaluate`: the report on stdout, files under --out.

    Raises:
        SystemExit: a corpus, query or judgement file that is missing or cannot be read, or a
            `--baseline` that names no plan (exit status 1, saying why).
    """
    from app.errors import InvalidInput

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _main(argv)
    except InvalidInput as e:  # CorpusError included
        raise SystemExit(e.message) from None


def _main(argv: list[str]) -> None:
    if argv and argv[0] == "install":
        from app.eval.install import install

        install(argv[1:])
        return
    if argv and argv[0] == "compare":
        from app.eval import compare

        compare.main(argv[1:])
        return
    args = parse_args(argv)
    from app.eval.report import markdown, write

    done = evaluate(args)
    paths = write(done["result"], done["out"], with_plot=not args.no_plot)
    print(markdown(done["result"]))
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)


if __name__ == "__main__":
    main()
