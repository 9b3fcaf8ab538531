# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The supported ansible-core releases are the same wherever they are stated.

Sources: `requires_ansible` (meta/runtime.yml), the role's `min_ansible_version`, the versions that
hacking/matrix.sh tests (older releases) plus the one .venv tests (requirements-test.txt), the
README's "Supported" line, and the ansible-core range of docs/execution-environment.yml.
"""

from __future__ import annotations

import os
import re

import yaml

from helpers.ansible import REPO


def _read(*parts):
    with open(os.path.join(REPO, *parts), encoding='utf-8') as f:
        return f.read()


def _minor(text):
    major, minor = text.split('.')[:2]
    return int(major), int(minor)


def _tested():
    """Every minor release the tests run on, oldest first."""
    matrix = re.search(r'^MATRIX_VERSIONS=\$\{MATRIX_VERSIONS:-([0-9. ]+)\}$', _read('hacking', 'matrix.sh'), re.M).group(1)
    newest = re.search(r'^ansible-core>=(\d+\.\d+),<(\d+\.\d+)$', _read('requirements-test.txt'), re.M)
    assert _minor(newest.group(2)) == (_minor(newest.group(1))[0], _minor(newest.group(1))[1] + 1), newest.group(0)
    return sorted({_minor(v) for v in matrix.split()} | {_minor(newest.group(1))})


def test_tested_releases_are_consecutive_and_include_two_before_the_newest():
    tested = _tested()
    assert len(tested) >= 3, tested
    assert tested == [(tested[0][0], tested[0][1] + i) for i in range(len(tested))], tested


def test_requires_ansible_and_the_role_start_at_the_oldest_tested_release():
    oldest = '%d.%d' % _tested()[0]
    assert yaml.safe_load(_read('meta', 'runtime.yml'))['requires_ansible'] == '>=%s.0' % oldest
    meta = yaml.safe_load(_read('roles', 'site_clone', 'meta', 'main.yml'))
    assert str(meta['galaxy_info']['min_ansible_version']) == oldest


def test_readme_names_every_tested_release():
    line = re.search(r'^Supported: ansible-core ([0-9., and]+) on', _read('README.md'), re.M)
    assert line, 'README.md has no "Supported: ansible-core ... on" line'
    named = sorted(_minor(v) for v in re.findall(r'\d+\.\d+', line.group(1)))
    assert named == _tested(), line.group(0)


def test_execution_environment_installs_a_tested_release():
    spec = yaml.safe_load(_read('docs', 'execution-environment.yml'))['dependencies']['ansible_core']['package_pip']
    tested = _tested()
    assert spec == 'ansible-core>=%d.%d,<%d.%d' % (tested[0] + (tested[-1][0], tested[-1][1] + 1)), spec
