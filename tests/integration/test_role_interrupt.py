# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A clone killed (SIGKILL of ansible-playbook and every process under it) in each phase in turn,
then run again: the second run finishes the clone, verifies it, and no archive, state file or
staging directory is left.

The emulator is slowed down where the kill lands (an SSH delay, a workflow delay) so that the kill
really interrupts the step, and the cases that move data check that the killed run left something
to finish. The read-only phases (preflight, checkpoint, strategy) are killed too, one after the
other: they leave nothing to finish.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from helpers.ansible import PYTHON, VENV_BIN, ansible_env
from site_clone_helpers import CLONE_SITE, archives_on_source, clone_site, play_env, read_report, state_files

MB = 1024 * 1024
# A Drupal 7 site whose files (1.2 MB, incompressible) pass both limits below: archive without
# files, site import, then files by rsync. The WordPress site of the element-route phases goes
# element by element: git push, database by URL import, files by rsync, then the URL search-replace.
LIMITS = {'site_clone_archive_limit_mb': 1, 'site_clone_url_import_limit_mb': 1}
FILES = {'count': 5, 'size': 3000, 'compressible': True,
         'big': [{'name': 'media/clip.bin', 'size': int(1.2 * MB), 'compressible': False}]}

# killed during the archive's import (do_migration): the last test, which then also kills the rerun
IMPORT_TASK = 'Import the site archive (do_migration)'
CASES = {
    # phase: (task whose start triggers the kill, fault rules and emulator settings applied when it starts)
    'archive': ('Make the site archive on the source with Drush',
                [{'match': {'channel': 'ssh', 'path': 'archive-dump'}, 'action': {'delay': 6}, 'times': 1}], {}),
    'files': ('Send the files with rsync',
              [{'match': {'channel': 'ssh', 'path': '^rsync'}, 'action': {'delay': 8}, 'times': 1}], {}),
    'measure': ('Back up the source (short-lived; measures it and feeds the imports)', [], {'workflow_delay': 6}),
    # killed once create_site is posted; that workflow still runs when the rerun reaches the target, so the
    # rerun must wait for it (a second create_site would be refused: the name is taken), then deploy the upstream
    'target': ('Ensure the target site exists',
               [{'match': {'channel': 'workflow', 'path': '^create_site$'}, 'action': {'delay': 40}, 'times': 1}], {}),
    'removal': ('Remove the archive from the source and prove it is gone (404)',
                [{'match': {'channel': 'ssh', 'path': '^rsync'}, 'action': {'delay': 8}, 'times': 1}], {}),
    # the element route (WordPress)
    'code': ("Push the source's code to the target branch (git, then wait for sync_code)",
             [{'match': {'channel': 'ssh', 'path': 'git-receive-pack'}, 'action': {'delay': 8}, 'times': 1}], {}),
    'database': ('Import the database by URL (do_import)',
                 [{'match': {'channel': 'workflow', 'path': '^do_import$'}, 'action': {'delay': 8}, 'times': 1}], {}),
    'fixups': ("Replace the source's URL with the target's in the WordPress database",
               [{'match': {'channel': 'ssh', 'path': 'search-replace'}, 'action': {'delay': 8}, 'times': 1}], {}),
    'verify': ('Verify the target against the source',
               [{'match': {'channel': 'ssh', 'path': '.'}, 'action': {'delay': 8}, 'times': 1}], {}),
    # killed as the cleanup starts removing the files step's staging directory
    'cleanup': ('Remove the staging directory', [], {}),
}
# read-only phases: killed one after the other (see the last test); nothing to finish
READ_ONLY = {
    'preflight': 'Look up the target site',
    'checkpoint': 'Compare the source with the existing target',
    'strategy': 'Report the strategy',
}
WORDPRESS = ('code', 'database', 'fixups', 'verify')
# phases before any data moves
EARLY = ('measure', 'target')


def posts(emulator, since, method, path):
    """API requests with this method and exact path logged after request id ``since``."""
    return [r for r in emulator.requests(channel='api', since=since) if r['method'] == method and r['path'] == path]


def _descendants(pid):
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, encoding='ascii', errors='replace') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid):
    """SIGKILL a process and everything under it, as a lost machine would. ansible-core's workers
    call setsid(), so killing the process group alone would leave the running module (and its git,
    rsync and ssh children) to finish the step. Stop them all first, so none forks or is reparented
    while the tree is walked."""
    stopped = set()
    while True:
        fresh = [p for p in [pid] + _descendants(pid) if p not in stopped]
        if not fresh:
            break
        for p in fresh:
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped.update(fresh)
    for p in stopped:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_at(emulator, tmp_path, extra_vars, task, faults=(), settings=None, after=2.5, then=None):
    """run_and_kill with the emulator slowed down (fault rules, settings) from the start of ``task``
    (and ``then()`` called) until the kill; the faults and settings are undone afterwards."""
    before = dict(emulator.config())

    def slow_down():
        if faults:
            emulator.faults(list(faults))
        if settings:
            emulator.set_limits(**settings)
        if then:
            then()
    try:
        return run_and_kill(emulator, tmp_path, extra_vars, task, slow_down, after=after)
    finally:
        if faults:
            emulator.clear_faults()
        if settings:
            emulator.set_limits(**dict((k, before[k]) for k in settings))


