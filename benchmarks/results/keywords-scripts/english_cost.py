"""keywords v4 against v3 on English text (SciFact: 3,000 documents, every query), 3 rounds interleaved, medians:
what v4 costs text it does not change. usage (repository root): PYTHONPATH=. .venv/bin/python english_cost.py"""
import json, time, statistics
from app.domain.text import nfkc
from app.encoders.qdrant_bm25 import load
from app.settings import EncoderSettings
v3, v4 = (load(n, EncoderSettings()) for n in ("bm25-multilingual-numbers-en", "bm25-multilingual-scripts-en"))
docs = [json.loads(l) for l in open("../shared/datasets/scifact/corpus.jsonl")]
texts = [nfkc(f"{d.get('title','')}\n{d['text']}") for d in docs][:3000]
qs = [nfkc(json.loads(l)["text"]) for l in open("../shared/datasets/scifact/queries.jsonl")]
r = {}
for _ in range(3):
    for e in (v3, v4):
        t = time.perf_counter(); e.embed(texts); d = time.perf_counter() - t
        t = time.perf_counter(); [e.embed_query(q) for q in qs]; q = time.perf_counter() - t
        r.setdefault(e.name, []).append((d, q))
for k, v in r.items():
    print(k, "docs %.3f s" % statistics.median(x for x, _ in v), "queries %.1f us" % (1e6 * statistics.median(y for _, y in v) / len(qs)))
