# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clone runs at the same time (issue 11, point 2), through real ansible-playbook runs.

One fleet run serves both (make test's budget):
- Two runs of one job: the second is refused by the target's lock (a branch in the target's
  repository on the platform), naming the first run, and leaves the first run's archive and
  state file alone; the first finishes and verifies.
- Jobs that share one source, at the same time (-f 2; -f 3 under the marker ``long``): they take turns
  on the source (its turn lock), one backup serves them all, each verifies; no run's archive shows in
  another's verification; no archive and no lock is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from clone_steps_helpers import ANY_ARCHIVE_NAME
from helpers.ansible import VENV_BIN, ansible_env
from helpers.kill import hold
from site_clone_helpers import (CLONE_FLEET, archives_on_source, clone_site, fleet_inventory, last_request_id, play_env,
                                read_report, run_fleet, state_files)

LOCK = 'pantheon-platform-lock-clone'
SOURCE_LOCK = 'pantheon-platform-lock-source-live'


def small_d7(name):
    return {'name': name, 'framework': 'drupal', 'envs': ['dev', 'test', 'live'], 'db': {'nodes': 6},
            'files': {'count': 5, 'size': [200, 3000], 'compressible': True, 'depth': 1}}


def branches(emulator, site):
    repo = emulator.state(site, 'dev')['paths']['repo']
    out = subprocess.run(['git', '--git-dir', repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/'],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def _shared_source_checks(emulator, reports, source, source_id, jobs, since, output):
    """Jobs of one source that ran at once took turns on it: one backup served them all (the first made it,
    the others reused it), one archive at a time, every target verified (no other run's archive in a
    comparison), no lock and no archive left."""
    measures = []
    for job in jobs:
        report = read_report(reports, job)
        assert report['status'] == 'succeeded', (job, report['error'])
        assert report['strategy']['name'] == 'archive' and report['verification']['status'] == 'match', job
        measures.append([p['detail'] for p in report['phases'] if p['name'] == 'measure'][0])
    assert len(_source_workflows(emulator, source_id, 'do_export')) == 1
    assert sorted(m.split(' ')[0] for m in measures) == ['new'] + ['reused'] * (len(jobs) - 1), measures
    # one archive per job, never two at once (the emulator logs each archive's CREATED/REMOVED)
    open_now, most, created = set(), 0, 0
    for row in sorted((r for r in emulator.requests(channel='archive', since=since) if r['id'] > since), key=lambda r: r['id']):
        if row['method'] == 'CREATED':
            created += 1
            open_now.add(row['path'])
        elif row['method'] == 'REMOVED':
            open_now.discard(row['path'])
        most = max(most, len(open_now))
    assert created == len(jobs) and most == 1 and not open_now, (created, most, open_now)
    assert archives_on_source(emulator, source) == []
    assert not [b for b in branches(emulator, source) if b.startswith('pantheon-platform-lock-')]
    assert not ANY_ARCHIVE_NAME.search(output)


def test_runs_at_once_take_turns_and_a_second_run_of_a_job_is_refused(emulator, tmp_path, site_prefix):
    """ONE fleet run of two jobs sharing a source (-f 2), held while the first of them has the target import
    its archive (the archive exists, the target's lock and the source's turn are held): a second run of that
    job is refused by the target's lock, naming it, and leaves its archive and state file alone; a third job
    of the same source that will not wait for its turn is refused before its backup, naming it. Released,
    the fleet finishes: both jobs took turns on the source (see _shared_source_checks)."""
    source = site_prefix + 'cc-src'
    source_id = emulator.seed({'seed': 51, 'sites': [small_d7(source)]})[0]['id']
    reports = tmp_path / 'reports'
    jobs = dict(('share%d' % i, {'site_clone_source_site': source, 'site_clone_target_site': '%scc-dst%d' % (site_prefix, i)})
                for i in range(2))
    work = tmp_path / 'first'
    work.mkdir()
    (work / 'inventory.yml').write_text(fleet_inventory(jobs, {'site_clone_report_dir': str(reports)}))
    since = last_request_id(emulator)
    # the first import of an archive is held (the archive exists, the locks are held)
    emulator.faults([hold('first', 'workflow', '^do_migration$')])
    log = open(work / 'output.log', 'w+', encoding='utf-8')  # pylint: disable=consider-using-with
    first = subprocess.Popen([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', str(work / 'inventory.yml'), CLONE_FLEET,
                              '-f', '2'], env=ansible_env(play_env(emulator, tmp_path)), cwd=str(work), stdout=log,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        emulator.wait_hold('first', timeout=600)
        left = archives_on_source(emulator, source)
        assert len(left) == 1
        # the job held: the one whose journal names the archive
        journals = dict((os.path.basename(path)[:-len('.json')], json.loads(open(path, encoding='utf-8').read()))
                        for path in state_files(reports))
        held = [job for job, journal in journals.items() if (journal.get('archive') or {}).get('path')]
        assert len(held) == 1 and held[0] in jobs, journals
        job = held[0]
        target = jobs[job]['site_clone_target_site']
        assert journals[job]['archive']['path'].endswith(left[0])
        assert LOCK in branches(emulator, target)

        second = run_fleet(emulator, tmp_path, {job: jobs[job]}, {'site_clone_report_dir': str(reports)}, forks=1)
        assert second.rc != 0
        assert 'is locked by another clone run: job %s' % job in second.output, second.output[-3000:]
        report = read_report(reports, job)
        assert report['error']['phase'] == 'lock' and report['status'] == 'failed'
        # the first run's archive and state file were left alone
        assert archives_on_source(emulator, source) == left
        assert json.loads(open(reports / '.state' / ('%s.json' % job), encoding='utf-8').read())['archive']['path'] \
            .endswith(left[0])
        assert not ANY_ARCHIVE_NAME.search(second.output)

        # another job of the same source waits for its turn on the source (the first holds it through its
        # archive step), here not at all: refused before its backup, naming the first job; nothing written
        other = '%s.live-to-%s.dev' % (source, target + '-other')
        third = clone_site(emulator, tmp_path, source, target + '-other', reports, extra={'site_clone_source_lock_wait': 0})
        assert third.rc != 0
        assert 'is locked by another clone run: job %s' % job in third.output, third.output[-3000:]
        assert SOURCE_LOCK in branches(emulator, source)
        report = read_report(reports, other)
        assert report['error']['phase'] == 'measure' and report['status'] == 'failed'
        assert archives_on_source(emulator, source) == left

        emulator.release('first')
        first.wait(900)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(30)
        emulator.clear_faults()
        log.seek(0)
        output = log.read()
        log.close()
    assert first.returncode == 0, output[-4000:]
    _shared_source_checks(emulator, reports, source, source_id, jobs, since, output)
    assert state_files(reports) == []
    for job_vars in jobs.values():
        assert LOCK not in branches(emulator, job_vars['site_clone_target_site']), 'each run released its lock'
    assert SOURCE_LOCK not in branches(emulator, source), 'the source was given back'


def _source_workflows(emulator, site_id, kind):
    listed = emulator.api().get('%s/sites/%s/workflows' % (emulator.api_url, site_id), timeout=60).json()
    return [w for w in listed if w.get('type') == kind]


@pytest.mark.long
def test_three_jobs_sharing_one_source_at_the_same_time_all_verify(emulator, tmp_path, site_prefix):
    """Three jobs of one source at -f 3 (make test runs two, in the test above)."""
    source = site_prefix + 'sh-src'
    source_id = emulator.seed({'seed': 52, 'sites': [small_d7(source)]})[0]['id']
    reports = tmp_path / 'reports'
    jobs = dict(('share%d' % i, {'site_clone_source_site': source, 'site_clone_target_site': '%ssh-dst%d' % (site_prefix, i)})
                for i in range(3))
    since = last_request_id(emulator)
    res = run_fleet(emulator, tmp_path, jobs, {'site_clone_report_dir': str(reports)}, forks=3)
    assert res.rc == 0, res.output[-4000:]
    _shared_source_checks(emulator, reports, source, source_id, jobs, since, res.output)
