"""Encode time of keywords v3 and v4 on English paragraphs with a Japanese sentence inside, 3 rounds interleaved."""
import statistics, time
from app.encoders.qdrant_bm25 import load
from app.settings import EncoderSettings
v3, v4 = (load(n, EncoderSettings()) for n in ("bm25-multilingual-numbers-en", "bm25-multilingual-scripts-en"))
en = "The committee reviewed the proposal for the new library building and asked for revised cost estimates. "
texts = [f"{en * 3}The sign said 上野公園の桜が満開です number {i}. {en * 2}" for i in range(2000)]
r = {v3.name: [], v4.name: []}
for _ in range(3):
    for enc in (v3, v4):
        t = time.perf_counter(); enc.embed(texts); r[enc.name].append(time.perf_counter() - t)
for k, v in r.items():
    print(f"{k}: {len(texts) / statistics.median(v):,.0f} docs/s (median of 3; {[round(x, 2) for x in v]} s)")
