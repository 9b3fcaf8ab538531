#!/usr/bin/env bash
# Run every side-by-side benchmark in benchmarks/ (each prints its own ratios; nothing is asserted).
set -euo pipefail
cd "$(dirname "$0")/.."
for b in benchmarks/*.py; do
  echo "==> $b"
  .venv/bin/python "$b"
done