def run_and_kill(emulator, tmp_path, extra_vars, task, on_start, after=2.5, timeout=600):
    """Start clone_site.yml; when ``task`` starts call ``on_start()`` (to slow that step down), then
    SIGKILL it and every process under it ``after`` seconds later. Returns the output up to the kill."""
    work = tmp_path / 'killed-run'
    work.mkdir(exist_ok=True)
    (work / 'vars.json').write_text(json.dumps(extra_vars))
    (work / 'inventory.ini').write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % PYTHON)
    cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', str(work / 'inventory.ini'), CLONE_SITE,
           '-e', '@%s' % (work / 'vars.json')]
    proc = subprocess.Popen(cmd, env=ansible_env(play_env(emulator, tmp_path)), cwd=str(work), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    banner = 'TASK [pantheon.platform.site_clone : %s]' % task
    lines = []
    deadline = time.monotonic() + timeout
    killed = False
    try:
        for line in proc.stdout:
            lines.append(line)
            if banner in line:
                on_start()
                time.sleep(after)
                kill_tree(proc.pid)
                killed = True
                break
            if time.monotonic() > deadline:
                break
    finally:
        if not killed and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stdout.close()
        proc.wait(30)
    output = ''.join(lines)
    assert killed, 'the run never reached %r:\n%s' % (task, output[-4000:])
    assert 'PLAY RECAP' not in output
    return output


@pytest.mark.parametrize('phase', sorted(CASES))
def test_killed_run_finishes_on_the_next_run(emulator, tmp_path, site_prefix, phase):
    task, faults, settings = CASES[phase]
    name = site_prefix + 'kill-' + phase
    framework = 'wordpress' if phase in WORDPRESS else 'drupal'
    # the WordPress site has code of its own, so its code differs from a new site's
    envs = ({'dev': {'code': {'files': {'wp-content/plugins/site-tweaks/site-tweaks.php': '<?php // tweaks\n'}}},
             'test': {}, 'live': {}} if framework == 'wordpress' else ['dev', 'test', 'live'])
    emulator.seed({'seed': 7, 'sites': [{'name': name, 'framework': framework, 'envs': envs,
                                         'db': {'posts': 6} if framework == 'wordpress' else {'nodes': 6},
                                         'files': FILES}]})
    reports = tmp_path / 'reports'
    job = '%s.live-to-%s-clone.dev' % (name, name)
    extra = dict(LIMITS, source_site=name, target_site=name + '-clone', site_clone_report_dir=str(reports))

    create_site = ('POST', '/api/users/%s/workflows' % emulator.user_id)
    since = max([r['id'] for r in emulator.requests()] or [0])

    def wait_for_create_site():
        # kill right after the target's create_site is accepted
        deadline = time.monotonic() + 60
        while not posts(emulator, since, *create_site):
            assert time.monotonic() < deadline, 'the killed run never posted create_site'
            time.sleep(0.1)
    kill_at(emulator, tmp_path, extra, task, faults, settings, after={'target': 0.5, 'cleanup': 0}.get(phase, 2.5),
            then=wait_for_create_site if phase == 'target' else None)

    # the killed run left its journal, and, when it was killed after the archive was made, the archive
    state = state_files(reports)
    journal_path = str(reports / '.state' / ('%s.json' % job))
    if phase in EARLY:
        # killed before any data moved: the journal may not exist yet
        assert state in ([], [journal_path])
        journal = {}
    else:
        assert state == [journal_path]
        with open(state[0], encoding='utf-8') as f:
            journal = json.load(f)
        # the fix-ups are noted done just before verification
        assert journal['fixups_pending'] is (phase != 'verify')
    if phase == 'removal':
        assert len(archives_on_source(emulator, name)) == 1, 'the run was interrupted with the archive in place'
        assert journal['archive']['path'] == 'sites/default/files/' + archives_on_source(emulator, name)[0]
    if phase in ('files', 'cleanup'):
        assert journal['archive'] is None, 'the archive was removed (and proven gone) before the files step'
    if phase == 'cleanup':
        assert os.listdir(reports / '.staging'), 'the killed run left its staging directory'
    if phase == 'archive':
        time.sleep(5)  # the delayed drush run goes on without its client, as on the platform
    if phase == 'target':
        running = [w for w in emulator.api().get('%s/users/%s/workflows' % (emulator.api_url, emulator.user_id),
                                                 timeout=30).json()
                   if w['type'] == 'create_site' and w['params']['site_name'] == name + '-clone']
        assert len(running) == 1 and running[0]['result'] is None, 'the killed run left its create_site running'
    if phase == 'code':
        # the killed push never reached the codeserver
        time.sleep(8)
        assert emulator.state(name, 'live')['code']['head'] != emulator.state(name + '-clone', 'dev')['code']['head']

    res = clone_site(emulator, tmp_path, name, name + '-clone', reports, extra=LIMITS)
    assert res.rc == 0, res.output
    report = read_report(reports, job)
    assert report['status'] == 'succeeded'
    assert report['verification']['status'] == 'match'
    phases = dict((p['name'], p) for p in report['phases'])
    if phase == 'target':
        # the rerun waited for the create_site the killed run started (its own was refused: the name is taken)
        assert 'waited for the creation an earlier run started' in phases['target']['detail'], phases['target']
        assert [r['status'] for r in posts(emulator, since, *create_site)] == [202, 409]
    if phase == 'code':
        assert phases['code']['outcome'] == 'changed', 'the rerun pushed the code the killed run did not'
    if phase == 'fixups':
        assert phases['fixups']['outcome'] == 'changed' and 'search-replace' in phases['fixups']['detail']
    if phase == 'verify':
        # everything had been moved and fixed up: the rerun only checks and verifies
        assert report['pending'] == [] and not {'code', 'database', 'files', 'archive'} & set(phases)
        assert phases['fixups']['outcome'] == 'skipped'
    # an unfinished job (one with a journal) is resumed first
    assert [p['name'] for p in report['phases']][:2] == ['preflight', 'resume' if state else 'checkpoint']
    assert archives_on_source(emulator, name) == []
    assert state_files(reports) == []
    staging = reports / '.staging'
    assert not staging.exists() or os.listdir(staging) == []


def test_a_rerun_killed_while_it_removes_the_leftover_archive_still_finishes(emulator, tmp_path, site_prefix):
    """Killed with the archive on the source, then killed again while the next run removes it: the
    third run removes it, finishes the clone and verifies it."""
    name = site_prefix + 'kill-resume'
    emulator.seed({'seed': 7, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev', 'test', 'live'],
                                         'db': {'nodes': 6}, 'files': FILES}]})
    reports = tmp_path / 'reports'
    job = '%s.live-to-%s-clone.dev' % (name, name)
    extra = dict(LIMITS, source_site=name, target_site=name + '-clone', site_clone_report_dir=str(reports))
    journal_path = reports / '.state' / ('%s.json' % job)

    kill_at(emulator, tmp_path, extra, IMPORT_TASK, settings={'workflow_delay': 6})
    left = archives_on_source(emulator, name)
    assert len(left) == 1 and json.loads(journal_path.read_text())['archive']['path'].endswith(left[0])

    kill_at(emulator, tmp_path, extra, 'Remove the archive an interrupted run left on the source, and prove it is gone',
            faults=[{'match': {'channel': 'ssh', 'path': '^rsync'}, 'action': {'delay': 8}, 'times': 1}])
    time.sleep(8)  # the delayed removal never ran: its client was killed
    assert archives_on_source(emulator, name) == left
    assert json.loads(journal_path.read_text())['archive']['path'].endswith(left[0])

    res = clone_site(emulator, tmp_path, name, name + '-clone', reports, extra=LIMITS)
    assert res.rc == 0, res.output
    report = read_report(reports, job)
    assert report['status'] == 'succeeded' and report['verification']['status'] == 'match'
    phases = dict((p['name'], p) for p in report['phases'])
    assert phases['resume']['outcome'] == 'changed' and 'now 404' in phases['resume']['detail']
    assert archives_on_source(emulator, name) == []
    assert state_files(reports) == []


