"""Ad-hoc: the default cascade's final formula with `body` bounded (`max_demotion`) against unbounded, on a
dataset's judged queries (nDCG@10, paired bootstrap against unbounded) and on rare-word known-item probes.

Each query's stages (candidates, `body` over them) come once from the served default plan with `explain`;
every bound is then the real app.domain.cascade.final_scores over them (the stages do not depend on it), and
the bound the settings hold is checked against the served answers.

Probes (seed 7): words of lower-case letters, at least 5, in exactly one document, not stopwords, that
`keywords` alone finds in that one document; each followed by every common phrase given, and pairs of two
such words of two documents (success: both in the top 10).

usage (repository root, on an evaluation index):
    PYTHONPATH=. .venv/bin/python benchmarks/results/rare-terms/bounded.py INDEX DATASET SPLIT " phrase one| phrase two"
"""
import random
import re
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from app.corpus import load_beir, read_corpus
from app.domain.cascade import final_scores
from app.domain.documents import point_id
from app.domain.text import stopwords
from app.eval.fit import split_queries
from app.eval.index import open_index
from app.eval.metrics import ndcg_per_query
from app.services.search import SearchRequest

index, dataset, split, commons = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4].split("|")
svc = open_index(index)
ds = load_beir(dataset, split)
counts: dict[str, int] = {}
for d in read_corpus(dataset / "corpus.jsonl"):
    for w in set(re.findall(r"[a-z]{5,}", (d.get("title", "") + " " + d.get("text", "")).lower())):
        counts[w] = counts.get(w, 0) + 1
stop = stopwords()
words = sorted(w for w, c in counts.items() if c == 1 and w not in stop)
random.Random(7).shuffle(words)
kept: list[tuple[str, str]] = []
for w in words:
    if len(kept) >= 60:
        break
    hits = svc.search.search(SearchRequest(query=w, fields=["keywords"], limit=100)).hits
    if len(hits) == 1:
        kept.append((w, point_id(hits[0]["id"])))
probes = {f"{w}{c}": (f"{w}{c}", [pid]) for w, pid in kept for c in commons}
probes |= {f"{a} {b}": (f"{a} {b}", [pa, pb]) for (a, pa), (b, pb) in zip(kept[0::2], kept[1::2], strict=False)}


def stages(text: str):  # type: ignore[no-untyped-def]
    prepared = svc.search.prepare(SearchRequest(query=text, limit=10, explain=True))
    result = svc.search.execute(prepared)
    return prepared.plan, {k: [(h.id, h.score) for h in v] for k, v in result.stages.items()}, [h.id for h in result.hits]


judged = {q: stages(t) for q, t in ds.queries.items()}
probed = {q: (stages(t), rel) for q, (t, rel) in probes.items()}
served_bound = next(iter(judged.values()))[0].max_demotion
assert all(hits[:10] == [p for p, _ in final_scores(plan, st)][:10] for plan, st, hits in judged.values())
qrels = {q: {point_id(d): g for d, g in r.items()} for q, r in ds.qrels.items() if q in judged}
qids = sorted(qrels)
held = set(split_queries(qids, fraction=0.6, seed=13)[1]) if dataset.name == "scifact" else set(qids)


def boot(a: list[float], b: list[float]) -> str:
    d = [x - y for x, y in zip(a, b, strict=True)]
    rng, means = random.Random(13), []
    for _ in range(2000):
        s = [d[rng.randrange(len(d))] for _ in d]
        means.append(sum(s) / len(s))
    means.sort()
    return f"{statistics.mean(d):+.4f} [{means[50]:+.4f}, {means[1949]:+.4f}]"


print(f"# {dataset.name} {split}: {len(qids)} judged queries ({len(held)} held out), {len(kept)} words, "
      f"{len(probes)} probes; the served default's bound: {served_bound}")
base: dict[str, float] = {}
for bound in (None, 1.0, 0.7, 0.5, 0.3):
    def top(plan, st):  # type: ignore[no-untyped-def]
        return [p for p, _ in final_scores(replace(plan, max_demotion=bound), st)]
    nd = ndcg_per_query({q: top(*judged[q][:2]) for q in qids}, qrels)
    base = base or nd
    singles = [(top(*s[:2]), rel) for (s, rel) in probed.values() if len(rel) == 1]
    pairs = [(top(*s[:2]), rel) for (s, rel) in probed.values() if len(rel) == 2]
    ok = sum(1 for t, rel in singles if rel[0] in t[:10])
    mrr = statistics.mean(next((1 / (i + 1) for i, p in enumerate(t) if p == rel[0]), 0.0) for t, rel in singles)
    both = sum(1 for t, rel in pairs if all(p in t[:10] for p in rel))
    h = sorted(held)
    print(f"bound {str(bound):4s}  nDCG@10 all {statistics.mean(nd.values()):.4f} Δ {boot([nd[q] for q in qids], [base[q] for q in qids])}"
          f"  held-out {statistics.mean(nd[q] for q in h):.4f} Δ {boot([nd[q] for q in h], [base[q] for q in h])}"
          f"  | rare word + common: top 10 {ok}/{len(singles)}, MRR {mrr:.3f} | two rare words: {both}/{len(pairs)}")
