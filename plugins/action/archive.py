# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of pantheon.platform.archive: the archive's name never reaches printed output.

A successful ``state=present`` result holds ``path`` and ``url`` and is marked no_log; the
``path`` option is replaced in the printed ``invocation`` of every result.
"""

from __future__ import annotations

from ansible_collections.pantheon.platform.plugins.plugin_utils._secret_result import SecretResultAction


class ActionModule(SecretResultAction):

    MODULE = 'pantheon.platform.archive'
    HIDDEN_ARGS = ('path',)
    # On Ctrl-C or a stopped job, the module removes its archive before it exits, in a process of its own that
    # ansible-playbook does not wait for: it says what is left and exits, while the removal goes on. In the task's
    # worker, ansible-playbook would wait for that removal, however long its connection took to fail.
    IN_PROCESS = False

    def result_is_secret(self, args, result):
        return bool(result.get('path') or result.get('url'))
