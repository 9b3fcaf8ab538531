# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo` (hacking/demo.sh) end to end, then its fleet checked and cloned again: the demo starts
its own emulator with the demo fleet at small scale and clones it with playbooks/clone_fleet.yml
(every strategy and framework, each clone verified), prints the summary and the HTML report's path,
and stops its emulator. The test then starts an emulator again on the data the demo kept, reads
the fleet reports (JSON, text, HTML) and the targets back, runs the same fleet again (nothing
moves), then in check mode after a source change. One fleet clone for both (the demo and the fleet
were two tests that cloned the same fleet)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.ansible import REPO, run_playbook
from pantheon_emulator.pytest_plugin import Emulator
from site_clone_helpers import (
    CLONE_FLEET,
    archives_on_source,
    content_state,
    html_rows,
    last_request_id,
    play_env,
    requests_since,
    state_files,
    writes_since,
)

sys.path.insert(0, os.path.join(REPO, 'hacking'))
import exposure  # noqa: E402  pylint: disable=wrong-import-position,import-error

SCALE = 0.01  # archive limit 2 MB, URL-import limit 5 MB; d7-large files ~3 MB, d7-huge ~5.5 MB
DEMO = os.path.join(REPO, 'hacking', 'demo.sh')

EXPECTED = {
    # job: (framework, strategy, [(step, method)])
    'd7-small': ('drupal', 'archive', [('archive', 'archive_import')]),
    'd7-large': ('drupal', 'archive_without_files', [('archive', 'archive_import'), ('files', 'url_import')]),
    'd7-huge': ('drupal', 'archive_without_files', [('archive', 'archive_import'), ('files', 'files_sync')]),
    'd10': ('drupal8', 'elements', [('code', 'code_push'), ('database', 'url_import'), ('files', 'url_import')]),
    'wp': ('wordpress', 'elements', [('code', 'code_push'), ('database', 'url_import'), ('files', 'url_import')]),
}


