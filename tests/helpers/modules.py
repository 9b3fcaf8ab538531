# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module of this collection in the test process, as Ansible would run it on the host
(``main()`` with its arguments, exit through ``exit_json``/``fail_json``), without ansible-playbook.

    from helpers.modules import call_module
    out = call_module('site_info', {'name': 'alpha'}, env={'PANTHEON_MACHINE_TOKEN': token})
    assert out['exists'] and not out.get('failed')

For what is not about Ansible itself (the module's logic against the stub API or the emulator);
a test that proves the Ansible side (argument spec through a play, module_defaults groups, the
action plugins' no_log, check mode through ansible-playbook, output at -vvvv) runs
helpers.ansible.run_playbook.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os

from ansible.module_utils.testing import patch_module_args

__all__ = ['call_module', 'run_module_main']


@contextlib.contextmanager
def _environment(env):
    """os.environ updated with ``env`` (a value of None removes the variable), restored afterwards."""
    saved = dict(os.environ)
    try:
        for key, value in (env or {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = str(value)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def call_module(module, args, env=None, check_mode=False, diff=False):
    """Run pantheon.platform.``module`` with ``args`` and the environment variables ``env``;
    returns its result (``failed`` set when it failed). An exception that escapes the module (a
    Python traceback a user would see) is raised into the test."""
    return run_module_main(module, args, env, check_mode, diff)[0]


def run_module_main(module, args, env=None, check_mode=False, diff=False):
    """call_module, returning (result, what the module wrote to stdout, what it wrote to stderr)."""
    mod = importlib.import_module('ansible_collections.pantheon.platform.plugins.modules.%s' % module)
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    out, err = io.StringIO(), io.StringIO()
    with _environment(env), patch_module_args(args), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            mod.main()
        except SystemExit:
            pass
        else:
            raise AssertionError('%s returned without exit_json/fail_json' % module)
    try:
        return json.loads(out.getvalue()), out.getvalue(), err.getvalue()
    except ValueError:
        raise AssertionError('%s printed no JSON result:\n%s\n%s' % (module, out.getvalue()[-4000:],
                                                                     err.getvalue()[-4000:])) from None
