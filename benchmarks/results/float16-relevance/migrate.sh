#!/usr/bin/env bash
# usage: migrate.sh INDEX_DIR  -- float16 rebuild of a copied evaluation index, then optimise the new collection
set -euo pipefail
IDX=$1
cd /work/wt/s18-dtype
export PYTHONPATH=$PWD MULTIVEC_STORE__PATH=$IDX
PY="nice -n 10 /work/main/.venv/bin/python"
M="$PY -m app.versioning.cli --dir ${MIGRATIONS:-/work/runs/s18-dtype/migrations}"
$M apply 0010 --dry-run
$M apply 0010
/usr/bin/time -v $M backfill 0010 --progress lines 2>&1 | grep -v "^\s*\(Average\|Major\|Minor\|Volun\|Invol\|Swaps\|File\|Socket\|Signals\|Page\|Exit\)"
$M promote 0010 --force
$PY - <<PY
from pathlib import Path
import time
from app.settings import Settings
from app.store.factory import open_store
s = Settings()
st = open_store(s.store, s.collection)
phys = st.get_alias(s.store.collection)
t = time.perf_counter(); st.optimize(phys); print(f"optimised {phys} in {time.perf_counter() - t:.1f} s")
print("datatypes", phys, st.vector_datatypes(phys))
print("count", st.count(phys), "source count", st.count("documents__1"))
st.close()
PY
$M status | tail -12
du -sh $IDX/collections/*
