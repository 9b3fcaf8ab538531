#!/usr/bin/env bash
# Usage: hacking/ansible-test-bootstrap.sh VENV
# ansible-test (of the ansible-core in VENV) downloads get-pip-<version>.py from a host this
# machine cannot reach; it first looks in this cache. Our stand-in installs pip with ensurepip,
# then runs `pip install ARGS`. Each ansible-core release pins its own pip version, so
# hacking/setup-env.sh runs this for .venv and hacking/matrix.sh for each .venv-<version>.
set -euo pipefail
VENV=${1:?usage: $0 VENV}
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
pipver=$("$VENV/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = (pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py').read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
cat > "$cache/get_pip_${pipver//./_}.py" <<'PY'
"""Offline stand-in for get-pip.py: bootstrap pip with ensurepip, then pip install the given args."""
import subprocess
import sys

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'],
                      stdout=subprocess.DEVNULL)
# get-pip.py's own flags mean "do not also install these"; pip install has no such flags.
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
PY

