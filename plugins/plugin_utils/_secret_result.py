# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""Action plugin base that runs a module and hides its result when it carries a secret.

A module cannot hide its own result: ``_ansible_no_log`` is only honoured when an action plugin
sets it (a module's value is dropped, and callbacks print the result at ``-vvv``). The registered
variable still holds the whole result, so playbooks can use the secret without printing it.
"""

from __future__ import annotations

from ansible_collections.pantheon.platform.plugins.plugin_utils._module_action import ModuleAction


class SecretResultAction(ModuleAction):
    """Run the module of the same name; set ``_ansible_no_log`` when ``result_is_secret`` says so."""

    _supports_async = False

    # Options whose values are replaced in the result's ``invocation`` (printed at -vvv and on failure).
    HIDDEN_ARGS = ()

    def result_is_secret(self, args, result):  # pragma: no cover - overridden
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        invocation = result.get('invocation')
        if isinstance(invocation, dict) and isinstance(invocation.get('module_args'), dict):
            for name in self.HIDDEN_ARGS:
                if invocation['module_args'].get(name) is not None:
                    invocation['module_args'][name] = 'VALUE_HIDDEN_BY_ACTION_PLUGIN'
        if self.result_is_secret(args, result):
            result['_ansible_no_log'] = True
        return result
