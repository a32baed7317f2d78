"""Document-first cascades evaluated offline from exact stage scores; weights grid-fitted on the fit split."""
import itertools, pickle, sys
import numpy as np
from app.domain.fusion import dbsf_normalize, fuse
from app.eval.fit import split_queries
from app.eval.metrics import ndcg_per_query, paired_bootstrap_ci, per_query

d = pickle.load(open(sys.argv[1], "rb"))
lists, stages, qrels = d["lists"], d["stages"], d["qrels"]
qids = sorted(qrels)
fit_frac = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
fit, held = split_queries(qids, fraction=fit_frac, seed=13) if fit_frac else (qids, qids)
SP = ["candidates", "keywords", "body", "title", "summary", "entities"]

def default_run(q):
    L = lists[q]
    return [p for p, _ in fuse([L["document"][:100], L["body"][:100], L["keywords"][:100]], method="dbsf", k=60,
                               weights=[1, 1, 1.5])][:100]

def matrix(q, C):
    st = stages[q]
    cands = [p for p, _ in st["candidates"][:C]]
    idx = {p: i for i, p in enumerate(cands)}
    M = np.zeros((len(cands), len(SP)))
    for j, name in enumerate(SP):
        ranked = [(p, s) for p, s in st.get(name, []) if p in idx]
        for p, v in dbsf_normalize(ranked):
            M[idx[p], j] = v
    return cands, M

def ndcg10(order_ids, q):
    rel = qrels[q]
    dcg = sum((2 ** rel.get(p, 0) - 1) / np.log2(i + 2) for i, p in enumerate(order_ids[:10]))
    ideal = sorted(rel.values(), reverse=True)[:10]
    idcg = sum((2 ** g - 1) / np.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0

def run_of(W, C, qs):
    out = {}
    for q in qs:
        cands, M = matrix(q, C)
        s = M @ W
        order = sorted(range(len(cands)), key=lambda i: (-s[i], cands[i]))
        out[q] = [cands[i] for i in order]
    return out

def mean_ndcg(run, qs):
    pq = ndcg_per_query(run, {q: qrels[q] for q in qs})
    return float(np.mean([pq[q] for q in qs])), pq

base = {q: default_run(q) for q in qids}
b_fit, _ = mean_ndcg(base, fit)
b_held, b_pq = mean_ndcg(base, held)
b_r100 = np.mean([per_query(base, {q: qrels[q]})["recall@100"][q] for q in held])
print(f"today's default: fit {b_fit:.4f} held {b_held:.4f} R@100 {b_r100:.3f}")

grids = {"candidates": [0.5, 1, 1.5, 2, 3], "keywords": [0, 0.5, 1, 1.5, 2, 3], "body": [0, 0.5, 1, 1.5, 2],
         "title": [0, 0.25, 0.5], "summary": [0, 0.25, 0.5], "entities": [0, 0.1, 0.25]}
def fit_weights(C, spaces):
    mats = {q: matrix(q, C) for q in fit}
    best = (-1, None)
    combos = list(itertools.product(*[grids[s] if s in spaces else [0] for s in SP]))
    Wall = np.array(combos).T  # (6, K)
    tot = np.zeros(Wall.shape[1])
    for q in fit:
        cands, M = mats[q]
        S = M @ Wall  # (n, K)
        top = np.argsort(-S, axis=0, kind="stable")[:10]  # ties by candidate order (doc score), close enough for fitting
        rel = qrels[q]
        gains = np.array([2 ** rel.get(p, 0) - 1 for p in cands], dtype=float)
        disc = 1 / np.log2(np.arange(2, 12))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum((2 ** g - 1) / np.log2(i + 2) for i, g in enumerate(ideal))
        if idcg:
            tot += (gains[top] * disc[: top.shape[0], None]).sum(0) / idcg
    k = int(np.argmax(tot))
    return Wall[:, k], tot[k] / len(fit)

rows = []
for C in [int(c) for c in (sys.argv[3] if len(sys.argv) > 3 else "50,100,200,300").split(",")]:
    for spaces in [("candidates", "keywords", "body"), ("candidates", "keywords", "body", "title", "summary", "entities"),
                   ("candidates", "keywords", "body", "entities"), ("candidates", "keywords")]:
        W, f = fit_weights(C, spaces)
        run = run_of(W, C, held)
        h, pq = mean_ndcg(run, held)
        r100 = np.mean([per_query({q: run[q]}, {q: qrels[q]})["recall@100"][q] for q in held])
        lo, hi = paired_bootstrap_ci([pq[q] for q in held], [b_pq[q] for q in held])
        w = " ".join(f"{s}={x:g}" for s, x in zip(SP, W) if x)
        print(f"C={C:3d} {'+'.join(spaces[1:]):40s} fit {f:.4f} held {h:.4f} d {h-b_held:+.4f} [{lo:+.4f},{hi:+.4f}] R@100 {r100:.3f}  {w}", flush=True)
