"""Ad-hoc: the served default plan and `fused` on a dataset's judged queries (nDCG@10) and on 150 rare-word
known-item queries (success@10 and MRR of the documents holding the word).

A rare word: lower-case letters, at least 5, in 1 to 3 documents of the corpus and not a stopword, shuffled
with seed 13; kept when the `keywords` space alone finds 1 to 5 documents for it, which are its relevant ones.

usage (repository root, on an evaluation index such as `scripts/evaluate --index-dir` builds):
    PYTHONPATH=. .venv/bin/python benchmarks/results/rare-terms/served.py INDEX DATASET SPLIT
"""
import random
import re
import statistics
import sys
from pathlib import Path

from app.corpus import load_beir, read_corpus
from app.domain.text import stopwords
from app.eval.index import open_index
from app.eval.metrics import ndcg_per_query
from app.services.search import SearchRequest

index, dataset, split = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
svc = open_index(index)
ds = load_beir(dataset, split)
stop = stopwords()
counts: dict[str, int] = {}
for d in read_corpus(dataset / "corpus.jsonl"):
    for w in set(re.findall(r"[a-z]{5,}", (d.get("title", "") + " " + d.get("text", "")).lower())):
        counts[w] = counts.get(w, 0) + 1
words = sorted(w for w, c in counts.items() if 1 <= c <= 3 and w not in stop)
random.Random(13).shuffle(words)
rare_q, rare_rel = {}, {}
for w in words:
    if len(rare_q) >= 150:
        break
    hits = svc.search.search(SearchRequest(query=w, fields=["keywords"], limit=100)).hits
    if 1 <= len(hits) <= 5:
        rare_q[f"rare-{w}"], rare_rel[f"rare-{w}"] = w, {h["id"] for h in hits}


def run(queries: dict[str, str], plan: str | None) -> dict[str, list[str]]:
    return {q: [h["id"] for h in svc.search.search(SearchRequest(query=t, plan=plan, limit=100)).hits]
            for q, t in queries.items()}


for plan in (None, "fused"):
    judged = run(dict(ds.queries), plan)
    nd = statistics.mean(ndcg_per_query(judged, {q: ds.qrels[q] for q in judged if q in ds.qrels}).values())
    r = run(rare_q, plan)
    s10 = statistics.mean(1.0 if any(d in rare_rel[q] for d in r[q][:10]) else 0.0 for q in r)
    mrr = statistics.mean(next((1 / (i + 1) for i, d in enumerate(r[q]) if d in rare_rel[q]), 0.0) for q in r)
    print(f"{dataset.name} plan={plan or 'default'}: judged nDCG@10 {nd:.4f} ({len(judged)} queries) | "
          f"rare words ({len(r)}): success@10 {s10:.3f}, MRR {mrr:.3f}")
