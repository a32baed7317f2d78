"""Fixed-weight document-first cascades on a stage-lists pickle: nDCG@10 vs today's default, paired CI."""
import pickle, sys
import numpy as np
sys.argv = [sys.argv[0], sys.argv[1], "0", "100"] + sys.argv[2:]
d = pickle.load(open(sys.argv[1], "rb"))
exec(open("/work/runs/s14/offline.py").read().split("grids =")[0].split("base = ")[0])
base = {q: default_run(q) for q in qids}
b, bpq = mean_ndcg(base, qids)
fit, held = split_queries(qids, fraction=0.6, seed=13) if "scifact" in sys.argv[1] else (qids, qids)
bh, _ = mean_ndcg(base, held)
print(f"default {b:.4f} (held {bh:.4f})")
for C, W in [(100, [0.5, 2, 1.5, 0, 0, 0]), (100, [0.5, 3, 1.5, 0.5, 0.25, 0]), (200, [0.5, 2, 2, 0, 0, 0]),
             (300, [1.5, 3, 2, 0, 0, 0]), (100, [1, 2, 1.5, 0, 0, 0]), (100, [0.5, 2, 1.5, 0, 0, 0.1])]:
    for name, qs in (("all", qids), ("held", held)):
        run = run_of(np.array(W, float), C, qs)
        m, pq = mean_ndcg(run, qs)
        r100 = np.mean([per_query({q: run[q]}, {q: qrels[q]})["recall@100"][q] for q in qs])
        lo, hi = paired_bootstrap_ci([pq[q] for q in qs], [bpq[q] for q in qs])
        print(f"{name:4s} C={C} W={W}: {m:.4f} d {m - np.mean([bpq[q] for q in qs]):+.4f} [{lo:+.4f},{hi:+.4f}] R@100 {r100:.3f}")
