#!/usr/bin/env bash
# Run `ansible-test sanity` offline. ansible-test needs the collection under
# ansible_collections/pantheon/platform/, so the tracked (and new, unignored) files are copied
# into a folder outside this checkout first (inside it, ansible-test would ask this repository's
# git which files exist, and .tmp/ is ignored).
# VENV=.venv-2.19 runs the ansible-test of that virtualenv (hacking/matrix.sh); each virtualenv
# gets its own copy folder, so the versions can run at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$(cd "${VENV:-$ROOT/.venv}" && pwd)
DEST=${SANITY_DIR:-${TMPDIR:-/tmp}/pantheon-platform-sanity-$(id -u)-$(printf %s "$ROOT" | sha1sum | cut -c1-10)$(basename "$VENV" | sed 's/^\.venv//')}/ansible_collections/pantheon/platform
rm -rf "$DEST"
mkdir -p "$DEST"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | rsync -a --from0 --files-from=- ./ "$DEST/"
cd "$DEST"
export PATH=$ROOT/.tmp/pybin:$VENV/bin:$PATH
PYV=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
set -o pipefail
ansible-test sanity --venv --python "$PYV" --color no "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory"
