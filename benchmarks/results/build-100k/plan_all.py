"""Ad-hoc: plan `all` today (six spaces fused, DBSF) against plan `all` with entities rerank-only
(five spaces fused -> top 100 -> entities rescores, final 5*norm(candidates) + 1*norm(entities)), offline from
each space's own lists on an index where entities still has a graph (the offline cascade reproduces the real
plan: tests/eval/test_evaluate_pipeline.py). Also `fused` and the default cascade, unchanged by the layout.
usage: all_plan.py DATASET SPLIT FIT SEED INDEX"""
import sys
from pathlib import Path
from app.corpus import load_beir
from app.eval.fit import split_queries
from app.eval.index import eval_settings, open_index
from app.eval.metrics import ndcg_per_query, paired_bootstrap_ci
from app.eval.runs import Variant, fetch_lists, offline_run
from app.eval.cascade import CascadeVariant, fetch_rerank_scores, offline_cascade, _template
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import Settings
ds_path, split, fit, seed, index = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
ds = load_beir(ds_path, split)
queries = dict(sorted(ds.queries.items()))
qrels = {q: ds.qrels[q] for q in queries}
held = split_queries(list(queries), fraction=fit, seed=seed)[1] if fit else list(queries)
base = Settings(); enc = EncoderPool(base.models, base.encoders)
svc = open_index(index, settings=eval_settings(index), encoders=enc)
six = ["title", "body", "summary", "entities", "document", "keywords"]
five = [s for s in six if s != "entities"]
lists, _ = fetch_lists(svc, queries, depth=100, spaces=six)
old = offline_run(Variant("all", tuple(six), fusion="dbsf"), lists, depth=100)
scores = fetch_rerank_scores(svc, queries, lists, first=five, rerank=["entities"])
v = CascadeVariant("all, entities rerank-only", first=tuple(five), first_weights=(1.0,) * 5, rerank=("entities",),
                   rerank_weights=(1.0,), candidates=100, candidates_weight=5.0)
new = offline_cascade(v, _template(svc, v), lists, scores)
five_only = offline_run(Variant("five", tuple(five), fusion="dbsf"), lists, depth=100)
svc.close()
per = {"plan all today (six fused)": ndcg_per_query(old, qrels),
       "plan all, entities rerank-only": ndcg_per_query(new, qrels),
       "five fused, no entities": ndcg_per_query(five_only, qrels)}
names = list(per)
for label, qs in (("held-out", held), ("all", list(queries))):
    print(f"## {label} ({len(qs)} queries)")
    for n in names:
        a = [per[n][q] for q in qs]
        line = f"{n:40s} nDCG@10 {sum(a)/len(a):.4f}"
        if n != names[0]:
            b = [per[names[0]][q] for q in qs]
            lo, hi = paired_bootstrap_ci(a, b, seed=seed)
            line += f"  Δ {sum(a)/len(a)-sum(b)/len(b):+.4f} [{lo:+.4f}, {hi:+.4f}]"
        print(line)
