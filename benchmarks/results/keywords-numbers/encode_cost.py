"""Document and query encoding time, keywords v2 against v3, SciFact corpus and queries, rounds alternated; medians."""
import json, statistics, time, unicodedata
from app.encoders.qdrant_bm25 import load
from app.settings import EncoderSettings
docs = [unicodedata.normalize("NFKC", f"{d.get('title', '')}\n{d['text']}") for d in map(json.loads, open("/work/shared/datasets/scifact/corpus.jsonl"))][:2000]
qs = [unicodedata.normalize("NFKC", json.loads(l)["text"]) for l in open("/work/shared/datasets/scifact/queries.jsonl")]
enc = {"v2": load("bm25-multilingual-en", EncoderSettings()), "v3": load("bm25-multilingual-numbers-en", EncoderSettings())}
t = {(k, w): [] for k in enc for w in ("docs", "queries")}
for _ in range(5):
    for k, e in enc.items():
        s = time.perf_counter(); e.embed(docs); t[k, "docs"].append(time.perf_counter() - s)
        s = time.perf_counter(); [e.embed_query(q) for q in qs]; t[k, "queries"].append(time.perf_counter() - s)
for w, n in (("docs", len(docs)), ("queries", len(qs))):
    a, b = statistics.median(t["v2", w]), statistics.median(t["v3", w])
    print(f"{w}: v2 {n / a:.0f}/s, v3 {n / b:.0f}/s, v3 time / v2 time {b / a:.2f}")
