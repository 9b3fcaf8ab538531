# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/clone_fleet.yml on the demo fleet at small scale: every strategy and framework, each clone
verified, the fleet reports (JSON, text, HTML) read back, and the same run again moving nothing."""

from __future__ import annotations

import json
import os
import subprocess

from site_clone_helpers import (
    archives_on_source,
    content_state,
    html_rows,
    last_request_id,
    limits_for,
    requests_since,
    run_fleet,
    seed_demo_fleet,
    state_files,
    writes_since,
)

SCALE = 0.01  # archive limit 2 MB, URL-import limit 5 MB; d7-large files ~3 MB, d7-huge ~5.5 MB

EXPECTED = {
    # job: (framework, strategy, [(step, method)])
    'd7-small': ('drupal', 'archive', [('archive', 'archive_import')]),
    'd7-large': ('drupal', 'archive_without_files', [('archive', 'archive_import'), ('files', 'url_import')]),
    'd7-huge': ('drupal', 'archive_without_files', [('archive', 'archive_import'), ('files', 'files_sync')]),
    'd10': ('drupal8', 'elements', [('code', 'code_push'), ('database', 'url_import'), ('files', 'url_import')]),
    'wp': ('wordpress', 'elements', [('code', 'code_push'), ('database', 'url_import'), ('files', 'url_import')]),
}


def clone_the_fleet(emulator, tmp_path):
    """Seed the fleet and clone it once; the checks below read the outcome."""
    prefix = 'f%s-' % os.urandom(3).hex()
    sites = seed_demo_fleet(emulator, prefix, SCALE)
    reports = tmp_path / 'reports'
    jobs = dict((job, {'site_clone_source_site': sites[job]['name'],
                       'site_clone_target_site': '%s%s-clone' % (prefix, job)}) for job in EXPECTED)
    common = dict(limits_for(SCALE), site_clone_report_dir=str(reports))
    res = run_fleet(emulator, tmp_path, jobs, common, forks=3)
    return {'prefix': prefix, 'sites': sites, 'jobs': jobs, 'common': common, 'reports': reports, 'res': res,
            'tmp_path': tmp_path}


def check_every_strategy_clones_and_verifies(fleet):
    res = fleet['res']
    assert res.rc == 0, res.output
    with open(fleet['reports'] / 'fleet-report.json', encoding='utf-8') as f:
        data = json.load(f)
    by_job = dict((site['job'], site) for site in data['sites'])
    assert sorted(by_job) == sorted(EXPECTED)
    assert data['totals']['succeeded'] == 5 and data['totals']['failed'] == 0 and data['totals']['verified'] == 5
    for job, (framework, strategy, steps) in EXPECTED.items():
        report = by_job[job]
        assert report['status'] == 'succeeded', (job, report['error'])
        assert report['source']['framework'] == framework
        assert report['strategy']['name'] == strategy, (job, report['strategy'])
        assert [(s['step'], s['method']) for s in report['strategy']['steps']] == steps, job
        assert report['verification']['status'] == 'match', (job, report['verification'])
        assert set(report['verification']['elements']) == {'code', 'database', 'files', 'home'}
        assert all(e['match'] for e in report['verification']['elements'].values()), job
        assert report['target']['created'] is True
        assert report['sizes']['files'] > 0 and report['sizes']['database'] > 0
        phases = [p['name'] for p in report['phases']]
        assert phases[:2] == ['preflight', 'checkpoint'] and phases[-3:] == ['cleanup', 'fixups', 'verify'], phases
        for step, _method in steps:
            assert step in phases, (job, phases)
        assert all(p['outcome'] != 'failed' for p in report['phases'])
        assert all(p['start'] <= p['end'] for p in report['phases'])
        # the per-site report the role wrote is the one in the fleet report
        with open(fleet['reports'] / ('%s.json' % job), encoding='utf-8') as f:
            assert json.load(f)['strategy'] == report['strategy']
    # the split strategies really took the files step after the archive
    assert 'too large' not in by_job['d7-large']['strategy']['reason']
    assert '2 MB archive limit' in by_job['d7-large']['strategy']['reason']
    assert '5 MB URL-import limit' in by_job['d7-huge']['strategy']['reason']
    # WordPress: the source's address was replaced by the target's
    assert any(f.startswith('search-replace ') for f in by_job['wp']['fixups'])
    assert by_job['d7-small']['fixups'] == ['cache rebuild']


def check_nothing_left_behind(fleet, emulator):
    assert fleet['res'].rc == 0, fleet['res'].output
    for job in ('d7-small', 'd7-large', 'd7-huge'):
        assert archives_on_source(emulator, fleet['sites'][job]['name']) == [], job
    assert state_files(fleet['reports']) == []
    assert not os.path.exists(fleet['reports'] / '.staging') or os.listdir(fleet['reports'] / '.staging') == []


def tree_of(state):
    out = subprocess.run(['git', '--git-dir', state['paths']['repo'], 'rev-parse', state['code']['head'] + '^{tree}'],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def check_targets_have_the_sources_content(fleet, emulator):
    assert fleet['res'].rc == 0, fleet['res'].output
    for job in EXPECTED:
        source = emulator.state(fleet['sites'][job]['name'], 'live', digest=True)
        target = emulator.state(fleet['jobs'][job]['site_clone_target_site'], 'dev', digest=True)
        # the archive route commits the archive's code, so compare trees, not commits
        assert tree_of(target) == tree_of(source), job
        assert target['files']['digest'] == source['files']['digest'], job
        tables = dict((t, n) for t, n in source['db']['tables'].items() if not t.startswith('cache'))
        assert dict((t, n) for t, n in target['db']['tables'].items() if not t.startswith('cache')) == tables, job
        assert target['home_status'] == 200, job


def check_html_report_has_a_row_per_site(fleet):
    assert fleet['res'].rc == 0, fleet['res'].output
    rows = html_rows(fleet['reports'] / 'fleet-report.html')
    assert sorted(rows) == sorted(EXPECTED)
    for job, (framework, strategy, steps) in EXPECTED.items():
        row = rows[job]
        assert row['attrs']['data-status'] == 'succeeded'
        assert row['attrs']['data-strategy'] == strategy
        assert row['attrs']['data-verification'] == 'match'
        assert row['cells']['framework'].startswith(framework)
        assert row['cells']['strategy'] == strategy
        assert fleet['jobs'][job]['site_clone_target_site'] in row['cells']['job']
        assert row['cells']['files'].endswith(('B', 'KB', 'MB'))
        assert row['cells']['error'] == ''
        assert 'code ok' in row['cells']['elements'] and 'home ok' in row['cells']['elements']
        drawn = [name for name, outcome in row['phases']]
        assert drawn[0] == 'preflight' and 'verify' in drawn
        for step, _method in steps:
            assert step in drawn
    with open(fleet['reports'] / 'fleet-report.txt', encoding='utf-8') as f:
        text = f.read()
    assert '5 site(s): 5 succeeded, 0 failed; 5 verified' in text
    for job in EXPECTED:
        assert job in text


def check_terminal_summary_names_the_html_report(fleet):
    res = fleet['res']
    assert res.rc == 0, res.output
    summary = res.task('Show the fleet summary')
    lines = summary['msg']
    assert lines[0].split()[:5] == ['JOB', 'SOURCE', 'TARGET', 'FRAMEWORK', 'STRATEGY']
    assert lines[-1] == 'HTML report: %s' % (fleet['reports'] / 'fleet-report.html')


def check_second_run_changes_nothing(fleet, emulator):
    assert fleet['res'].rc == 0, fleet['res'].output
    since = last_request_id(emulator)
    res = run_fleet(emulator, fleet['tmp_path'], fleet['jobs'], fleet['common'], forks=3)
    assert res.rc == 0, res.output
    for job in EXPECTED:
        changed = [t['name'] for t in res.tasks if t['host'] == job and t['result'].get('changed')]
        assert res.stats[job]['changed'] == 0, (job, changed)
    assert writes_since(emulator, since) == []
    # no data moved: no backup downloaded, no archive made, nothing pushed or synced
    moved = [r['path'] for r in requests_since(emulator, since) if r['channel'] == 'download']
    assert moved == []
    with open(fleet['reports'] / 'fleet-report.json', encoding='utf-8') as f:
        data = json.load(f)
    for site in data['sites']:
        assert site['strategy']['name'] == 'none', site['job']
        assert site['verification']['status'] == 'match', site['job']
        assert site['changed'] is False


def check_check_mode_after_a_source_change_plans_only_that_and_writes_nothing(fleet, emulator):
    assert fleet['res'].rc == 0, fleet['res'].output
    source = fleet['sites']['d10']['name']
    target = fleet['jobs']['d10']['site_clone_target_site']
    # someone adds a file on the source after the clone
    files_dir = emulator.state(source, 'live')['paths']['files']
    with open(os.path.join(files_dir, 'added-after-the-clone.txt'), 'w', encoding='utf-8') as f:
        f.write('new content\n')
    before = content_state(emulator, target, 'dev')
    since = last_request_id(emulator)
    res = run_fleet(emulator, fleet['tmp_path'], fleet['jobs'], fleet['common'], forks=3, check=True)
    assert res.rc == 0, res.output
    assert writes_since(emulator, since) == []
    assert content_state(emulator, target, 'dev') == before
    with open(fleet['reports'] / 'fleet-report.check.json', encoding='utf-8') as f:
        data = json.load(f)
    by_job = dict((site['job'], site) for site in data['sites'])
    assert by_job['d10']['status'] == 'checked'
    assert by_job['d10']['pending'] == ['files']
    assert [(s['step'], s['method']) for s in by_job['d10']['strategy']['steps']] == [('files', 'url_import')]
    for job in EXPECTED:
        if job != 'd10':
            assert by_job[job]['strategy']['name'] == 'none', job
    assert os.path.exists(fleet['reports'] / 'fleet-report.check.html')


def test_fleet_of_every_strategy(emulator, tmp_path):
    """One test, one fleet (pytest-xdist would set a module fixture up once per worker): the first run,
    what it left, the reports, then the same run again, then check mode after a source change."""
    fleet = clone_the_fleet(emulator, tmp_path)
    check_every_strategy_clones_and_verifies(fleet)
    check_nothing_left_behind(fleet, emulator)
    check_targets_have_the_sources_content(fleet, emulator)
    check_html_report_has_a_row_per_site(fleet)
    check_terminal_summary_names_the_html_report(fleet)
    check_second_run_changes_nothing(fleet, emulator)
    check_check_mode_after_a_source_change_plans_only_that_and_writes_nothing(fleet, emulator)
