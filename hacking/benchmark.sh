#!/usr/bin/env bash
# make benchmark: the four benchmarks of issue 13, then docs/benchmarks.md rewritten from their results.
#   1. one clone per strategy, with a breakdown, and its no-op rerun   (benchmarks/clone_cost.py)
#   2. a fleet of 20 at forks 20, 10, 5, 1                             (benchmarks/clone_cost.py)
#   3. files_sync against curl + tar + rsync at 200 MB and 1 GB        (benchmarks/files_transfer.py)
#   4. rsync's flags over a limited link (--bwlimit)                   (benchmarks/files_transfer.py)
# Each prints its own ratios; nothing is asserted. BENCH_RUNS, BENCH_STRATEGIES, BENCH_FLEET, BENCH_FORKS,
# BENCH_SIZES shrink or grow it (e.g. BENCH_FLEET=0 to leave the fleet out); the page names what ran.
set -euo pipefail
cd "$(dirname "$0")/.."
# the results stay in .tmp/benchmark/ (benchmarks/write_doc.py renders the page again from them)
out=.tmp/benchmark
mkdir -p "$out"
start=$(date +%s)
# the machine's load average (1 min) every 10 s while the benchmarks run (the page reports its range and median)
: > "$out/load.txt"
( while sleep 10; do cut -d' ' -f1 /proc/loadavg >> "$out/load.txt"; done ) &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT
rm -f "$out/clone.json" "$out/files.json"
# files first, then the clones, the fleet last with its largest forks first: each script saves its finished sections
# as it goes, so a run stopped part-way (a loaded machine) still has a result for most goals
echo "==> files_sync against curl + tar + rsync, and rsync over a limited link"
.venv/bin/python benchmarks/files_transfer.py --runs "${BENCH_RUNS:-2}" --sizes "${BENCH_SIZES:-200MB,1GB}" \
  --json "$out/files.json"
echo "==> one clone per strategy, its rerun, and a fleet"
.venv/bin/python benchmarks/clone_cost.py --runs "${BENCH_RUNS:-2}" --fleet "${BENCH_FLEET:-20}" \
  --forks "${BENCH_FORKS:-20,10,5,1}" --strategies "${BENCH_STRATEGIES:-archive,archive_without_files,elements}" \
  --json "$out/clone.json"
.venv/bin/python benchmarks/write_doc.py --clone "$out/clone.json" --files "$out/files.json" \
  --seconds "$(( $(date +%s) - start ))" --load "$out/load.txt" \
  --settings "BENCH_RUNS=${BENCH_RUNS:-2} BENCH_STRATEGIES=${BENCH_STRATEGIES:-archive,archive_without_files,elements} BENCH_FLEET=${BENCH_FLEET:-20} BENCH_FORKS=${BENCH_FORKS:-20,10,5,1} BENCH_SIZES=${BENCH_SIZES:-200MB,1GB}"
