#!/usr/bin/env bash
# `make docs`: the collection's documentation site, built offline with antsibull-docs and Sphinx
# into .tmp/docs/html (open .tmp/docs/html/index.html).
#   1. A copy of the collection (tracked and new, unignored files) is made under
#      .tmp/docs/collections/ansible_collections/pantheon/platform, and every user guide in
#      docs/*.md (all but the contributor guide ARCHITECTURE.md) becomes an extra doc there:
#      docs/docsite/rst/<guide>.rst converted from the Markdown by pandoc (pypandoc-binary),
#      listed in docs/docsite/extra-docs.yml. A new guide in docs/ is picked up with no change here.
#   2. `antsibull-docs lint-collection-docs` checks the plugin docs and the extra docs.
#   3. `antsibull-docs collection` writes the RST of every plugin, role and extra doc.
#   4. `sphinx-build -W` (its configuration below: intersphinx only from a local inventory, so nothing is fetched) builds
#      the HTML; any warning fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/.tmp/docs
COLLECTIONS=$OUT/collections
COLL=$COLLECTIONS/ansible_collections/pantheon/platform
export PATH=$ROOT/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS

rm -rf "$OUT"
mkdir -p "$COLL"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | rsync -a --from0 --files-from=- ./ "$COLL/"

# --- 1. the guides as extra docs: Markdown converted to RST with pandoc (pypandoc-binary) -----
mkdir -p "$COLL/docs/docsite/rst"
python - "$COLL" "$(sed -n 's/^repository: //p' galaxy.yml)" docs/*.md <<'PY'
"""Write docs/docsite/rst/<guide>.rst (label + the guide in RST) and extra-docs.yml in the copy.

Links from a guide to other files of the repository become links to the repository's web view,
since the site holds only the guides, the plugins and the role.
"""
import os
import re
import sys

import pypandoc

coll, repository, guides = sys.argv[1], sys.argv[2], sys.argv[3:]
entries = []
for md in sorted(guides):
    name = os.path.basename(md)[:-3]
    if name == 'ARCHITECTURE':  # the contributor guide
        continue
    with open(md, encoding='utf-8') as f:
        text = f.read()
    title = re.search(r'^# (.+)$', text, re.M)
    if not title:
        sys.exit('%s has no "# Title" line' % md)

    def link(m):
        target = m.group(2)
        if re.match(r'[a-z]+:|#', target) or target.startswith('images/'):
            return m.group(0)
        path = os.path.normpath(os.path.join('docs', target))
        return '%s(%s/blob/main/%s)' % (m.group(1), repository, path)
    text = re.sub(r'(\]\()([^)\s]+)(?=\))', link, text)
    label = 'ansible_collections.pantheon.platform.docsite.' + name.replace('-', '_')
    # no heading ids: pandoc would write them as RST labels, and extra docs may only define labels
    # under the collection's prefix
    rst = pypandoc.convert_text(text, 'rst', format='gfm-gfm_auto_identifiers', extra_args=['--wrap=preserve'])
    with open(os.path.join(coll, 'docs', 'docsite', 'rst', name + '.rst'), 'w', encoding='utf-8') as f:
        f.write('.. _%s:\n\n%s' % (label, rst))
    entries.append((name, title.group(1)))
with open(os.path.join(coll, 'docs', 'docsite', 'extra-docs.yml'), 'w', encoding='utf-8') as f:
    f.write('---\nsections:\n  - title: Guides\n    toctree:\n')
    for name, title in entries:
        f.write('      - ref: %s\n        title: "%s"\n' % (name, title.replace('"', '\\"')))
print('guides:', ', '.join(name for name, dummy in entries))
PY

# --- 2. lint -----------------------------------------------------------------------------------
antsibull-docs lint-collection-docs --plugin-docs "$COLL"

# --- 3. RST --------------------------------------------------------------------------------------
mkdir -p "$OUT/rst"
chmod og-w "$OUT/rst"
antsibull-docs --config-file hacking/docsite/antsibull-docs.cfg collection --use-current --squash-hierarchy \
  --cleanup everything --fail-on-error --dest-dir "$OUT/rst" pantheon.platform
# the pictures the guides show (docs/images/ in the repository)
if [ -d docs/images ]; then
  mkdir -p "$OUT/rst/docsite/images"
  find docs/images -maxdepth 1 -type f \( -name '*.png' -o -name '*.svg' -o -name '*.jpg' \) -exec cp {} "$OUT/rst/docsite/images/" \;
fi

# --- 4. HTML: references into the Ansible documentation resolve through a local inventory ---
python - hacking/docsite/ansible_devel.txt "$OUT/ansible_devel.inv" <<'PY'
"""Write a Sphinx objects.inv (version 2) for the std:label entries listed in the text file."""
import sys
import zlib

lines = []
with open(sys.argv[1], encoding='utf-8') as f:
    for line in f:
        if line.strip() and not line.startswith('#'):
            label, uri, title = line.split(None, 2)
            lines.append('%s std:label -1 %s %s' % (label, uri, title.strip()))
header = b'# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n'
with open(sys.argv[2], 'wb') as f:
    f.write(header + zlib.compress(('\n'.join(lines) + '\n').encode('utf-8')))
PY
export PANTHEON_DOCS_ANSIBLE_INVENTORY=$OUT/ansible_devel.inv
# --- HTML -------------------------------------------------------------------------------------
# the Sphinx configuration (written here, not kept as a .py file in the collection)
mkdir -p "$OUT/conf"
cat > "$OUT/conf/conf.py" <<'CONF'
"""Sphinx configuration of the documentation site that `make docs` builds (hacking/docs.sh).

The build runs offline: the one intersphinx inventory, for the Ansible documentation, is a local
file that hacking/docs.sh writes from hacking/docsite/ansible_devel.txt, so nothing is fetched
and the links still point to docs.ansible.com.
The user guides (docs/*.md) are converted to RST extra docs first (see hacking/docs.sh).
"""

import os

project = 'pantheon.platform'
copyright = 'pantheon.platform contributors'
title = 'pantheon.platform'
html_short_title = 'pantheon.platform'

extensions = ['sphinx.ext.intersphinx', 'sphinx_antsibull_ext']

intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/',
                      os.environ.get('PANTHEON_DOCS_ANSIBLE_INVENTORY', '../../.tmp/docs/ansible_devel.inv')),
}
intersphinx_disabled_reftypes = []

pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = 'any'
CONF
sphinx-build -q -W --keep-going -b html -c "$OUT/conf" "$OUT/rst" "$OUT/html"
echo "documentation site: .tmp/docs/html/index.html"
