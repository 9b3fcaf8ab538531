# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of pantheon.platform.clone_state: the site_clone role's files, written on the controller.

Runs in the worker on the controller; no module process is started (see the module's documentation).
"""

from __future__ import annotations

import datetime
import glob
import json
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.pantheon.platform.plugins.filter.clone_report import (
    clone_fleet_summary,
    clone_index_line,
    clone_report_html,
    clone_report_index,
)
from ansible_collections.pantheon.platform.plugins.module_utils import _journal

OPTIONS = ('path', 'state', 'update', 'content', 'text', 'report', 'fleet', 'history', 'forget')


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
        given = [update, content, text, args.get('report'), args.get('fleet')].count(None)
        if state == 'present' and given != 4:
            raise AnsibleActionFail('clone_state: with state=present give exactly one of update, content, text, report '
                                    'and fleet')
        if state == 'absent' and given != 5:
            raise AnsibleActionFail('clone_state: state=absent takes none of update, content, text, report and fleet')
        for name, value in (('update', update), ('content', content)):
            if value is not None and not isinstance(value, dict):
                raise AnsibleActionFail('clone_state: %s must be a dict, got %s' % (name, type(value).__name__))
        if text is not None and not isinstance(text, str):
            raise AnsibleActionFail('clone_state: text must be a string, got %s' % type(text).__name__)

        history = _history(args.get('history'))
        report, fleet = args.get('report'), args.get('fleet')
        if report is not None:
            return self._write_report(result, path, report, history, args.get('forget'))
        if fleet is not None:
            if args.get('forget') is not None:
                raise AnsibleActionFail('clone_state: forget goes with report')
            return self._write_fleet(result, path, fleet, history)
        for name in ('history', 'forget'):
            if args.get(name) is not None:
                raise AnsibleActionFail('clone_state: %s goes with report%s' % (name, ' or fleet' if name == 'history' else ''))

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
        try:
            changed = _held_text(path) != text if self._task.check_mode else _put_text(path, text)
        except OSError as e:
            raise AnsibleActionFail('clone_state: could not write %s: %s' % (path, e.strerror or e))
        result.update(path=path, changed=changed)
        return result

    def _write_report(self, result, path, report, history, forget):
        """A clone's report (as the clone_report filter built it): written (in check mode too: it is the run's
        output), kept in the history with its page and its entry, the history's index rewritten, then the job's
        state file forgotten."""
        if not isinstance(report, dict) or not report.get('job'):
            raise AnsibleActionFail('clone_state: report must be a dict, a report of the clone_report filter, got %s'
                                    % (type(report).__name__ if not isinstance(report, dict) else 'one without a job'))
        report = _plain(report)
        # the page says it was generated when the clone finished, so that it is the same for the same report
        pages = {'.json': report, '.html': clone_report_html([report], title='Clone %s' % report['job'],
                                                             generated_at=_seconds(report.get('finished_at')))}
        entry = {'started_at': report.get('started_at'), 'finished_at': report.get('finished_at'),
                 'status': report.get('status'), 'summary': clone_index_line(report)}
        try:
            # each file is written only when it differs: the same report again changes nothing
            changed = [_put(path, report)]
            if history is not None:
                changed += _keep(path, history, pages, 'report', entry)
            if forget and not self._task.check_mode and os.path.isfile(forget):
                os.unlink(forget)
                changed.append(True)
        except OSError as e:
            raise AnsibleActionFail('clone_state: could not write the report %s: %s' % (path, e.strerror or e))
        result.update(path=path, changed=any(changed))
        return result

    def _write_fleet(self, result, path, fleet, history):
        """A fleet's report: its JSON at O(path) (totals and every clone's report), and beside it the summary table
        (.txt) and the page (.html); all three kept in the history with the run's entry, the index rewritten."""
        sites = fleet.get('sites') if isinstance(fleet, dict) else None
        if not isinstance(sites, list) or not all(isinstance(site, dict) for site in sites):
            raise AnsibleActionFail('clone_state: fleet must be a dict whose sites is a list of clone reports, got %r'
                                    % (type(sites).__name__ if isinstance(fleet, dict) else type(fleet).__name__))
        if not path.endswith('.json'):
            raise AnsibleActionFail('clone_state: with fleet, path must name the .json report (got %s)' % path)
        sites = _plain(sites)
        check_mode = bool(fleet.get('check_mode'))
        summary = clone_fleet_summary(sites)
        totals = summary['totals']
        now = _now()
        pages = {'.json': {'schema_version': 1, 'generated_at': _seconds(now), 'check_mode': check_mode,
                           'totals': totals, 'sites': sites},
                 '.txt': summary['text'], '.html': clone_report_html(sites, generated_at=_seconds(now))}
        started = sorted(site['started_at'] for site in sites if site.get('started_at'))
        entry = {'started_at': started[0] if started else now, 'finished_at': now,
                 'status': 'failed' if totals['failed'] else 'checked' if check_mode else 'succeeded',
                 'summary': summary['summary']}
        base = path[:-len('.json')]
        try:
            changed = [_put(base + ext, page) for ext, page in sorted(pages.items())]
            if history is not None:
                changed += _keep(path, history, pages, os.path.basename(base), entry)
        except OSError as e:
            raise AnsibleActionFail('clone_state: could not write the fleet report %s: %s' % (path, e.strerror or e))
        result.update(path=path, changed=any(changed))
        return result


def _history(history):
    """The O(history) option checked: None, or a dict with a name (a file name)."""
    if history is not None and not (isinstance(history, dict) and history.get('name')
                                    and '/' not in str(history['name'])):
        raise AnsibleActionFail('clone_state: history must be a dict with a name (a file name, no /), got %r'
                                % (history,))
    return history


def _keep(path, history, pages, stem, entry):
    """Keep a run in the history beside ``path``: ``history/<name>/<stem><ext>`` for each page ({ext: JSON data or
    text}), the run's entry of the index (``history/<name>.json``: ``entry`` with its name, kind and the page it
    links to), and ``index.html`` rewritten from every entry. Whether each file was written."""
    name = str(history['name'])
    directory = os.path.dirname(path)
    kept = os.path.join(directory, 'history', name)
    changed = [_put(os.path.join(kept, stem + ext), page) for ext, page in sorted(pages.items())]
    changed.append(_put(kept + '.json', dict(entry, name=name, kind=str(history.get('kind') or 'clone'),
                                             href='history/%s/%s.html' % (name, stem))))
    changed.append(_put(os.path.join(directory, 'index.html'), clone_report_index(_kept_runs(directory))))
    return changed


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _seconds(moment):
    """A UTC time as the pages show it, to the second (``2026-11-27T10:00:05Z``); None stays None."""
    return '%sZ' % moment[:19] if moment else None


def _put(path, page):
    """Write a page (JSON data, or text) unless the file holds it already; whether it was written."""
    return _put_text(path, page) if isinstance(page, str) else _put_json(path, page)


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


def _kept_runs(directory):
    """The entries of the kept runs (history/*.json); an unreadable one is left out."""
    runs = []
    for entry in sorted(glob.glob(os.path.join(glob.escape(directory), 'history', '*.json'))):
        data = _journal.read(entry)
        if data:
            runs.append(data)
    return runs
