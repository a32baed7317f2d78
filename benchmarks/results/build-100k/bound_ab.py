"""Ad-hoc: the default cascade's store time with `body` bounded in the final formula (max_demotion 0.7, today)
against unbounded, interleaved per query with `document` alone; medians of 390 queries from the bench's
generator (seed 7), ms and ratio to `document` alone.

usage (repository root): PYTHONPATH=. .venv/bin/python benchmarks/results/build-100k/bound_ab.py FOLDER
(FOLDER: a `scripts/bench --keep-dir` store, e.g. DIR/synthetic-100000-seed13)     -> bound-ab-s20.txt
"""
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.encoders.fastembed_encoder import EncoderPool
from app.eval.bench import plans_for
from app.eval.bench_ingest import open_services
from app.eval.synthetic import SyntheticCorpus
from app.settings import Settings

base = Settings()
svc = open_services("edge", Path(sys.argv[1]), EncoderPool(base.models, base.encoders), base)
queries = [SyntheticCorpus(384, seed=7).query() for _ in range(400)]
plans = plans_for(svc, None, "document", ["document", "keywords"])
runs = {"document alone": plans["only document"], "default, bounded (0.7)": plans["default"],
        "default, unbounded": replace(plans["default"], max_demotion=None)}
assert plans["default"].max_demotion == 0.7


def vectors(plan: Any, q: dict[str, Any]) -> dict[str, Any]:
    return {s.vector_name: q["sparse"] if s.kind == "sparse" else q["dense"] for s in plan.all_spaces}


times: dict[str, list[float]] = {name: [] for name in runs}
for q in queries:
    for name, plan in runs.items():
        v = vectors(plan, q)
        t0 = time.perf_counter()
        svc.store.query(svc.registry.alias, plan, v)
        times[name].append((time.perf_counter() - t0) * 1000)
single = statistics.median(times["document alone"][10:])
for name, ms in times.items():
    print(f"{name:24s} {statistics.median(ms[10:]):6.3f} ms  {statistics.median(ms[10:]) / single:5.2f}x")
svc.close()
