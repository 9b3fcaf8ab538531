#!/usr/bin/env bash
# make benchmark: the four benchmarks of issue 13, then docs/benchmarks.md rewritten from their results.
#   1. one clone per strategy, with a breakdown, and its no-op rerun   (benchmarks/clone_cost.py)
#   2. a fleet of 20 at forks 1, 5, 10, 20                             (benchmarks/clone_cost.py)
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
echo "==> one clone per strategy, its rerun, and a fleet"
.venv/bin/python benchmarks/clone_cost.py --runs "${BENCH_RUNS:-2}" --fleet "${BENCH_FLEET:-20}" \
  --forks "${BENCH_FORKS:-1,5,10,20}" --strategies "${BENCH_STRATEGIES:-archive,archive_without_files,elements}" \
  --json "$out/clone.json"
echo "==> files_sync against curl + tar + rsync, and rsync over a limited link"
.venv/bin/python benchmarks/files_transfer.py --runs "${BENCH_RUNS:-2}" --sizes "${BENCH_SIZES:-200MB,1GB}" \
  --json "$out/files.json"
.venv/bin/python benchmarks/write_doc.py --clone "$out/clone.json" --files "$out/files.json" \
  --seconds "$(( $(date +%s) - start ))" \
  --settings "BENCH_RUNS=${BENCH_RUNS:-2} BENCH_STRATEGIES=${BENCH_STRATEGIES:-archive,archive_without_files,elements} BENCH_FLEET=${BENCH_FLEET:-20} BENCH_FORKS=${BENCH_FORKS:-1,5,10,20} BENCH_SIZES=${BENCH_SIZES:-200MB,1GB}"
