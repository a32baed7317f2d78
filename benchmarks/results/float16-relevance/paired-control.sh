#!/usr/bin/env bash
# Control: both arms rebuilt by the same migration path (f32r: rebuilt at float32; f16: rebuilt at float16),
# plus the s15 original, each compared with f32r. Retried while another process holds an index's lock.
cd /work/wt/s18-dtype
export PYTHONPATH=$PWD
OUT=/work/runs/s18-dtype
D=/work/shared/datasets
run() {  # name dataset split fit plan
  for i in $(seq 1 40); do
    if nice -n 10 /work/main/.venv/bin/python /work/runs/s15/paired.py $D/$2 $3 $4 13 \
        "f32r=/work/idx/s18-f32r-$2:{\"plan\":\"$5\"}" "f16=/work/idx/s18-f16-$2:{\"plan\":\"$5\"}" \
        "f32=/work/idx/s15-shared-$2:{\"plan\":\"$5\"}" > $OUT/control-$2-$5.out 2> $OUT/control-$2-$5.err; then return 0; fi
    grep -q StoreLocked $OUT/control-$2-$5.err || return 1
    sleep 60
  done
  return 1
}
while pgrep -f paired-scifact-fused.sh > /dev/null; do sleep 20; done
run x cisi test 0 cascade; run x cisi test 0 fused
run x scifact train 0.6 cascade; run x scifact train 0.6 fused
echo done
