#!/usr/bin/env bash
# Prepare a fresh machine for `make test` / `make demo`:
#   * Debian packages (when run as root): rsync, git, openssh-client, libnss-myhostname
#     (so *.localhost names of the emulator's environments resolve to loopback), mariadb-server
#     and mariadb-client (the emulator runs its own mariadbd; the system service is not started);
#   * a virtualenv in .venv built from the newest CPython >= 3.12 found (ansible-core 2.21 needs it),
#     with requirements-test.txt and requirements-dev.txt (lint and release tools), rebuilt when
#     either file changes;
#   * an offline stand-in for ansible-test's pip bootstrap script;
#   * a folder of symlinks to the real interpreters (not pyenv shims) for ansible-test.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
STAMP=$VENV/.requirements-test.sha

log() { printf '==> %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
need_pkgs=()
command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
command -v ssh >/dev/null 2>&1 || need_pkgs+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || need_pkgs+=(openssh-client)
if ! getent hosts probe.pantheonsite.localhost >/dev/null 2>&1; then need_pkgs+=(libnss-myhostname); fi
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then need_pkgs+=(mariadb-server); fi
command -v mariadb-install-db >/dev/null 2>&1 || [ -x /usr/bin/mariadb-install-db ] || need_pkgs+=(mariadb-server)
command -v mysqldump >/dev/null 2>&1 || need_pkgs+=(mariadb-client)
command -v mysql >/dev/null 2>&1 || need_pkgs+=(mariadb-client)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # policy-rc.d 101: the packages' maintainer scripts must not start the system's mariadb
    # service (the emulator starts its own mariadbd on its own socket and port).
    norc=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && norc=1
    fi
    apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need_pkgs[@]}" | sort -u) >/dev/null
    [ -z "$norc" ] || rm -f /usr/sbin/policy-rc.d
  else
    log "missing system packages: ${need_pkgs[*]} (install them, or run as root)"; exit 1
  fi
fi
if ! getent hosts probe.pantheonsite.localhost >/dev/null 2>&1; then
  log "*.localhost does not resolve; add 'myhostname' to the hosts line of /etc/nsswitch.conf"; exit 1
fi

# --- Python ----------------------------------------------------------------------------------
find_python() {
  local cand best="" bestv=0 v
  for cand in ${PYTHON:-} python3.14 python3.13 python3.12 \
      /root/.pyenv/versions/3.1[2-9]*/bin/python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 \
      /usr/bin/python3 /usr/local/bin/python3 python3; do
    command -v "$cand" >/dev/null 2>&1 || [ -x "$cand" ] || continue
    # resolve pyenv shims to the real interpreter
    local real
    real=$("$cand" -c 'import sys; print(sys.executable)' 2>/dev/null) || continue
    v=$("$real" -c 'import sys; print(sys.version_info[0]*100+sys.version_info[1])' 2>/dev/null) || continue
    if [ "$v" -ge 312 ] && [ "$v" -gt "$bestv" ]; then best=$real; bestv=$v; fi
  done
  [ -n "$best" ] || { log "no Python >= 3.12 found (ansible-core 2.21 needs it); set PYTHON=/path/to/python3.12+"; exit 1; }
  echo "$best"
}

want=$(cat requirements-test.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  PY=$(find_python)
  log "creating $VENV with $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2> >(grep -v "is ignored: it is neither" >&2)
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-test.txt -r requirements-dev.txt 2> >(grep -v "is ignored: it is neither" >&2)
  echo "$want" > "$STAMP"
fi

# --- ansible-test offline pip bootstrap (see the script) ----------------------------------
bash hacking/ansible-test-bootstrap.sh "$VENV"

# --- real interpreters first on PATH (ansible-test trips over pyenv shims) -----------------
bindir=$ROOT/.tmp/pybin
mkdir -p "$bindir"
for v in 3.10 3.11 3.12 3.13 3.14; do
  for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/$v*/bin/python$v /usr/bin/python$v /usr/local/bin/python$v; do
    if [ -x "$cand" ]; then ln -sfn "$cand" "$bindir/python$v"; break; fi
  done
done
log "environment ready: $VENV"
