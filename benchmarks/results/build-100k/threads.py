"""Do two threads query one edge shard in parallel? 800 `document` top-100 searches on the 100,000-document
store in one thread, then 400 in each of two threads (three rounds): wall and process CPU seconds.

    PYTHONPATH=$PWD python benchmarks/results/build-100k/threads.py <index folder>/synthetic-100000-seed13
"""

import resource
import sys
import threading
import time
from pathlib import Path

from app.encoders.fastembed_encoder import EncoderPool
from app.eval.bench_ingest import open_services
from app.eval.synthetic import SyntheticCorpus
from app.services.search import SearchRequest
from app.settings import Settings


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(folder: Path) -> None:
    base = Settings()
    svc = open_services("edge", folder, EncoderPool(base.models, base.encoders), base)
    corpus = SyntheticCorpus(384, seed=13)
    queries = [corpus.query() for _ in range(200)]
    plan = svc.search.plan(SearchRequest(query="x", fields=["document"], limit=100))
    vectors = [{s.vector_name: q["dense"] for s in plan.all_spaces} for q in queries]

    def run(n: int) -> None:
        for i in range(n):
            svc.store.query(svc.registry.alias, plan, vectors[i % len(vectors)])

    run(200)  # warm
    for _ in range(3):
        c, t = cpu_s(), time.perf_counter()
        run(800)
        one_wall, one_cpu = time.perf_counter() - t, cpu_s() - c
        c, t = cpu_s(), time.perf_counter()
        threads = [threading.Thread(target=run, args=(400,)) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        two_wall, two_cpu = time.perf_counter() - t, cpu_s() - c
        print(f"800 queries: one thread {one_wall:.2f} s wall ({one_cpu:.2f} CPU s); "
              f"two threads x400 {two_wall:.2f} s wall ({two_cpu:.2f} CPU s)")
    svc.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
