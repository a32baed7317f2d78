"""One service start on the default settings: import, build the services over a new embedded store,
ingest one document (the models load), one search; prints wall and CPU seconds and peak RSS.

    cd <checkout> && PYTHONPATH=$PWD python benchmarks/results/startup/startup.py
"""
import resource
import tempfile
import time

t0 = time.perf_counter()
from app.container import build_services  # noqa: E402
from app.domain.documents import Document  # noqa: E402
from app.services.search import SearchRequest  # noqa: E402
from app.settings import Settings, StoreSettings  # noqa: E402

svc = build_services(Settings(store=StoreSettings(path=tempfile.mkdtemp())))
svc.ingest.upsert([Document(id="a", title="Aspirin and heart attacks",
                            body="Aspirin lowers the risk of heart attack in adults. It thins blood.")])
assert svc.search.search(SearchRequest(query="aspirin heart")).hits[0]["id"] == "a"
r = resource.getrusage(resource.RUSAGE_SELF)
print(f"start to first search {time.perf_counter() - t0:.2f} s, CPU {r.ru_utime + r.ru_stime:.2f} s, "
      f"peak RSS {r.ru_maxrss / 1024:.0f} MB")
svc.close()
