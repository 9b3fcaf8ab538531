# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A clone killed (SIGKILL, the whole process group) in the middle of a phase (measuring backup, archive
creation, archive import, archive removal, files rsync), then run again: the
second run finishes the clone, verifies it, and no archive is left on the source.

The emulator is slowed down where the kill lands (an SSH delay, a workflow delay) so that the kill
really interrupts the step, and each case checks that the killed run left something to finish.
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
# files, site import, then files by rsync.
LIMITS = {'site_clone_archive_limit_mb': 1, 'site_clone_url_import_limit_mb': 1}
FILES = {'count': 5, 'size': 3000, 'compressible': True,
         'big': [{'name': 'media/clip.bin', 'size': int(1.2 * MB), 'compressible': False}]}

CASES = {
    # phase: (task whose start triggers the kill, fault rules and emulator settings applied when it starts)
    'archive': ('Make the site archive on the source with Drush',
                [{'match': {'channel': 'ssh', 'path': 'archive-dump'}, 'action': {'delay': 6}, 'times': 1}], {}),
    'import': ('Import the site archive (do_migration)', [], {'workflow_delay': 6}),
    'files': ('Send the files with rsync',
              [{'match': {'channel': 'ssh', 'path': '^rsync'}, 'action': {'delay': 8}, 'times': 1}], {}),
    'measure': ('Back up the source (short-lived; measures it and feeds the imports)', [], {'workflow_delay': 6}),
    'removal': ('Remove the archive from the source and prove it is gone (404)',
                [{'match': {'channel': 'ssh', 'path': '^rsync'}, 'action': {'delay': 8}, 'times': 1}], {}),
}
# phases before any data moves
EARLY = ('measure',)


def run_and_kill(emulator, tmp_path, extra_vars, task, on_start, after=2.5, timeout=600):
    """Start clone_site.yml; when ``task`` starts call ``on_start()`` (to slow that step down), then
    SIGKILL the whole process group ``after`` seconds later. Returns the output up to the kill."""
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
                os.killpg(proc.pid, signal.SIGKILL)
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
    emulator.seed({'seed': 7, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev', 'test', 'live'],
                                         'db': {'nodes': 6}, 'files': FILES}]})
    reports = tmp_path / 'reports'
    job = '%s.live-to-%s-clone.dev' % (name, name)
    extra = dict(LIMITS, source_site=name, target_site=name + '-clone', site_clone_report_dir=str(reports))

    before = dict(emulator.config())

    def slow_down():
        if faults:
            emulator.faults(faults)
        if settings:
            emulator.set_limits(**settings)
    try:
        run_and_kill(emulator, tmp_path, extra, task, slow_down)
    finally:
        if faults:
            emulator.clear_faults()
        if settings:
            emulator.set_limits(**dict((k, before[k]) for k in settings))

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
        assert journal['fixups_pending'] is True
    if phase in ('import', 'removal'):
        assert len(archives_on_source(emulator, name)) == 1, 'the run was interrupted with the archive in place'
        assert journal['archive']['path'] == 'sites/default/files/' + archives_on_source(emulator, name)[0]
    if phase == 'files':
        assert journal['archive'] is None, 'the archive was removed (and proven gone) before the files step'
    if phase == 'archive':
        time.sleep(5)  # the delayed drush run goes on without its client, as on the platform

    res = clone_site(emulator, tmp_path, name, name + '-clone', reports, extra=LIMITS)
    assert res.rc == 0, res.output
    report = read_report(reports, job)
    assert report['status'] == 'succeeded'
    assert report['verification']['status'] == 'match'
    # an unfinished job (one with a journal) is resumed first
    assert [p['name'] for p in report['phases']][:2] == ['preflight', 'resume' if state else 'checkpoint']
    assert archives_on_source(emulator, name) == []
    assert state_files(reports) == []
    staging = reports / '.staging'
    assert not staging.exists() or os.listdir(staging) == []
