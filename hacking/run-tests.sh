#!/usr/bin/env bash
# Every test: sanity (offline), build + install + ansible-doc, then pytest (unit, emulator,
# integration). Called by `make test` after hacking/setup-env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python

echo "==> changelog lint"
"$ROOT/.venv/bin/antsibull-changelog" lint

echo "==> ansible-test sanity"
bash hacking/sanity.sh

echo "==> build, install and ansible-doc"
rm -rf .tmp/dist .tmp/installed
"$ROOT/.venv/bin/ansible-galaxy" collection build --force --output-path .tmp/dist >/dev/null
"$ROOT/.venv/bin/ansible-galaxy" collection install -p .tmp/installed .tmp/dist/pantheon-platform-*.tar.gz >/dev/null
for m in $(sed -n 's/^    - \([a-z_]*\)$/\1/p' meta/runtime.yml); do
  ANSIBLE_COLLECTIONS_PATH=$ROOT/.tmp/installed "$ROOT/.venv/bin/ansible-doc" "pantheon.platform.$m" >/dev/null
done
ANSIBLE_COLLECTIONS_PATH=$ROOT/.tmp/installed "$ROOT/.venv/bin/ansible-doc" -t inventory pantheon.platform.sites >/dev/null
echo "built, installed, and ansible-doc renders every module and the inventory plugin"

echo "==> pytest"
# worksteal: an idle worker takes queued tests from a busy one (end-to-end tests run 5 s to 3 min).
# No reruns: a test that fails once fails the run. The `long` matrix is `make test-long`.
exec "$PY" -m pytest -n 2 --dist worksteal -m "not long" --durations=30 "$@"
