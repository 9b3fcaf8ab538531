# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reports of the site_clone role: the per-site report, and for a fleet a terminal table and a
self-contained HTML page.

Documented in clone_report.yml, clone_fleet_summary.yml and clone_report_html.yml. The fleet filters
take a list of the per-site reports the role writes (see roles/site_clone/README.md, "The report").
"""

from __future__ import annotations

import datetime
import getpass
import html
import json
import os
import shlex
import socket
import sys

from ansible.errors import AnsibleFilterError

try:
    from ansible.release import __version__ as ANSIBLE_VERSION
except ImportError:  # pragma: no cover - ansible-core always has it
    ANSIBLE_VERSION = None

from ansible_collections.pantheon.platform.plugins.module_utils._api import web_origin
from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError

MIB = 1024 * 1024

PHASE_COLOURS = {
    'preflight': '#8e99a8',
    'checkpoint': '#b7c0cc',
    'resume': '#a1887f',
    'measure': '#7e57c2',
    'strategy': '#c5a3ff',
    'overwrite': '#bcaaa4',
    'target': '#26a69a',
    'archive': '#fb8c00',
    'code': '#43a047',
    'database': '#1e88e5',
    'files': '#d81b60',
    'cleanup': '#6d4c41',
    'fixups': '#00acc1',
    'verify': '#37474f',
}
OTHER_COLOUR = '#9e9e9e'
STATUS_LABELS = {'succeeded': 'succeeded', 'failed': 'FAILED', 'checked': 'check mode', 'skipped': 'skipped'}
# How each method of the plan moves an element, in the words of the report.
METHOD_LABELS = {'archive_import': 'archive', 'url_import': 'backup import', 'database_stream': 'stream',
                 'files_sync': 'rsync', 'code_push': 'git push', 'clone_content': 'platform clone'}
ELEMENTS = ('code', 'database', 'files')
# Terminus' TERMINUS_DASHBOARD_PROTOCOL and TERMINUS_DASHBOARD_HOST (config/constants.yml)
DASHBOARD_URL = 'https://dashboard.pantheon.io'
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parse_time(value):
    """An ISO 8601 time (the role writes UTC with a trailing Z) as epoch seconds, or None."""
    if value in (None, ''):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise AnsibleFilterError('clone report: %r is not an ISO 8601 time' % (value,))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _size(value):
    """Bytes as a short text (1 KB = 1024 bytes, 1 MB = 1024 KB, as the platform's limits count)."""
    if value is None or value == '' or isinstance(value, bool):
        return '-'
    try:
        value = float(value)
    except (TypeError, ValueError):
        return '-'
    for unit, factor in (('GB', MIB * 1024), ('MB', MIB), ('KB', 1024)):
        if value >= factor:
            amount = value / factor
            return ('%.0f %s' if amount >= 100 else '%.1f %s') % (amount, unit)
    return '%d B' % value


def _duration(seconds):
    if seconds is None:
        return '-'
    seconds = int(round(seconds))
    if seconds < 60:
        return '%ds' % seconds
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return '%dm%02ds' % (minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    return '%dh%02dm' % (hours, minutes)


def _check_reports(reports, name):
    if not isinstance(reports, (list, tuple)):
        raise AnsibleFilterError('%s: the input must be a list of site reports, got %s' % (name, type(reports).__name__))
    for index, report in enumerate(reports):
        if not isinstance(report, dict):
            raise AnsibleFilterError('%s: site report %d must be a dict, got %s' % (name, index, type(report).__name__))
    return list(reports)


def _job(report):
    return str(report.get('job') or '%s -> %s' % (_endpoint(report, 'source'), _endpoint(report, 'target')))


def _endpoint(report, side):
    data = report.get(side) or {}
    if not data.get('site'):
        return '?'
    return '%s.%s' % (data.get('site'), data.get('env') or '?')


def _status(report):
    status = report.get('status')
    if status in STATUS_LABELS:
        return status
    return 'failed' if report.get('error') else 'succeeded'


def _verification(report):
    verification = report.get('verification') or {}
    return str(verification.get('status') or 'not run')


def _strategy(report):
    strategy = report.get('strategy') or {}
    return str(strategy.get('name') or '-')


def _phases(report):
    phases = []
    for phase in report.get('phases') or []:
        if not isinstance(phase, dict):
            continue
        start = _parse_time(phase.get('start'))
        end = _parse_time(phase.get('end'))
        if start is not None and end is not None and end < start:
            end = start
        phases.append(dict(phase, _start=start, _end=end))
    return phases


def _span(report):
    """(start, end) in epoch seconds of a report, from its own times or its phases."""
    starts = [p['_start'] for p in _phases(report) if p['_start'] is not None]
    ends = [p['_end'] for p in _phases(report) if p['_end'] is not None]
    start = _parse_time(report.get('started_at'))
    end = _parse_time(report.get('finished_at'))
    if start is not None:
        starts.append(start)
    if end is not None:
        ends.append(end)
    return (min(starts) if starts else None, max(ends) if ends else None)


def _site_duration(report):
    if report.get('duration_seconds') is not None:
        try:
            return float(report['duration_seconds'])
        except (TypeError, ValueError):
            pass
    start, end = _span(report)
    if start is None or end is None:
        return None
    return end - start


def _order(report):
    """Failed jobs first (a report opens on what needs attention), then skipped ones, then the rest, each by job."""
    return ({'failed': 0, 'skipped': 1}.get(_status(report), 2), _job(report))


def _error_text(report):
    error = report.get('error')
    if not error:
        return ''
    if isinstance(error, dict):
        phase = error.get('phase')
        message = str(error.get('message') or error)
        return '%s: %s' % (phase, message) if phase else message
    return str(error)


def _parts(value, name):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleFilterError('clone_report: %s must be a dict, got %s' % (name, type(value).__name__))
    return value


def _env_info(site, env):
    """The environment's entry of a site as site_info returns it ({} when unknown)."""
    environments = _parts(site, 'a site').get('environments') or {}
    return environments.get(env) or {} if isinstance(environments, dict) else {}


def _collection_version():
    """This collection's version: MANIFEST.json when installed, galaxy.yml in a checkout; None when neither says."""
    try:
        with open(os.path.join(COLLECTION_ROOT, 'MANIFEST.json'), encoding='utf-8') as f:
            return str(json.load(f)['collection_info']['version'])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(COLLECTION_ROOT, 'galaxy.yml'), encoding='utf-8') as f:
            for line in f:
                if line.startswith('version:'):
                    return line.split(':', 1)[1].strip().strip('\'"') or None
    except OSError:
        pass
    return None


def _var_names(value):
    """An extra-vars argument with its values left out: the names it sets (a value may be a secret)."""
    if value.startswith('@'):
        return value  # a file name; its content stays in the file
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if isinstance(data, dict):
        names = sorted(str(k) for k in data)
    else:
        try:
            words = shlex.split(value)
        except ValueError:
            words = value.split()
        names = [w.split('=', 1)[0] for w in words if '=' in w]
    return ' '.join('%s=...' % n for n in names) or '...'


def _command_line(argv):
    """The command that runs the play, as text; extra vars show their names only, never their values."""
    if not argv:
        return None
    words = [os.path.basename(str(argv[0]))]
    hide_next = False
    for word in (str(w) for w in argv[1:]):
        if hide_next:
            words.append(_var_names(word))
            hide_next = False
        elif word in ('-e', '--extra-vars'):
            words.append(word)
            hide_next = True
        elif word.startswith('--extra-vars='):
            words.append('--extra-vars=' + _var_names(word.split('=', 1)[1]))
        elif word.startswith('-e') and not word.startswith('--'):
            words.append('-e' + _var_names(word[2:]))
        else:
            words.append(word)
    return ' '.join(shlex.quote(w) if w != '...' and ' ' not in w else w for w in words)


def _controller():
    try:
        user = getpass.getuser()
    except (KeyError, OSError, ImportError):
        user = None
    host = socket.gethostname() or None
    return '%s@%s' % (user, host) if user and host else host


def _run_details(given, check_mode):
    """Who ran what: collection and ansible-core versions, check mode, the command line (values of extra
    vars left out), the controller, plus what the play gave (its name, an AWX job id)."""
    details = {'collection_version': _collection_version(), 'ansible_version': ANSIBLE_VERSION,
               'check_mode': bool(check_mode), 'command': _command_line(sys.argv), 'controller': _controller()}
    details.update((k, v) for k, v in _parts(given, 'run').items() if v not in (None, ''))
    return details


def _links(site_id, env, domain, dashboard):
    """The target environment's dashboard page and its web (its platform domain; a stand-in platform's port added)."""
    web = None
    if domain:
        try:
            web = web_origin(domain) + '/'
        except PantheonError:
            web = 'https://%s/' % domain
    page = ('%s/sites/%s#%s' % (str(dashboard).rstrip('/'), site_id, env)) if dashboard and site_id and env else None
    return {'dashboard': page, 'web': web}


def _transfers(parts, steps, phases, sizes):
    """Per element: how it moved (method), whether it did (status), its backup size and the bytes the step moved."""
    asked = parts.get('elements')
    pending = parts.get('pending')
    records = {p.get('name'): p for p in phases if p.get('name') in ELEMENTS + ('archive',)}
    result = {}
    for element in ELEMENTS:
        step = next((s for s in steps if isinstance(s, dict) and element in (s.get('elements') or [s.get('step')])
                     and not (element == 'files' and s.get('step') == 'archive' and s.get('exclude_files'))), None)
        record = records.get(element)
        archive = records.get('archive')
        entry = {'method': None, 'step': None, 'status': None, 'size': sizes.get(element), 'bytes': None}
        if record is not None and record.get('method'):
            entry.update(method=record['method'], step=element, bytes=record.get('bytes'),
                         status='failed' if record.get('outcome') == 'failed' else 'moved')
        elif (archive is not None and archive.get('outcome') == 'changed'
              and element in (archive.get('elements') or ())):
            entry.update(method='archive_import', step='archive', status='moved')
        elif record is not None and record.get('outcome') == 'failed':
            entry.update(method=step.get('method') if step else None, step=element, status='failed')
        elif asked is not None and element not in asked:
            entry['status'] = 'not asked'
        elif pending is not None and element not in pending:
            entry['status'] = 'unchanged'  # the target already held it
        elif step is not None:
            entry.update(method=step.get('method'), step=step.get('step'),
                         status='planned' if parts.get('check_mode') else 'not moved')
        result[element] = entry
    archive = records.get('archive')
    if archive is not None and archive.get('bytes') is not None:
        result['archive'] = {'method': 'archive_import', 'elements': list(archive.get('elements') or []),
                             'bytes': archive.get('bytes'), 'status': 'moved' if archive.get('outcome') == 'changed'
                             else str(archive.get('outcome'))}
    return result


def clone_report(parts):
    """The report of one clone job (schema in the site_clone role's README), from what the run gathered.

    The one builder of the report: the role calls it at the end of every run, and clone_fleet.yml for
    a job that failed before the role could (bad arguments), with only the job, the sites and the error.
    """
    parts = _parts(parts, 'the input')
    job = parts.get('job')
    if not job:
        raise AnsibleFilterError('clone_report: the input must name the job')
    check_mode = bool(parts.get('check_mode'))
    skipped = parts.get('skipped')
    error = parts.get('error')
    errors = list(parts.get('errors') or ([error] if error else []))
    source, target = _parts(parts.get('source'), 'source'), _parts(parts.get('target'), 'target')
    source_site, target_site = _parts(source.get('info'), 'source.info'), _parts(target.get('info'), 'target.info')
    source_env, target_env = _env_info(source_site, source.get('env')), _env_info(target_site, target.get('env'))
    plan = _parts(parts.get('plan'), 'plan') or {'strategy': None, 'reason': ('skipped: %s' % skipped) if skipped
                                                 else 'not decided', 'steps': []}
    steps = list(plan.get('steps') or [])
    phases = [p for p in parts.get('phases') or [] if isinstance(p, dict)]
    limits = _parts(parts.get('limits'), 'limits')
    started = parts.get('started_at')
    finished = parts.get('finished_at') or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    start, end = _parse_time(started), _parse_time(finished)
    sizes = dict(_parts(parts.get('sizes'), 'sizes'))
    if 'backup_folder' in parts or sizes:
        estimate = (plan.get('estimates') or {}).get('archive') if any(s.get('step') == 'archive' for s in steps) else None
        sizes.update(backup_folder=parts.get('backup_folder'), archive_estimate=estimate)
    return {
        'schema_version': 1,
        'job': job,
        'status': 'failed' if error else ('skipped' if skipped else ('checked' if check_mode else 'succeeded')),
        'skipped': str(skipped) if skipped else None,
        'check_mode': check_mode,
        'changed': any(p.get('outcome') == 'changed' for p in phases),
        'started_at': started,
        'finished_at': finished,
        'duration_seconds': round(end - start, 3) if start is not None and end is not None else None,
        'source': {
            'site': source_site.get('name') or source.get('site'),
            'env': source.get('env'),
            'id': source_site.get('id'),
            'framework': source_site.get('framework'),
            'drush_version': source_env.get('drush_version'),
            'domain': source_env.get('platform_domain'),
        },
        'target': {
            'site': target_site.get('name') or target.get('site'),
            'env': target.get('env'),
            'id': target_site.get('id'),
            'framework': target_site.get('framework'),
            'domain': target_env.get('platform_domain'),
            'created': bool(target.get('created')),
            'overwrite': target.get('overwrite'),
            'links': _links(target_site.get('id'), target.get('env'), target_env.get('platform_domain'),
                            parts.get('dashboard_url', DASHBOARD_URL)),
        },
        'run': _run_details(parts.get('run'), check_mode),
        'transfers': _transfers(dict(parts, check_mode=check_mode), steps, phases, sizes),
        'elements': parts.get('elements'),
        'pending': parts.get('pending'),
        'sizes': sizes,
        'limits': {'archive_mb': limits.get('archive_mb'), 'url_import_mb': limits.get('url_import_mb')},
        'strategy': {
            'name': plan.get('strategy'),
            'reason': plan.get('reason'),
            'alternative': plan.get('alternative'),
            'depends_on': list(plan.get('depends_on') or []),
            'requested': parts.get('requested_strategy'),
            'steps': steps,
            'fallbacks': list(parts.get('fallbacks') or []),
        },
        'phases': phases,
        'fixups': list(parts.get('fixups') or []),
        'verification': parts.get('verification') or {'status': 'not run', 'elements': {}},
        'error': error,
        'errors': errors,
    }


def clone_fleet_summary(reports):
    """Totals and a plain-text table of a fleet of site reports."""
    reports = _check_reports(reports, 'clone_fleet_summary')
    header = ['JOB', 'SOURCE', 'TARGET', 'FRAMEWORK', 'STRATEGY', 'CODE', 'DATABASE', 'FILES', 'TIME', 'VERIFY', 'STATUS']
    rows = []
    totals = {'sites': len(reports), 'succeeded': 0, 'failed': 0, 'checked': 0, 'skipped': 0, 'changed': 0,
              'verified': 0, 'strategies': {}}
    spans = []
    for report in sorted(reports, key=_order):
        status = _status(report)
        totals[status] += 1
        if report.get('changed'):
            totals['changed'] += 1
        if _verification(report) == 'match':
            totals['verified'] += 1
        strategy = _strategy(report)
        totals['strategies'][strategy] = totals['strategies'].get(strategy, 0) + 1
        sizes = report.get('sizes') or {}
        source = report.get('source') or {}
        spans.append(_span(report))
        rows.append([_job(report), _endpoint(report, 'source'), _endpoint(report, 'target'),
                     str(source.get('framework') or '-'), strategy, _size(sizes.get('code')), _size(sizes.get('database')),
                     _size(sizes.get('files')), _duration(_site_duration(report)), _verification(report),
                     STATUS_LABELS[status]])
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = ['  '.join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header] + rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    errors = ['%s: %s' % (_job(r), _error_text(r)) for r in sorted(reports, key=_order) if _error_text(r)]
    starts = [s for s, _e in spans if s is not None]
    ends = [e for _s, e in spans if e is not None]
    wall = (max(ends) - min(starts)) if starts and ends else None
    totals['wall_seconds'] = round(wall, 3) if wall is not None else None
    summary = '%d site(s): %d succeeded, %d failed%s%s; %d verified; wall time %s' % (
        totals['sites'], totals['succeeded'], totals['failed'],
        (', %d checked (check mode)' % totals['checked']) if totals['checked'] else '',
        (', %d skipped' % totals['skipped']) if totals['skipped'] else '',
        totals['verified'], _duration(wall))
    return {'totals': totals, 'table': lines, 'errors': errors, 'summary': summary,
            'text': '\n'.join(lines + [''] + [summary] + (['', 'Errors:'] + errors if errors else [])) + '\n'}


def _nice_step(span, max_ticks=8):
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400):
        if span / step <= max_ticks:
            return step
    return max(1, int(span / max_ticks))


