#!/usr/bin/env bash
# The older ansible-core releases the collection supports, each in its own virtualenv
# (.venv-<version>): `ansible-test sanity` and the unit tests (tests/unit) on each.
# The newest release (.venv, requirements-test.txt) runs everything, integration included:
# that is `make test` itself.
#
#   hacking/matrix.sh                  # every older version: sanity + units (`make matrix`)
#   hacking/matrix.sh setup            # only build the virtualenvs
#   hacking/matrix.sh sanity           # only sanity (hacking/run-tests.sh runs it before pytest)
#   hacking/matrix.sh units            # only the unit tests (run-tests.sh runs them beside pytest)
#   MATRIX_VERSIONS=2.20 hacking/matrix.sh
#   MATRIX_SANITY_PYLINT=0 hacking/matrix.sh sanity   # without pylint (what `make test` runs; CONTRIBUTING.md)
#
# A venv is rebuilt only when requirements-test.txt or the interpreter changes (the stamp in
# .venv-<version>/.requirements.sha), as hacking/setup-env.sh does for .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Supported ansible-core releases besides the newest (keep README.md, meta/runtime.yml's
# requires_ansible and roles/site_clone/meta/main.yml in step: tests/release/test_versions.py).
# Controller Pythons (Requires-Python on PyPI): 2.19 runs on 3.11-3.13, 2.20 on 3.12-3.14.
declare -A PYTHON_MAX=([2.19]=313 [2.20]=314)
MATRIX_VERSIONS=${MATRIX_VERSIONS:-2.19 2.20}
# Sanity tests that do not depend on the ansible-core version (file contents, shell, PowerShell) run
# on the newest release only; MATRIX_SANITY_ALL=1 runs the whole set on each version.
SKIP_SAME=(--skip-test line-endings --skip-test no-smart-quotes --skip-test no-illegal-filenames
  --skip-test shebang --skip-test shellcheck --skip-test symlinks --skip-test pslint
  --skip-test empty-init --skip-test changelog)

log() { printf '==> %s\n' "$*" >&2; }

find_python() {  # newest real CPython >= 3.12 and <= $1 (e.g. 313)
  local max=$1 cand best="" bestv=0 v real
  for cand in python3.14 python3.13 python3.12 /root/.pyenv/versions/3.1[2-9]*/bin/python3 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 /usr/bin/python3 /usr/local/bin/python3 python3; do
    command -v "$cand" >/dev/null 2>&1 || [ -x "$cand" ] || continue
    # the base interpreter, also when $cand is a virtualenv's python or a pyenv shim
    real=$("$cand" -c 'import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))' 2>/dev/null) || continue
    v=$("$real" -c 'import sys; print(sys.version_info[0]*100+sys.version_info[1])' 2>/dev/null) || continue
    if [ "$v" -ge 312 ] && [ "$v" -le "$max" ] && [ "$v" -gt "$bestv" ]; then best=$real; bestv=$v; fi
  done
  [ -n "$best" ] || { log "no Python 3.12..${max:0:1}.${max:1} found for ansible-core"; exit 1; }
  echo "$best"
}

setup_venv() {  # setup_venv 2.19 -> .venv-2.19 with requirements-test.txt but that ansible-core
  local version=$1 venv=$ROOT/.venv-$1 py next reqs want
  py=$(find_python "${PYTHON_MAX[$version]:?no Python range known for ansible-core $version}")
  next=${version%.*}.$(( ${version#*.} + 1 ))
  reqs=$(mktemp)
  { grep -v '^ansible-core' requirements-test.txt; echo "ansible-core>=$version,<$next"; } > "$reqs"
  want=$( { cat "$reqs"; echo "$py"; } | sha256sum | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha" 2>/dev/null)" != "$want" ]; then
    log "creating $venv (ansible-core $version) with $py"
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2> >(grep -v "is ignored: it is neither" >&2)
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs" 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$want" > "$venv/.requirements.sha"
  fi
  rm -f "$reqs"
  bash hacking/ansible-test-bootstrap.sh "$venv"
}

what=${1:-all}
case $what in setup|sanity|units|all) ;; *) log "usage: $0 [setup|sanity|units|all]"; exit 2;; esac
for version in $MATRIX_VERSIONS; do setup_venv "$version"; done
[ "$what" = setup ] && exit 0

for version in $MATRIX_VERSIONS; do
  venv=$ROOT/.venv-$version
  core=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
  if [ "$what" != sanity ]; then
    log "ansible-core $core: unit tests"
    "$venv/bin/python" -m pytest tests/unit -q -n 2
  fi
  if [ "$what" != units ]; then
    log "ansible-core $core: ansible-test sanity"
    skip=()
    [ "${MATRIX_SANITY_ALL:-}" = 1 ] || skip+=("${SKIP_SAME[@]}")
    [ "${MATRIX_SANITY_PYLINT:-1}" = 1 ] || skip+=(--skip-test pylint)
    VENV=$venv bash hacking/sanity.sh ${skip[@]+"${skip[@]}"}
  fi
done
