# ruff: noqa
"""v3 vs v4 on a realistic Japanese corpus with embedded Latin tokens: per query matched terms of the
target doc (q ∩ d / q), rank of the target under BM25 with Qdrant's IDF over the corpus (DOCS + FILLER)."""
import math
from lib import *
from corpus import DOCS, FILLER

def index(enc):
    vecs = [enc.embed([nfkc(t)])[0] for t in [d for d, _ in DOCS] + FILLER]
    df = {}
    for v in vecs:
        for i in v.indices: df[i] = df.get(i, 0) + 1
    N = len(vecs)
    idf = {i: math.log((N - n + 0.5) / (n + 0.5) + 1) for i, n in df.items()}
    return [dict(zip(v.indices, v.values)) for v in vecs], idf

def rank(enc, idx, q, target):
    docs, idf = idx
    qt = q_terms(enc, q)
    scores = [sum(idf.get(i, 0) * d.get(i, 0) for i in qt) for d in docs]
    s = scores[target]
    if s == 0: return None
    return 1 + sum(1 for x in scores if x > s)

I3, I4 = index(V3), index(V4)
changed = sum(0 if same_vec(d) else 1 for d, _ in DOCS)
print(f"docs whose v4 vector differs from v3: {changed}/{len(DOCS)}; filler changed: {sum(0 if same_vec(d) else 1 for d in FILLER)}/{len(FILLER)}")
tot = {"v3": [0, 0, 0, 0.0], "v4": [0, 0, 0, 0.0]}  # matched terms, full containment, found@1, MRR
kinds = ["kana+kanji", "kanji-only", "with Latin"]
perkind = {k: {"v3": [0, 0, 0, 0.0], "v4": [0, 0, 0, 0.0]} for k in kinds}
lost, nq = [], 0
for t, (doc, qs) in enumerate(DOCS):
    print(doc, "| same vector" if same_vec(doc) else "| CHANGED")
    for k, q in zip(kinds, qs):
        nq += 1
        row = []
        for name, enc, idx in (("v3", V3, I3), ("v4", V4, I4)):
            m, n = match(enc, doc, q); r = rank(enc, idx, q, t)
            for acc in (tot[name], perkind[k][name]):
                acc[0] += m; acc[1] += (m == n); acc[2] += (r == 1); acc[3] += (1 / r if r else 0)
            row.append((m, n, r))
        (m3, n3, r3), (m4, n4, r4) = row
        flag = ""
        if m4 < m3 or (r3 and (not r4 or r4 > r3)): flag = "  <-- v4 WORSE"; lost.append((doc, q, row))
        elif m4 > m3 or (r4 and (not r3 or r4 < r3)): flag = "  (v4 better)"
        print(f"   [{k}] {q}: v3 {m3}/{n3} rank {r3}  v4 {m4}/{n4} rank {r4}{flag}")
print(f"\n{nq} queries. totals: matched terms, full containment, target@1, MRR")
for name in ("v3", "v4"):
    a = tot[name]; print(f"  {name}: {a[0]}, {a[1]}, {a[2]}, {a[3]/nq:.3f}")
for k in kinds:
    print(f"  {k}: " + "  ".join(f"{n}: matched {a[0]} full {a[1]} @1 {a[2]} MRR {a[3]/len(DOCS):.3f}" for n, a in perkind[k].items()))
print(f"\nv4 worse on {len(lost)} queries:")
for doc, q, row in lost: print("  ", q, "|", doc[:30], row)