TIMELINE_WIDTH = 460


def _svg_timeline(report, origin, total, width=TIMELINE_WIDTH, height=22):
    esc = html.escape
    parts = ['<svg class="timeline" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">'
             % (width, height, width, height, esc('phases of %s' % _job(report), quote=True))]
    parts.append('<rect x="0" y="0" width="%d" height="%d" fill="#f4f6f8"/>' % (width, height))
    scale = width / total if total > 0 else 0
    for phase in _phases(report):
        if phase['_start'] is None or phase['_end'] is None:
            continue
        outcome = str(phase.get('outcome') or 'ok')
        x = (phase['_start'] - origin) * scale
        w = max((phase['_end'] - phase['_start']) * scale, 1.5)
        name = str(phase.get('name') or '?')
        colour = PHASE_COLOURS.get(name, OTHER_COLOUR)
        title = '%s: %s, %s%s' % (name, outcome, _duration(phase['_end'] - phase['_start']),
                                  (' (%s)' % phase['detail']) if phase.get('detail') else '')
        style = ''
        if outcome == 'failed':
            style = ' stroke="#c62828" stroke-width="2"'
        elif outcome == 'skipped':
            style = ' fill-opacity="0.35"'
        parts.append('<rect class="phase" data-phase="%s" data-outcome="%s" x="%.2f" y="3" width="%.2f" height="%d" '
                     'fill="%s"%s><title>%s</title></rect>'
                     % (esc(name, quote=True), esc(outcome, quote=True), x, w, height - 6, colour, style, esc(title)))
    parts.append('</svg>')
    return ''.join(parts)


