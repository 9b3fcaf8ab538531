# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A clone killed (SIGKILL of ansible-playbook and every process under it) in a phase where the
role holds the state (its journal, the archive it made, its staging directory, the fix-ups it has
not done yet), then run again: the second run finishes the clone, verifies it, and no archive,
state file or staging directory is left.

Every kill lands while the emulator holds the step (a fault rule ``{"hold": NAME}``; see
tests/helpers/kill.py), so it interrupts that step however loaded the machine is; then the hold is
released and the test waits for the platform's side of the step to end before the rerun. The
``fixups`` kill lands as the search-replace task starts (the play paused there), before the
platform sees it: the rerun finds the database as imported, not replaced, and must not import it
again. Over both runs no element is imported twice.

The resumes a module owns (the import adopted, the code push, the adopted create_site, the
measuring backup reused, the archive removal) are killed at module level, in
tests/integration/test_module_interrupt.py. The same role-level kills are the ``long`` matrix
(``make test-long``), with the case of a kill during the cleanup, whose assertions (a staging
directory left by a killed run is removed by the next) the ``files`` case makes in ``make test``,
the kill while Drush writes the archive (the leftover-archive test kills that one module step with its
archive in place, twice) and the kill in the verification (the ``fixups`` case checks the same
pending-fix-ups journal on the element route). The kills in the read-only phases are ``long`` too: nothing
of the role's is at stake there (no journal, archive or staging directory yet); what they could leave is
the new target and the measuring backup, whose resumes the module-level kills of create_site and backup
cover in ``make test``.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from helpers.ansible import CALLBACK_DIR, PYTHON, SCAN_VERBOSITY, VENV_BIN, ansible_env, report_dirs
from helpers.kill import hold, kill_tree
from helpers.secrets import scan_run
from site_clone_helpers import CLONE_SITE, archives_on_source, clone_site, play_env, read_report, state_files

MB = 1024 * 1024
# A Drupal 7 site whose files (1.2 MB, incompressible) pass both limits below: archive without
# files, site import, then files by rsync. The WordPress site of the element-route phases goes
# element by element: git push, database by URL import, files by rsync, then the URL search-replace.
LIMITS = {'site_clone_archive_limit_mb': 1, 'site_clone_url_import_limit_mb': 1}
FILES = {'count': 5, 'size': 3000, 'compressible': True,
         'big': [{'name': 'media/clip.bin', 'size': int(1.2 * MB), 'compressible': False}]}

# killed during the archive's removal (rsync), then the rerun is killed too: the leftover-archive test
# one module step makes the archive, has the target import it and removes it
ARCHIVE_TASK = "Make the site archive on the source, import it into the target's dev (do_migration) and remove it"
REMOVAL_TASK = 'Remove the archive from the source and prove it is gone (404)'
CASES = {
    # phase: (task whose start installs the hold, what is held: (channel, path regex))
    'files': ('Send the files with rsync', ('ssh', '^rsync')),
    # the element route (WordPress)
    # killed as the search-replace starts, before it reaches the platform: the target holds the source's rows
    # as imported, which the rerun's checkpoint must recognise (not import the database again)
    'fixups': ("Replace the source's URL with the target's in the WordPress database", None),
}
# make test-long: the same kills of steps whose resume a module owns (test_module_interrupt.py), and
# the kill in the cleanup (it cannot be held: the staging removal never reaches the platform)
LONG_CASES = {
    # killed while Drush writes the archive: the leftover-archive test below kills the same module step with
    # its archive in place (twice), and test_archive_import kills it with signals at module level
    'archive': (ARCHIVE_TASK, ('ssh', 'archive-dump')),
    # killed in the read-only verification: the rerun verifies again (nothing of the role's state is at stake)
    'verify': ('Verify the target against the source', ('ssh', '.')),
    'measure': ('Back up the source (short-lived; measures it and feeds the imports)', ('workflow', '^do_export$')),
    # killed once create_site is posted; that workflow still runs when the rerun reaches the target, so the
    # rerun must wait for it (a second create_site is refused: the name is taken), then deploy the upstream
    'target': ('Ensure the target site exists', ('workflow', '^create_site$')),
    'code': ("Push the source's code to the target branch (git, then wait for sync_code)",
             ('ssh', 'git-receive-pack')),
    'database': ('Import by URL (do_import) the database', ('workflow', '^do_import$')),
    'import': (ARCHIVE_TASK, ('workflow', '^do_migration$')),
    # killed as the cleanup starts removing the files step's staging directory
    'cleanup': ('Remove the staging directory', None),
}
# read-only phases: killed one after the other, in this order (see the last test); nothing to finish. The
# checkpoint runs only on an existing target environment: the run killed in the strategy created the target.
READ_ONLY = {
    'preflight': 'Look up the target site and check SSH access to its environment',
    'strategy': 'Report the strategy',
    'checkpoint': 'Compare the source with the existing target',
}
WORDPRESS = ('code', 'database', 'fixups', 'verify')
# phases before any data moves
EARLY = ('measure', 'target')


