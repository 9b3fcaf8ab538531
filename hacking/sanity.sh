#!/usr/bin/env bash
# Run `ansible-test sanity` offline. ansible-test needs the collection under
# ansible_collections/pantheon/platform/, so the tracked (and new, unignored) files are copied
# into .tmp/sanity/ansible_collections/pantheon/platform/ first.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEST=$ROOT/.tmp/sanity/ansible_collections/pantheon/platform
rm -rf "$DEST"
mkdir -p "$DEST"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | rsync -a --from0 --files-from=- ./ "$DEST/"
cd "$DEST"
export PATH=$ROOT/.tmp/pybin:$ROOT/.venv/bin:$PATH
PYV=$("$ROOT/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exec ansible-test sanity --venv --python "$PYV" --color no "$@"
