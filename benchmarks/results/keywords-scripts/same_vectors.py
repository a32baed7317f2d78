"""keywords v4 against v3 on every document and query of a BEIR corpus: how many vectors differ."""
import json, sys, time
from app.domain.text import nfkc
from app.encoders.qdrant_bm25 import japanese_blocks, load
from app.settings import EncoderSettings
v3, v4 = (load(n, EncoderSettings()) for n in ("bm25-multilingual-numbers-en", "bm25-multilingual-scripts-en"))
for ds in sys.argv[1:]:
    docs = [json.loads(l) for l in open(f"{ds}/corpus.jsonl")]
    texts = [nfkc(f"{d.get('title', '')}\n{d['text']}") for d in docs]
    queries = [nfkc(json.loads(l)["text"]) for l in open(f"{ds}/queries.jsonl")]
    t = time.perf_counter(); a = v3.embed(texts); t3 = time.perf_counter() - t
    t = time.perf_counter(); b = v4.embed(texts); t4 = time.perf_counter() - t
    dq = sum(v3.embed_query(q) != v4.embed_query(q) for q in queries)
    print(f"{ds}: {len(texts)} documents, {sum(x != y for x, y in zip(a, b))} vectors differ, "
          f"{sum(japanese_blocks(x) is not None for x in texts)} split; {len(queries)} queries, {dq} differ; "
          f"encode v3 {t3:.1f} s, v4 {t4:.1f} s")
