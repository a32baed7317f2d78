"""`scripts/bench`: what the extra embedding spaces cost, measured.

1. Ingest: documents/s through the whole pipeline (derive fields, encode six spaces, write) on each
   store adapter, against the bare encoder embedding the same texts once (a one-vector index).
2. Search: one space against every space fused, as a latency ratio measured in the same run
   (plans interleaved per query), at the evaluation corpus' size (real vectors) and at a synthetic
   size (clustered random vectors of the same dimensions and kinds, written straight into the store:
   embedding 100,000 documents with the real model would take hours on 2 cores).

No timing assertions anywhere: these are figures to read, written as markdown and JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.container import Services, build_services
from app.domain.plan import Filter, QueryPlan, build_plan
from app.encoders.fastembed_encoder import EncoderPool
from app.eval.args import MAX_COUNT, MAX_SEED, number, out_folder, parse_checked, sizes, whole
from app.eval.bench_ingest import bench_encoding_modes, bench_ingest, modes_markdown, open_services
from app.eval.bench_report import markdown, memory_skip_reason, service_markdown
from app.eval.bench_service import bench_service_load
from app.eval.index import PeakAnon, eval_settings, peak_rss_mb, warm_page_cache
from app.eval.synthetic import SyntheticCorpus
from app.eval.timing import interleave
from app.services.fanout import Deadlines
from app.services.plans import plan_names
from app.services.search import SearchRequest
from app.settings import Settings
from app.store.base import PointWrite


def machine() -> dict[str, Any]:
    """Where the figures were measured: CPU count, 1-minute load average, Python, platform, UTC date."""
    return {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
            "platform": platform.platform(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


# -- 2. search ---------------------------------------------------------------------------------
FANOUT = ", fan-out"  # a plan name ending so is run as a fan-out search (app.services.fanout), not one batch


def plans_for(svc: Services, profile_variant: Mapping[str, Any] | None, single: str,
              subset: Sequence[str] = ()) -> dict[str, QueryPlan]:
    """One space alone; every space fused (DBSF and RRF, equal weights); `subset` fused (DBSF);
    the profile's plan; the default plan (as a bare search plans it) in batch and in fan-out; and every
    named plan from settings (`plan <name>`, cascades included); each cascade also the other way
    (`, nested` or `, staged`: app.store.cascade)."""
    reg = svc.registry.get()
    spaces = reg.live_spaces()
    common: dict[str, Any] = {"limit": 10, "prefetch_limit": svc.settings.search.prefetch_limit, "filter": Filter()}
    plans = {
        f"only {single}": build_plan(reg, fields=[single], fusion="dbsf", rrf_k=60, weights={}, **common),
        "all fused, dbsf": build_plan(reg, fields=spaces, fusion="dbsf", rrf_k=60, weights={}, **common),
        "all fused, rrf": build_plan(reg, fields=spaces, fusion="rrf", rrf_k=60, weights={}, **common),
    }
    if len(subset) > 1 and set(subset) <= set(spaces):
        plans[" + ".join(subset) + ", dbsf"] = build_plan(reg, fields=list(subset), fusion="dbsf", rrf_k=60,
                                                          weights={}, **common)
    if profile_variant:
        p = profile_variant
        plans[f"profile {p['name']}"] = build_plan(reg, fields=[s for s, w in p["weights"].items() if w > 0],
                                                   fusion=p["fusion"], rrf_k=p["rrf_k"], weights=p["weights"],
                                                   **common)
    plans["default"] = plans["default" + FANOUT] = svc.search.plan(SearchRequest(query="", limit=10))
    for name in plan_names(svc.settings.search):
        plans[f"plan {name}"] = svc.search.plan(SearchRequest(query="probe", plan=name, limit=10))
    for name, plan in list(plans.items()):  # each cascade both ways (search.cascade_requests)
        if plan.cascade and not name.endswith(FANOUT):
            plans[f"{name}, {'nested' if plan.staged else 'staged'}"] = replace(plan, staged=not plan.staged)
    return plans


def time_plans(svc: Services, plans: Mapping[str, QueryPlan], queries: Sequence[Any],
               *, encode: Callable[[QueryPlan, Any], dict[str, Any]], seed: int = 0,
               budget_s: float | None = None) -> dict[str, Any]:
    """Store latency (and encode + store) per plan, through app.eval.timing's interleaved harness.

    Args:
        queries: per query, whatever `encode(plan, query)` needs to make the plan's vectors.
        encode: the plan's vectors for a query (the real encoders, or synthetic vectors).
        budget_s: stop early (and say so) once this many seconds went by.

    Plans named `... , fan-out` run as fan-out searches under the largest budget settings allow (so a
    space misses only when it stalls); how many answers lacked a space is reported as `degraded`.

    Returns:
        {"queries": timed, "plans": {name: store / total p50 and p95 in ms, ratios to the single space}},
        and a "note" when the budget cut it short.
    """
    deadlines = Deadlines(budget_ms=svc.settings.search.max_budget_ms)

    def call(name: str, q: Any) -> tuple[float, int]:
        vectors = encode(plans[name], q)
        t0 = time.perf_counter()
        if name.endswith(FANOUT):
            missed = len(svc.search.fanout.run(svc.store, svc.registry.alias, plans[name], vectors, deadlines).degraded)
        else:
            svc.store.query(svc.registry.alias, plans[name], vectors)
            missed = 0
        return (time.perf_counter() - t0) * 1000, missed

    run = interleave(list(plans), queries, call, warmup=2, seed=seed, budget_s=budget_s)
    out: dict[str, Any] = {"queries": run.queries, "plans": {}}
    if run.queries < len(queries):
        out["note"] = f"stopped after {run.queries} of {len(queries)} queries: over the {budget_s:.0f} s budget"
    for n, t in run.plans.items():
        x = t.summary()
        out["plans"][n] = {"store_p50_ms": x["store_p50_ms"], "store_p95_ms": x["store_p95_ms"],
                           "total_p50_ms": x["p50_ms"], "total_p95_ms": x["p95_ms"]}
        if n.endswith(FANOUT):
            out["plans"][n]["degraded"] = sum(1 for missed in t.kept if missed)
    single = next(n for n in plans if n.startswith("only "))
    for n in plans:
        if n != single:
            out["plans"][n]["ratio_store_p50_vs_single"] = (out["plans"][n]["store_p50_ms"]
                                                            / out["plans"][single]["store_p50_ms"])
            out["plans"][n]["ratio_total_p50_vs_single"] = (out["plans"][n]["total_p50_ms"]
                                                            / out["plans"][single]["total_p50_ms"])
    return out


def copy_points(src: Services, dst: Services, *, batch: int = 256) -> int:
    """Every point of `src` (vectors and payload) into `dst`, without encoding anything again."""
    names = list(src.store.vector_specs(src.registry.physical()))
    offset, n = None, 0
    while True:
        points, offset = src.store.scroll(src.registry.alias, filter=None, limit=batch, offset=offset,
                                          with_vectors=names)
        dst.store.upsert(dst.registry.alias, [PointWrite(p.id, p.vectors, p.payload) for p in points])
        n += len(points)
        if offset is None:
            return n


def bench_real(index_dir: Path, queries: Sequence[str], encoders: EncoderPool, base: Settings,
               kinds: Sequence[str], *, single: str, profile: Mapping[str, Any] | None,
               budget_s: float | None = None, subset: Sequence[str] = ()) -> dict[str, Any]:
    """Latency at the evaluation corpus' size, real vectors (the memory store gets a copy of them)."""
    src = build_services(eval_settings(index_dir, base), encoders=encoders)
    out: dict[str, Any] = {"index": str(index_dir), "documents": src.store.count(src.registry.alias)}

    def encode(plan: QueryPlan, text: str) -> dict[str, Any]:
        return src.search.encode_query(plan, text)

    try:
        for kind in kinds:
            if kind == "edge":
                svc = src
            else:
                svc = open_services(kind, Path(tempfile.mkdtemp(prefix="bench-copy-")), encoders, base)
                t0 = time.perf_counter()
                copy_points(src, svc)
                out[f"copy_to_{kind}_s"] = time.perf_counter() - t0
            try:
                out[kind] = time_plans(svc, plans_for(svc, profile, single, subset), list(queries), encode=encode,
                                       budget_s=budget_s)
            finally:
                if svc is not src:
                    svc.close()
    finally:
        src.close()
    return out


