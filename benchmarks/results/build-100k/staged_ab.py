"""Ad-hoc: the default cascade's store time with stage 1 fused by the service (today: a sparse list normalised as
complete, app.domain.fusion.zero_floors) against stage 1 fused by the engine in one request (before stop 19: a
`Formula` over one-list DBSF prefetches), interleaved per query with `document` alone; medians of 390 queries
from the bench's generator (seed 7), ms and ratio to `document` alone.

usage (repository root): PYTHONPATH=. .venv/bin/python benchmarks/results/build-100k/staged_ab.py FOLDER
(FOLDER: a `scripts/bench --keep-dir` store, e.g. DIR/synthetic-100000-seed13)     -> staged-ab-s19.txt
"""
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from app.encoders.fastembed_encoder import EncoderPool
from app.eval.bench import plans_for
from app.eval.bench_ingest import open_services
from app.eval.synthetic import SyntheticCorpus
from app.settings import Settings
from app.store import cascade as service_stage_one
from app.store.cascade import CANDIDATES, Among, final_scores, ranked, stage_one
from app.store.edge_query import EdgeTrees, edge_batch
from app.store.types import Hit


def engine_stage_one(plan: Any, batch: Any, retrieve: Any) -> list[Hit]:
    """The staged cascade as it ran before: stage 1 as one engine request (`stage_one`'s tree)."""
    (first,) = batch([(stage_one(plan), plan.candidates, False)])
    candidates = ranked(first)
    ids = tuple(h.id for h in candidates)
    rescored = batch([(Among(ids, s, len(ids)), len(ids), False) for s in plan.rerank])
    stages = {CANDIDATES: candidates} | {s.space: ranked(h) for s, h in zip(plan.rerank, rescored, strict=True)}
    top = final_scores(plan, {n: [(h.id, h.score) for h in hs] for n, hs in stages.items()})[: plan.limit]
    payloads = {p.id: p.payload for p in retrieve([pid for pid, _ in top])}
    return [Hit(id=pid, score=score, payload=payloads.get(pid)) for pid, score in top]


base = Settings()
svc = open_services("edge", Path(sys.argv[1]), EncoderPool(base.models, base.encoders), base)
store, col = svc.store.inner, svc.registry.physical()
shard = store._shard(col)
queries = [SyntheticCorpus(384, seed=7).query() for _ in range(400)]
plans = plans_for(svc, None, "document", ["document", "keywords"])
default, only = plans["default"], plans["only document"]


def vectors(plan: Any, q: dict[str, Any]) -> dict[str, Any]:
    return {s.vector_name: q["sparse"] if s.kind == "sparse" else q["dense"] for s in plan.all_spaces}


times: dict[str, list[float]] = {"document alone": [], "stage 1 by the service": [], "stage 1 by the engine": []}
for q in queries:
    for name in times:
        t0 = time.perf_counter()
        if name == "document alone":
            svc.store.query(svc.registry.alias, only, vectors(only, q))
        else:
            run = service_stage_one.run_staged if name == "stage 1 by the service" else engine_stage_one
            run(default, edge_batch(shard, EdgeTrees(vectors(default, q), None, store._search_params)),
                lambda ids: store.retrieve(col, ids))
        times[name].append((time.perf_counter() - t0) * 1000)
single = statistics.median(times["document alone"][10:])
for name, ms in times.items():
    print(f"{name:24s} {statistics.median(ms[10:]):6.3f} ms  {statistics.median(ms[10:]) / single:5.2f}x")
svc.close()
