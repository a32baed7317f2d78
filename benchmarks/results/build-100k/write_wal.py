"""Ad-hoc: write N synthetic documents into a fresh embedded store through the adapter, then optimise
(unless WRITE_ONLY=1); print the store calls' write time (generating the vectors apart; write CPU likewise), the WAL's size
before the optimise, the optimise time, peak RSS (VmHWM) and sampled peak RssAnon, and the folder's size.
NOFLUSH=1 turns the adapter's WAL flush off (app.store.edge_snapshot.WalFlusher). Spaces: MULTIVEC_SPACES.
usage (repository root): PYTHONPATH=. .venv/bin/python write_wal.py N [FLUSH_EVERY_N_BATCHES]"""
import os, sys, time, threading, tempfile, json, shutil
from pathlib import Path
from app.settings import Settings
from app.encoders.fastembed_encoder import EncoderPool
from app.eval.bench_ingest import open_services
from app.eval.synthetic import SyntheticCorpus
N = int(sys.argv[1]); flush_every = int(sys.argv[2]) if len(sys.argv) > 2 else 0
peak = {"anon": 0, "rss": 0}
def status():
    d = {}
    for l in open("/proc/self/status"):
        k, v = l.split(":", 1); d[k] = v.strip()
    return d
stop = False
def sample():
    while not stop:
        s = status(); peak["anon"] = max(peak["anon"], int(s["RssAnon"].split()[0])); peak["rss"] = max(peak["rss"], int(s["VmRSS"].split()[0])); time.sleep(0.2)
threading.Thread(target=sample, daemon=True).start()
base = Settings(); enc = EncoderPool(base.models, base.encoders)
folder = Path(tempfile.mkdtemp(prefix="build-"))
svc = open_services("edge", folder, enc, base)
versions = svc.registry.get().written_versions()
corpus = SyntheticCorpus(384, seed=13)
col = svc.registry.physical()
if os.environ.get('NOFLUSH'): svc.store._flusher.interval_s = 1e9
WRITE_ONLY = bool(os.environ.get('WRITE_ONLY'))
tw = 0.0; gen = 0.0; wcpu = 0.0
for i, start in enumerate(range(0, N, 500)):
    t = time.perf_counter(); pts = corpus.points(versions, start, min(500, N - start)); gen += time.perf_counter() - t
    t = time.perf_counter(); c1 = time.process_time(); svc.store.upsert(svc.registry.alias, pts)
    if flush_every and (i + 1) % flush_every == 0: svc.store._shard(col).flush()
    tw += time.perf_counter() - t; wcpu += time.process_time() - c1
print("after write VmHWM", int(status()["VmHWM"].split()[0]) >> 10, "VmRSS", int(status()["VmRSS"].split()[0]) >> 10, "RssFile", int(status()["RssFile"].split()[0]) >> 10, "RssShmem", int(status()["RssShmem"].split()[0]) >> 10)
wal = sum(f.stat().st_size for f in folder.rglob("wal/*") if f.is_file())
t = time.perf_counter(); c0 = time.process_time()
if not WRITE_ONLY: svc.store.optimize(col)
to = time.perf_counter() - t; ocpu = time.process_time() - c0
stop = True; time.sleep(0.3)
s = status()
print(json.dumps({"n": N, "flush_every": flush_every, "gen_s": round(gen, 1), "write_s": round(tw, 1), "write_cpu_s": round(wcpu, 1), "wal_mb_before_opt": wal >> 20,
   "optimize_s": round(to, 1), "optimize_cpu_s": round(ocpu, 1), "VmHWM_mb": int(s["VmHWM"].split()[0]) >> 10, "peak_anon_mb": peak["anon"] >> 10, "peak_rss_sampled_mb": peak["rss"] >> 10,
   "disk_mb": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) >> 20}))
svc.close(); shutil.rmtree(folder)
