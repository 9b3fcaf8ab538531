# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.clone_lock against the emulator's codeserver (real git over SSH).

The lock is a branch created and removed by compare-and-swap pushes: of several processes that
race for it exactly one gets it; the others are refused naming the holder; a stale lock is taken
over; only the holder's run releases it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import pytest

from ansible_collections.pantheon.platform.plugins.module_utils import _lock
from helpers.kill import hold, module_result, start_module
from site_clone_helpers import last_request_id, requests_since, writes_since
from transfer_helpers import play_env, run_module

BRANCH = 'pantheon-platform-lock-clone'


@pytest.fixture(scope='module')
def site(emulator):
    name = 'lk%s' % os.urandom(3).hex()
    return emulator.seed({'seed': 41, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev']}]})[0]


def branches(emulator, site):
    repo = emulator.state(site['name'], 'dev')['paths']['repo']
    out = subprocess.run(['git', '--git-dir', repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/'],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def lock(emulator, tmp_path, site, **args):
    return run_module(emulator, tmp_path, 'clone_lock', dict({'site': site['name']}, **args))


def test_one_of_racing_runs_gets_the_lock_the_others_are_refused(emulator, site, tmp_path):
    """Four processes push for the lock at once: one holds it, three are refused with the holder's
    job named; the holder's release removes the branch; master is untouched."""
    master_before = emulator.state(site['name'], 'dev')['code']['head']
    env = play_env(emulator, tmp_path)
    procs = [start_module('clone_lock', {'site': site['name'], 'job': 'job-%d' % i, 'run_id': 'run-%d' % i},
                          env, tmp_path / ('racer%d' % i)) for i in range(4)]
    results = [module_result(p) for p in procs]
    winners = [r for r in results if not r.get('failed')]
    assert len(winners) == 1, results
    held = winners[0]['lock']
    assert held['held'] is True and held['branch'] == BRANCH and winners[0]['changed'] is True
    for r in results:
        if r.get('failed'):
            assert 'is locked by another clone run: job %s (run %s)' % (held['job'], held['run_id']) in r['msg'], r
            assert 'clone_lock state=absent force=true' in r['msg']
    assert BRANCH in branches(emulator, site)

    # the holder takes it again: no change; another run's release leaves it alone
    _run, again = lock(emulator, tmp_path, site, job=held['job'], run_id=held['run_id'])
    assert again['changed'] is False and again['lock']['commit'] == held['commit']
    _run, other = lock(emulator, tmp_path, site, state='absent', run_id='someone-else')
    assert other['changed'] is False and BRANCH in branches(emulator, site)
    # the holder's release removes it; a second release changes nothing
    _run, released = lock(emulator, tmp_path, site, state='absent', run_id=held['run_id'])
    assert released['changed'] is True and released['lock']['held'] is False
    assert BRANCH not in branches(emulator, site)
    _run, twice = lock(emulator, tmp_path, site, state='absent', run_id=held['run_id'])
    assert twice['changed'] is False
    assert emulator.state(site['name'], 'dev')['code']['head'] == master_before


def test_wait_then_stale_takeover_and_force(emulator, site, tmp_path):
    run, first = lock(emulator, tmp_path, site, job='first', run_id='r1')
    assert run.rc == 0 and first['changed'] is True
    # check mode reads the holder and is refused the same way, pushing nothing
    run, refused = run_module(emulator, tmp_path, 'clone_lock', {'site': site['name'], 'job': 'second', 'run_id': 'r2'},
                              check=True)
    assert run.rc != 0 and 'job first (run r1)' in refused['msg']
    # a lock older than stale_after is taken over, with a warning naming the holder
    run, second = lock(emulator, tmp_path, site, job='second', run_id='r2', stale_after=0)
    assert run.rc == 0 and second['changed'] is True, second
    assert second['taken_over']['run_id'] == 'r1' and 'stale_after=0' in second['taken_over']['reason']
    assert second['lock']['run_id'] == 'r2'
    # the first run's release no longer removes the second run's lock
    _run, late = lock(emulator, tmp_path, site, state='absent', run_id='r1')
    assert late['changed'] is False and BRANCH in branches(emulator, site)
    # force removes any holder's
    _run, forced = lock(emulator, tmp_path, site, state='absent', force=True)
    assert forced['changed'] is True and BRANCH not in branches(emulator, site)


def test_a_lock_of_a_playbook_that_no_longer_runs_here_is_stale(emulator, site, tmp_path):
    """Taken through ansible-playbook (the holder records its pid), then that playbook has ended:
    the next run on this controller takes it over at once."""
    res = run_module(emulator, tmp_path, 'clone_lock', {'site': site['name'], 'job': 'gone', 'run_id': 'g1'},
                     ansible=True)[0]
    assert res.rc == 0, res.output
    holder = res.task('step')['lock']
    assert isinstance(holder['pid'], int)
    run, taken = lock(emulator, tmp_path, site, job='next', run_id='n1')
    assert run.rc == 0 and taken['taken_over']['run_id'] == 'g1', taken
    assert 'no longer runs' in taken['taken_over']['reason']
    lock(emulator, tmp_path, site, state='absent', run_id='n1')


def test_bad_input(emulator, site, tmp_path):
    for args, message in [({'name': 'Bad_Name'}, 'name must be'), ({'wait': -1}, 'wait must be'),
                          ({'state': 'absent'}, 'needs the run_id')]:
        run, result = lock(emulator, tmp_path, site, **args)
        assert run.rc != 0 and message in result['msg'], (args, result)
    # the lock option of backup and archive: refused before anything is read
    for module in ('backup', 'archive'):
        for args, message in [({'name': 'Bad_Name'}, 'lock.name must be'), ({'name': 'ok', 'wait': -1}, 'lock.wait must be')]:
            run, result = run_module(emulator, tmp_path, module, {'site': site['name'], 'lock': args})
            assert run.rc != 0 and message in result['msg'], (module, args, result)
    assert BRANCH not in branches(emulator, site)
    assert json.dumps(result)


# The lock a step takes itself: backup and archive with their lock option (module_utils/_lock.run_locked), in
# process against the same codeserver.
SOURCE_LOCK = 'pantheon-platform-lock-source-dev'


def step(emulator, tmp_path, site, module, check=False, **lock_args):
    lock_option = dict({'name': 'source-dev', 'job': 'second', 'run_id': 's2'}, **lock_args)
    args = {'site': site['name'], 'env': 'dev', 'lock': lock_option}
    if module == 'backup':
        args['elements'] = ['database']
    return run_module(emulator, tmp_path, module, args, check=check)


def lock_commit(emulator, site):
    repo = emulator.state(site['name'], 'dev')['paths']['repo']
    out = subprocess.run(['git', '--git-dir', repo, 'rev-parse', '--verify', '-q', 'refs/heads/' + SOURCE_LOCK],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def test_a_step_waits_for_another_runs_lock_then_fails_naming_it_having_written_nothing(
        emulator, site, tmp_path, monkeypatch):
    """backup and archive find the source's lock held by another run: each looks again until lock.wait is spent,
    then fails with clone_lock's message naming that run; nothing is written (no workflow, no archive, the
    holder's lock as it was). Check mode takes no lock: it neither waits nor fails, nor makes a branch."""
    monkeypatch.setattr(_lock, 'POLL', 0.2)  # in process: the module looks again every 0.2 s
    _run, held = lock(emulator, tmp_path, site, name='source-dev', job='first', run_id='f1')
    commit = held['lock']['commit']
    try:
        for module in ('backup', 'archive'):
            since = last_request_id(emulator)
            run, res = step(emulator, tmp_path, site, module, wait=1)
            assert run.rc != 0, (module, res)
            assert 'The site %s is locked by another clone run: job first (run f1)' % site['name'] in res['msg'], res
            assert re.search(r'Wait for that run to finish \(waited \d+ seconds\)', res['msg']), res['msg']
            assert 'clone_lock state=absent force=true' in res['msg']
            reads = [r for r in requests_since(emulator, since) if r['channel'] == 'ssh']
            assert len([r for r in reads if r['path'].startswith('git-upload-pack')]) >= 2, 'it looked again'
            assert writes_since(emulator, since) == [], module
            assert lock_commit(emulator, site) == commit and 'lock' not in res

            since = last_request_id(emulator)
            run, res = step(emulator, tmp_path, site, module, check=True)
            assert run.rc == 0 and 'lock' not in res, (module, res)
            assert writes_since(emulator, since) == [] and lock_commit(emulator, site) == commit
    finally:
        lock(emulator, tmp_path, site, name='source-dev', state='absent', run_id='f1')
    run, res = step(emulator, tmp_path, site, 'backup', check=True)
    assert run.rc == 0 and lock_commit(emulator, site) is None


def test_a_step_takes_over_a_stale_lock_and_gives_it_back_also_after_a_failure(emulator, site, tmp_path):
    """A lock older than lock.stale_after is taken over (taken_over names the old holder and why); the backup is
    made under this run's lock, which is removed when the step is done. A backup whose workflow fails gives the
    lock back too (the failure result says so)."""
    lock(emulator, tmp_path, site, name='source-dev', job='old', run_id='o1')
    run, res = step(emulator, tmp_path, site, 'backup', stale_after=0)
    assert run.rc == 0 and res['changed'] is True, res
    assert res['lock']['taken_over']['run_id'] == 'o1' and 'stale_after=0' in res['lock']['taken_over']['reason']
    assert res['lock']['run_id'] == 's2' and res['lock']['job'] == 'second' and res['lock']['branch'] == SOURCE_LOCK
    assert res['lock']['released'] is True and res['lock']['held'] is False
    assert lock_commit(emulator, site) is None

    emulator.faults([{'match': {'channel': 'workflow', 'path': '^do_export$'},
                      'action': {'workflow_fail': 'Injected failure'}, 'times': 1}])
    try:
        run, res = step(emulator, tmp_path, site, 'backup')
    finally:
        emulator.clear_faults()
    assert run.rc != 0 and 'Injected failure' in res['msg'], res
    assert res['lock']['released'] is True and res['lock']['run_id'] == 's2'
    assert lock_commit(emulator, site) is None


def test_a_signal_during_the_step_gives_the_lock_back(emulator, site, tmp_path):
    """SIGTERM while the backup waits for its workflow (held by the emulator): the module fails saying so and
    removes its lock before it exits."""
    emulator.faults([hold('bk-signal', 'workflow', '^do_export$')])
    try:
        proc = start_module('backup', {'site': site['name'], 'env': 'dev', 'elements': ['database'],
                                       'lock': {'name': 'source-dev', 'job': 'signalled', 'run_id': 'x1'}},
                            play_env(emulator, tmp_path), tmp_path / 'signal')
        emulator.wait_hold('bk-signal', timeout=120)
        assert lock_commit(emulator, site) is not None
        proc.send_signal(signal.SIGTERM)
        res = module_result(proc)
    finally:
        emulator.clear_faults()
    assert res.get('failed') and res['msg'].startswith('Interrupted by SIGTERM.'), res
    assert SOURCE_LOCK in res['msg'] and res['reason'] == 'interrupted' and res['lock']['released'] is True
    assert lock_commit(emulator, site) is None