def _svg_axis(total, width=TIMELINE_WIDTH, height=22):
    step = _nice_step(total) if total > 0 else 1
    parts = ['<svg class="axis" width="%d" height="%d" viewBox="0 0 %d %d">' % (width, height, width, height)]
    parts.append('<line x1="0" y1="1" x2="%d" y2="1" stroke="#90a4ae"/>' % width)
    tick = 0
    while total > 0 and tick <= total + 1e-9:
        x = tick / total * width
        anchor = 'start' if tick == 0 else ('end' if x > width - 20 else 'middle')
        parts.append('<line x1="%.2f" y1="1" x2="%.2f" y2="6" stroke="#90a4ae"/>'
                     '<text x="%.2f" y="18" font-size="11" text-anchor="%s" fill="#546e7a">%s</text>'
                     % (x, x, x, anchor, _duration(tick)))
        tick += step
    parts.append('</svg>')
    return ''.join(parts)


CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:24px;color:#263238;background:#fff}
h1{font-size:22px;margin:0 0 4px}
p.meta{color:#607d8b;margin:0 0 16px}
.cards{display:flex;gap:12px;margin:0 0 18px;flex-wrap:wrap}
.card{border:1px solid #cfd8dc;border-radius:6px;padding:8px 14px;min-width:90px}
.card b{display:block;font-size:20px}
.card.bad b{color:#c62828}.card.good b{color:#2e7d32}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #eceff1;padding:6px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#eceff1;font-weight:600}
td.num{text-align:right;white-space:nowrap}
td.job b{display:block}
td.job{min-width:200px}
td.job span{display:block;white-space:nowrap;color:#607d8b;font-size:12px}
td.framework span{display:block}
tr.axis th{background:#fff;padding-top:2px;padding-bottom:0}
svg text{font-weight:normal}
.reason{color:#546e7a;font-size:12px}
tr.site td{border-bottom:none}
tr.detail td{padding-top:0;font-size:12px;color:#546e7a}
tr.detail .error{color:#c62828;word-break:break-word}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600}
.status-succeeded{background:#e8f5e9;color:#2e7d32}
.status-failed{background:#ffebee;color:#c62828}
.status-checked{background:#fff8e1;color:#8d6e00}
.v-match{color:#2e7d32}.v-mismatch,.v-error{color:#c62828}.v-skipped,.v-not-run{color:#78909c}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
svg{display:block}
"""


def _run_block(run):
    """The run details as a definition list (no secrets: the command line shows extra vars' names only)."""
    if not isinstance(run, dict) or not run:
        return ''
    esc = html.escape
    rows = []
    for key, label in (('collection_version', 'collection'), ('ansible_version', 'ansible-core'),
                       ('check_mode', 'check mode'), ('command', 'command'), ('play', 'play'),
                       ('controller', 'controller'), ('awx_job_id', 'AWX job'), ('started_at', 'started'),
                       ('finished_at', 'finished')):
        value = run.get(key)
        if value is None or value == '':
            continue
        if isinstance(value, bool):
            value = 'yes' if value else 'no'
        cls = ' class="command"' if key == 'command' else ''
        rows.append('<div><dt>%s</dt><dd%s>%s</dd></div>' % (esc(label), cls, esc(str(value))))
    return '<dl class="run">%s</dl>' % ''.join(rows) if rows else ''


def _element_cell(report, element):
    """A size cell: the backup size, then how the element moved and the bytes its step moved."""
    esc = html.escape
    sizes = report.get('sizes') or {}
    transfer = (report.get('transfers') or {}).get(element) or {}
    method = transfer.get('method')
    status = transfer.get('status')
    how = []
    if method:
        how.append(METHOD_LABELS.get(method, method))
    if transfer.get('bytes') is not None:
        how.append(_size(transfer['bytes']) + ' moved')
    if status and status != 'moved':
        how.append(status)
    size = sizes.get(element)
    return ('<td class="num size" data-element="%s" data-bytes="%s" data-method="%s" data-moved="%s">%s%s</td>'
            % (element, esc(str(size if size is not None else ''), quote=True), esc(str(method or ''), quote=True),
               esc(str(transfer.get('bytes') if transfer.get('bytes') is not None else ''), quote=True),
               esc(_size(size)), ('<span class="how">%s</span>' % esc(', '.join(how))) if how else ''))


def _target_cell(report):
    esc = html.escape
    target = report.get('target') or {}
    links = target.get('links') or {}
    out = []
    if 'created' in target and target.get('site'):
        created = bool(target.get('created'))
        out.append('<span class="origin" data-created="%s">%s</span>'
                   % ('true' if created else 'false', 'target created by this run' if created else 'target existed'))
    anchors = []
    for key, label in (('web', 'site'), ('dashboard', 'dashboard')):
        url = links.get(key)
        if url and str(url).startswith(('https://', 'http://')):
            anchors.append('<a class="link-%s" href="%s">%s</a>' % (key, esc(str(url), quote=True), esc(label)))
    if anchors:
        out.append('<span class="links">%s</span>' % ''.join(anchors))
    return ''.join(out)


def _phase_list(report):
    """Each phase's name and duration as text (visible, and printed)."""
    esc = html.escape
    items = []
    for phase in _phases(report):
        seconds = (phase['_end'] - phase['_start']) if phase['_start'] is not None and phase['_end'] is not None else None
        name = str(phase.get('name') or '?')
        items.append('<span class="ph ph-%s" data-phase="%s"><i style="background:%s"></i>%s %s</span>'
                     % (esc(str(phase.get('outcome') or 'ok'), quote=True), esc(name, quote=True),
                        PHASE_COLOURS.get(name, OTHER_COLOUR), esc(name), esc(_duration(seconds))))
    return ''.join(items)


CSS_EXTRA = """
dl.run{display:flex;flex-wrap:wrap;gap:4px 18px;margin:0 0 16px;font-size:12px;color:#455a64}
dl.run div{display:flex;gap:6px;max-width:100%}
dl.run dt{font-weight:600}dl.run dd{margin:0;overflow-wrap:anywhere}
dl.run dd.command{font-family:ui-monospace,Menlo,Consolas,monospace}
td.size .how{display:block;color:#607d8b;font-size:11px;white-space:normal}
td.job .links{display:block;margin-top:2px;white-space:nowrap}
td.job a{color:#1565c0;margin-right:8px}
td.job .origin{display:block;color:#455a64}
td.phases{width:30%}
td.phases svg,tr.axis svg{width:100%;height:auto;max-width:460px}
.phaselist{margin-top:3px}
.ph{display:inline-block;margin:0 10px 2px 0;white-space:nowrap}
.ph i{display:inline-block;width:8px;height:8px;margin-right:3px;vertical-align:middle}
.ph-failed{color:#c62828;font-weight:600}
.status-skipped{background:#eceff1;color:#455a64}
h2{font-size:16px;margin:18px 0 6px}
@media print{body{margin:8mm;font-size:11px}.cards .card{padding:4px 8px}td.phases{min-width:150px}
tr.site,tr.detail{break-inside:avoid}a{color:inherit;text-decoration:none}td.framework,th.framework{display:none}}
@media (max-width:1300px){td.framework,th.framework{display:none}}
"""


def clone_report_html(reports, title='Pantheon fleet clone report', generated_at=None, run=None):
    """A self-contained HTML page for a fleet of site reports: one row per site, phases on a shared time axis,
    failed jobs first."""
    reports = _check_reports(reports, 'clone_report_html')
    esc = html.escape
    summary = clone_fleet_summary(reports)
    totals = summary['totals']
    spans = [_span(r) for r in reports]
    starts = [s for s, _e in spans if s is not None]
    ends = [e for _s, e in spans if e is not None]
    origin = min(starts) if starts else 0.0
    total = (max(ends) - origin) if starts and ends else 0.0
    if generated_at is None:
        generated_at = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    if run is None:
        run = next((r.get('run') for r in reports if isinstance(r.get('run'), dict)), None)

    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>%s</title>' % esc(title), '<style>%s%s</style></head><body>' % (CSS, CSS_EXTRA),
           '<h1>%s</h1>' % esc(title),
           '<p class="meta">Generated %s &middot; %s</p>' % (esc(str(generated_at)), esc(summary['summary']))]
    out.append(_run_block(run))
    out.append('<div class="cards">')
    for label, key, cls in (('sites', 'sites', ''), ('failed', 'failed', 'bad'), ('succeeded', 'succeeded', 'good'),
                            ('verified', 'verified', 'good'), ('skipped', 'skipped', ''), ('check mode', 'checked', '')):
        if key in ('checked', 'skipped') and not totals[key]:
            continue
        out.append('<div class="card %s" data-total="%s"><b>%d</b>%s</div>'
                   % (cls if totals[key] else '', key, totals[key], esc(label)))
    out.append('<div class="card" data-total="wall"><b>%s</b>wall time</div></div>' % esc(_duration(totals['wall_seconds'])))
    out.append('<div class="legend">%s</div>' % ''.join(
        '<span><i style="background:%s"></i>%s</span>' % (colour, esc(name)) for name, colour in PHASE_COLOURS.items()))
    out.append('<table id="sites"><thead><tr><th>Clone</th><th class="framework">Framework</th><th>Strategy</th>'
               '<th>Code</th><th>Database</th><th>Files</th><th>Phases</th><th>Time</th><th>Verification</th>'
               '<th>Status</th></tr>')
    out.append('<tr class="axis"><th></th><th class="framework"></th><th colspan="4"></th><th>%s</th>'
               '<th colspan="3"></th></tr></thead><tbody>' % _svg_axis(total))
    for report in sorted(reports, key=_order):
        status = _status(report)
        verification = _verification(report)
        strategy = report.get('strategy') or {}
        source = report.get('source') or {}
        elements = (report.get('verification') or {}).get('elements') or {}
        details = ', '.join('%s %s' % (name, 'ok' if (info or {}).get('match') else 'MISMATCH')
                            for name, info in sorted(elements.items()) if isinstance(info, dict))
        out.append('<tr class="site" data-job="%s" data-status="%s" data-strategy="%s" data-verification="%s">'
                   % (esc(_job(report), quote=True), esc(status, quote=True), esc(_strategy(report), quote=True),
                      esc(verification, quote=True)))
        out.append('<td class="job"><b>%s</b><span>%s &rarr;</span><span>%s</span>%s</td>'
                   % (esc(_job(report)), esc(_endpoint(report, 'source')), esc(_endpoint(report, 'target')),
                      _target_cell(report)))
        drush = source.get('drush_version') if str(source.get('framework')).startswith('drupal') else None
        out.append('<td class="framework">%s%s</td>' % (
            esc(str(source.get('framework') or '-')),
            (' <span class="reason">Drush %s</span>' % esc(str(drush))) if drush else ''))
        out.append('<td class="strategy"><b>%s</b></td>' % esc(_strategy(report)))
        for element in ELEMENTS:
            out.append(_element_cell(report, element))
        out.append('<td class="phases">%s</td>' % _svg_timeline(report, origin, total))
        out.append('<td class="num time">%s</td>' % esc(_duration(_site_duration(report))))
        out.append('<td class="verification v-%s">%s</td>'
                   % (esc(verification.replace(' ', '-'), quote=True), esc(verification)))
        out.append('<td class="status"><span class="badge status-%s">%s</span></td></tr>'
                   % (status, esc(STATUS_LABELS[status])))
        # A second row under each site: what went wrong, why this strategy, and each phase's duration.
        out.append('<tr class="detail" data-job="%s"><td></td><td colspan="6"><div class="error">%s</div>'
                   '<div class="reason">%s</div><div class="phaselist">%s</div></td>'
                   '<td colspan="3"><div class="elements">%s</div></td></tr>'
                   % (esc(_job(report), quote=True), esc(_error_text(report)), esc(str(strategy.get('reason') or '')),
                      _phase_list(report), esc(details)))
    out.append('</tbody></table></body></html>')
    return '\n'.join(out) + '\n'


def clone_index_line(report):
    """The history index's line for one clone (clone_state keeps it with the entry): the endpoints, the strategy, the
    verification, and the phase that failed."""
    error = report.get('error')
    return '%s -> %s; %s; verification %s%s' % (
        _endpoint(report, 'source'), _endpoint(report, 'target'), _strategy(report),
        (report.get('verification') or {}).get('status'), ('; failed in %s' % error.get('phase')) if isinstance(error, dict) else '')


def clone_report_index(runs, title='Pantheon clone reports'):
    """An HTML page listing kept runs, newest first: when, what (one clone or a fleet), outcome, links to the
    run's own pages. Each run is a dict {name, kind, href, started_at, finished_at, status, check_mode, summary}."""
    if not isinstance(runs, (list, tuple)):
        raise AnsibleFilterError('clone_report_index: the input must be a list of runs, got %s' % type(runs).__name__)
    esc = html.escape
    rows = []
    for index, run in enumerate(runs):
        if not isinstance(run, dict):
            raise AnsibleFilterError('clone_report_index: run %d must be a dict, got %s' % (index, type(run).__name__))
        rows.append((_parse_time(run.get('started_at')) or 0.0, str(run.get('name') or ''), run))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>%s</title>' % esc(title), '<style>%s%s</style></head><body>' % (CSS, CSS_EXTRA),
           '<h1>%s</h1>' % esc(title),
           '<p class="meta">%d run(s), newest first. The latest report of each job is also at a stable path: '
           '<code>&lt;job&gt;.json</code>, and for fleets <code>fleet-report.html</code>.</p>' % len(rows),
           '<table id="runs"><thead><tr><th>Started (UTC)</th><th>Run</th><th>Kind</th><th>Time</th><th>Outcome</th>'
           '<th>Summary</th></tr></thead><tbody>']
    for start, name, run in rows:
        status = str(run.get('status') or 'succeeded')
        status = status if status in STATUS_LABELS else 'failed'
        end = _parse_time(run.get('finished_at'))
        href = str(run.get('href') or '')
        link = ('<a href="%s">%s</a>' % (esc(href, quote=True), esc(name))) if href and '://' not in href \
            and not href.startswith('/') else esc(name)
        shown = datetime.datetime.fromtimestamp(start, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S') \
            if start else '-'
        out.append('<tr class="run" data-run="%s" data-status="%s"><td class="num">%s</td><td>%s</td><td>%s</td>'
                   '<td class="num">%s</td><td><span class="badge status-%s">%s</span></td><td>%s</td></tr>'
                   % (esc(name, quote=True), esc(status, quote=True), esc(shown), link,
                      esc(str(run.get('kind') or '-')), esc(_duration(end - start if end is not None and start else None)),
                      status, esc(STATUS_LABELS[status]), esc(str(run.get('summary') or ''))))
    out.append('</tbody></table></body></html>')
    return '\n'.join(out) + '\n'


class FilterModule:
    """pantheon.platform.clone_report, clone_fleet_summary, clone_report_html and clone_report_index"""

    def filters(self):
        return {'clone_report': clone_report, 'clone_fleet_summary': clone_fleet_summary,
                'clone_report_html': clone_report_html, 'clone_report_index': clone_report_index}