def make_demo(tmp_path):
    """Run hacking/demo.sh at SCALE, keeping the emulator's data directory; check what it printed
    and that it stopped its emulator. Returns the fleet the checks below read."""
    out = tmp_path / 'demo-output'
    env = dict(os.environ, DEMO_OUTPUT=str(out), DEMO_SCALE=str(SCALE), DEMO_FORKS='3', TMPDIR=str(tmp_path),
               DEMO_KEEP='1')
    proc = subprocess.run(['bash', DEMO], env=env, capture_output=True, text=True, timeout=1200, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    # the summary table and the report's path are printed
    assert re.search(r'^JOB\s+SOURCE\s+TARGET\s+FRAMEWORK\s+STRATEGY', proc.stdout, re.M), proc.stdout
    assert '5 site(s): 5 succeeded, 0 failed; 5 verified' in proc.stdout
    reports = out / 'reports'
    assert 'HTML report:      %s' % (reports / 'fleet-report.html') in proc.stdout
    # live progress (callback pantheon.platform.progress): per clone one line per phase, numbered in
    # order, with its duration and the time since the clone started, from preflight to verify
    for job, (_framework, _strategy, steps) in EXPECTED.items():
        # (a phase over a minute reads 1m09s)
        lines = re.findall(r'^demo-%s: (\d+) (\w+) (\w+) in [0-9.hms]+ \(at [0-9.hms]+\)' % job, proc.stdout, re.M)
        assert [int(line[0]) for line in lines] == list(range(1, len(lines) + 1)), (job, lines)
        names = [line[1] for line in lines]
        assert names[0] == 'preflight' and names[-1] == 'verify' and lines[-1][2] == 'ok', (job, names)
        assert {'target', 'cleanup'} | {step for step, _method in steps} <= set(names), (job, names)
    # short: Ansible's output (before the summary table) is about 40 lines per clone (37 seen), as the default
    # callback shows only what changed or failed; how many task banners repeat depends on how the 3
    # parallel clones interleave, hence the margin
    ansible_output = proc.stdout.split('JOB ', 1)[0]
    assert len(ansible_output.splitlines()) <= 45 * len(EXPECTED), ansible_output
    # the emulator it started is stopped
    pid = re.search(r'stopping the emulator \(pid (\d+)\)', proc.stderr)
    assert pid, proc.stderr
    assert not os.path.exists('/proc/%s' % pid.group(1)) or 'zombie' in open('/proc/%s/status' % pid.group(1)).read()
    kept = Path(re.search(r'kept (\S+)', proc.stderr).group(1))
    assert kept.parent == tmp_path and kept.name.startswith('pantheon-demo.')
    jobs = dict(('demo-' + job, {'site_clone_source_site': 'demo-' + job,
                                 'site_clone_target_site': 'demo-%s-clone' % job}) for job in EXPECTED)
    with open(kept / 'emulator.out', encoding='utf-8') as f:
        web_port = json.loads(f.readline())['web_port']
    return {'kept': kept, 'web_port': web_port, 'inventory': out / 'inventory.yml', 'reports': reports, 'jobs': jobs,
            'sites': dict((job, {'name': 'demo-' + job}) for job in EXPECTED), 'tmp_path': tmp_path}


def run_fleet_again(fleet, emulator, check=False, args=()):
    """clone_fleet.yml over the demo's inventory, against the emulator restarted on its data."""
    return run_playbook(CLONE_FLEET, inventory=str(fleet['inventory']), env=play_env(emulator, fleet['tmp_path']),
                        check=check, args=['-f', '3'] + list(args))


def check_jobs_ran_in_batches(res, jobs, size):
    """Every task result of a batch of ``size`` jobs comes before any of the next batch's (serial).

    Only the cloning play is batched: its results are those before the summary play's first (on localhost);
    the plays after it run for every job at once.
    """
    hosts = [t['host'] for t in res.tasks]
    tasks = res.tasks[:hosts.index('localhost')] if 'localhost' in hosts else res.tasks
    order = []
    for t in tasks:
        if t['host'] in jobs and t['host'] not in order:
            order.append(t['host'])
    assert sorted(order) == sorted(jobs)
    batches = [order[i:i + size] for i in range(0, len(order), size)]
    positions = dict((job, [i for i, t in enumerate(tasks) if t['host'] == job]) for job in jobs)
    for earlier, later in zip(batches, batches[1:]):
        assert max(max(positions[j]) for j in earlier) < min(min(positions[j]) for j in later), (earlier, later)


def check_every_strategy_clones_and_verifies(fleet):
    with open(fleet['reports'] / 'fleet-report.json', encoding='utf-8') as f:
        data = json.load(f)
    by_job = dict((site['job'][len('demo-'):], site) for site in data['sites'])
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
        # links to the target environment: its web as the emulator serves it, its dashboard page
        links = report['target']['links']
        assert links['web'] == 'https://dev-demo-%s-clone.pantheonsite.localhost:%d/' % (job, fleet['web_port']), links
        assert links['dashboard'] == 'https://dashboard.pantheon.io/sites/%s#dev' % report['target']['id']
        # how each element moved, and the bytes its step moved
        transfers = report['transfers']
        for step, method in steps:
            moved = ['code', 'database', 'files'] if step == 'archive' else [step]
            if step == 'archive' and strategy == 'archive_without_files':
                moved = ['code', 'database']
            for element in moved:
                assert (transfers[element]['method'], transfers[element]['status']) == (method, 'moved'), (job, transfers)
            if method in ('url_import', 'files_sync'):
                assert transfers[step]['bytes'] > 0, (job, transfers)
        if strategy.startswith('archive'):
            assert transfers['archive']['bytes'] > 0 and transfers['archive']['elements'] == (
                ['code', 'database'] if strategy == 'archive_without_files' else ['code', 'database', 'files'])
        # the run: collection version, check mode, the command (extra vars by name only), the controller
        run = report['run']
        assert run['collection_version'] and run['check_mode'] is False and run['controller']
        assert run['command'].startswith('ansible-playbook ') and 'clone_fleet' in run['command'], run
        assert run['play'] == 'Clone each site of the fleet'
        assert report['sizes']['files'] > 0 and report['sizes']['database'] > 0
        phases = [p['name'] for p in report['phases']]
        assert phases[:2] == ['preflight', 'checkpoint'] and phases[-3:] == ['cleanup', 'fixups', 'verify'], phases
        for step, _method in steps:
            assert step in phases, (job, phases)
        assert all(p['outcome'] != 'failed' for p in report['phases'])
        assert all(p['start'] <= p['end'] for p in report['phases'])
        # the per-site report the role wrote is the one in the fleet report
        with open(fleet['reports'] / ('demo-%s.json' % job), encoding='utf-8') as f:
            assert json.load(f)['strategy'] == report['strategy']
    # the split strategies really took the files step after the archive
    assert 'too large' not in by_job['d7-large']['strategy']['reason']
    assert '2 MB archive limit' in by_job['d7-large']['strategy']['reason']
    assert '5 MB URL-import limit' in by_job['d7-huge']['strategy']['reason']
    # WordPress: the source's address was replaced by the target's
    assert any(f.startswith('search-replace ') for f in by_job['wp']['fixups'])
    assert by_job['d7-small']['fixups'] == ['cache rebuild']


def check_each_archive_was_public_only_during_its_import(fleet):
    """From the demo emulator's request log (channel archive): each of the three Drupal 7 jobs' archives
    was created, imported once and removed, in that order. The windows go to
    .tmp/reliability/exposure.json (scenario demo-fleet-f3) and are printed, not asserted."""
    rows = exposure.read_log(str(fleet['kept'] / 'data'))
    events = {}
    for row in rows:
        if row['channel'] == 'archive':
            events.setdefault(row['path'], []).append(row['method'])
    assert len(events) == 3, events.values()
    assert all(methods == ['CREATED', 'IMPORT', 'REMOVED'] for methods in events.values()), events.values()
    figures = exposure.exposure(rows)
    assert figures['unremoved'] == 0
    exposure.write(os.path.join(REPO, exposure.DEFAULT_OUT), 'demo-fleet-f3', figures)
    print('archive exposure, demo fleet at -f 3: longest window %s s, longest public for nothing %s s'
          % (figures['max_window_s'], figures['max_overhead_s']))


def check_nothing_left_behind(fleet, emulator):
    for job in ('d7-small', 'd7-large', 'd7-huge'):
        assert archives_on_source(emulator, fleet['sites'][job]['name']) == [], job
    assert state_files(fleet['reports']) == []
    assert not os.path.exists(fleet['reports'] / '.staging') or os.listdir(fleet['reports'] / '.staging') == []


def tree_of(state):
    out = subprocess.run(['git', '--git-dir', state['paths']['repo'], 'rev-parse', state['code']['head'] + '^{tree}'],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def check_targets_have_the_sources_content(fleet, emulator):
    for job in EXPECTED:
        source = emulator.state(fleet['sites'][job]['name'], 'live', digest=True)
        target = emulator.state(fleet['jobs']['demo-' + job]['site_clone_target_site'], 'dev', digest=True)
        # the archive route commits the archive's code, so compare trees, not commits
        assert tree_of(target) == tree_of(source), job
        assert target['files']['digest'] == source['files']['digest'], job
        tables = dict((t, n) for t, n in source['db']['tables'].items() if not t.startswith('cache'))
        assert dict((t, n) for t, n in target['db']['tables'].items() if not t.startswith('cache')) == tables, job
        assert target['home_status'] == 200, job


def check_html_report_has_a_row_per_site(fleet):
    rows = html_rows(fleet['reports'] / 'fleet-report.html')
    assert sorted(rows) == sorted('demo-' + job for job in EXPECTED)
    for job, (framework, strategy, steps) in EXPECTED.items():
        row = rows['demo-' + job]
        assert row['attrs']['data-status'] == 'succeeded'
        assert row['attrs']['data-strategy'] == strategy
        assert row['attrs']['data-verification'] == 'match'
        assert row['cells']['framework'].startswith(framework)
        assert row['cells']['strategy'] == strategy
        assert fleet['jobs']['demo-' + job]['site_clone_target_site'] in row['cells']['job']
        assert 'demo-%s-clone.dev' % job in row['cells']['job']
        assert len(row['phases']) >= 8
        assert re.match(r'[0-9.]+ (B|KB|MB)', row['cells']['files']), row['cells']['files']
        assert row['cells']['error'] == ''
        # the target was created by this run; links to its web and dashboard; how the database moved
        assert 'target created by this run' in row['cells']['job'] and 'dashboard' in row['cells']['job']
        method = dict(steps).get('database') or 'archive_import'
        assert {'archive_import': 'archive', 'url_import': 'backup import'}[method] in row['cells']['database']
        # each phase's duration is written out, not only on hover
        assert re.search(r'preflight \d+s', row['cells']['phaselist']) and 'verify ' in row['cells']['phaselist']
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


def check_terminal_summary_names_the_html_report(fleet, res):
    summary = res.task('Show the fleet summary')
    lines = summary['msg']
    assert lines[0].split()[:5] == ['JOB', 'SOURCE', 'TARGET', 'FRAMEWORK', 'STRATEGY']
    assert lines[-1] == 'HTML report: %s' % (fleet['reports'] / 'fleet-report.html')


def check_second_run_changes_nothing(fleet, emulator):
    since = last_request_id(emulator)
    # two clones at a time (-f 3): the 5 jobs run in batches of 2, 2 and 1
    res = run_fleet_again(fleet, emulator, args=['-e', 'clone_fleet_concurrency=2'])
    assert res.rc == 0, res.output
    assert 'DEPRECATION' not in res.output
    check_jobs_ran_in_batches(res, list(fleet['jobs']), 2)
    for job in fleet['jobs']:
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
    return res


def check_check_mode_after_a_source_change_plans_only_that_and_writes_nothing(fleet, emulator):
    source = fleet['sites']['d10']['name']
    target = fleet['jobs']['demo-d10']['site_clone_target_site']
    # someone adds a file on the source after the clone
    files_dir = emulator.state(source, 'live')['paths']['files']
    with open(os.path.join(files_dir, 'added-after-the-clone.txt'), 'w', encoding='utf-8') as f:
        f.write('new content\n')
    before = content_state(emulator, target, 'dev')
    since = last_request_id(emulator)
    # d10 and one other job (the no-op run above checked all five for real; check mode is the same plan, read-only)
    res = run_fleet_again(fleet, emulator, check=True, args=['-e', 'clone_fleet_hosts=demo-d10,demo-d7-large'])
    assert res.rc == 0, res.output
    assert writes_since(emulator, since) == []
    assert content_state(emulator, target, 'dev') == before
    with open(fleet['reports'] / 'fleet-report.check.json', encoding='utf-8') as f:
        data = json.load(f)
    by_job = dict((site['job'][len('demo-'):], site) for site in data['sites'])
    assert by_job['d10']['status'] == 'checked'
    assert by_job['d10']['pending'] == ['files']
    assert [(s['step'], s['method']) for s in by_job['d10']['strategy']['steps']] == [('files', 'url_import')]
    assert sorted(by_job) == ['d10', 'd7-large']
    assert by_job['d7-large']['strategy']['name'] == 'none' and by_job['d7-large']['pending'] == []
    assert os.path.exists(fleet['reports'] / 'fleet-report.check.html')


def check_each_run_is_kept_with_an_index(fleet):
    """The demo's run, the second run and the check-mode run each kept in history/, listed newest first."""
    reports = fleet['reports']
    kept = sorted(k for k in os.listdir(reports / 'history') if not k.endswith('.json'))
    assert sorted(os.listdir(reports / 'history')) == sorted(kept + [k + '.json' for k in kept])
    assert len(kept) == 3 and all(re.match(r'^\d{8}T\d{6}\.\d{3}Z-fleet(\.check)?$', k) for k in kept), kept
    assert kept[-1].endswith('.check')
    for name in kept[:2]:
        assert sorted(os.listdir(reports / 'history' / name)) == ['fleet-report.html', 'fleet-report.json',
                                                                  'fleet-report.txt']
    # the latest is also at the stable path
    with open(reports / 'history' / kept[1] / 'fleet-report.txt', encoding='utf-8') as f, \
            open(reports / 'fleet-report.txt', encoding='utf-8') as g:
        assert f.read() == g.read()
    with open(reports / 'index.html', encoding='utf-8') as f:
        index = f.read()
    runs = re.findall(r'<tr class="run" data-run="([^"]+)" data-status="([^"]+)"', index)
    assert runs == [(kept[2], 'checked'), (kept[1], 'succeeded'), (kept[0], 'succeeded')], runs
    assert 'href="history/%s/fleet-report.check.html"' % kept[2] in index
    # jobs of a fleet keep no history of their own
    assert not [k for k in kept if not k.endswith(('-fleet', '-fleet.check'))]


@pytest.mark.slow
def test_make_demo_then_the_same_fleet_again(tmp_path):
    """One test, one fleet clone (pytest-xdist would set a module fixture up once per worker): make
    demo, what it left, the reports, then the same run again, then check mode after a source change."""
    fleet = make_demo(tmp_path)
    check_every_strategy_clones_and_verifies(fleet)
    check_each_archive_was_public_only_during_its_import(fleet)
    check_html_report_has_a_row_per_site(fleet)
    with open(fleet['reports'] / 'fleet-report.json', encoding='utf-8') as f:
        methods = dict((s['job'], [st['method'] for st in s['strategy']['steps']]) for s in json.load(f)['sites'])
    assert methods['demo-d7-large'] == ['archive_import', 'url_import']
    assert methods['demo-d7-huge'] == ['archive_import', 'files_sync']
    # the emulator again, on the data the demo kept (its SSH key is still trusted) and on the same
    # ports (the targets' platform domains, which the WordPress fix-up wrote into its database, keep them)
    with open(fleet['kept'] / 'emulator.out', encoding='utf-8') as f:
        first = json.loads(f.readline())
    emulator = Emulator(fleet['kept'] / 'data', ssh_private_key=fleet['kept'] / 'ssh' / 'id_ed25519',
                        known_hosts=fleet['kept'] / 'ssh' / 'known_hosts', log_path=tmp_path / 'emulator-again.log',
                        api_port=first['web_port'], ssh_port=first['ssh_port'])
    emulator.start()
    try:
        check_nothing_left_behind(fleet, emulator)
        check_targets_have_the_sources_content(fleet, emulator)
        res = check_second_run_changes_nothing(fleet, emulator)
        check_terminal_summary_names_the_html_report(fleet, res)
        check_check_mode_after_a_source_change_plans_only_that_and_writes_nothing(fleet, emulator)
        check_each_run_is_kept_with_an_index(fleet)
    finally:
        emulator.stop()


def test_fleet_concurrency_that_is_no_number_is_named(tmp_path):
    """A clone_fleet_concurrency that is no number of clones stops the run before any job, naming it."""
    res = run_playbook(CLONE_FLEET, inventory='all:\n  hosts:\n    job1:\n      site_clone_source_site: a\n'
                       '      site_clone_target_site: b\n', args=['-e', 'clone_fleet_concurrency=two'],
                       env={'PANTHEON_CLONE_REPORT_DIR': str(tmp_path)})
    assert res.rc != 0
    assert ('clone_fleet_concurrency must be the number of clones at once (or a percentage of the jobs), got two'
            in res.output), res.output
    assert 'Traceback' not in res.output
    assert not [t for t in res.tasks if t['host'] == 'job1']


def test_make_demo_removes_its_emulator_data_and_keeps_the_log_when_it_fails(tmp_path):
    """The demo's emulator cannot start (a scale that is no number): it fails, says why, keeps the
    emulator's log in the output directory, and leaves no temporary data directory behind."""
    out = tmp_path / 'demo-output'
    env = dict(os.environ, DEMO_OUTPUT=str(out), DEMO_SCALE='tiny', TMPDIR=str(tmp_path))
    env.pop('DEMO_KEEP', None)
    proc = subprocess.run(['bash', DEMO], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert 'the emulator stopped while starting' in proc.stderr, proc.stderr
    assert "invalid float value: 'tiny'" in (out / 'emulator.log').read_text()
    assert not [p for p in os.listdir(tmp_path) if p.startswith('pantheon-demo.')]
