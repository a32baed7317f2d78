"""Keywords alone, offline (BM25 weights x Qdrant's IDF, exact sparse dot), for variants of the number rule:
v2 (no numbers), v3 (every number), v3 without lone digits, v3 without numbers glued to a letter on their left
(p53, BRCA1). Checks the offline v2/v3 against the store's compare figures, then prints nDCG@10 and the paired
interval of each variant against v3. Usage (repository root, PYTHONPATH=$PWD): python benchmarks/results/keywords-numbers/variants.py DATASET SPLIT"""
import json, math, sys, unicodedata
from collections import Counter, defaultdict
import app.encoders.qdrant_bm25 as qb
from app.eval.metrics import ndcg_per_query, paired_bootstrap_ci
from app.settings import EncoderSettings
from pathlib import Path

ds, split = Path(sys.argv[1]), sys.argv[2]
docs = []
for line in open(ds / "corpus.jsonl"):
    d = json.loads(line)
    docs.append((str(d["_id"]), unicodedata.normalize("NFKC", f"{d.get('title', '')}\n{d['text']}")))
qs = {str(json.loads(l)["_id"]): unicodedata.normalize("NFKC", json.loads(l)["text"]) for l in open(ds / "queries.jsonl")}
qrels = defaultdict(dict)
for i, line in enumerate(open(ds / "qrels" / f"{split}.tsv")):
    p = line.rstrip("\n").split("\t")
    if i == 0 and not p[-1].isdigit():
        continue
    qrels[p[0]][p[1]] = int(p[-1])
qids = [q for q in qs if q in qrels]
orig = qb.number_terms
def no_lone(text): return [t for t in orig(text) if len(t) > len(qb.NUMBER_PREFIX) + 1]
def no_glued(text):
    keep = [m for m in qb.NUMBER.finditer(text) if not (m.start() > 0 and text[m.start() - 1].isalpha()
                                                          and text[m.start() - 1].isascii())]
    return [qb.NUMBER_PREFIX + "".join(qb.SEPARATOR_LETTERS.get(c) or qb.DIGIT_LETTERS[unicodedata.decimal(c)]
                                         for c in m.group()) for m in keep]
variants = {"v2": ("bm25-multilingual-en", orig), "v3": ("bm25-multilingual-numbers-en", orig),
            "v3 no lone digit": ("bm25-multilingual-numbers-en", no_lone),
            "v3 no number glued left (ASCII letter)": ("bm25-multilingual-numbers-en", no_glued)}
runs = {}
for name, (model, fn) in variants.items():
    qb.number_terms = fn
    enc = qb.load(model, EncoderSettings())
    vecs = enc.embed([t for _, t in docs])
    df = Counter(i for v in vecs for i in v.indices)
    n = len(docs)
    idf = {i: math.log(1 + (n - c + 0.5) / (c + 0.5)) for i, c in df.items()}
    post = defaultdict(list)
    for (did, _), v in zip(docs, vecs):
        for i, w in zip(v.indices, v.values):
            post[i].append((did, w))
    run = {}
    for q in qids:
        s = defaultdict(float)
        for i in enc.embed_query(qs[q]).indices:
            for did, w in post.get(i, ()):
                s[did] += idf[i] * w
        run[q] = dict(sorted(s.items(), key=lambda x: (-x[1], x[0]))[:100])
    runs[name] = run
qb.number_terms = orig
per = {k: ndcg_per_query(r, dict(qrels)) for k, r in runs.items()}
base = per["v3"]
for k, p in per.items():
    a = [base[q] for q in qids]; b = [p[q] for q in qids]
    lo, hi = paired_bootstrap_ci(b, a, seed=13) if k != "v3" else (0.0, 0.0)
    print(f"| {k} | {sum(b)/len(b):.4f} | {sum(b)/len(b) - sum(a)/len(a):+.4f} [{lo:+.4f}, {hi:+.4f}] |")
print("queries with a number:", sum(1 for q in qids if orig(qs[q])), "of", len(qids))
