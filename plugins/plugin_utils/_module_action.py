# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""The action every pantheon.platform module runs through: on the controller's own Python, in-process.

The collection's modules run on the controller (``connection: local``). Run the usual way, each task
builds an AnsiballZ payload, makes a temporary directory, copies the payload there, starts a fresh
Python that unpacks it and imports ``requests`` and the module's code, then removes the directory:
four processes and about a third of a CPU-second before the module does anything. A clone runs about
fifteen module tasks, so that start-up was the largest single cost of a clone on the controller.

When the task runs on the ``local`` connection, on the very interpreter that runs Ansible
(``ansible_python_interpreter`` is ``ansible_playbook_python``, as for the implicit localhost and in
the collection's playbooks), without ``become`` or ``async``, the action runs the module's ``main()``
inside the task's worker process instead. Ansible forks a worker for each task, so nothing the module
does outlives the task. The module sees the same arguments (``_ansible_*`` included: check mode, diff,
verbosity, no_log), the task's ``environment``, and returns the same JSON, which Ansible parses the
same way. Anything else (another host, another interpreter, become, async), or
``PANTHEON_MODULES_IN_PROCESS=false`` in the controller's environment, runs the module the usual way.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys

from ansible.module_utils import basic
from ansible.module_utils.common import json as module_json
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

try:  # ansible-core 2.19 and 2.20: the result is a dict
    from ansible.vars.clean import remove_internal_keys
except ImportError:  # pragma: no cover - later releases clean their own result type
    remove_internal_keys = None

display = Display()

_COLLECTION = 'pantheon.platform.'
_PROFILE = 'legacy'  # the modules' serialization profile (they declare none)
_LOCAL = ('local', 'ansible.builtin.local', 'ansible.legacy.local')


class ModuleAction(ActionBase):
    """Run the module of the task (or ``MODULE``), in-process where that is the same as running it locally."""

    _supports_check_mode = True
    _supports_async = True

    # Fully qualified name of the module this action runs (default: the task's own module).
    MODULE = None
    # False: always the usual way (a module whose signal handling needs a process of its own)
    IN_PROCESS = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # as ansible.builtin.normal does: async where the task asks for it (then never in-process)
        wrap_async = bool(self._task.async_val and not self._connection.has_native_async)
        result = merge_hash(result, self._execute_module(module_name=self.MODULE, module_args=dict(self._task.args),
                                                         task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _execute_module(self, module_name=None, module_args=None, tmp=None, task_vars=None, **kwargs):
        # pylint: disable=arguments-differ
        module_name = module_name or self._task.resolved_action
        task_vars = task_vars if task_vars is not None else {}
        if not self._in_process(module_name, task_vars):
            return super()._execute_module(module_name=module_name, module_args=module_args, tmp=tmp,
                                           task_vars=task_vars, **kwargs)
        module_args = dict(self._task.args if module_args is None else module_args)
        self._update_module_args(module_name, module_args, task_vars)
        environment = {}
        self._compute_environment_string(environment)
        display.vvv('Running %s in the task worker, in-process (PANTHEON_MODULES_IN_PROCESS=false: in a process of its '
                    'own)' % module_name, host=self._play_context.remote_addr)
        stdout = _run_main(module_name[len(_COLLECTION):], module_args, environment)
        self._used_interpreter = sys.executable
        data = self._parse_returned_data(dict(rc=0, stdout=stdout, stderr='', stdout_lines=[], stderr_lines=[]),
                                         _PROFILE)
        if isinstance(data, dict):  # ansible-core 2.19, 2.20
            data.pop('_ansible_suppress_tmpdir_delete', None)
            remove_internal_keys(data)
            return data
        data.remove_internal_keys()
        return data.as_result_dict(for_round_trip=True)

    def _in_process(self, module_name, task_vars):
        """Whether running ``module_name`` here is the same as running it the usual way (an async task never is:
        Ansible's async wrapper starts the module on the host)."""
        if not self.IN_PROCESS or not module_name.startswith(_COLLECTION) or self._task.async_val:
            return False
        if not boolean(os.environ.get('PANTHEON_MODULES_IN_PROCESS', 'true'), strict=False):
            return False
        if self._connection.transport not in _LOCAL or self._play_context.become:
            return False
        interpreter = task_vars.get('ansible_python_interpreter')
        if self._task.delegate_to:
            interpreter = task_vars.get('ansible_delegated_vars', {}).get(self._task.delegate_to, {}).get(
                'ansible_python_interpreter')
        if not interpreter:
            return False
        return _same_python(self._templar.template(interpreter))


def _same_python(interpreter):
    """Whether ``interpreter`` is the Python running Ansible: the same file (``python``, ``python3`` and ``python3.13``
    of a virtualenv are one) in the same directory (a virtualenv's Python links to its base Python, which lacks the
    virtualenv's packages)."""
    if not isinstance(interpreter, str) or not os.path.isabs(interpreter):
        return False
    try:
        return (os.path.realpath(os.path.dirname(interpreter)) == os.path.realpath(os.path.dirname(sys.executable))
                and os.path.samefile(interpreter, sys.executable))
    except OSError:
        return False


def _run_main(name, module_args, environment):
    """Run the collection's module ``name`` with ``module_args``; return what it printed (its JSON result)."""
    payload = json.dumps(dict(ANSIBLE_MODULE_ARGS=module_args),
                         cls=module_json.get_module_encoder(_PROFILE, module_json.Direction.CONTROLLER_TO_MODULE))
    saved_env = dict(os.environ)
    saved = basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE  # pylint: disable=protected-access
    out = io.StringIO()
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = payload.encode(), _PROFILE  # pylint: disable=protected-access
    os.environ.update(dict((str(key), str(value)) for key, value in environment.items()))
    try:
        with contextlib.redirect_stdout(out):
            try:
                importlib.import_module('ansible_collections.pantheon.platform.plugins.modules.' + name).main()
            except SystemExit:
                pass
            except Exception as e:  # pylint: disable=broad-except
                # the modules turn every error into a failure result; this is what escaped them
                print(json.dumps(dict(failed=True, msg='Unexpected error in %s (%s): %s' % (name, type(e).__name__, e))))
    finally:
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = saved  # pylint: disable=protected-access
        os.environ.clear()
        os.environ.update(saved_env)
    return out.getvalue()
