# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one of the collection's modules in this Python process (no ansible-playbook, no fork),
for tests where Ansible itself is not what is tested.

    from helpers.inprocess import run_module, emulator_args
    failed, out = run_module('backup', dict(emulator_args(emulator), site='alpha', env='dev'))
    assert not failed, out['msg']

The module's ``main()`` runs with its arguments set as Ansible sets them (``_ANSIBLE_ARGS``) and
its stdout captured; its ``exit_json``/``fail_json`` result is returned as a dict.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os

from ansible.module_utils import basic

__all__ = ['run_module', 'emulator_args']


def emulator_args(emulator, ssh=True):
    """The connection options of the session emulator (the ssh_* ones when ``ssh``)."""
    args = dict(machine_token=emulator.machine_token, api_url=emulator.api_url, ca_path=emulator.ca_path)
    if ssh:
        args.update(ssh_host=emulator.ssh_host, ssh_port=emulator.ssh_port,
                    ssh_private_key=emulator.ssh_private_key, ssh_known_hosts=emulator.known_hosts)
    return args


def run_module(name, args, check_mode=False, diff=False, env=None):
    """Run ``pantheon.platform.<name>``; returns (failed, result dict)."""
    module = importlib.import_module('ansible_collections.pantheon.platform.plugins.modules.%s' % name)
    params = dict(args)
    params['_ansible_check_mode'] = check_mode
    params['_ansible_diff'] = diff
    saved_env = {}
    for key, value in (env or {}).items():
        saved_env[key] = os.environ.get(key)
        os.environ[key] = value
    saved = basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE  # pylint: disable=protected-access
    basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': params}).encode()  # pylint: disable=protected-access
    basic._ANSIBLE_PROFILE = 'legacy'  # pylint: disable=protected-access
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            try:
                module.main()
            except SystemExit:
                pass
    finally:
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = saved  # pylint: disable=protected-access
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    text = buffer.getvalue().strip()
    try:
        result = json.loads(text.splitlines()[-1] if text else '{}')
    except ValueError:
        raise AssertionError('module %s printed no JSON result: %r' % (name, text[-2000:])) from None
    return bool(result.get('failed')), result
