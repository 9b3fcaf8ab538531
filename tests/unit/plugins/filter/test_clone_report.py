# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reports of the site_clone role: the per-site report builder, the fleet's text table and HTML."""

from __future__ import annotations

import html.parser
import json
import re
import sys

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pantheon.platform.plugins.filter.clone_report import (
    FilterModule,
    clone_fleet_summary,
    clone_report,
    clone_report_html,
    clone_report_index,
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
    assert filters['clone_report_index'] is clone_report_index


def test_summary_counts_and_table():
    summary = clone_fleet_summary(FLEET)
    totals = summary['totals']
    assert (totals['sites'], totals['succeeded'], totals['failed'], totals['verified']) == (3, 2, 1, 2)
    assert totals['strategies'] == {'archive': 2, 'elements': 1}
    assert totals['wall_seconds'] == 45.0  # bravo starts at 10 s and ends at 45 s; alpha starts at 0
    header, rule, *rows = summary['table']
    assert header.split()[:3] == ['JOB', 'SOURCE', 'TARGET']
    assert set(rule.replace(' ', '')) == {'-'}
    # failures first, then by job
    assert [r.split()[0] for r in rows] == ['charlie', 'alpha', 'bravo']
    # columns line up: every row starts its STRATEGY column where the header does
    col = header.index('STRATEGY')
    assert rows[1][col:].startswith('archive') and rows[2][col:].startswith('elements')
    assert '43.0 MB' not in summary['text'] and '40.0 MB' in rows[1]
    assert 'FAILED' in rows[0]
    assert summary['errors'] == ['charlie: files: rsync failed <oops> & more']
    assert '3 site(s): 2 succeeded, 1 failed; 2 verified' in summary['summary']
    assert summary['text'].endswith('charlie: files: rsync failed <oops> & more\n')


def test_html_is_self_contained_and_has_a_row_per_site():
    page = clone_report_html(FLEET, generated_at='2026-01-02T11:00:00Z')
    parsed = parse(page)
    assert page.startswith('<!DOCTYPE html>')
    # nothing fetched from elsewhere: no scripts, no external stylesheets, images or fonts
    assert not [t for t, a in parsed.tags if t in ('script', 'link', 'img', 'iframe')]
    assert not re.search(r'src\s*=', page)
    assert 'url(' not in page
    rows = {r['attrs']['data-job']: r for r in parsed.rows}
    assert list(rows) == ['charlie', 'alpha', 'bravo']  # the page opens on the failed job
    assert rows['alpha']['attrs']['data-strategy'] == 'archive'
    assert rows['bravo']['attrs']['data-strategy'] == 'elements'
    assert rows['charlie']['attrs']['data-status'] == 'failed'
    assert rows['alpha']['attrs']['data-verification'] == 'match'
    assert rows['alpha']['cells']['strategy'] == 'archive'
    assert rows['alpha']['cells']['reason'] == 'because alpha'
    assert rows['alpha']['cells']['database'] == '3.0 MB'
    assert rows['alpha']['cells']['phaselist'] == 'preflight 2sarchive 30scleanup 1sverify 5s'  # not only on hover
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


def test_site_report_from_what_the_run_gathered(monkeypatch):
    monkeypatch.delenv('PANTHEON_WEB_PORT', raising=False)
    monkeypatch.setattr(sys, 'argv', ['/venv/bin/ansible-playbook', '-i', 'fleet.yml', 'playbooks/clone_site.yml',
                                      '-e', 'source_site=old machine_token=tok-SECRET-1', '-e{"db_password": "pw-SECRET-2"}',
                                      '--extra-vars=@vars.yml', '--check'])
    plan = {'strategy': 'archive', 'reason': 'small', 'estimates': {'archive': 300},
            'steps': [{'step': 'archive', 'method': 'archive_import', 'elements': ['code', 'database', 'files'],
                       'exclude_files': False}]}
    phases = [{'name': 'preflight', 'start': '2026-01-02T10:00:00.000000Z', 'end': '2026-01-02T10:00:01.000000Z',
               'outcome': 'ok', 'detail': ''},
              {'name': 'archive', 'start': '2026-01-02T10:00:01.000000Z', 'end': '2026-01-02T10:00:05.000000Z',
               'outcome': 'changed', 'detail': 'whole archive', 'method': 'archive_import', 'bytes': 290,
               'elements': ['code', 'database', 'files']}]
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
        'verification': {'status': 'match', 'elements': {}}, 'error': None, 'errors': [],
        'run': {'play': 'Clone one Pantheon site', 'awx_job_id': None}})
    assert built['status'] == 'succeeded' and built['changed'] is True and built['duration_seconds'] == 7.5
    assert built['source'] == {'site': 'old', 'env': 'live', 'id': 'old-id', 'framework': 'drupal',
                               'drush_version': '8.4.12', 'domain': 'live-old.example'}
    assert built['target'] == {'site': 'new', 'env': 'dev', 'id': 'new-id', 'framework': 'drupal',
                               'domain': 'dev-new.example', 'created': True,
                               'overwrite': {'overwritten': True, 'owned': False, 'content': {'tables': 3, 'files': 1},
                                             'backup_folder': '1795633394_backup'},
                               'links': {'dashboard': 'https://dashboard.pantheon.io/sites/new-id#dev',
                                         'web': 'https://dev-new.example/'}}
    # each element went in the archive; the archive's bytes are counted once
    assert built['transfers'] == {
        'code': {'method': 'archive_import', 'step': 'archive', 'status': 'moved', 'size': 100, 'bytes': None},
        'database': {'method': 'archive_import', 'step': 'archive', 'status': 'moved', 'size': 100, 'bytes': None},
        'files': {'method': 'archive_import', 'step': 'archive', 'status': 'moved', 'size': 100, 'bytes': None},
        'archive': {'method': 'archive_import', 'elements': ['code', 'database', 'files'], 'bytes': 290, 'status': 'moved'}}
    # run details: versions, the command with the names of extra vars but none of their values, the controller
    run = built['run']
    with open('galaxy.yml', encoding='utf-8') as f:
        assert 'version: %s\n' % run['collection_version'] in f.read()
    assert run['command'] == ("ansible-playbook -i fleet.yml playbooks/clone_site.yml -e source_site=... machine_token=... "
                              "-edb_password=... --extra-vars=@vars.yml --check")
    assert 'SECRET' not in json.dumps(built)
    assert run['play'] == 'Clone one Pantheon site' and 'awx_job_id' not in run and run['controller']
    assert run['ansible_version'] and run['check_mode'] is False
    assert built['sizes'] == {'code': 100, 'database': 100, 'files': 100, 'backup_folder': '1_backup',
                              'archive_estimate': 300}
    assert built['strategy'] == {'name': 'archive', 'reason': 'small', 'alternative': None, 'depends_on': [],
                                 'requested': 'auto', 'steps': plan['steps'], 'fallbacks': []}
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
                                                                        domain=None, created=False, overwrite=None,
                                                                        links={'dashboard': None, 'web': None})
    assert '1 failed' in clone_fleet_summary([built])['summary']


