# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workflow polling schedule (issue 13's goal, issue 10 point 5): a finished workflow is noticed
within 1.5 s during the first minute and within 5 s after, a 10-minute workflow costs at most 150
polls, the wait stops at wait_timeout. Runs on a virtual clock against the served stub API: the
workflow "finishes" at a virtual time, nothing sleeps for real."""

from __future__ import annotations

import pytest

from stub_api import Reply, VirtualClock

from ansible_collections.pantheon.platform.plugins.module_utils._workflows import WorkflowTimeout, Workflows


def _serve_workflow(stub, clock, finish_after, started):
    """The stub answers the poll with result=None until ``finish_after`` virtual seconds after ``started``."""
    seen = []

    def answer(_rec):
        elapsed = clock.now - started
        seen.append(elapsed)
        done = elapsed >= finish_after
        return Reply(200, {'id': 'wf1', 'type': 'do_export', 'phase': 'finished' if done else 'started',
                           'result': 'succeeded' if done else None, 'step': 2, 'number_of_tasks': 3})
    stub.add('GET', 'sites/s/workflows/wf1', answer)
    return seen


@pytest.mark.parametrize('finish_after', [0.2, 1.4, 10.0, 59.0, 60.5, 61.0, 200.0, 600.0, 3000.0])
def test_finished_workflow_is_noticed_quickly_with_few_polls(stub, make_client, finish_after):
    clock = VirtualClock()
    client = make_client(sleep=clock.sleep, clock=clock.clock, poll_interval=1.0)
    seen = _serve_workflow(stub, clock, finish_after, clock.now)
    wf = Workflows(client).wait(('env', 's', 'dev'), {'id': 'wf1', 'type': 'do_export'}, timeout=7200)
    assert wf['result'] == 'succeeded'
    noticed = seen[-1]
    delay = noticed - finish_after
    assert 0 <= delay <= (1.5 if finish_after < 60 else 5.0), (finish_after, seen[-3:])
    assert client.polls == len(seen)
    gaps = [b - a for a, b in zip(seen, seen[1:])]
    assert min(gaps or [1.0]) >= 1.0, 'never faster than once a second'
    if finish_after <= 600:
        assert client.polls <= 150, client.polls


def test_ten_minute_workflow_takes_at_most_150_polls(stub, make_client):
    clock = VirtualClock()
    client = make_client(sleep=clock.sleep, clock=clock.clock, poll_interval=1.0)
    _serve_workflow(stub, clock, 600.0, clock.now)
    Workflows(client).wait(('env', 's', 'dev'), {'id': 'wf1', 'type': 'do_export'}, timeout=3600)
    print('polls for a 10-minute workflow: %d (goal <= 150)' % client.polls)
    assert client.polls <= 150


def test_wait_timeout_stops_at_the_deadline(stub, make_client):
    clock = VirtualClock()
    client = make_client(sleep=clock.sleep, clock=clock.clock, poll_interval=1.0)
    start = clock.now
    seen = _serve_workflow(stub, clock, 10 ** 9, start)
    with pytest.raises(WorkflowTimeout) as info:
        Workflows(client).wait(('env', 's', 'dev'), {'id': 'wf1', 'type': 'do_export'}, timeout=100)
    assert 'wf1' in str(info.value) and 'do_export' in str(info.value) and 'phase=started' in str(info.value)
    assert seen[-1] == pytest.approx(100.0), 'one last poll at the deadline, none after'
    assert clock.now - start == pytest.approx(100.0)


def test_a_shorter_poll_interval_shrinks_the_whole_schedule(stub, make_client):
    """PANTHEON_POLL_INTERVAL / poll_interval is the unit of the schedule: tests against a scaled
    emulator shorten every wait by the same factor."""
    clock = VirtualClock()
    client = make_client(sleep=clock.sleep, clock=clock.clock, poll_interval=0.01)
    seen = _serve_workflow(stub, clock, 3.0, clock.now)
    Workflows(client).wait(('env', 's', 'dev'), {'id': 'wf1', 'type': 'do_export'}, timeout=10)
    assert seen[-1] - 3.0 <= 0.05 + 1e-9
    assert max(clock.sleeps) <= 0.05 + 1e-9
