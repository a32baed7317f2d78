"""Per judged query: the document space's top-N candidates with every other space's exact score of each
(one staged cascade with explain), plus every space's own top 100 (for today's fused default), pickled."""
import os, pickle, sys, time
from pathlib import Path
N = int(sys.argv[3])
os.environ["MULTIVEC_SEARCH__MAX_LIMIT"] = str(N)
from app.corpus import load_beir
from app.eval.index import open_index
from app.eval.runs import fetch_lists, _doc_id_lookup
from app.services.search import SearchRequest
from tqdm import tqdm
ds = load_beir(Path(sys.argv[1]), sys.argv[2])
svc = open_index(Path(sys.argv[4]))
RER = ["keywords", "body", "title", "summary", "entities"]
t = time.time()
lists, _ = fetch_lists(svc, ds.queries, depth=100, spaces=["document", "keywords", "body", "title", "summary", "entities"])
doc_ids = _doc_id_lookup(svc)
stages = {}
for qid, text in tqdm(ds.queries.items(), desc="stages", file=sys.stderr):
    plan = svc.search.plan(SearchRequest(query=text, limit=N, fields=["document"], rerank=RER, candidates=N,
                                         weights={s: 1.0 for s in ["document", *RER]}, explain=True))
    result, _ = svc.search.run(plan, text)
    stages[qid] = {name: [(doc_ids(h.id), h.score) for h in hits] for name, hits in result.stages.items()}
print("done in", round(time.time() - t), "s", file=sys.stderr)
pickle.dump({"lists": lists, "stages": stages, "qrels": ds.qrels, "queries": ds.queries}, open(sys.argv[5], "wb"))
svc.close()
