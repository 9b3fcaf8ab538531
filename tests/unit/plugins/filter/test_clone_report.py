# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reports of the site_clone role: the per-site report builder, the fleet's text table and HTML."""

from __future__ import annotations

import html.parser
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pantheon.platform.plugins.filter.clone_report import (
    FilterModule,
    clone_fleet_summary,
    clone_report,
    clone_report_html,
)

MB = 1024 * 1024


def report(job, start_s, phases, status='succeeded', strategy='archive', verification='match', error=None,
           framework='drupal', sizes=None):
    """A per-site report shaped as roles/site_clone/tasks/report.yml writes it."""
    def at(seconds):
        return '2026-01-02T10:%02d:%06.3fZ' % (seconds // 60, seconds % 60)
    records = []
    t = start_s
    for name, seconds, outcome in phases:
        records.append({'name': name, 'start': at(t), 'end': at(t + seconds), 'outcome': outcome, 'detail': name + ' detail'})
        t += seconds
    return {
        'schema_version': 1, 'job': job, 'status': status, 'changed': status != 'failed', 'check_mode': status == 'checked',
        'started_at': at(start_s), 'finished_at': at(t), 'duration_seconds': t - start_s,
        'source': {'site': job + '-src', 'env': 'live', 'framework': framework, 'drush_version': '8'},
        'target': {'site': job + '-dst', 'env': 'dev'},
        'sizes': sizes if sizes is not None else {'code': 2 * MB, 'database': 3 * MB, 'files': 40 * MB},
        'strategy': {'name': strategy, 'reason': 'because ' + job},
        'phases': records,
        'verification': {'status': verification, 'elements': {'code': {'match': True}, 'files': {'match': verification == 'match'}}},
        'error': error,
    }


FLEET = [
    report('bravo', 10, [('preflight', 2, 'ok'), ('measure', 8, 'changed'), ('code', 5, 'changed'), ('database', 20, 'changed')],
           strategy='elements', framework='wordpress'),
    report('alpha', 0, [('preflight', 2, 'ok'), ('archive', 30, 'changed'), ('cleanup', 1, 'changed'), ('verify', 5, 'ok')]),
    report('charlie', 5, [('preflight', 2, 'ok'), ('files', 4, 'failed')], status='failed', verification='not run',
           error={'phase': 'files', 'message': 'rsync failed <oops> & more'}),
]


class Rows(html.parser.HTMLParser):
    """Collect the site rows (a site row and its detail row): attributes, cell texts by class, phase rectangles."""

    def __init__(self):
        super().__init__()
        self.rows, self.tags, self._row, self._cell, self._outer = [], [], None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == 'tr' and attrs.get('class') == 'site':
            self._row = {'attrs': attrs, 'cells': {}, 'rects': []}
            self.rows.append(self._row)
        elif tag == 'tr' and attrs.get('class') == 'detail':
            assert self.rows and self.rows[-1]['attrs']['data-job'] == attrs['data-job'], 'detail row follows its site row'
            self._row = self.rows[-1]
        elif tag in ('td', 'div') and self._row is not None and (tag == 'td' or attrs.get('class')):
            self._outer = self._cell
            self._cell = attrs.get('data-element') or ((attrs.get('class') or '').split() or [''])[-1]
            self._row['cells'].setdefault(self._cell, '')
        elif tag == 'rect' and self._row is not None and attrs.get('class') == 'phase':
            self._row['rects'].append(attrs)
        elif tag == 'svg' and self._row is not None:
            self._row['svg'] = attrs

    def handle_endtag(self, tag):
        if tag == 'tr':
            self._row = None
        if tag in ('td', 'tr'):
            self._cell = None
        elif tag == 'div' and self._row is not None:
            self._cell = self._outer

    def handle_data(self, data):
        if self._row is not None and self._cell is not None:
            self._row['cells'][self._cell] += data


def parse(page):
    parser = Rows()
    parser.feed(page)
    return parser


def test_registered_as_filters():
    filters = FilterModule().filters()
    assert filters['clone_report'] is clone_report
    assert filters['clone_fleet_summary'] is clone_fleet_summary
    assert filters['clone_report_html'] is clone_report_html


def test_summary_counts_and_table():
    summary = clone_fleet_summary(FLEET)
    totals = summary['totals']
    assert (totals['sites'], totals['succeeded'], totals['failed'], totals['verified']) == (3, 2, 1, 2)
    assert totals['strategies'] == {'archive': 2, 'elements': 1}
    assert totals['wall_seconds'] == 45.0  # bravo starts at 10 s and ends at 45 s; alpha starts at 0
    header, rule, *rows = summary['table']
    assert header.split()[:3] == ['JOB', 'SOURCE', 'TARGET']
    assert set(rule.replace(' ', '')) == {'-'}
    assert [r.split()[0] for r in rows] == ['alpha', 'bravo', 'charlie']
    # columns line up: every row starts its STRATEGY column where the header does
    col = header.index('STRATEGY')
    assert rows[0][col:].startswith('archive') and rows[1][col:].startswith('elements')
    assert '43.0 MB' not in summary['text'] and '40.0 MB' in rows[0]
    assert 'FAILED' in rows[2]
    assert summary['errors'] == ['charlie: files: rsync failed <oops> & more']
    assert '3 site(s): 2 succeeded, 1 failed; 2 verified' in summary['summary']
    assert summary['text'].endswith('charlie: files: rsync failed <oops> & more\n')


def test_html_is_self_contained_and_has_a_row_per_site():
    page = clone_report_html(FLEET, generated_at='2026-01-02T11:00:00Z')
    parsed = parse(page)
    assert page.startswith('<!DOCTYPE html>')
    # nothing fetched from elsewhere: no scripts, no external stylesheets, images or fonts
    assert not [t for t, a in parsed.tags if t in ('script', 'link', 'img', 'iframe')]
    assert not re.search(r'(src|href)\s*=', page)
    assert 'url(' not in page
    rows = {r['attrs']['data-job']: r for r in parsed.rows}
    assert list(rows) == ['alpha', 'bravo', 'charlie']
    assert rows['alpha']['attrs']['data-strategy'] == 'archive'
    assert rows['bravo']['attrs']['data-strategy'] == 'elements'
    assert rows['charlie']['attrs']['data-status'] == 'failed'
    assert rows['alpha']['attrs']['data-verification'] == 'match'
    assert rows['alpha']['cells']['strategy'] == 'archive'
    assert rows['alpha']['cells']['reason'] == 'because alpha'
    assert rows['alpha']['cells']['database'] == '3.0 MB'
    assert rows['alpha']['cells']['error'] == ''
    assert rows['alpha']['cells']['elements'] == 'code ok, files ok'
    assert rows['charlie']['cells']['error'] == 'files: rsync failed <oops> & more'
    assert 'rsync failed &lt;oops&gt; &amp; more' in page
    assert rows['bravo']['cells']['framework'].startswith('wordpress')


def test_html_phase_bars_share_one_time_axis():
    rows = {r['attrs']['data-job']: r for r in parse(clone_report_html(FLEET)).rows}
    alpha = {r['data-phase']: r for r in rows['alpha']['rects']}
    bravo = {r['data-phase']: r for r in rows['bravo']['rects']}
    assert list(alpha) == ['preflight', 'archive', 'cleanup', 'verify']
    # the axis runs from 0 s (alpha starts) to 45 s (bravo ends) over the timeline's width
    width = float(rows['alpha']['svg']['width'])
    scale = width / 45
    assert float(alpha['preflight']['x']) == pytest.approx(0)
    assert float(alpha['archive']['x']) == pytest.approx(2 * scale, abs=0.01)
    assert float(alpha['archive']['width']) == pytest.approx(30 * scale, abs=0.01)
    assert float(bravo['preflight']['x']) == pytest.approx(10 * scale, abs=0.01)
    assert float(bravo['database']['x']) + float(bravo['database']['width']) == pytest.approx(width, abs=0.02)
    failed = rows['charlie']['rects'][-1]
    assert failed['data-phase'] == 'files' and failed['data-outcome'] == 'failed'


def test_html_escapes_everything():
    nasty = report('<script>alert(1)</script>', 0, [('"><b>x', 1, 'ok')],
                   error='<img src=x onerror=alert(1)>')
    page = clone_report_html([nasty], title='<i>t</i>')
    assert '<script>' not in page and '<img' not in page and '<i>t</i>' not in page
    assert '&lt;script&gt;' in page and '&lt;i&gt;t&lt;/i&gt;' in page
    rows = parse(page).rows
    assert rows[0]['attrs']['data-job'] == '<script>alert(1)</script>'


def test_missing_times_and_sizes_do_not_break_the_page():
    bare = {'job': 'bare', 'status': 'failed', 'error': {'phase': 'setup', 'message': 'bad arguments'}, 'phases': []}
    summary = clone_fleet_summary([bare])
    assert summary['totals']['failed'] == 1
    assert summary['table'][2].split()[1:3] == ['?', '?']
    rows = parse(clone_report_html([bare])).rows
    assert rows[0]['cells']['error'] == 'setup: bad arguments'
    assert rows[0]['rects'] == []
    assert clone_report_html([])  # an empty fleet still renders


@pytest.mark.parametrize('value,message', [
    ({'job': 'x'}, 'must be a list'),
    (['x'], 'site report 0 must be a dict'),
    ([{'job': 'x', 'phases': [{'name': 'a', 'start': 'yesterday', 'end': None}]}], 'not an ISO 8601 time'),
])
def test_bad_input_is_named(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        clone_fleet_summary(value)


def _site(name, env, domain, drush=None, **extra):
    env_info = {'platform_domain': domain, 'drush_version': drush}
    return dict({'id': name + '-id', 'name': name, 'framework': 'drupal', 'environments': {env: env_info}}, **extra)


def test_site_report_from_what_the_run_gathered():
    plan = {'strategy': 'archive', 'reason': 'small', 'estimates': {'archive': 300},
            'steps': [{'step': 'archive', 'method': 'archive_import', 'elements': ['code', 'database', 'files'],
                       'exclude_files': False}]}
    phases = [{'name': 'preflight', 'start': '2026-01-02T10:00:00.000000Z', 'end': '2026-01-02T10:00:01.000000Z',
               'outcome': 'ok', 'detail': ''},
              {'name': 'archive', 'start': '2026-01-02T10:00:01.000000Z', 'end': '2026-01-02T10:00:05.000000Z',
               'outcome': 'changed', 'detail': 'whole archive'}]
    built = clone_report({
        'job': 'j1', 'check_mode': False, 'started_at': '2026-01-02T10:00:00.000000Z',
        'finished_at': '2026-01-02T10:00:07.500000Z',
        'source': {'site': 'old', 'env': 'live', 'info': _site('old', 'live', 'live-old.example', '8.4.12')},
        'target': {'site': 'new', 'env': 'dev', 'info': _site('new', 'dev', 'dev-new.example'), 'created': True,
                   'overwrite': {'overwritten': True, 'owned': False, 'content': {'tables': 3, 'files': 1},
                                 'backup_folder': '1795633394_backup'}},
        'elements': ['code', 'database', 'files'], 'pending': ['code', 'database', 'files'],
        'sizes': {'code': 100, 'database': 100, 'files': 100}, 'backup_folder': '1_backup',
        'limits': {'archive_mb': 256, 'url_import_mb': 500}, 'plan': plan, 'requested_strategy': 'auto',
        'fallbacks': [], 'phases': phases, 'fixups': ['cache rebuild'],
        'verification': {'status': 'match', 'elements': {}}, 'error': None, 'errors': []})
    assert built['status'] == 'succeeded' and built['changed'] is True and built['duration_seconds'] == 7.5
    assert built['source'] == {'site': 'old', 'env': 'live', 'id': 'old-id', 'framework': 'drupal',
                               'drush_version': '8.4.12', 'domain': 'live-old.example'}
    assert built['target'] == {'site': 'new', 'env': 'dev', 'id': 'new-id', 'framework': 'drupal',
                               'domain': 'dev-new.example', 'created': True,
                               'overwrite': {'overwritten': True, 'owned': False, 'content': {'tables': 3, 'files': 1},
                                             'backup_folder': '1795633394_backup'}}
    assert built['sizes'] == {'code': 100, 'database': 100, 'files': 100, 'backup_folder': '1_backup',
                              'archive_estimate': 300}
    assert built['strategy'] == {'name': 'archive', 'reason': 'small', 'requested': 'auto', 'steps': plan['steps'],
                                 'fallbacks': []}
    assert built['phases'] == phases and built['fixups'] == ['cache rebuild']
    # the fleet summary reads what the builder writes
    assert clone_fleet_summary([built])['totals']['verified'] == 1


def test_site_report_of_a_job_that_failed_before_anything_ran():
    built = clone_report({'job': 'j2', 'check_mode': True, 'source': {'site': 'old', 'env': 'live'},
                          'target': {'site': 'new', 'env': 'dev'},
                          'error': {'phase': 'setup', 'message': 'bad arguments'}})
    assert built['status'] == 'failed' and built['changed'] is False and built['check_mode'] is True
    assert built['strategy']['name'] is None and built['strategy']['reason'] == 'not decided'
    assert built['phases'] == [] and built['sizes'] == {}
    assert built['verification'] == {'status': 'not run', 'elements': {}}
    assert built['errors'] == [{'phase': 'setup', 'message': 'bad arguments'}]
    assert built['source']['site'] == 'old' and built['target'] == dict(site='new', env='dev', id=None, framework=None,
                                                                        domain=None, created=False, overwrite=None)
    assert '1 failed' in clone_fleet_summary([built])['summary']


@pytest.mark.parametrize('value, message', [
    ('text', 'the input must be a dict'),
    ({'source': {}}, 'must name the job'),
    ({'job': 'j', 'plan': []}, 'plan must be a dict'),
])
def test_site_report_bad_input_is_named(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        clone_report(value)
