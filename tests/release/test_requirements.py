# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's rendered `requirements:` names exactly the programs and libraries its code uses.

They are found in the code: a module runs what its own file and the module_utils it imports
(transitively) start as a child process (`['ssh', ...]`, `['rsync', ...]`, `['git', ...]`), and needs
`requests` where that code imports it (`clone_state`, done on the controller by its action plugin,
does not). The requirements are what `ansible-doc --json` renders, doc fragments included.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from helpers.ansible import REPO, VENV_BIN, collections_path

MODULES = os.path.join(REPO, 'plugins', 'modules')
UTILS = os.path.join(REPO, 'plugins', 'module_utils')
IMPORT = re.compile(r'^\s*from ansible_collections\.pantheon\.platform\.plugins\.module_utils\.(\w+) import', re.M)
PROGRAM = re.compile(r"\[\s*'(ssh|rsync|git)'")
REQUESTS = re.compile(r'^\s*import requests\b', re.M)
# how a requirement line names each program or library
NAMED = {'ssh': re.compile(r'\bOpenSSH\b'), 'rsync': re.compile(r'^rsync\b'), 'git': re.compile(r'^git\b'),
         'requests': re.compile(r'^requests\b')}


def _module_names():
    return sorted(n[:-3] for n in os.listdir(MODULES) if n.endswith('.py') and not n.startswith('_'))


def _programs(path, seen=None):
    seen = set() if seen is None else seen
    with open(path, encoding='utf-8') as f:
        text = f.read()
    found = set(PROGRAM.findall(text))
    if REQUESTS.search(text):
        found.add('requests')
    for util in IMPORT.findall(text):
        if util not in seen:
            seen.add(util)
            found |= _programs(os.path.join(UTILS, util + '.py'), seen)
    return found


@pytest.fixture(scope='module')
def docs():
    names = ['pantheon.platform.' + m for m in _module_names()]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path())
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-doc'), '--json', '-t', 'module'] + names,
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return {name.rsplit('.', 1)[1]: value['doc'] for name, value in json.loads(proc.stdout).items()}


def test_the_scan_sees_the_programs_we_know_of():
    # guards the scan itself: these runs are the modules' reason to exist
    # (rsync: the overwrite guard lists the target's files, site_info's measure lists files/ and code/; git: site_info's clone_marks;
    # ssh: site_info's ssh_check)
    assert _programs(os.path.join(MODULES, 'code_push.py')) == {'ssh', 'git', 'rsync', 'requests'}
    assert _programs(os.path.join(MODULES, 'files_sync.py')) == {'ssh', 'rsync', 'requests'}
    assert _programs(os.path.join(MODULES, 'site_info.py')) == {'ssh', 'rsync', 'git', 'requests'}
    assert _programs(os.path.join(MODULES, 'wp_search_replace.py')) == {'ssh', 'requests'}
    assert _programs(os.path.join(MODULES, 'clone_state.py')) == set()


@pytest.mark.parametrize('module', _module_names())
def test_requirements_name_exactly_the_programs_the_module_runs(docs, module):
    requirements = docs[module].get('requirements') or []
    runs = _programs(os.path.join(MODULES, module + '.py'))
    named = {prog for prog, pattern in NAMED.items() if any(pattern.search(r) for r in requirements)}
    assert named == runs, '%s uses %s but its requirements name %s: %s' % (module, sorted(runs), sorted(named), requirements)
