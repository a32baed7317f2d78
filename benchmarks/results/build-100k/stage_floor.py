"""Ad-hoc: what each part of a search costs in qdrant-edge itself (no service code around it), on a built
100,000-document synthetic store, with 300 queries from the bench's own generator (app.eval.synthetic, seed 99);
median of 600 timings (two rounds) per row, in ms. Candidates for the has-id rows: each query's `document` top 100.

usage (repository root): PYTHONPATH=. .venv/bin/python benchmarks/results/build-100k/stage_floor.py FOLDER
(FOLDER: a `scripts/bench --keep-dir` store, e.g. DIR/synthetic-100000-seed13)   -> stage-floor-s19.txt
"""
import statistics
import sys
import time
from pathlib import Path

import qdrant_edge as qe

from app.encoders.fastembed_encoder import EncoderPool
from app.eval.bench_ingest import open_services
from app.eval.synthetic import SyntheticCorpus
from app.services.search import SearchRequest
from app.settings import Settings
from app.store.translate import to_vector

base = Settings()
svc = open_services("edge", Path(sys.argv[1]), EncoderPool(base.models, base.encoders), base)
store = svc.store.inner
shard = store._shard(svc.registry.physical())
names = {s.space: s.vector_name for s in svc.search.plan(SearchRequest(query="x", plan="all")).all_spaces}
D, K, B = names["document"], names["keywords"], names["body"]
queries = [SyntheticCorpus(384, seed=99).query() for _ in range(300)]
dense = [to_vector(qe, q["dense"]) for q in queries]
sparse = [to_vector(qe, q["sparse"]) for q in queries]
top100 = [[p.id for p in shard.query(qe.QueryRequest(limit=100, query=qe.Query.Nearest(v, using=D)))] for v in dense]


def nearest(i, using, limit, payload=False):
    vec = sparse[i] if using == K else [dense[i]] if using == B else dense[i]
    return qe.QueryRequest(limit=limit, query=qe.Query.Nearest(vec, using=using), with_payload=payload)


def prefetch(i, using):
    return qe.Prefetch(limit=100, query=qe.Query.Nearest(sparse[i] if using == K else dense[i], using=using))


def among(i, using, n, as_strings):
    ids = [str(x) for x in top100[i][:n]] if as_strings else top100[i][:n]
    vec = sparse[i] if using == K else [dense[i]] if using == B else dense[i]
    return qe.QueryRequest(limit=n, query=qe.Query.Nearest(vec, using=using), with_payload=False,
                           filter=qe.Filter(must=[qe.HasIdCondition(set(ids))]))


def weighted_dbsf(i, limit, payload):
    norm = [qe.Prefetch(limit=100, query=qe.Fusion.Dbsf(), prefetches=[prefetch(i, u)]) for u in (D, K)]
    terms = [qe.Expression.Mult([qe.Expression.Constant(w), qe.Expression.Variable(f"$score[{j}]")])
             for j, w in enumerate((1.0, 1.5))]
    return qe.QueryRequest(limit=limit, prefetches=norm, with_payload=payload,
                           query=qe.Formula(qe.Expression.Sum(terms), defaults={"$score[0]": 0.0, "$score[1]": 0.0}))


ROWS = {
    "document top 10, payload (one dense space, as `only document` asks)":
        lambda i: shard.query(nearest(i, D, 10, True)),
    "document top 10": lambda i: shard.query(nearest(i, D, 10)),
    "document top 100": lambda i: shard.query(nearest(i, D, 100)),
    "keywords top 100": lambda i: shard.query(nearest(i, K, 100)),
    "document + keywords, native DBSF, top 10, payload": lambda i: shard.query(qe.QueryRequest(
        limit=10, prefetches=[prefetch(i, D), prefetch(i, K)], query=qe.Fusion.Dbsf(), with_payload=True)),
    "document + keywords x1.5, weighted DBSF (formula), top 100 (the default's stage 1)":
        lambda i: shard.query(weighted_dbsf(i, 100, False)),
    "document + keywords x1.5, weighted DBSF (formula), top 10, payload":
        lambda i: shard.query(weighted_dbsf(i, 10, True)),
    "body: score 100 listed ids (has-id from strings, as the service sends)":
        lambda i: shard.query(among(i, B, 100, True)),
    "body: score 100 listed ids (has-id from the engine's ids)": lambda i: shard.query(among(i, B, 100, False)),
    "body: score 10 listed ids (engine's ids)": lambda i: shard.query(among(i, B, 10, False)),
    "keywords: score 100 listed ids (engine's ids)": lambda i: shard.query(among(i, K, 100, False)),
    "retrieve 10 payloads": lambda i: shard.retrieve([str(x) for x in top100[i][:10]], with_payload=True,
                                                     with_vector=False),
}
print(f"# {sys.argv[1]}: {svc.store.count(svc.registry.alias)} points; store p50 of the service's own plans: "
      "benchmarks/results/build-100k/default-layout-s19.md")
first = None
for name, fn in ROWS.items():
    times = []
    for _ in range(2):
        for i in range(len(queries)):
            t0 = time.perf_counter()
            fn(i)
            times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    first = first or ms
    print(f"{ms:7.3f} ms  {ms / first:5.2f}x  {name}")
svc.close()
