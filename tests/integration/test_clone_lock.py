# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.clone_lock against the emulator's codeserver (real git over SSH).

The lock is a branch created and removed by compare-and-swap pushes: of several processes that
race for it exactly one gets it; the others are refused naming the holder; a stale lock is taken
over; only the holder's run releases it.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from helpers.kill import module_result, start_module
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
    assert BRANCH not in branches(emulator, site)
    assert json.dumps(result)