def posts(emulator, since, method, path):
    """API requests with this method and exact path logged after request id ``since``."""
    return [r for r in emulator.requests(channel='api', since=since) if r['method'] == method and r['path'] == path]


def kill_at(emulator, tmp_path, extra_vars, task, held=None, name=None, release=True, signum=None):
    """Start clone_site.yml; when ``task`` starts, hold the next emulator event matching ``held``
    ((channel, path regex)) and SIGKILL the run once it is held there (``held`` None: as the task
    starts); with ``signum``, send that signal to ansible-playbook alone instead (as Ctrl-C or a
    stopped job does) and let it end, with the callback pantheon.platform.progress enabled.
    Then release the hold (``release``) and wait until the platform has finished the held step.
    Returns the output up to the kill."""
    def on_start():
        if held:
            rule = hold(name, held[0], held[1])
            if len(held) > 2:
                rule['after'] = held[2]  # let the first N matching events through
            emulator.faults([rule])
    try:
        output = run_and_kill(emulator, tmp_path, extra_vars, task, on_start, name if held else None, signum=signum)
        if held and release:
            emulator.release(name)
            emulator.wait_hold(name, until='finished')
    finally:
        if release:
            emulator.clear_faults()
    return output


def run_and_kill(emulator, tmp_path, extra_vars, task, on_start, hold_name=None, timeout=600, signum=None):
    """Start clone_site.yml; when ``task`` starts (the test callback pantheon_test_pause stops the
    play there) call ``on_start()``, let the task go on, then SIGKILL the run and every process
    under it once the emulator holds ``hold_name``; without ``hold_name``, kill it where it waits.
    With ``signum``: send that signal to ansible-playbook's process alone and wait for it to end
    (the callback pantheon.platform.progress enabled, as the README advises).
    Returns the output up to the kill."""
    work = tmp_path / 'killed-run'
    work.mkdir(exist_ok=True)
    (work / 'vars.json').write_text(json.dumps(extra_vars))
    (work / 'inventory.ini').write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % PYTHON)
    cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', str(work / 'inventory.ini'), CLONE_SITE,
           '-e', '@%s' % (work / 'vars.json'), '-' + 'v' * SCAN_VERBOSITY]
    # the test callback pantheon_test_pause stops the play as ``task`` starts, until the test says go
    pause = work / ('pause-%d' % time.monotonic_ns())
    env = ansible_env(dict(play_env(emulator, tmp_path), ANSIBLE_CALLBACK_PLUGINS=CALLBACK_DIR,
                           ANSIBLE_CALLBACKS_ENABLED='pantheon_test_pause' + (
                               ',pantheon.platform.progress' if signum else ''), PANTHEON_TEST_PAUSE_TASK=task,
                           PANTHEON_TEST_PAUSE_FILE=str(pause), ANSIBLE_LOG_PATH=str(work / 'ansible.log')))
    since = time.time() - 1
    log = open(work / 'output.log', 'w+', encoding='utf-8')  # pylint: disable=consider-using-with
    proc = subprocess.Popen(cmd, env=env, cwd=str(work), stdout=log, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    killed = False
    try:
        while not os.path.exists(str(pause) + '.reached'):
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        else:
            on_start()
            if hold_name:
                # go on into the task, which the emulator then holds at its step
                pause.touch()
                emulator.wait_hold(hold_name, timeout=max(1, deadline - time.monotonic()))
            # (without a hold: killed while the play waits at the start of the task)
            if signum:
                os.kill(proc.pid, signum)
                proc.wait(timeout=max(1, deadline - time.monotonic()))
            else:
                kill_tree(proc.pid)
            killed = True
    finally:
        if not killed and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        log.seek(0)
        output = log.read()
        log.close()
    assert killed, 'the run never reached %r:\n%s' % (task, output[-4000:])
    assert 'PLAY RECAP' not in output
    if signum:
        # the callback turns SIGTERM into ansible-playbook's Ctrl-C (exit code 99), so that it can say what is left
        assert proc.returncode == 99, (proc.returncode, output[-4000:])
    # what a killed run printed and logged at -vvvv holds no secret either
    scan_run(env, since, {'output': output}, [work / 'ansible.log'] + report_dirs(extra_vars, '', env),
             label='killed clone_site.yml')
    return output


def wait_logged(emulator, since, method, path, status, timeout=300):
    deadline = time.monotonic() + timeout
    while not [r for r in posts(emulator, since, method, path) if r['status'] == status]:
        assert time.monotonic() < deadline, 'no %s %s answered %s was logged' % (method, path, status)
        time.sleep(0.1)


@pytest.mark.parametrize('phase', sorted(CASES) + [pytest.param(p, marks=pytest.mark.long) for p in sorted(LONG_CASES)])
def test_killed_run_finishes_on_the_next_run(emulator, tmp_path, site_prefix, phase):
    task, held = dict(CASES, **LONG_CASES)[phase]
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
    hold_name = site_prefix + phase
    # the create_site stays held until the rerun is refused its own (then waits for this one)
    kill_at(emulator, tmp_path, extra, task, held, hold_name, release=phase != 'target')

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
    if phase in ('files', 'cleanup'):
        assert journal['archive'] is None, 'the archive was removed (and proven gone) before the files step'
        assert os.listdir(reports / '.staging'), 'the killed run left its staging directory'
    # (archive: the held drush run went on without its client, as on the platform, and has ended)
    if phase == 'target':
        running = [w for w in emulator.api().get('%s/users/%s/workflows' % (emulator.api_url, emulator.user_id),
                                                 timeout=30).json()
                   if w['type'] == 'create_site' and w['params']['site_name'] == name + '-clone']
        assert len(running) == 1 and running[0]['result'] is None, 'the killed run left its create_site running'
    if phase == 'code':
        # the killed push never reached the codeserver
        assert emulator.state(name, 'live')['code']['head'] != emulator.state(name + '-clone', 'dev')['code']['head']

    if phase == 'target':
        # the rerun, while the killed run's create_site still runs; released once the rerun's own was refused
        rerun = {}
        thread = threading.Thread(target=lambda: rerun.update(res=clone_site(emulator, tmp_path, name, name + '-clone',
                                                                             reports, extra=LIMITS)))
        thread.start()
        try:
            wait_logged(emulator, since, create_site[0], create_site[1], 409)
        finally:
            emulator.release(hold_name)
            emulator.clear_faults()
            thread.join(900)
        res = rerun['res']
    else:
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
        # everything had been moved: the rerun moves nothing again, though its search-replace was still due
        assert report['pending'] == [] and not {'code', 'database', 'files', 'archive'} & set(phases), phases
        assert 'its search-replace is still due' in phases['checkpoint']['detail'], phases['checkpoint']
    # no element was imported twice over both runs (issue 11.8: no duplicated work beyond retries)
    target_id = [s['id'] for s in emulator.admin('GET', 'state/sites').json() if s['name'] == name + '-clone'][0]
    imports = collections.Counter(
        (w['type'], tuple(k for k in ('database', 'files') if (w.get('params') or {}).get(k)))
        for w in emulator.api().get('%s/sites/%s/workflows' % (emulator.api_url, target_id), timeout=30).json()
        if w['type'] in ('do_import', 'do_migration') and w.get('result') == 'succeeded')
    assert [k for k, n in imports.items() if n > 1] == [], imports
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
    """Stopped (SIGTERM to ansible-playbook, as a stopped job) while it removes the archive it imported, and the
    removal cannot finish (its rsync is stopped with the run): the last line printed says that an archive is still
    on the source and that a rerun removes it, without its name (issue 11.5). The archive is still on the source and
    in the journal; the target's lock is left to the stopped run. Then killed again (SIGKILL) while the next run
    removes that leftover: the third run removes it, finishes the clone and verifies it."""
    name = site_prefix + 'kill-resume'
    emulator.seed({'seed': 7, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev', 'test', 'live'],
                                         'db': {'nodes': 6}, 'files': FILES}]})
    reports = tmp_path / 'reports'
    job = '%s.live-to-%s-clone.dev' % (name, name)
    extra = dict(LIMITS, source_site=name, target_site=name + '-clone', site_clone_report_dir=str(reports))
    journal_path = reports / '.state' / ('%s.json' % job)

    # the archive step removes its archive itself once imported: held at its second rsync (the first lists
    # files/ before Drush runs)
    output = kill_at(emulator, tmp_path, extra, ARCHIVE_TASK, ('ssh', '^rsync', 1), site_prefix + 'removal',
                     signum=signal.SIGTERM)
    left = archives_on_source(emulator, name)
    assert len(left) == 1, 'the run was interrupted with the archive in place'
    lines = [line for line in output.splitlines() if line.strip()]
    assert re.fullmatch(r'%s: an archive is still on the source \(live environment of site [0-9a-f-]{36}\) and can be '
                        r'downloaded until it is removed: run this job again, its next run removes it first'
                        % re.escape(job), lines[-1]), lines[-6:]
    assert left[0] not in output and left[0][:40] not in output
    journal = json.loads(journal_path.read_text())
    assert journal['archive']['path'] == 'sites/default/files/' + left[0]
    assert journal['fixups_pending'] is True

    # the one removal task (phases/archive_remove.yml); on this run it first runs on resume
    kill_at(emulator, tmp_path, extra, 'Remove the archive from the source and prove it is gone (404)',
            ('ssh', '^rsync'), site_prefix + 'resume')
    # the held removal never ran: its client was killed
    assert archives_on_source(emulator, name) == left
    assert json.loads(journal_path.read_text())['archive']['path'].endswith(left[0])

    res = clone_site(emulator, tmp_path, name, name + '-clone', reports, extra=LIMITS)
    assert res.rc == 0, res.output
    report = read_report(reports, job)
    assert report['status'] == 'succeeded' and report['verification']['status'] == 'match'
    phases = dict((p['name'], p) for p in report['phases'])
    assert [p['name'] for p in report['phases']][:2] == ['preflight', 'resume']
    assert phases['resume']['outcome'] == 'changed' and 'now 404' in phases['resume']['detail']
    assert archives_on_source(emulator, name) == []
    assert state_files(reports) == []
    staging = reports / '.staging'
    assert not staging.exists() or os.listdir(staging) == []


