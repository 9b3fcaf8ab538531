# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress callback's lines: a phase record's line, and when a running task is due a sign of life
(a clock the test moves; tests/integration/test_fleet.py reads the phase lines of a real run)."""

from __future__ import annotations

from ansible_collections.pantheon.platform.plugins.callback.progress import Heartbeat, phase_line

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
