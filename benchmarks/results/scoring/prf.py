"""Pseudo-relevance feedback with Qdrant's relevance-feedback query (qdrant-edge FeedbackNaiveQuery), measured.

For each judged query: the default plan (DBSF document + body + keywords*1.5) is run as the API runs it;
its top `pos` fused hits are the positive feedback (score 1) and the fused hits at ranks neg..neg+pos-1
the negative (score 0). One more batch request re-searches the feedback spaces with
Query.FeedbackNaive (target = the query's own vector; naive strategy a, b, c; the engine pairs the best
with the worst item), those spaces' lists are replaced and re-fused with the same weights.
Grid of (spaces, c, neg) chosen on the fit share (--fit 0.6 --seed 13 split), reported on the rest;
for a dataset evaluated whole (CISI) the config given is applied to all queries.

    PYTHONPATH=. python benchmarks/results/scoring/prf.py DATASET SPLIT INDEX OUT.json [--fit 0.6] [--config JSON]

A record of the experiment behind docs/evaluation.md (Pseudo-relevance feedback): not part of the service.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import qdrant_edge as qe

from app.corpus import load_beir
from app.domain.documents import point_id
from app.domain.fusion import dbsf
from app.eval.fit import split_queries
from app.eval.index import eval_settings, open_index
from app.eval.metrics import delta_ci, percentile, score_run
from app.services.search import SearchRequest
from app.store.translate import to_vector

p = argparse.ArgumentParser()
for name in ("dataset", "split", "index", "out"):
    p.add_argument(name)
p.add_argument("--fit", type=float, default=0.0)
p.add_argument("--config", default="")
p.add_argument("--max-queries", type=int, default=0)
args = p.parse_args()

ds = load_beir(Path(args.dataset), args.split)
queries = dict(sorted(ds.queries.items()))
if args.max_queries:
    queries = dict(list(queries.items())[: args.max_queries])
qrels = {q: ds.qrels[q] for q in queries}
doc_of = {point_id(d.id): d.id for d in ds.docs}
services = open_index(Path(args.index), settings=eval_settings(Path(args.index)))
store = services.store
edge = getattr(store, "inner", store)
alias = services.registry.alias
WEIGHTS = {"document": 1.0, "body": 1.0, "keywords": 1.5}
POS = 3


def base_plan(text: str):
    return services.search.plan(SearchRequest(query=text, fields=list(WEIGHTS), fusion="dbsf", weights=WEIGHTS,
                                              explain=True, limit=100))


state = {}  # qid -> (vectors, per-space lists (point ids), fused point ids, base store ms)
t_all = time.time()
for qid, text in queries.items():
    plan = base_plan(text)
    vectors = services.search.encode_query(plan, text)
    t0 = time.perf_counter()
    result = store.query(alias, plan, vectors)
    ms = (time.perf_counter() - t0) * 1000
    lists = {s: [(h.id, h.score) for h in hits] for s, hits in result.per_space.items()}
    state[qid] = (plan, vectors, lists, [h.id for h in result.hits], ms)
print(f"baseline {len(state)} queries in {time.time() - t_all:.0f}s")

shard_cache: dict = {}


def feedback_lists(qid: str, spaces: tuple[str, ...], c: float, neg: int, vec_cache: dict) -> tuple[dict, float]:
    plan, vectors, lists, fused, _ = state[qid]
    pos_ids, neg_ids = fused[:POS], fused[neg - 1: neg - 1 + POS]
    names = {sq.space: sq for sq in plan.spaces}
    t0 = time.perf_counter()
    key = (qid, spaces, neg)
    if key not in vec_cache:
        pts = store.retrieve(alias, pos_ids + neg_ids, with_vectors=[names[s].vector_name for s in spaces])
        vec_cache[key] = {p.id: p.vectors for p in pts}
    got = vec_cache[key]
    shard = edge._shard(alias)
    requests = []
    for s in spaces:
        sq = names[s]
        items = [qe.FeedbackItem(to_vector(qe, got[i][sq.vector_name]), 1.0) for i in pos_ids if i in got]
        items += [qe.FeedbackItem(to_vector(qe, got[i][sq.vector_name]), 0.0) for i in neg_ids if i in got]
        target = to_vector(qe, vectors[sq.vector_name])
        fq = qe.FeedbackNaiveQuery([target] if sq.kind == "multi" else target, items,
                                   qe.NaiveFeedbackStrategy(1.0, 1.0, c))
        requests.append(qe.QueryRequest(limit=100, query=qe.Query.FeedbackNaive(fq, using=sq.vector_name),
                                        with_payload=False))
    results = shard.query_batch(qe.QueryBatchRequest(requests))
    ms = (time.perf_counter() - t0) * 1000
    new = dict(lists)
    for s, res in zip(spaces, results, strict=True):
        new[s] = sorted([(str(r.id), float(r.score)) for r in res], key=lambda h: (-h[1], h[0]))
    return new, ms


def run_config(qids, spaces, c, neg, vec_cache):
    run, added = {}, []
    for q in qids:
        new, ms = feedback_lists(q, spaces, c, neg, vec_cache)
        fused = dbsf([new[s] for s in WEIGHTS], weights=list(WEIGHTS.values()))
        run[q] = [doc_of.get(pid, pid) for pid, _ in fused[:100]]
        added.append(ms)
    return run, added


def base_run(qids):
    return {q: [doc_of.get(pid, pid) for pid in state[q][3][:100]] for q in qids}


fit_ids, held_ids = (split_queries(list(queries), fraction=args.fit, seed=13) if args.fit else ([], list(queries)))
out = {"dataset": ds.name, "queries": len(queries), "fit_queries": len(fit_ids), "held_queries": len(held_ids),
       "pos": POS, "grid": []}
vec_cache: dict = {}
if args.config:
    best = json.loads(args.config)
else:
    grid = list(itertools.product([("document",), ("document", "body")], [0.05, 0.1, 0.25, 0.5, 1.0], [10, 50]))
    fit_qrels = {q: qrels[q] for q in fit_ids}
    base_fit = score_run(base_run(fit_ids), fit_qrels)["ndcg@10"]
    for spaces, c, neg in grid:
        run, _ = run_config(fit_ids, spaces, c, neg, vec_cache)
        nd = score_run(run, fit_qrels)["ndcg@10"]
        out["grid"].append({"spaces": spaces, "c": c, "neg": neg, "fit_ndcg@10": nd, "fit_base": base_fit})
        print(spaces, c, neg, round(nd, 4), "base", round(base_fit, 4), flush=True)
    best = max(out["grid"], key=lambda g: g["fit_ndcg@10"])
held_qrels = {q: qrels[q] for q in held_ids}
vec_cache = {}  # time the chosen config with cold vectors (the retrieve is part of its cost)
run, added = run_config(held_ids, tuple(best["spaces"]), best["c"], best["neg"], vec_cache)
base = base_run(held_ids)
base_ms = [state[q][4] for q in held_ids]


out["chosen"] = {"spaces": list(best["spaces"]), "c": best["c"], "neg": best["neg"], "a": 1.0, "b": 1.0}
out["held"] = {"prf": score_run(run, held_qrels), "base": score_run(base, held_qrels),
               "ci_prf_minus_base": delta_ci(run, base, held_qrels, 13),
               "base_store_ms_p50": statistics.median(base_ms), "base_store_ms_p95": percentile(base_ms, 95),
               "added_store_ms_p50": statistics.median(added), "added_store_ms_p95": percentile(added, 95)}
print(json.dumps(out["held"], indent=1))
Path(args.out).write_text(json.dumps(out, indent=1))
services.close()
