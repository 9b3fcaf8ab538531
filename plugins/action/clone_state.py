# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of pantheon.platform.clone_state: the site_clone role's files, written on the controller.

Runs in the worker on the controller; no module process is started (see the module's documentation).
"""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.pantheon.platform.plugins.module_utils import _journal

OPTIONS = ('path', 'state', 'update', 'content', 'text')


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        unknown = sorted(set(args) - set(OPTIONS))
        if unknown:
            raise AnsibleActionFail('clone_state: unsupported option(s) %s (supported: %s)'
                                    % (', '.join(unknown), ', '.join(OPTIONS)))
        path = args.get('path')
        if not path or not isinstance(path, str):
            raise AnsibleActionFail('clone_state: path is required and must be a file name')
        path = os.path.abspath(os.path.expanduser(path))
        state = args.get('state', 'present')
        if state not in ('present', 'absent'):
            raise AnsibleActionFail('clone_state: state must be present or absent, got %r' % (state,))
        update, content, text = args.get('update'), args.get('content'), args.get('text')
        if state == 'present' and [update, content, text].count(None) != 2:
            raise AnsibleActionFail('clone_state: with state=present give exactly one of update, content and text')
        for name, value in (('update', update), ('content', content)):
            if value is not None and not isinstance(value, dict):
                raise AnsibleActionFail('clone_state: %s must be a dict, got %s' % (name, type(value).__name__))
        if text is not None and not isinstance(text, str):
            raise AnsibleActionFail('clone_state: text must be a string, got %s' % type(text).__name__)

        exists = os.path.isfile(path)
        if text is not None:
            return self._write_text(result, path, text, exists)
        if state == 'absent':
            new = None
            result['changed'] = exists
        else:
            old = _journal.read(path) if exists else None
            new = dict(old or {}, **update) if update is not None else content
            # Compare as JSON, as the file holds it.
            result['changed'] = old is None or json.dumps(old, sort_keys=True, default=to_text) != \
                json.dumps(new, sort_keys=True, default=to_text)
        result['path'] = path
        if self._task.check_mode or not result['changed']:
            return result
        try:
            if new is None:
                os.unlink(path)
            else:
                _journal.write(path, json.loads(json.dumps(new, default=to_text)))
        except OSError as e:
            raise AnsibleActionFail('clone_state: could not write %s: %s' % (path, e.strerror or e))
        return result

    def _write_text(self, result, path, text, exists):
        """A page of the report (HTML), replaced atomically with mode 0600 when it differs."""
        old = None
        if exists:
            try:
                with open(path, encoding='utf-8') as f:
                    old = f.read()
            except (OSError, ValueError):
                old = None
        result.update(path=path, changed=old != text)
        if self._task.check_mode or not result['changed']:
            return result
        try:
            _journal.write_text(path, text)
        except OSError as e:
            raise AnsibleActionFail('clone_state: could not write %s: %s' % (path, e.strerror or e))
        return result
