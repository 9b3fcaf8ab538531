# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release: galaxy.yml's version is the changelog's newest release, the changelog announces
the role and the playbooks and nothing twice, and galaxy-importer accepts the tarball with its
"1.0.0 or later" check on."""

from __future__ import annotations

import os
import subprocess

import yaml
from ansible.module_utils.compat.version import LooseVersion

from helpers.ansible import REPO, VENV_BIN


def _changelog():
    with open(os.path.join(REPO, 'changelogs', 'changelog.yaml'), encoding='utf-8') as f:
        return yaml.safe_load(f)


def _galaxy_version():
    with open(os.path.join(REPO, 'galaxy.yml'), encoding='utf-8') as f:
        return yaml.safe_load(f)['version']


def test_galaxy_version_is_the_newest_release():
    releases = sorted(_changelog()['releases'], key=LooseVersion)
    assert releases, 'changelogs/changelog.yaml has no release'
    assert _galaxy_version() == releases[-1]


def test_release_announces_the_role_and_the_playbooks_once_and_no_test_tooling():
    release = _changelog()['releases'][_galaxy_version()]
    objects = release.get('objects', {})
    assert [r['name'] for r in objects.get('role', [])] == ['site_clone']
    playbooks = sorted(n[:-4] for n in os.listdir(os.path.join(REPO, 'playbooks')) if n.endswith('.yml'))
    assert sorted(p['name'] for p in objects.get('playbook', [])) == playbooks
    entries = [e for section, items in release.get('changes', {}).items() if section != 'release_summary' for e in items]
    assert len(entries) == len(set(entries)), 'an entry is listed twice'
    modules = sorted(m['name'] for m in release.get('modules', []))
    for entry in entries:
        assert not any(entry.startswith('%s - new module' % m) for m in modules), 'module announced twice: %s' % entry
        assert 'emulator' not in entry.lower() and 'tests/' not in entry, 'test tooling in the user changelog: %s' % entry
    with open(os.path.join(REPO, 'CHANGELOG.rst'), encoding='utf-8') as f:
        rst = f.read()
    assert 'v%s' % _galaxy_version() in rst and 'site_clone' in rst


def test_galaxy_importer_accepts_the_tarball_with_the_v1_check(tarball, tmp_path):
    env = dict(os.environ,
               PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''),
               GALAXY_IMPORTER_REQUIRE_V1_OR_GREATER='true',
               GALAXY_IMPORTER_CHECK_CHANGELOG='true',
               GALAXY_IMPORTER_RUN_ANSIBLE_DOC='true',
               # ansible-lint runs on the source tree in make test already (its findings are only warnings here)
               GALAXY_IMPORTER_RUN_ANSIBLE_LINT='false',
               GALAXY_IMPORTER_RUN_ANSIBLE_TEST='false',
               GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=str(tmp_path / 'ansible-tmp'),
               GALAXY_IMPORTER_TMP_ROOT_DIR=str(tmp_path))
    proc = subprocess.run([os.path.join(VENV_BIN, 'python'), '-m', 'galaxy_importer.main', tarball],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert 'Importer processing completed successfully' in output, output
    assert 'ERROR' not in output and 'WARNING' not in output, output
