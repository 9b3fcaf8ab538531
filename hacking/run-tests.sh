#!/usr/bin/env bash
# Every test, called by `make test` after hacking/setup-env.sh:
#   1. changelog lint;
#   2. pytest (unit, emulator, integration, release checks), and beside it, niced so that pytest's
#      workers come first: ansible-test sanity on the newest ansible-core (.venv), sanity on the
#      older supported releases (hacking/matrix.sh setup, then sanity without pylint, then units), the build + install + ansible-doc check,
#      ansible-lint (production profile, .ansible-lint), the documentation site (hacking/docs.sh) and
#      the older releases' unit tests (hacking/matrix.sh units). Each of those is mostly one process
#      at a time that waits as much as it computes (sanity: ~60 CPU-s in ~2 min), and pytest's
#      workers wait on the emulator's workflows, so side by side they fill the two cores.
# Each background step's output goes to .tmp/test-logs/<step>.log and is printed when it ends
# (all of it if the step failed). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
LOGS=$ROOT/.tmp/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
export PATH=$ROOT/.venv/bin:$PATH

PIDS=()
NAMES=()
background_nice() {  # background_nice NAME: run the function NAME below at a lower priority, its output in .tmp/test-logs/NAME.log
  ( renice -n 19 -p $BASHPID >/dev/null; "$1" ) > "$LOGS/$1.log" 2>&1 &
  PIDS+=("$!"); NAMES+=("$1")
}
collect() {  # wait for every background step; print its log; fail if one failed
  local i rc=0
  for i in "${!PIDS[@]}"; do
    if wait "${PIDS[$i]}"; then
      echo "==> ${NAMES[$i]}: passed (log: .tmp/test-logs/${NAMES[$i]}.log)"
      grep -v '^\s*$' "$LOGS/${NAMES[$i]}.log" | tail -n 3 | sed 's/^/    /'
    else
      rc=1
      echo "==> ${NAMES[$i]}: FAILED"
      cat "$LOGS/${NAMES[$i]}.log"
    fi
  done
  PIDS=(); NAMES=()
  return $rc
}
sanity() { bash hacking/sanity.sh; }
# the older releases' sanity without pylint: pylint is about 50 of the ~60 CPU-s each older release's sanity
# takes, and what it checks is this code's style, which 2.21's pylint checks (`make matrix` runs it on them too;
# CONTRIBUTING.md, "What make test runs")
# The older releases' virtualenvs are built here, beside pytest rather than before it (cached; rebuilt only when
# requirements-test.txt changes), then their sanity and unit tests run one after the other.
# Of the older releases, the oldest supported one (2.19) runs here: the newest and the oldest bound what the code may
# use of ansible-core's API; `make matrix` adds 2.20 (about 37 CPU-s: its virtualenv, sanity and units).
matrix() {
  export MATRIX_VERSIONS=${MATRIX_VERSIONS:-2.19}
  bash hacking/matrix.sh setup
  MATRIX_SANITY_PYLINT=0 bash hacking/matrix.sh sanity
  bash hacking/matrix.sh units
}
lint() { ansible-lint; }
docs() { bash hacking/docs.sh; }
build() {
  rm -rf .tmp/dist .tmp/installed
  ansible-galaxy collection build --force --output-path .tmp/dist >/dev/null
  ansible-galaxy collection install -p .tmp/installed .tmp/dist/pantheon-platform-*.tar.gz >/dev/null
  local m
  for m in $(sed -n 's/^    - \([a-z_]*\)$/\1/p' meta/runtime.yml); do
    ANSIBLE_COLLECTIONS_PATH=$ROOT/.tmp/installed ansible-doc "pantheon.platform.$m" >/dev/null
  done
  ANSIBLE_COLLECTIONS_PATH=$ROOT/.tmp/installed ansible-doc -t inventory pantheon.platform.sites >/dev/null
  echo "built, installed, and ansible-doc renders every module and the inventory plugin"
}

echo "==> changelog lint"
antsibull-changelog lint

echo "==> pytest; beside it (niced): sanity (ansible-core $("$PY" -c 'from ansible.release import __version__; print(__version__)')), sanity of the older releases, build, lint, docs and the older releases' unit tests"
for step in sanity matrix build lint docs; do
  background_nice "$step"
done
rc=0
# worksteal: an idle worker takes queued tests from a busy one (end-to-end tests run 5 s to 3 min); each
# worker's share starts with its part of the long tests (tests/conftest.py, tests/durations.json).
# Three workers on two cores: a worker spends part of its time waiting (on the emulator's workflows, on SSH,
# on ansible-playbook's own polling), and the third fills those waits. Measured from fresh clones on this
# machine: pytest 696 s with -n 2 and 617 s with -n 3 (the whole run 11:56 and 10:19; 1167 and 1159 CPU-s).
# No reruns: a test that fails once fails the run. The `long` matrix is `make test-long`.
"$PY" -m pytest -n 3 --dist worksteal -m "not long" --durations=30 "$@" || rc=$?
collect || rc=1
exit $rc
