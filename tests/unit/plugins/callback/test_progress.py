# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress callback's lines: a phase record's line, and when a running task is due a sign of life
(a clock the test moves; tests/integration/test_fleet.py reads the phase lines of a real run)."""

from __future__ import annotations

import json

from ansible_collections.pantheon.platform.plugins.callback.progress import (
    Heartbeat, archive_left_line, archives_left, phase_line)

START = '2026-11-27T09:00:00.000000Z'


def test_phase_line_has_the_duration_the_time_since_the_start_and_the_detail():
    record = {'name': 'archive', 'outcome': 'changed', 'start': '2026-11-27T09:00:10.000000Z',
              'end': '2026-11-27T09:01:25.500000Z', 'detail': 'whole archive of 17.70 KB\n imported'}
    started = 1795770000.0  # 2026-11-27T09:00:00Z
    assert phase_line('site.live-to-copy.dev', 6, record, started) == \
        'site.live-to-copy.dev: 6 archive changed in 1m15s (at 1m25s) - whole archive of 17.70 KB imported'


def test_a_failed_phase_does_not_repeat_the_error_the_task_output_showed():
    record = {'name': 'target', 'outcome': 'failed', 'start': START, 'end': '2026-11-27T09:00:02.250000Z',
              'detail': 'site name taken by another account'}
    line = phase_line('job', 5, record, None)
    assert line == 'job: 5 target failed in 2.2s - the error is shown above'
    assert 'taken' not in line


def test_a_record_without_times_still_gets_its_line():
    assert phase_line('job', 1, {'name': 'preflight', 'detail': ''}, None) == 'job: 1 preflight ok'


def test_heartbeat_after_each_interval_of_a_running_task_only():
    now = [100.0]
    beat = Heartbeat(30, clock=lambda: now[0])
    beat.start('demo-wp', 'Back up the source')
    beat.start('demo-d10', 'Push the code')
    now[0] = 129.9
    assert beat.due() == []
    now[0] = 130.0
    assert beat.due() == ['demo-d10: still running: Push the code (30.0s)',
                          'demo-wp: still running: Back up the source (30.0s)']
    assert beat.due() == []  # once per interval
    beat.end('demo-d10')
    now[0] = 195.0  # two intervals later: one line, not one per missed interval
    assert beat.due() == ['demo-wp: still running: Back up the source (1m35s)']
    now[0] = 205.0
    assert beat.due() == []
    beat.start('demo-wp', 'Import the database')  # a new task starts its own count
    now[0] = 234.0
    assert beat.due() == []


def test_heartbeat_zero_prints_nothing():
    now = [0.0]
    beat = Heartbeat(0, clock=lambda: now[0])
    beat.start('job', 'task')
    now[0] = 10000.0
    assert beat.due() == []


NAME = '0123456789abcdef0123456789abcdef01234567.tgz'


def _journal(tmp_path, job, archive):
    path = tmp_path / ('%s.json' % job)
    path.write_text(json.dumps({'job': job, 'fixups_pending': True, 'archive': archive}))
    return str(path)


def test_an_archive_a_state_file_still_names_is_left_and_its_line_never_names_it(tmp_path):
    note = {'site': 'a1b2', 'env': 'live', 'path': 'sites/default/files/' + NAME, 'pid': 4242}
    states = {'src.live-to-copy.dev': _journal(tmp_path, 'src.live-to-copy.dev', note),
              'other.live-to-copy2.dev': _journal(tmp_path, 'other', None)}
    # the module that noted it has ended: nothing to wait for
    left = archives_left(states, wait=60, alive=lambda pid: False, sleep=_no_sleep)
    assert left == [('src.live-to-copy.dev', note)]
    line = archive_left_line(*left[0])
    assert line.startswith('src.live-to-copy.dev: an archive is still on the source (live environment of site a1b2)')
    assert 'run this job again' in line
    assert NAME not in line and NAME[:40] not in line


def test_the_removal_of_a_module_still_running_is_waited_for(tmp_path):
    """Ctrl-C during the archive step: ansible-playbook ends while the module removes its archive; the
    end waits for that module (the pid it noted) and then finds the archive forgotten."""
    note = {'site': 'a1b2', 'env': 'live', 'path': 'sites/default/files/' + NAME, 'pid': 4242}
    path = _journal(tmp_path, 'job', note)
    running = {4242}
    clock = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds
        if len(sleeps) == 3:  # the module proves the archive gone, forgets it and exits
            with open(path, 'w', encoding='utf-8') as f:
                json.dump({'job': 'job', 'archive': None}, f)
            running.clear()

    assert archives_left({'job': path}, wait=60, alive=running.__contains__, clock=lambda: clock[0],
                         sleep=sleep) == []
    assert len(sleeps) == 3
    # without waiting, it would have been reported
    running.add(4242)
    _journal(tmp_path, 'job', note)
    assert archives_left({'job': path}, wait=0, alive=running.__contains__) == [('job', note)]


def test_a_removal_that_never_ends_is_reported_after_the_wait(tmp_path):
    note = {'site': 'a1b2', 'env': 'dev', 'path': 'sites/default/files/' + NAME, 'pid': 4242}
    path = _journal(tmp_path, 'job', note)
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    assert archives_left({'job': path}, wait=5, alive=lambda pid: True, clock=lambda: clock[0],
                         sleep=sleep) == [('job', note)]
    assert 5 <= clock[0] < 5.5


def test_a_missing_or_unreadable_state_file_names_no_archive(tmp_path):
    (tmp_path / 'bad.json').write_text('{not json')
    assert archives_left({'gone': str(tmp_path / 'none.json'), 'bad': str(tmp_path / 'bad.json')}) == []


def _no_sleep(seconds):
    raise AssertionError('nothing to wait for')


def test_a_transfer_is_shown_while_it_moves_and_gone_when_it_ends(tmp_path):
    from ansible_collections.pantheon.platform.plugins.callback.progress import Transfers
    from ansible_collections.pantheon.platform.plugins.module_utils._progress import Progress

    clock = [100.0]
    progress = Progress(str(tmp_path), 'files_sync site.dev: download', interval=1.0, clock=lambda: clock[0])
    transfers = Transfers(str(tmp_path))
    assert transfers.lines() == []
    clock[0] = 102.0
    progress.update(3 << 20, 12 << 20)
    assert transfers.lines() == ['progress: files_sync site.dev: download: 3.0 MB of 12.0 MB (25%), 1.5 MB/s']
    assert transfers.lines() == []  # nothing moved since
    clock[0] = 102.5
    progress.update(4 << 20, 12 << 20)  # within the interval: not written
    assert transfers.lines() == []
    clock[0] = 104.0
    progress.update(6 << 20)  # total unknown
    assert transfers.lines() == ['progress: files_sync site.dev: download: 6.0 MB, 1.5 MB/s']
    progress.close()
    assert transfers.lines() == [] and list(tmp_path.iterdir()) == []


def test_no_directory_no_progress(monkeypatch):
    from ansible_collections.pantheon.platform.plugins.module_utils._progress import Progress

    monkeypatch.delenv('PANTHEON_PROGRESS_DIR', raising=False)
    assert Progress.from_env('x') is None


def test_an_upload_shows_rsyncs_own_percentage():
    from ansible_collections.pantheon.platform.plugins.module_utils._progress import describe

    # rsync counts the files it skips in its percentage: the figure it gives is shown, not bytes / total
    record = {'label': 'files_sync s.dev: upload', 'done': 1258291, 'total': 3565158, 'percent': 35, 'rate': 614400}
    assert describe(record) == 'files_sync s.dev: upload: 1.2 MB of 3.4 MB (35%), 600.0 KB/s'
    record.update(total=None)
    assert describe(record) == 'files_sync s.dev: upload: 1.2 MB (35%), 600.0 KB/s'