@pytest.mark.long
def test_kills_in_the_read_only_phases_leave_nothing_behind(emulator, tmp_path, site_prefix):
    """Killed in preflight, then in the strategy, then in the checkpoint (each as the task starts): the first wrote
    nothing; the strategy comes after a new target's creation (the first write, issue 11.3) and the measuring
    backup; the checkpoint, which compares that existing target with the source, wrote nothing; nothing is left
    to finish, and the next run does the whole clone into that target."""
    name = site_prefix + 'kill-readonly'
    source = emulator.seed({'seed': 7, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev', 'test', 'live'],
                                                  'db': {'nodes': 6}, 'files': FILES}]})[0]
    reports = tmp_path / 'reports'
    job = '%s.live-to-%s-clone.dev' % (name, name)
    extra = dict(LIMITS, source_site=name, target_site=name + '-clone', site_clone_report_dir=str(reports))
    since = max([r['id'] for r in emulator.requests()] or [0])
    for task in READ_ONLY.values():
        # killed as the task starts (the play is paused there: see run_and_kill)
        kill_at(emulator, tmp_path, extra, task)
    # the only writes, by the run killed in the strategy: the target's creation (create_site, deploy_product),
    # then the measuring backup of the source (the run killed in the checkpoint wrote nothing, not even a lock)
    writes = [(r['method'], r['path']) for r in emulator.requests(channel='api', since=since)
              if r['method'] != 'GET' and not r['path'].startswith('/api/authorize')]
    created = [s for s in emulator.admin('GET', 'state/sites').json() if s['name'] == name + '-clone']
    assert len(created) == 1
    assert writes == [('POST', '/api/users/%s/workflows' % emulator.user_id),
                      ('POST', '/api/sites/%s/workflows' % created[0]['id']),
                      ('POST', '/api/sites/%s/environments/live/workflows' % source['id'])], writes
    assert state_files(reports) == [] and archives_on_source(emulator, name) == []

    res = clone_site(emulator, tmp_path, name, name + '-clone', reports, extra=LIMITS)
    assert res.rc == 0, res.output
    report = read_report(reports, job)
    assert report['status'] == 'succeeded' and report['verification']['status'] == 'match'
    assert archives_on_source(emulator, name) == [] and state_files(reports) == []
