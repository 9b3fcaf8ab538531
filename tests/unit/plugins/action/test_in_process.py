# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugin_utils/_module_action.py on its own: which interpreter counts as the controller's, and running a module's
main() in-process (its JSON captured, the environment given to it alone, an error that escapes the module turned
into a failure). The whole action, through ansible-playbook: tests/integration/test_module_action.py."""

from __future__ import annotations

import json
import os
import sys

from ansible_collections.pantheon.platform.plugins.plugin_utils._module_action import _run_main, _same_python


def test_the_controllers_python_under_any_of_its_names_in_its_own_directory(tmp_path):
    assert _same_python(sys.executable)
    bin_dir = os.path.dirname(sys.executable)
    for name in ('python', 'python3', 'python%d.%d' % sys.version_info[:2]):
        path = os.path.join(bin_dir, name)
        if os.path.exists(path):
            assert _same_python(path), path
    # the same file reached from another directory is another Python to Ansible (a virtualenv is its directory)
    link = tmp_path / 'python'
    os.symlink(sys.executable, str(link))
    assert not _same_python(str(link))
    # what Ansible would discover, or could not say
    for other in ('auto', 'python3', '', None, str(tmp_path / 'absent'), ['/usr/bin/python3']):
        assert not _same_python(other), other


def test_main_runs_with_the_arguments_and_environment_given_and_only_those(monkeypatch):
    monkeypatch.delenv('PANTHEON_CONNECT_TIMEOUT', raising=False)
    args = dict(name='some-site', machine_token='machine-token-UNIT-0123456789', api_url='http://127.0.0.1:9/api',
                _ansible_check_mode=True)
    out = json.loads(_run_main('site_info', args, {'PANTHEON_CONNECT_TIMEOUT': '0'}))
    # the environment reached the module (the option's fallback), and left with it
    assert out['failed'] is True and out['msg'] == 'connect_timeout must be a positive number of seconds, got 0'
    assert 'PANTHEON_CONNECT_TIMEOUT' not in os.environ
    assert 'machine-token-UNIT' not in json.dumps(out)


def test_an_error_that_escapes_the_module_is_a_failure_not_a_traceback():
    out = json.loads(_run_main('no_such_module', {}, {}))
    assert out['failed'] is True
    assert out['msg'].startswith('Unexpected error in no_such_module (ModuleNotFoundError): ')
    assert 'Traceback' not in json.dumps(out)
