"""Ad-hoc: per-query nDCG@10 of named plans on indexes, through the real search service; paired CI vs the first.
usage: paired.py DATASET SPLIT FIT SEED name=INDEX:PLANJSON ...   (PLANJSON: SearchRequest kwargs, e.g. {"plan":"cascade"})"""
import json, sys
from pathlib import Path
from app.corpus import load_beir
from app.eval.fit import split_queries
from app.eval.index import eval_settings, open_index
from app.eval.metrics import ndcg_per_query, paired_bootstrap_ci
from app.encoders.fastembed_encoder import EncoderPool
from app.services.search import SearchRequest
from app.settings import Settings
ds_path, split, fit, seed = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
ds = load_beir(ds_path, split)
queries = dict(sorted(ds.queries.items()))
qrels = {q: ds.qrels[q] for q in queries}
held = split_queries(list(queries), fraction=fit, seed=seed)[1] if fit else list(queries)
base = Settings(); enc = EncoderPool(base.models, base.encoders)
per = {}
for arg in sys.argv[5:]:
    name, _, rest = arg.partition("=")
    index, _, pj = rest.partition(":")
    kw = json.loads(pj) if pj else {}
    svc = open_index(Path(index), settings=eval_settings(Path(index)), encoders=enc)
    try:
        run = {}
        for q, text in queries.items():
            r = svc.search.search(SearchRequest(query=text, limit=10, **kw))
            run[q] = [h["id"] for h in r.hits]
    finally:
        svc.close()
    per[name] = ndcg_per_query(run, qrels)
    print(name, "done", file=sys.stderr)
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
