# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of pantheon.platform.clone_state: the site_clone role's files, written on the controller.

Runs in the worker on the controller; no module process is started (see the module's documentation).
"""

from __future__ import annotations

import glob
import json
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.pantheon.platform.plugins.filter.clone_report import clone_report_html, clone_report_index
from ansible_collections.pantheon.platform.plugins.module_utils import _journal

OPTIONS = ('path', 'state', 'update', 'content', 'text', 'report', 'history', 'forget')


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
        given = [update, content, text, args.get('report')].count(None)
        if state == 'present' and given != 3:
            raise AnsibleActionFail('clone_state: with state=present give exactly one of update, content, text and report')
        if state == 'absent' and given != 4:
            raise AnsibleActionFail('clone_state: state=absent takes none of update, content, text and report')
        for name, value in (('update', update), ('content', content)):
            if value is not None and not isinstance(value, dict):
                raise AnsibleActionFail('clone_state: %s must be a dict, got %s' % (name, type(value).__name__))
        if text is not None and not isinstance(text, str):
            raise AnsibleActionFail('clone_state: text must be a string, got %s' % type(text).__name__)

        report = args.get('report')
        if report is not None:
            return self._write_report(result, path, report, args.get('history'), args.get('forget'))
        for name in ('history', 'forget'):
            if args.get(name) is not None:
                raise AnsibleActionFail('clone_state: %s goes with report' % name)

        exists = os.path.isfile(path)
        if text is not None:
            return self._write_text(result, path, text)
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
                _journal.write(path, _plain(new))
        except OSError as e:
            raise AnsibleActionFail('clone_state: could not write %s: %s' % (path, e.strerror or e))
        return result

    def _write_text(self, result, path, text):
        """A page of the report (HTML), replaced atomically with mode 0600 when it differs."""
        result.update(path=path, changed=_held_text(path) != text)
        if self._task.check_mode or not result['changed']:
            return result
        try:
            _journal.write_text(path, text)
        except OSError as e:
            raise AnsibleActionFail('clone_state: could not write %s: %s' % (path, e.strerror or e))
        return result

    def _write_report(self, result, path, report, history, forget):
        """A clone's report (as the clone_report filter built it): written (in check mode too: it is the run's
        output), kept in the history with its page and its entry, the history's index rewritten, then the job's
        state file forgotten."""
        if not isinstance(report, dict) or not report.get('job'):
            raise AnsibleActionFail('clone_state: report must be a dict, a report of the clone_report filter, got %s'
                                    % (type(report).__name__ if not isinstance(report, dict) else 'one without a job'))
        if history is not None and not (isinstance(history, dict) and history.get('name')
                                        and '/' not in str(history['name'])):
            raise AnsibleActionFail('clone_state: history must be a dict with a name (a file name, no /), got %r'
                                    % (history,))
        report = _plain(report)
        directory = os.path.dirname(path)
        try:
            # each file is written only when it differs: the same report again changes nothing
            changed = [_put_json(path, report)]
            if history is not None:
                name = str(history['name'])
                kept = os.path.join(directory, 'history', name)
                changed.append(_put_json(os.path.join(kept, 'report.json'), report))
                changed.append(_put_text(os.path.join(kept, 'report.html'),
                                         clone_report_html([report], title='Clone %s' % report['job'])))
                changed.append(_put_json(kept + '.json', {
                    'name': name, 'kind': str(history.get('kind') or 'clone'),
                    'href': 'history/%s/report.html' % name,
                    'started_at': report.get('started_at'), 'finished_at': report.get('finished_at'),
                    'status': report.get('status'), 'summary': _summary(report)}))
                changed.append(_put_text(os.path.join(directory, 'index.html'),
                                         clone_report_index(_kept_runs(directory))))
            if forget and not self._task.check_mode and os.path.isfile(forget):
                os.unlink(forget)
                changed.append(True)
        except OSError as e:
            raise AnsibleActionFail('clone_state: could not write the report %s: %s' % (path, e.strerror or e))
        result.update(path=path, changed=any(changed))
        return result


def _plain(value):
    """``value`` as the JSON file holds it (what JSON cannot hold, as text)."""
    return json.loads(json.dumps(value, default=to_text))


def _held_text(path):
    """The file's text; None when it is missing or unreadable."""
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except (OSError, ValueError):
        return None


def _put_text(path, text):
    """Replace the file with ``text`` unless it holds it already; whether it was written."""
    if _held_text(path) == text:
        return False
    _journal.write_text(path, text)
    return True


def _put_json(path, data):
    """Replace the JSON file with ``data`` unless it holds it already; whether it was written."""
    if os.path.isfile(path) and _journal.read(path) == data:
        return False
    _journal.write(path, data)
    return True


def _summary(report):
    """The index's line for one clone: sites, strategy, verification, and the failing phase."""
    source, target = report.get('source') or {}, report.get('target') or {}
    error = report.get('error')
    return '%s.%s -> %s.%s; %s; verification %s%s' % (
        source.get('site'), source.get('env'), target.get('site'), target.get('env'),
        (report.get('strategy') or {}).get('name') or 'no strategy', (report.get('verification') or {}).get('status'),
        ('; failed in %s' % error.get('phase')) if isinstance(error, dict) else '')


def _kept_runs(directory):
    """The entries of the kept runs (history/*.json); an unreadable one is left out."""
    runs = []
    for entry in sorted(glob.glob(os.path.join(glob.escape(directory), 'history', '*.json'))):
        data = _journal.read(entry)
        if data:
            runs.append(data)
    return runs
