#!/usr/bin/env bash
# Every test, called by `make test` after hacking/setup-env.sh:
#   1. changelog lint;
#   2. side by side (each is mostly one process at a time, and none has timing-sensitive tests):
#      ansible-test sanity on the newest ansible-core (.venv), sanity on the older supported
#      releases (hacking/matrix.sh sanity), the build + install + ansible-doc check, ansible-lint
#      (production profile, .ansible-lint) and the documentation site (hacking/docs.sh);
#   3. pytest (unit, emulator, integration, release checks), while the older releases' unit tests
#      run beside it (hacking/matrix.sh units: they mostly wait on their stub API).
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
background() {  # background NAME: run the function NAME below, its output in .tmp/test-logs/NAME.log
  "$1" > "$LOGS/$1.log" 2>&1 &
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
matrix-sanity() { bash hacking/matrix.sh sanity; }
matrix-units() { bash hacking/matrix.sh units; }
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

# the older releases' virtualenvs first (cached; rebuilt only when requirements-test.txt changes)
bash hacking/matrix.sh setup

echo "==> sanity (ansible-core $("$PY" -c 'from ansible.release import __version__; print(__version__)')), sanity of the older releases, build, lint and docs: side by side"
background sanity
background matrix-sanity
background build
background lint
background docs
rc=0
collect || rc=1

echo "==> pytest, with the older releases' unit tests beside it"
background matrix-units
# worksteal: an idle worker takes queued tests from a busy one (end-to-end tests run 5 s to 3 min).
# No reruns: a test that fails once fails the run. The `long` matrix is `make test-long`.
"$PY" -m pytest -n 2 --dist worksteal -m "not long" --durations=30 "$@" || rc=$?
collect || rc=1
exit $rc