def test_kills_in_the_read_only_phases_leave_nothing_behind(emulator, tmp_path, site_prefix):
    """Killed in preflight, then in the checkpoint, then in the strategy (each after a short while):
    nothing was written, nothing is left to finish, and the next run does the whole clone."""
    name = site_prefix + 'kill-readonly'
    source = emulator.seed({'seed': 7, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev', 'test', 'live'],
                                                  'db': {'nodes': 6}, 'files': FILES}]})[0]
    reports = tmp_path / 'reports'
    job = '%s.live-to-%s-clone.dev' % (name, name)
    extra = dict(LIMITS, source_site=name, target_site=name + '-clone', site_clone_report_dir=str(reports))
    since = max([r['id'] for r in emulator.requests()] or [0])
    for task in READ_ONLY.values():
        kill_at(emulator, tmp_path, extra, task, after=0.5)
    # the only write: the measuring backup of the source (the run killed in the strategy had made it)
    writes = [(r['method'], r['path']) for r in emulator.requests(channel='api', since=since)
              if r['method'] != 'GET' and not r['path'].startswith('/api/authorize')]
    assert writes == [('POST', '/api/sites/%s/environments/live/workflows' % source['id'])], writes
    assert state_files(reports) == [] and archives_on_source(emulator, name) == []
    assert name + '-clone' not in [s['name'] for s in emulator.admin('GET', 'state/sites').json()]

    res = clone_site(emulator, tmp_path, name, name + '-clone', reports, extra=LIMITS)
    assert res.rc == 0, res.output
    report = read_report(reports, job)
    assert report['status'] == 'succeeded' and report['verification']['status'] == 'match'
    assert archives_on_source(emulator, name) == [] and state_files(reports) == []