def bench_synthetic(size: int, kind: str, encoders: EncoderPool, base: Settings, *, queries: int, single: str,
                    profile: Mapping[str, Any] | None, seed: int, budget_s: float, batch: int = 500,
                    folder: Path | None = None, subset: Sequence[str] = ()) -> dict[str, Any]:
    """Write `size` random documents straight into a fresh store, build its index, time the plans."""
    own = folder is None
    folder = folder or Path(tempfile.mkdtemp(prefix=f"bench-syn-{kind}-"))
    svc = open_services(kind, folder, encoders, base)
    out: dict[str, Any] = {"documents": size, "store": kind, "folder": str(folder) if not own else None}
    try:
        versions = svc.registry.get().written_versions()
        corpus = SyntheticCorpus(next(v.dim or 0 for v in versions if v.kind == "dense"), seed=seed)
        present = svc.store.count(svc.registry.alias)
        from tqdm import tqdm

        bar = tqdm(total=size, initial=min(present, size), unit="doc", desc=f"synthetic {kind}", file=sys.stderr)
        gen = write = write_cpu = 0.0  # write: the store's calls alone, not generating the points
        with PeakAnon() as anon:
            for start in range(present, size, batch):
                t0 = time.perf_counter()
                pts = corpus.points(versions, start, min(batch, size - start))
                t1, c1 = time.perf_counter(), time.process_time()
                svc.store.upsert(svc.registry.alias, pts)
                gen, write = gen + t1 - t0, write + time.perf_counter() - t1
                write_cpu += time.process_time() - c1
                bar.update(len(pts))
            bar.close()
            out["generate_s"], out["write_s"], out["write_cpu_s"] = gen, write, write_cpu
            if present:
                out["reused_points"] = present  # write and optimise times then cover only the rest
            t0, c0 = time.perf_counter(), time.process_time()
            svc.store.optimize(svc.registry.physical())
        # wall time depends on what else the machine runs; CPU time (all threads) much less so
        out["optimize_s"], out["optimize_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        out["build_peak_rss_mb"], out["build_peak_anon_mb"] = peak_rss_mb(), anon.mb
        out["count"] = svc.store.count(svc.registry.alias)
        qs = [corpus.query() for _ in range(queries)]
        if kind == "edge":
            out["page_cache_mb"] = warm_page_cache(folder)

        def encode(plan: QueryPlan, q: dict[str, Any]) -> dict[str, Any]:
            return {s.vector_name: q["sparse"] if s.kind == "sparse" else q["dense"] for s in plan.all_spaces}

        out.update(time_plans(svc, plans_for(svc, profile, single, subset), qs, encode=encode, seed=seed,
                              budget_s=budget_s))
        out["peak_rss_mb"] = peak_rss_mb()
    finally:
        svc.close()
        if own and kind == "edge":
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    return out


def _extras_markdown(res: Mapping[str, Any]) -> str:
    """The encoding modes' and the service load's tables, those that were run."""
    parts = [modes_markdown(res["encoding_modes"])] if "encoding_modes" in res else []
    parts += [service_markdown(res["service_load"])] if "service_load" in res else []
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    """`scripts/bench`: figures on stdout and in --out (bench.md, bench.json).

    Raises:
        SystemExit: the dataset cannot be read (saying why).
    """
    from app.corpus import CorpusError

    try:
        _main(argv)
    except CorpusError as e:
        raise SystemExit(e.message) from None


def _main(argv: Sequence[str] | None) -> None:
    p = argparse.ArgumentParser(prog="bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", type=Path, default=Path("../shared/datasets/scifact"),
                   help="BEIR folder: its documents for ingest, its queries for search")
    p.add_argument("--index-dir", type=Path, help="that dataset's evaluation index (scripts/evaluate builds it; "
                   "default /tmp/eval-<dataset>)")
    p.add_argument("--stores", default="edge,memory")
    p.add_argument("--ingest-docs", type=whole(0, MAX_COUNT), default=200,
                   help="real documents for the ingest bench (0 = skip)")
    p.add_argument("--queries", type=whole(1, MAX_COUNT), default=100)
    p.add_argument("--single", default="document", help="the one space to compare against all fused")
    p.add_argument("--profile", type=Path, help="also time this ranking profile's plan (JSON)")
    p.add_argument("--subset", default="document,keywords", help="also time these spaces fused (DBSF)")
    p.add_argument("--synthetic", type=sizes, default="100000", help="synthetic sizes, comma separated ('' = skip)")
    p.add_argument("--memory-max", type=whole(0, MAX_COUNT), default=20_000,
                   help="largest synthetic size tried on the in-memory client (brute force, python)")
    p.add_argument("--budget", type=number(above=0, below=1e6), default=300.0,
                   help="most seconds of querying per store and size")
    p.add_argument("--modes", default="separate,shared",
                   help="encoding modes to time against the bare encoder ('' = skip)")
    p.add_argument("--modes-only", action="store_true", help="time the encoding modes only, then stop")
    p.add_argument("--rounds", type=whole(1, 1000), default=3, help="interleaved rounds of the encoding-mode timing")
    p.add_argument("--service-load", action="store_true", help="also start the service on an empty embedded "
                   "store, load --dataset into it through scripts/load's command and report the server's "
                   "peak RSS (slow: the whole corpus is ingested)")
    p.add_argument("--service-port", type=whole(1, 65535), default=8765, help="loopback port for --service-load")
    p.add_argument("--service-limit", type=whole(0, MAX_COUNT), default=0,
                   help="documents loaded by --service-load (0 = all)")
    p.add_argument("--service-data-dir", type=out_folder,
                   help="--service-load into this store folder (an index's copy)")
    p.add_argument("--skip-real", action="store_true")
    p.add_argument("--keep-dir", type=out_folder, help="keep the synthetic edge stores under this folder and reuse "
                   "them on the next run (the 100,000 index takes minutes to write and optimise)")
    p.add_argument("--seed", type=whole(0, MAX_SEED), default=13)
    p.add_argument("--out", type=out_folder, default=Path("benchmarks/results"))
    args = parse_checked(p, sys.argv[1:] if argv is None else argv)

    from app.corpus import load_beir

    base = Settings()
    encoders = EncoderPool(base.models, base.encoders)
    kinds = [k for k in args.stores.split(",") if k]
    # a synthetic-only run (--skip-real --ingest-docs 0 --modes '') needs no dataset
    needs_data = args.ingest_docs or not args.skip_real or args.service_load
    ds = load_beir(args.dataset, "train" if (args.dataset / "qrels" / "train.tsv").exists() else "test") \
        if needs_data else None
    profile = json.loads(args.profile.read_text()) if args.profile else None
    subset = [x for x in args.subset.split(",") if x]
    res: dict[str, Any] = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}, "search": {}}
    rng = random.Random(args.seed)
    modes = [m for m in args.modes.split(",") if m]
    if ds and args.ingest_docs and modes:
        docs = rng.sample(ds.docs, min(args.ingest_docs, len(ds.docs)))
        res["encoding_modes"] = bench_encoding_modes(docs, encoders, base, modes, rounds=args.rounds)
        print(modes_markdown(res["encoding_modes"]), file=sys.stderr)
    if args.service_load:
        res["service_load"] = bench_service_load(args.dataset, port=args.service_port, data_dir=args.service_data_dir,
                                                 limit=args.service_limit or None)
        print(service_markdown(res["service_load"]), file=sys.stderr)
    if args.modes_only:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench-modes.json").write_text(json.dumps(res, indent=1, default=str))
        (args.out / "bench-modes.md").write_text(_extras_markdown(res))
        return
    if ds and args.ingest_docs:
        docs = rng.sample(ds.docs, min(args.ingest_docs, len(ds.docs)))
        res["ingest"] = bench_ingest(docs, encoders, base, kinds)
        print(markdown(res), file=sys.stderr)
    if ds and not args.skip_real:
        queries = [ds.queries[q] for q in sorted(ds.queries)][: args.queries]
        index_dir = args.index_dir or Path(f"/tmp/eval-{ds.name}")
        real = bench_real(index_dir, queries, encoders, base, kinds, single=args.single, profile=profile,
                          budget_s=args.budget, subset=subset)
        for kind in kinds:
            res["search"][f"{ds.name} ({real['documents']} documents, real vectors), {kind}"] = {
                **real[kind], **({"copy_s": real[f"copy_to_{kind}_s"]} if f"copy_to_{kind}_s" in real else {})}
        print(markdown(res), file=sys.stderr)
    for size in args.synthetic:
        for kind in kinds:
            title = f"{size} synthetic documents (clustered random vectors), {kind}"
            if kind == "memory" and size > args.memory_max:
                res["search"][title] = {"skipped": memory_skip_reason(res, size, args.memory_max)}
                continue
            keep = args.keep_dir / f"synthetic-{size}-seed{args.seed}" if args.keep_dir and kind == "edge" else None
            res["search"][title] = bench_synthetic(size, kind, encoders, base, queries=args.queries,
                                                   single=args.single, profile=profile, seed=args.seed,
                                                   budget_s=args.budget, subset=subset, folder=keep)
            print(markdown(res), file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(res, indent=1, default=str))
    (args.out / "bench.md").write_text(markdown(res) + "\n" + _extras_markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
