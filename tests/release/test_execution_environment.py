# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment of docs/execution-environment.yml, as far as it can be built here.

There is no container engine on this machine, so the image itself is not built. What is checked is
everything before the engine: `ansible-builder create` turns the documented definition into a build
context, and the introspection script that context runs in its builder stage is run here on the
collection installed from the built tarball, as the image build would run it.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from helpers.ansible import REPO, VENV_BIN

EE_DOC = os.path.join(REPO, 'docs', 'execution-environment.yml')


def _run(argv, **kwargs):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    assert proc.returncode == 0, '%s\n%s%s' % (argv, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope='module')
def context(tmp_path_factory):
    ctx = tmp_path_factory.mktemp('ee') / 'context'
    _run([os.path.join(VENV_BIN, 'ansible-builder'), 'create', '-f', EE_DOC, '-c', str(ctx),
          '--output-filename', 'Containerfile'], cwd=str(ctx.parent))
    return ctx


def test_context_installs_ansible_core_runner_the_collection_and_the_programs(context):
    containerfile = (context / 'Containerfile').read_text()
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M).group(1).split()
    assert any(r.startswith('ansible-core') for r in refs) and 'ansible-runner' in refs, refs
    assert 'ansible-galaxy collection install' in containerfile
    galaxy = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert [c['name'] for c in galaxy['collections']] == ['pantheon.platform']
    bindep = (context / '_build' / 'bindep.txt').read_text()
    for package in ('openssh-clients', 'rsync', 'git-core'):
        assert re.search(r'^%s\b' % package, bindep, re.M), bindep


def test_builder_stage_introspection_finds_the_collection_requirements(context, tarball, tmp_path):
    installed = tmp_path / 'collections'
    # --force: under pytest the checkout is already on the configured collections path
    _run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p', str(installed), tarball])
    pip_out, bindep_out = tmp_path / 'requirements.txt', tmp_path / 'bindep.txt'
    # the same command line as the Containerfile's builder stage, on the installed collection
    containerfile = (context / 'Containerfile').read_text()
    assert '/output/scripts/introspect.py introspect --user-bindep=bindep.txt' in containerfile
    out = _run([os.path.join(VENV_BIN, 'python'), str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect',
                '--user-bindep=%s' % (context / '_build' / 'bindep.txt'),
                '--write-bindep=%s' % bindep_out, '--write-pip=%s' % pip_out, str(installed)])
    assert pip_out.exists(), out
    pip = pip_out.read_text()
    assert re.search(r'^requests>=2\.28\s+# from collection pantheon\.platform', pip, re.M), pip
    bindep = bindep_out.read_text()
    for package in ('openssh-clients [platform:rpm]', 'openssh-client [platform:dpkg]', 'rsync', 'git'):
        assert re.search(r'^%s\s+# from collection pantheon\.platform' % re.escape(package), bindep, re.M), bindep
