# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one transport (issue 12 point 2): the verify/CA rule, the backoff schedule and the poll
primitive, and that the client, signed downloads and the health-check wait use them. Waits run on a
virtual clock (or record the requested sleeps); nothing asserts on wall time."""

from __future__ import annotations

import pytest

from stub_api import Reply, VirtualClock

from ansible_collections.pantheon.platform.plugins.module_utils import _http, _transfer
from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError


def test_verify_rule(tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('x')
    assert _http.verify_setting(False, str(ca)) is False
    assert _http.verify_setting(True, str(ca)) == str(ca)
    assert _http.verify_setting(True, None) is True
    with pytest.raises(PantheonError, match='ca_path .*missing.pem does not exist'):
        _http.verify_setting(True, str(tmp_path / 'missing.pem'))
    session = _http.new_session(True, str(ca), headers={'Accept': 'application/json'})
    assert session.verify == str(ca) and session.headers['User-Agent'] == _http.USER_AGENT
    assert session.headers['Accept'] == 'application/json'


def test_backoff_doubles_to_its_cap_and_honours_retry_after(monkeypatch):
    monkeypatch.setenv(_http.RETRY_BASE_DELAY_ENV, '0.5')
    fixed = _http.Backoff(max_delay=3, jitter=False)
    assert [fixed.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    assert fixed.delay(0, retry_after=500) == 120.0
    jittered = _http.Backoff(2.0, rand=lambda: 0.0)
    assert jittered.delay(1) == 2.0  # 4 s, jittered to half
    monkeypatch.delenv(_http.RETRY_BASE_DELAY_ENV)
    assert _http.Backoff(jitter=False).delay(0) == _http.DEFAULT_RETRY_BASE_DELAY


def test_poll_schedule_first_call_and_deadline():
    clock = VirtualClock()
    calls = []

    def never():
        calls.append(clock.now)
        return False, len(calls)

    with pytest.raises(_http.PollTimeout) as info:
        _http.poll(never, 10, 1.0, clock=clock.clock, sleep=clock.sleep, first=0)
    offsets = [round(t - 1000.0, 3) for t in calls]
    # at once, then the 1.5-unit schedule, and a last call at the deadline
    assert offsets == [0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0, 10.0], offsets
    assert info.value.last == len(calls)

    clock = VirtualClock()
    seen = []
    assert _http.poll(lambda: (len(seen.append(1) or seen) == 3, 'done'), 60, 1.0,
                      clock=clock.clock, sleep=clock.sleep) == 'done'
    assert clock.sleeps == [1.0, 1.5, 1.5]


def test_health_check_wait_polls_on_the_one_schedule(stub, make_client):
    """wait_healthy (site creation) waits on the poll primitive: checks at once, then every 1.5 units,
    not on an interval of its own that grows x1.5."""
    clock = VirtualClock()
    client = make_client(sleep=clock.sleep, clock=clock.clock, poll_interval=1.0)
    statuses = iter([None, 503, 503, 200])
    client.healthcheck = lambda domain, timeout=30: next(statuses)
    assert client.wait_healthy('dev-site.example', 60) == 200
    assert clock.sleeps == [1.5, 1.5, 1.5]


def test_signed_downloads_read_the_retry_delay_with_the_clients_meaning(stub, monkeypatch):
    """PANTHEON_RETRY_BASE_DELAY is the first retry wait for the API client and for downloads alike
    (downloads used to halve it)."""
    monkeypatch.setenv(_http.RETRY_BASE_DELAY_ENV, '0.25')
    slept = []
    monkeypatch.setattr(_transfer.time, 'sleep', slept.append)
    stub.add('GET', 'files/a', Reply(503, 'busy'), Reply(503, 'busy'),
             Reply(206, 'x', headers={'Content-Range': 'bytes 0-0/42'}))
    assert _transfer.probe_size(stub.api_url + '/files/a', attempts=4) == 42
    assert slept == [0.25, 0.5]
