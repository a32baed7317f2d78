"""Ad-hoc: raw qdrant-edge timings on a built 100,000-document shard (random query vectors, medians of 60):
one HNSW search of `document` (top 100), and scoring 100 / 30 / 10 listed ids (has-id filter) in a rerank-only
space (`body` multivector, `title` dense). usage: python engine_floor.py SHARD_FOLDER"""
import time, statistics, sys, numpy as np, qdrant_edge as qe
path = sys.argv[1]
sh = qe.EdgeShard.load(path)
info = sh.info() if hasattr(sh, "info") else None
print(info)
rng = np.random.default_rng(0)
pts = sh.scroll(qe.ScrollRequest(limit=5, with_vector=True, with_payload=False))
p0 = pts[0][0] if isinstance(pts, tuple) else pts[0]
print({k: (type(v), (len(v) if hasattr(v,'__len__') else v)) for k, v in p0.vector.items()})
names = {k: k for k in p0.vector}
def vn(prefix): return [k for k in p0.vector if k.startswith(prefix)][0]
D, B, T, K = vn("document"), vn("body"), vn("title"), vn("keywords")
def q(): 
    v = rng.normal(size=384).astype(np.float32); v /= np.linalg.norm(v); return v.tolist()
def t(f, n=60):
    ts = []
    for _ in range(n):
        a = time.perf_counter(); f(); ts.append((time.perf_counter() - a) * 1000)
    return round(statistics.median(ts), 3)
qv = q()
top = sh.query(qe.QueryRequest(limit=100, query=qe.Query.Nearest(qv, using=D), with_payload=False))
ids = [p.id for p in top]
print("id type", type(ids[0]), ids[0])
for n in (100, 30, 10):
    f = qe.Filter(must=[qe.HasIdCondition(set(ids[:n]))])
    print(n, "doc nearest", t(lambda: sh.query(qe.QueryRequest(limit=100, query=qe.Query.Nearest(q(), using=D), with_payload=False))),
          "body among", t(lambda: sh.query(qe.QueryRequest(limit=n, query=qe.Query.Nearest([q()], using=B), filter=f, with_payload=False))),
          "title among", t(lambda: sh.query(qe.QueryRequest(limit=n, query=qe.Query.Nearest(q(), using=T), filter=f, with_payload=False))),
          "nested doc->body", t(lambda: sh.query(qe.QueryRequest(limit=10, prefetches=[qe.Prefetch(limit=n, query=qe.Query.Nearest(q(), using=D))], query=qe.Query.Nearest([q()], using=B), with_payload=False))),
          "retrieve body", t(lambda: sh.retrieve(list(ids[:n]), with_payload=False, with_vector=[B]) if True else None),
          )
