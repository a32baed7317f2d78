"""Optimise time of one collection rebuilt with and without HNSW graphs for `body` and `entities`.

    PYTHONPATH=. python benchmarks/results/cascade-rebuild/rebuild_index_bench.py INDEX_COPY [ROUNDS]

INDEX_COPY is a copy of an evaluation index (it gains migration records and loses nothing). Each
round, for each layout: `Rebuild(index=...)` is applied (dry run first, to record what it shows),
backfilled (vectors copied, nothing encoded), optimised (timed), then retired (the alias never
moves). Output: one JSON line per rebuild (scifact.jsonl here: the SciFact index, 2 rounds).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from app.eval.index import open_index
from app.versioning.declare import Migration, Rebuild

LAYOUTS = (("hnsw (as built)", {"title": "hnsw"}),  # a no-op index change: the same layout, copied
           ("body+entities rerank-only", {"body": "rerank", "entities": "rerank"}))


def main(folder: Path, rounds: int) -> None:
    svc = open_index(folder)
    m = svc.migrator
    revision = 100
    try:
        for r in range(rounds):
            for label, index in LAYOUTS:
                revision += 1
                mig = Migration(revision=f"{revision:04d}", name="bench", change=Rebuild(index=index, reason="bench"))
                dry = m.apply(mig, dry_run=True)
                target = m.apply(mig).data["target"]
                t0 = time.perf_counter()
                m.backfill(mig.revision, batch=256)
                copy_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                svc.store.optimize(target)
                optimize_s = time.perf_counter() - t0
                specs = {k.split(".")[0]: v.index for k, v in svc.store.vector_specs(target).items()}
                size = sum(p.stat().st_size for p in (folder / "collections" / target).rglob("*") if p.is_file())
                print(json.dumps({"round": r, "layout": label, "copy_s": round(copy_s, 1),
                                  "optimize_s": round(optimize_s, 1), "disk_mb": round(size / 1e6, 1),
                                  "specs": specs,
                                  "dry_run_create": [a for a in dry.actions if a.startswith("create")]}), flush=True)
                m.retire(mig.revision, force=True)  # drop the target: the rebuild is abandoned
    finally:
        svc.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1)
