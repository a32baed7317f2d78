#!/usr/bin/env bash
# The test suite's own time against the suite at the commit issue 11 was filed against, in one run.
#
#   benchmarks/suite_time.sh [ROUNDS]        (default 2: old new, then new old)
#
# Each round runs both suites back to back, each as its own scripts/test runs it (`pytest` there; here
# `pytest -n auto --dist loadfile --no-loadscope-reorder`, with the workers tests/conftest.py picks),
# alternating which goes first so load from elsewhere on the machine falls on both alike. The time is the
# suite's own, as pytest reports it ("N passed ... in T s"); --durations=60 lists the slowest steps. The CPU
# seconds (user + system, pytest and its subprocesses, by GNU time) swing far less with the machine's load. Each
# suite runs from its own checkout (PYTHONPATH) with this repository's Python environment. Writes
# benchmarks/results/suite/<UTC time>/: old-<i>.txt and new-<i>.txt (pytest's output) and summary.md
# (per-round times, ratios, load averages).
#
# Environment: PYTHON (default .venv/bin/python), BASE_COMMIT (default f0d12e7), OLD_DIR (a checkout of
# BASE_COMMIT to use; by default a temporary `git worktree` that is removed at the end), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
BASE=${BASE_COMMIT:-f0d12e7}
ROUNDS=${1:-2}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/benchmarks/results/suite/$STAMP}
mkdir -p "$OUT"

OLD=${OLD_DIR:-}
if [ -z "$OLD" ]; then
  OLD=$(mktemp -d)/old-suite
  git -C "$ROOT" worktree add --quiet --detach "$OLD" "$BASE"
  trap 'git -C "$ROOT" worktree remove --force "$OLD"' EXIT
fi

OLD_CMD=(-m pytest -q -p no:cacheprovider --durations=60)
NEW_CMD=(-m pytest -n auto --dist loadfile --no-loadscope-reorder -q -p no:cacheprovider --durations=60)

# run NAME DIR ARGS...: one suite from its own checkout; prints its own time in seconds, then the CPU
# seconds (user + system) of pytest and every process it started (GNU time; "nan" without it)
run() {
  local name=$1 dir=$2
  shift 2
  local load timer=()
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "%U %S" -o "$OUT/$name.cpu")
  (cd "$dir" && PYTHONPATH=$dir "${timer[@]}" "$PY" "$@" >"$OUT/$name.txt" 2>&1) || true
  local line secs cpu
  line=$(grep -E "(passed|failed).* in [0-9.]+s" "$OUT/$name.txt" | tail -1)
  secs=$(grep -oE " in [0-9.]+s" <<<"$line" | tail -1 | tr -dc '0-9.')
  cpu=$(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ {printf "%.1f", $1 + $2}' "$OUT/$name.cpu" 2>/dev/null || true)
  echo "| $name | ${secs:-?} | ${cpu:-?} | ${line//=/} | $load |" >>"$OUT/runs.md"
  echo "${secs:-nan} ${cpu:-nan}"
}

{
  echo "# Test suite time: this tree against $BASE"
  echo
  echo "- machine: $(nproc) CPUs, $(uname -sr); started $STAMP; load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- this tree: $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | wc -l | tr -d ' ') uncommitted paths)"
  echo "- old: \`cd <checkout of $BASE> && PYTHONPATH=\$PWD python ${OLD_CMD[*]}\`"
  echo "- new: \`PYTHONPATH=\$PWD python ${NEW_CMD[*]}\`"
  echo
} >"$OUT/summary.md"
echo "| run | seconds | CPU seconds | pytest's line | load average (1, 5, 15 min) before |" >"$OUT/runs.md"
echo "|---|---|---|---|---|" >>"$OUT/runs.md"

olds=() news=()
for i in $(seq 1 "$ROUNDS"); do
  if [ $((i % 2)) = 1 ]; then
    olds+=("$(run "old-$i" "$OLD" "${OLD_CMD[@]}")")
    news+=("$(run "new-$i" "$ROOT" "${NEW_CMD[@]}")")
  else
    news+=("$(run "new-$i" "$ROOT" "${NEW_CMD[@]}")")
    olds+=("$(run "old-$i" "$OLD" "${OLD_CMD[@]}")")
  fi
  echo "round $i: old ${olds[-1]}, new ${news[-1]} (seconds, CPU seconds)"
done

"$PY" - "$OUT" "${olds[*]}" "${news[*]}" <<'EOF' | tee -a "$OUT/summary.md"
import math, statistics, sys
out = sys.argv[1]
olds, news = ([[float(x) for x in pair] for pair in zip(*[iter(arg.split())] * 2)] for arg in sys.argv[2:4])
ratio = lambda a, b: b / a if a else math.nan  # noqa: E731
print("| round | old s | new s | new / old | old CPU s | new CPU s | new / old (CPU) |\n|---|---|---|---|---|---|---|")
for i, ((o, oc), (n, nc)) in enumerate(zip(olds, news), 1):
    print(f"| {i} | {o:.1f} | {n:.1f} | {ratio(o, n):.2f} | {oc:.1f} | {nc:.1f} | {ratio(oc, nc):.2f} |")
for what, k in (("time", 0), ("CPU", 1)):
    o, n = [r[k] for r in olds], [r[k] for r in news]
    if not any(math.isnan(x) for x in o + n):
        print(f"\n{what}: median ratio {statistics.median(ratio(a, b) for a, b in zip(o, n)):.2f}; all rounds "
              f"together {ratio(sum(o), sum(n)):.2f} (old median {statistics.median(o):.1f} s, new median {statistics.median(n):.1f} s)")
print()
EOF
cat "$OUT/runs.md" >>"$OUT/summary.md"
echo "written to $OUT"