@pytest.mark.parametrize('value, message', [
    ('text', 'the input must be a dict'),
    ({'source': {}}, 'must name the job'),
    ({'job': 'j', 'plan': []}, 'plan must be a dict'),
])
def test_site_report_bad_input_is_named(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        clone_report(value)


def _element_run(check_mode=False, **extra):
    phases = [
        {'name': 'code', 'start': '2026-01-02T10:00:00Z', 'end': '2026-01-02T10:00:02Z', 'outcome': 'changed',
         'method': 'code_push', 'bytes': None},
        {'name': 'database', 'start': '2026-01-02T10:00:02Z', 'end': '2026-01-02T10:00:09Z', 'outcome': 'changed',
         'method': 'database_stream', 'bytes': 4096},
        {'name': 'files', 'start': '2026-01-02T10:00:09Z', 'end': '2026-01-02T10:00:10Z', 'outcome': 'failed',
         'detail': 'rsync failed'},
    ] if not check_mode else []
    plan = {'strategy': 'elements', 'reason': 'Drush 9+',
            'steps': [{'step': 'code', 'method': 'code_push'}, {'step': 'database', 'method': 'database_stream'},
                      {'step': 'files', 'method': 'files_sync'}]}
    return clone_report(dict({'job': 'e1', 'check_mode': check_mode, 'started_at': '2026-01-02T10:00:00Z',
                              'finished_at': '2026-01-02T10:00:10Z', 'elements': ['code', 'database', 'files'],
                              'pending': ['code', 'database', 'files'],
                              'sizes': {'code': 10, 'database': 5000, 'files': 70},
                              'source': {'site': 'old', 'env': 'live'},
                              'target': {'site': 'new', 'env': 'dev', 'created': False,
                                         'info': _site('new', 'dev', 'dev-new.pantheonsite.localhost')},
                              'plan': plan, 'phases': phases}, **extra))


def test_site_report_transfers_per_element(monkeypatch):
    monkeypatch.setenv('PANTHEON_WEB_PORT', '8443')
    built = _element_run(error={'phase': 'files', 'message': 'rsync failed'})
    transfers = built['transfers']
    assert transfers['code'] == {'method': 'code_push', 'step': 'code', 'status': 'moved', 'size': 10, 'bytes': None}
    assert transfers['database'] == {'method': 'database_stream', 'step': 'database', 'status': 'moved', 'size': 5000,
                                     'bytes': 4096}
    assert transfers['files'] == {'method': 'files_sync', 'step': 'files', 'status': 'failed', 'size': 70, 'bytes': None}
    # a stand-in platform's web port (the emulator) is in the served URL; the dashboard follows the platform's
    assert built['target']['links'] == {'web': 'https://dev-new.pantheonsite.localhost:8443/',
                                        'dashboard': 'https://dashboard.pantheon.io/sites/new-id#dev'}
    assert built['target']['created'] is False
    # check mode: the plan's methods, nothing moved
    checked = _element_run(check_mode=True, pending=['database', 'files'], elements=['code', 'database'])
    assert {k: (v['method'], v['status']) for k, v in checked['transfers'].items()} == {
        'code': (None, 'unchanged'), 'database': ('database_stream', 'planned'), 'files': (None, 'not asked')}
    assert checked['transfers']['database'] == {'method': 'database_stream', 'step': 'database', 'status': 'planned',
                                                'size': 5000, 'bytes': None}
    # no dashboard link when it is turned off
    assert _element_run(dashboard_url=None)['target']['links']['dashboard'] is None


def test_html_shows_links_origin_methods_run_and_phase_durations(monkeypatch):
    monkeypatch.delenv('PANTHEON_WEB_PORT', raising=False)
    built = _element_run(error={'phase': 'files', 'message': 'rsync failed'})
    page = clone_report_html([built, dict(FLEET[1], run=None)])
    parsed = parse(page)
    rows = {r['attrs']['data-job']: r for r in parsed.rows}
    assert list(rows) == ['e1', 'alpha']
    hrefs = [a.get('href') for t, a in parsed.tags if t == 'a']
    assert hrefs == ['https://dev-new.pantheonsite.localhost/', 'https://dashboard.pantheon.io/sites/new-id#dev']
    assert 'target existed' in rows['e1']['cells']['job'] and 'target created' not in page
    cells = {a['data-element']: a for t, a in [x for x in parsed.tags if x[0] == 'td' and x[1].get('data-element')][:3]}
    assert rows['e1']['cells']['database'] == '4.9 KBstream, 4.0 KB moved'
    assert rows['e1']['cells']['code'] == '10 Bgit push'
    assert rows['e1']['cells']['files'] == '70 Brsync, failed'
    assert cells['database']['data-method'] == 'database_stream' and cells['database']['data-moved'] == '4096'
    assert rows['e1']['cells']['phaselist'] == 'code 2sdatabase 7sfiles 1s'
    # run details from the reports: the command line is there, with no extra var's value
    assert '<dl class="run">' in page and 'collection' in page and built['run']['command'] in html.unescape(page)


def test_index_lists_runs_newest_first():
    runs = [{'name': '20260102T100000.000Z-a', 'kind': 'clone', 'href': 'history/20260102T100000.000Z-a/report.html',
             'started_at': '2026-01-02T10:00:00Z', 'finished_at': '2026-01-02T10:01:05Z', 'status': 'succeeded',
             'summary': 'a: archive'},
            {'name': '20260103T090000.000Z-fleet', 'kind': 'fleet', 'href': 'history/20260103T090000.000Z-fleet/fleet-report.html',
             'started_at': '2026-01-03T09:00:00Z', 'finished_at': '2026-01-03T09:00:30Z', 'status': 'failed',
             'summary': '<2> site(s)'},
            {'name': 'x', 'href': 'https://elsewhere.example/', 'started_at': '2026-01-01T00:00:00Z', 'status': 'checked'}]
    page = clone_report_index(runs)
    parsed = Runs()
    parsed.feed(page)
    assert [r['data-run'] for r in parsed.rows] == ['20260103T090000.000Z-fleet', '20260102T100000.000Z-a', 'x']
    assert [r['data-status'] for r in parsed.rows] == ['failed', 'succeeded', 'checked']
    # only links inside the report directory
    assert parsed.hrefs == ['history/20260103T090000.000Z-fleet/fleet-report.html',
                            'history/20260102T100000.000Z-a/report.html']
    assert '&lt;2&gt; site(s)' in page and '1m05s' in page
    with pytest.raises(AnsibleFilterError, match='run 0 must be a dict'):
        clone_report_index(['x'])
    with pytest.raises(AnsibleFilterError, match='must be a list of runs'):
        clone_report_index({})


class Runs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.hrefs = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'tr' and attrs.get('class') == 'run':
            self.rows.append(attrs)
        elif tag == 'a':
            self.hrefs.append(attrs['href'])


def test_a_skipped_job_is_reported_as_skipped_not_failed():
    skipped = clone_report({'job': 'old', 'skipped': 'the source environment old.live is not initialized',
                            'source': {'site': 'old', 'env': 'live'}, 'target': {'site': 'old-copy', 'env': 'dev'}})
    assert skipped['status'] == 'skipped' and skipped['error'] is None and skipped['errors'] == []
    assert skipped['skipped'] == 'the source environment old.live is not initialized'
    assert skipped['strategy']['reason'] == 'skipped: the source environment old.live is not initialized'
    summary = clone_fleet_summary([skipped, FLEET[0], FLEET[2]])
    assert (summary['totals']['skipped'], summary['totals']['failed'], summary['totals']['succeeded']) == (1, 1, 1)
    assert '1 skipped' in summary['summary'] and summary['errors'] == ['charlie: files: rsync failed <oops> & more']
    # failures, then skipped jobs, then the rest
    assert [r.split()[0] for r in summary['table'][2:]] == ['charlie', 'old', 'bravo']
    rows = {r['attrs']['data-job']: r for r in parse(clone_report_html([skipped, FLEET[0]])).rows}
    assert rows['old']['attrs']['data-status'] == 'skipped' and rows['old']['cells']['status'] == 'skipped'
    assert 'not initialized' in rows['old']['cells']['reason']
