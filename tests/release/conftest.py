# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the release checks: the collection tarball as `ansible-galaxy collection build` makes it."""

from __future__ import annotations

import glob
import os
import subprocess
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, '.venv', 'bin')


@pytest.fixture(scope='session')
def tarball(tmp_path_factory):
    """Path of a freshly built pantheon-platform-<version>.tar.gz of this checkout."""
    out = tmp_path_factory.mktemp('dist')
    proc = subprocess.run(
        [os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(out), REPO],
        capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = glob.glob(str(out / 'pantheon-platform-*.tar.gz'))
    return path


@pytest.fixture(scope='session')
def tar_members(tarball):
    with tarfile.open(tarball) as tar:
        return {m.name: m for m in tar.getmembers()}
