#!/usr/bin/env bash
# The paired nDCG@10 comparisons float32 vs float16 (s15 originals vs the s18 float16 copies).
cd /work/wt/s18-dtype
export PYTHONPATH=$PWD
PY="nice -n 10 /work/main/.venv/bin/python /work/runs/s15/paired.py"
D=/work/shared/datasets
for plan in cascade fused; do
  echo "== scifact $plan"; $PY $D/scifact train 0.6 13 "f32=/work/idx/s15-shared-scifact:{\"plan\":\"$plan\"}" "f16=/work/idx/s18-f16-scifact:{\"plan\":\"$plan\"}"
  echo "== cisi $plan"; $PY $D/cisi test 0 13 "f32=/work/idx/s15-shared-cisi:{\"plan\":\"$plan\"}" "f16=/work/idx/s18-f16-cisi:{\"plan\":\"$plan\"}"
done
