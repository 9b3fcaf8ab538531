# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the built collection carries: the licence, the community files, and nothing of the development tree."""

from __future__ import annotations

import os
import re
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_licence_is_gpl3_or_later_and_shipped(tarball, tar_members):
    assert 'COPYING' in tar_members
    with tarfile.open(tarball) as tar:
        text = tar.extractfile('COPYING').read().decode('utf-8')
    assert 'GNU GENERAL PUBLIC LICENSE' in text and 'Version 3, 29 June 2007' in text
    with open(os.path.join(REPO, 'galaxy.yml'), encoding='utf-8') as f:
        assert re.search(r'^license:\n  - GPL-3\.0-or-later$', f.read(), re.M)


def test_community_files_are_shipped(tar_members):
    for name in ('README.md', 'CODE_OF_CONDUCT.md', 'CONTRIBUTING.md', 'meta/runtime.yml'):
        assert name in tar_members, name


def test_development_tree_is_not_shipped(tar_members):
    leaked = sorted(n for n in tar_members
                    if n.split('/')[0] in ('tests', 'hacking', 'benchmarks', '.venv', '.tmp', '.ci', 'collections')
                    or n.startswith('.venv-') or n.endswith('.tar.gz'))
    assert not leaked, leaked


def test_readme_links_to_the_community_files_and_every_local_link_resolves():
    with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    links = re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', readme)
    local = [link for link in links if '://' not in link]
    for name in ('CONTRIBUTING.md', 'CODE_OF_CONDUCT.md', 'COPYING'):
        assert name in local, 'README.md does not link %s' % name
    missing = [link for link in local if not os.path.exists(os.path.join(REPO, link))]
    assert not missing, 'README.md links to files that do not exist: %s' % missing
