# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PantheonClient against a served stub API (tests/unit/stub_api.py): real HTTP, nothing mocked."""

from __future__ import annotations

import email.utils
import json
import os
import stat
import time

import pytest

from stub_api import USER_ID, Reply, VirtualClock

from ansible_collections.pantheon.platform.plugins.module_utils._api import (
    ApiError,
    NotFound,
    PantheonError,
    TransportError,
    web_origin,
)
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import WorkflowFailed, WorkflowTimeout, Workflows

SITE_ID = '22222222-2222-4222-8222-222222222222'
TOKEN = 'machine-token-UNIT-0123456789'


# ---------------------------------------------------------------- retries

def test_429_is_retried_with_growing_backoff(stub, make_client):
    stub.add('GET', 'sites/x', Reply(429, 'slow down'), Reply(429, 'slow down'), Reply(429, 'slow down'),
             Reply(200, {'id': 'x'}))
    warnings = []
    vc = VirtualClock()
    client = make_client(retry_base_delay=0.1, warnings=warnings, clock=vc.clock, sleep=vc.sleep)
    assert client.get('sites/x') == {'id': 'x'}
    assert stub.count('GET', 'sites/x') == 4
    # base 0.1s doubling, jitter in [0.5, 1.0] of the step (virtual time: the waits themselves)
    assert len(vc.sleeps) == 3, vc.sleeps
    for wait, step in zip(vc.sleeps, (0.1, 0.2, 0.4)):
        assert step / 2 - 1e-9 <= wait <= step + 1e-9, vc.sleeps
    assert vc.sleeps[2] > vc.sleeps[0]
    assert len(warnings) == 3 and 'HTTP 429' in warnings[0] and 'retry 1/5' in warnings[0]


@pytest.mark.parametrize('status', [500, 502, 503, 504])
def test_5xx_is_retried_then_succeeds(stub, make_client, status):
    stub.add('GET', 'sites/x', Reply(status, 'oops'), Reply(status, 'oops'), Reply(200, {'id': 'x'}))
    assert make_client().get('sites/x') == {'id': 'x'}
    assert stub.count('GET', 'sites/x') == 3


def test_retries_are_bounded_in_attempts(stub, make_client):
    stub.add('GET', 'sites/x', Reply(503, 'Service Unavailable'))
    with pytest.raises(ApiError) as info:
        make_client().get('sites/x')
    assert stub.count('GET', 'sites/x') == 6  # 1 + 5 retries
    assert info.value.status == 503
    assert 'GET sites/x failed with HTTP 503: Service Unavailable' in str(info.value)
    assert 'gave up after 6 attempts' in str(info.value)


def test_retries_are_bounded_in_time(stub, make_client):
    stub.add('GET', 'sites/x', Reply(503, 'busy'))
    vc = VirtualClock()
    with pytest.raises(ApiError):
        make_client(retry_base_delay=0.3, retry_max_time=1.0, clock=vc.clock, sleep=vc.sleep).get('sites/x')
    # it stops before a wait would take it past retry_max_time (virtual time: load cannot move it)
    assert sum(vc.sleeps) <= 1.0, vc.sleeps
    assert 2 <= stub.count('GET', 'sites/x') < 6


@pytest.mark.parametrize('status', [400, 401, 403, 404, 409, 410, 422])
def test_client_errors_are_not_retried(stub, make_client, status):
    stub.add('GET', 'sites/x', Reply(status, 'no'))
    with pytest.raises(ApiError) as info:
        make_client().get('sites/x')
    # a 401 gets exactly one new login and one more try; nothing else is repeated
    assert stub.count('GET', 'sites/x') == (2 if status == 401 else 1)
    assert info.value.status == status
    assert isinstance(info.value, NotFound) == (status == 404)


def test_retry_after_seconds_is_honoured(stub, make_client):
    stub.add('GET', 'sites/x', Reply(429, 'wait', headers={'Retry-After': '1'}), Reply(200, {'id': 'x'}))
    clock = VirtualClock()
    assert make_client(retry_base_delay=0.01, clock=clock.clock, sleep=clock.sleep).get('sites/x') == {'id': 'x'}
    # one wait, of the server's 1 s, not the client's own 0.01 s backoff (virtual clock: recorded, not slept)
    assert stub.count('GET', 'sites/x') == 2
    assert clock.sleeps == [1.0], clock.sleeps


def test_retry_after_http_date_is_honoured(stub, make_client):
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    stub.add('GET', 'sites/x', Reply(503, 'wait', headers={'Retry-After': when}), Reply(200, {'id': 'x'}))
    waits = []
    assert make_client(retry_base_delay=0.01, sleep=waits.append).get('sites/x') == {'id': 'x'}
    # the date is 3 s ahead, truncated to the second, less the time the request took: the
    # client waits for the date, not for its own 0.01 s backoff (the sleep is recorded, not slept)
    assert len(waits) == 1 and 1.0 <= waits[0] <= 3.0, waits


def test_dropped_connections_are_retried(stub, make_client):
    stub.add('GET', 'sites/x', Reply(drop=True), Reply(drop=True), Reply(200, {'id': 'x'}))
    assert make_client().get('sites/x') == {'id': 'x'}
    assert stub.count('GET', 'sites/x') == 3


def test_timeouts_are_retried(stub, make_client):
    stub.add('GET', 'sites/x', Reply(200, {'late': True}, delay=1.5), Reply(200, {'id': 'x'}))
    assert make_client(timeout=0.5).get('sites/x') == {'id': 'x'}
    assert stub.count('GET', 'sites/x') == 2


def test_refused_connection_gives_clear_error(make_client, tmp_path):
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    client = make_client(api_url='http://127.0.0.1:%d/api' % port, retries=2, use_cache=False)
    with pytest.raises(TransportError) as info:
        client.get('sites/x?secret=1')
    msg = str(info.value)
    assert 'could not connect to 127.0.0.1:%d' % port in msg
    assert 'gave up after 3 attempts' in msg
    assert 'secret' not in msg


def _closed_port():
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize('connect_timeout, bound', [(None, 30), (5, 5)])
def test_an_unreachable_api_fails_within_connect_timeout_with_one_message(make_client, connect_timeout, bound):
    """Issue 11.6: the login's retries no longer nest inside the request's (6 x 6 attempts, about 173 s,
    "(gave up after 6 attempts)" twice): one schedule of retries, cut at connect_timeout (30 s by default),
    and one message. The waits run on a virtual clock; what is asserted is the schedule the client chose."""
    clock = VirtualClock()
    warnings = []
    client = make_client(api_url='http://127.0.0.1:%d/api' % _closed_port(), use_cache=False, retry_base_delay=1.0,
                         sleep=clock.sleep, clock=clock.clock, warnings=warnings, connect_timeout=connect_timeout)
    with pytest.raises(TransportError) as info:
        client.get('sites/x')
    msg = str(info.value)
    assert msg.count('gave up') == 1, msg
    assert msg.count('could not connect') == 1, msg
    assert sum(clock.sleeps) <= bound
    # one schedule: at most retries + 1 attempts (the login's), never the request's retries around them
    assert len(clock.sleeps) <= client.retries and len(warnings) == len(clock.sleeps)
    assert all('POST authorize/machine-token' in w for w in warnings), warnings
    if bound == 5:
        assert 'connect_timeout=5s' in msg, msg


def test_connect_timeout_bounds_each_connection_attempt(make_client):
    """A host that never answers the TCP handshake costs at most connect_timeout per attempt."""
    client = make_client(connect_timeout=7, timeout=60)
    seen = {}

    def request(method, url, **kwargs):
        seen.update(kwargs)
        raise TransportError('stop')
    client.http.request = request
    with pytest.raises(TransportError):
        client._send_once('GET', 'sites/x', auth=False)
    assert seen['timeout'] == (7, 60)


def test_ssh_connect_timeout_is_passed_to_ssh():
    from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target, codeserver_target
    params = dict(ssh_host='127.0.0.1', ssh_port=2222, ssh_private_key=None, ssh_known_hosts=None, connect_timeout=9)
    assert 'ConnectTimeout=9' in appserver_target(params, 'abc', 'dev').ssh_argv()
    assert 'ConnectTimeout=9' in codeserver_target(params, 'abc')[0].rsh()
    params['connect_timeout'] = None
    assert 'ConnectTimeout=30' in appserver_target(params, 'abc', 'dev').ssh_argv()


# ---------------------------------------------------------------- error messages

@pytest.mark.parametrize('reply, expected', [
    (Reply(404, 'A site named nope was not found.'), 'HTTP 404: A site named nope was not found.'),
    (Reply(409, {'message': 'Name taken', 'code': 'conflict'}), 'HTTP 409: Name taken {"code": "conflict"}'),
    (Reply(400, {'errors': ['bad field']}), 'HTTP 400: {"errors": ["bad field"]}'),
    (Reply(404, raw=b'Not found.\n', content_type='text/plain'), 'HTTP 404: Not found.'),
    (Reply(403), 'HTTP 403: (empty body)'),
])
def test_error_message_for_each_body_shape(stub, make_client, reply, expected):
    stub.add('GET', r'sites/%s/environments' % SITE_ID, reply)
    with pytest.raises(ApiError) as info:
        make_client().request('GET', 'sites/%s/environments' % SITE_ID, params={'secret': 'SIGNEDQUERY'})
    msg = str(info.value)
    assert msg == 'GET sites/%s/environments failed with %s' % (SITE_ID, expected)
    assert 'SIGNEDQUERY' not in msg


def test_error_never_holds_token_or_session(stub, make_client):
    # a hostile/buggy server that echoes the credentials in its error body
    def echo(rec):
        return Reply(400, 'you sent %s' % rec.headers.get('Authorization'))
    stub.add('GET', 'sites/x', echo)
    login = {'session': 'SESSION-abcdef-123', 'user_id': USER_ID, 'expires_at': time.time() + 3600}
    stub.add('POST', 'authorize/machine-token', Reply(200, login))
    stub.add('GET', 'sites/y', lambda rec: Reply(400, 'token was %s' % TOKEN))
    client = make_client()
    with pytest.raises(ApiError) as info:
        client.get('sites/x')
    assert 'SESSION-abcdef-123' not in str(info.value) and '********' in str(info.value)
    with pytest.raises(ApiError) as info:
        client.get('sites/y')
    assert TOKEN not in str(info.value)


def test_bad_token_is_a_clear_error(stub, make_client):
    stub.add('POST', 'authorize/machine-token', Reply(401, 'Invalid machine token'))
    with pytest.raises(ApiError) as info:
        make_client().get('sites/x')
    assert 'machine token was refused' in str(info.value)
    assert 'HTTP 401: Invalid machine token' in str(info.value)
    assert stub.logins == 1


# ---------------------------------------------------------------- session handling

def test_login_request_shape(stub, make_client):
    stub.add('GET', 'sites/x', Reply(200, {'id': 'x'}))
    make_client().get('sites/x')
    login = stub.matching('POST', 'authorize/machine-token')[0]
    assert login.body == {'machine_token': TOKEN, 'client': 'terminus'}
    assert 'Authorization' not in login.headers
    get = stub.matching('GET', 'sites/x')[0]
    assert get.headers['Authorization'] == 'Bearer %s' % stub.sessions[0]


def test_session_cache_one_login_for_many_clients(stub, make_client, tmp_path):
    stub.add('GET', 'sites/x', Reply(200, {'id': 'x'}))
    for dummy in range(5):
        make_client().get('sites/x')
    assert stub.logins == 1
    assert stub.count('GET', 'sites/x') == 5
    cache_dir = tmp_path / 'cache'
    files = [p for p in cache_dir.iterdir() if p.suffix == '.json']
    assert len(files) == 1
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    assert TOKEN not in files[0].read_text()
    # another token (or another API) gets its own session
    make_client(token='another-token-xyz').get('sites/x')
    assert stub.logins == 2


def test_session_cache_dir_from_environment(stub, make_client, tmp_path, monkeypatch):
    monkeypatch.setenv('PANTHEON_CACHE_DIR', str(tmp_path / 'envcache'))
    stub.add('GET', 'sites/x', Reply(200, {'id': 'x'}))
    make_client(cache_dir=None).get('sites/x')
    make_client(cache_dir=None).get('sites/x')
    assert stub.logins == 1
    assert any(p.suffix == '.json' for p in (tmp_path / 'envcache').iterdir())


def test_expiring_session_is_refreshed(stub, make_client):
    stub.session_ttl = 30  # below the refresh margin: every client logs in again
    stub.add('GET', 'sites/x', Reply(200, {'id': 'x'}))
    make_client().get('sites/x')
    make_client().get('sites/x')
    assert stub.logins == 2


def test_relogin_once_on_401(stub, make_client):
    stub.add('GET', 'sites/x', Reply(401, 'Session expired'), Reply(200, {'id': 'x'}))
    client = make_client()
    assert client.get('sites/x') == {'id': 'x'}
    assert stub.logins == 2
    first, second = stub.matching('GET', 'sites/x')
    assert first.headers['Authorization'] != second.headers['Authorization']
    # the refreshed session is the one cached for the next client
    make_client().get('sites/x')
    assert stub.logins == 2


def test_persistent_401_fails_after_one_relogin(stub, make_client):
    stub.add('GET', 'sites/x', Reply(401, 'Nope'))
    with pytest.raises(ApiError) as info:
        make_client().get('sites/x')
    assert info.value.status == 401
    assert stub.logins == 2
    assert stub.count('GET', 'sites/x') == 2


# ---------------------------------------------------------------- paging and lookups

def test_paging_across_250_sites(stub, make_client):
    sites = [{'id': '%08d-0000-4000-8000-000000000000' % i, 'site': {'name': 'site-%d' % i}} for i in range(250)]

    def page(rec):
        limit = int(rec.query['limit'][0])
        start = rec.query.get('start', [None])[0]
        index = 0 if start is None else [s['id'] for s in sites].index(start) + 1
        return Reply(200, sites[index:index + limit])
    stub.add('GET', r'users/%s/memberships/sites' % USER_ID, page)
    client = make_client()
    items = client.paged('users/%s/memberships/sites' % client.user_id)
    assert [i['id'] for i in items] == [s['id'] for s in sites]
    reqs = stub.matching('GET', r'users/%s/memberships/sites' % USER_ID)
    assert [r.query.get('start', [None])[0] for r in reqs] == [None, sites[99]['id'], sites[199]['id']]
    assert all(r.query['limit'] == ['100'] for r in reqs)


def test_paging_stops_on_repeated_id(stub, make_client):
    same = [{'id': 'a%d' % i} for i in range(100)]
    stub.add('GET', 'things', Reply(200, same))
    assert len(make_client().paged('things')) == 100
    assert stub.count('GET', 'things') == 2


def test_paging_exact_multiple_stops_on_empty_page(stub, make_client):
    stub.add('GET', 'things', Reply(200, [{'id': 'a%d' % i} for i in range(100)]), Reply(200, []))
    assert len(make_client().paged('things')) == 100
    assert stub.count('GET', 'things') == 2


def test_find_site_by_name_and_uuid(stub, make_client):
    stub.add('GET', 'site-names/alpha', Reply(200, {'id': SITE_ID, 'name': 'alpha'}))
    stub.add('GET', 'site-names/missing', Reply(404, 'A site named missing was not found.'))
    stub.add('GET', 'sites/%s' % SITE_ID, Reply(200, {'id': SITE_ID, 'name': 'alpha', 'framework': 'drupal8'}))
    client = make_client()
    assert client.find_site('alpha')['framework'] == 'drupal8'
    assert client.find_site(SITE_ID.upper())['name'] == 'alpha'
    assert client.find_site('missing') is None
    assert all(r.query == {'site_state': ['true']} for r in stub.matching('GET', 'sites/%s' % SITE_ID))
    with pytest.raises(NotFound) as info:
        client.get_site('missing')
    assert "'missing'" in str(info.value)
    with pytest.raises(PantheonError) as info:
        client.find_site('Bad Name!')
    assert 'not a valid Pantheon site name' in str(info.value)


def test_platform_domain_is_last_platform_entry(stub, make_client):
    stub.add('GET', 'sites/s/environments/dev/domains', Reply(200, [
        {'id': 'one.example', 'type': 'platform'}, {'id': 'custom.example', 'type': 'custom'},
        {'id': 'dev-alpha.pantheonsite.io', 'type': 'platform'}]))
    assert make_client().platform_domain('s', 'dev') == 'dev-alpha.pantheonsite.io'


def test_web_origin_adds_a_port_only_when_pantheon_web_port_is_set(monkeypatch):
    monkeypatch.delenv('PANTHEON_WEB_PORT', raising=False)
    assert web_origin('dev-alpha.pantheonsite.io') == 'https://dev-alpha.pantheonsite.io'
    monkeypatch.setenv('PANTHEON_WEB_PORT', '8443')
    assert web_origin('dev-alpha.pantheonsite.localhost') == 'https://dev-alpha.pantheonsite.localhost:8443'
    assert web_origin('dev-alpha.example:9000') == 'https://dev-alpha.example:9000'
    for bad in ('http', '0', '70000'):
        monkeypatch.setenv('PANTHEON_WEB_PORT', bad)
        with pytest.raises(PantheonError, match='PANTHEON_WEB_PORT must be a TCP port number'):
            web_origin('dev-alpha.pantheonsite.localhost')


# ---------------------------------------------------------------- workflows

def _wf(wid='wf1', **kw):
    wf = {'id': wid, 'type': kw.pop('type', 'do_export'), 'phase': 'started', 'result': None,
          'created_at': time.time()}
    wf.update(kw)
    return wf


def test_workflow_success_polls_site_url(stub, make_client):
    stub.add('POST', 'sites/s/environments/dev/workflows', Reply(202, _wf()))
    stub.add('GET', 'sites/s/workflows/wf1', Reply(200, _wf()), Reply(200, _wf(phase='finished', result='succeeded')))
    clock = VirtualClock()
    wf = Workflows(make_client(poll_interval=0.3, clock=clock.clock, sleep=clock.sleep)).run(
        ('env', 's', 'dev'), 'do_export', {'database': True}, timeout=30)
    assert wf['result'] == 'succeeded'
    post = stub.matching('POST', 'sites/s/environments/dev/workflows')[0]
    assert post.body == {'type': 'do_export', 'params': {'database': True}}
    assert stub.count('GET', 'sites/s/workflows/wf1') == 2
    # never polled faster than the poll interval (virtual time: the schedule, not the machine's load)
    assert [round(s, 3) for s in clock.sleeps] == [0.3, 0.45]


def test_poll_interval_is_a_second_unless_injected(stub, make_client, monkeypatch):
    """The real platform is polled once a second at first; PANTHEON_POLL_INTERVAL or the
    constructor's poll_interval (what the tests use) change that."""
    monkeypatch.delenv('PANTHEON_POLL_INTERVAL', raising=False)
    assert make_client(poll_interval=None).poll_interval == 1.0
    monkeypatch.setenv('PANTHEON_POLL_INTERVAL', '0.25')
    assert make_client(poll_interval=None).poll_interval == 0.25
    assert make_client(poll_interval=0.5).poll_interval == 0.5
    monkeypatch.setenv('PANTHEON_POLL_INTERVAL', 'often')
    assert make_client(poll_interval=None).poll_interval == 1.0


def test_user_workflow_polls_user_url_and_keeps_waiting_for_task(stub, make_client):
    created = _wf('cw', type='create_site', waiting_for_task={'site_id': SITE_ID})
    stub.add('POST', 'users/%s/workflows' % USER_ID, Reply(202, created))
    stub.add('GET', 'users/%s/workflows/cw' % USER_ID,
             Reply(200, _wf('cw', type='create_site', phase='finished', result='succeeded', waiting_for_task=None)))
    wf = Workflows(make_client()).run(('user',), 'create_site', {'label': 'A', 'site_name': 'a'}, timeout=30)
    assert wf['waiting_for_task']['site_id'] == SITE_ID


def test_delete_site_is_polled_through_the_user(stub, make_client):
    stub.add('POST', 'sites/s/workflows', Reply(202, _wf('dw', type='delete_site')))
    stub.add('GET', 'users/%s/workflows/dw' % USER_ID, Reply(200, _wf('dw', type='delete_site', result='succeeded')))
    Workflows(make_client()).run(('site', 's'), 'delete_site', {}, timeout=30)
    assert stub.count('GET', 'sites/s/workflows/dw') == 0
    assert stub.count('GET', 'users/%s/workflows/dw' % USER_ID) == 1


@pytest.mark.parametrize('final_task, reason', [
    ({'reason': 'Upstream framework mismatch', 'messages': {'t1': {'message': 'other', 'level': 'ERROR'}}},
     'Upstream framework mismatch'),
    ({'reason': '', 'messages': {'2020-01-01T00:00:00': {'message': 'first', 'level': 'ERROR'},
                                 '2020-01-01T00:00:05': {'message': 'Database import failed', 'level': 'ERROR'}}},
     'Database import failed'),
    ({}, 'Workflow failed'),
    (None, 'Workflow failed'),
])
def test_workflow_failure_message(stub, make_client, final_task, reason):
    stub.add('POST', 'sites/s/environments/dev/workflows', Reply(202, _wf()))
    failed = _wf(phase='finished', result='failed', final_task=final_task, reason='top-level reason is not used')
    stub.add('GET', 'sites/s/workflows/wf1', Reply(200, failed))
    with pytest.raises(WorkflowFailed) as info:
        Workflows(make_client()).run(('env', 's', 'dev'), 'do_export', {}, timeout=30)
    assert info.value.platform_reason == reason and info.value.reason == 'workflow_failed'
    assert str(info.value) == 'Workflow do_export (wf1) failed: %s' % reason


def test_aborted_is_a_failure(stub, make_client):
    stub.add('POST', 'sites/s/workflows', Reply(202, _wf(type='deploy_product')))
    aborted = _wf(type='deploy_product', result='aborted', final_task={'reason': 'Wrong framework'})
    stub.add('GET', 'sites/s/workflows/wf1', Reply(200, aborted))
    with pytest.raises(WorkflowFailed, match='deploy_product .* aborted: Wrong framework'):
        Workflows(make_client()).run(('site', 's'), 'deploy_product', {'product_id': 'u'}, timeout=30)


def test_workflow_wait_timeout_names_workflow_and_state(stub, make_client):
    running = _wf(phase='started', step=2, number_of_tasks=5, active_description='Importing database')
    stub.add('POST', 'sites/s/environments/dev/workflows', Reply(202, _wf()))
    stub.add('GET', 'sites/s/workflows/wf1', Reply(200, running))
    clock = VirtualClock()
    started = clock.now
    with pytest.raises(WorkflowTimeout) as info:
        Workflows(make_client(poll_interval=0.3, clock=clock.clock, sleep=clock.sleep)).run(
            ('env', 's', 'dev'), 'do_export', {}, timeout=0.9)
    # it waited the whole timeout, on a virtual clock (the machine's load cannot move it)
    assert clock.now - started >= 0.9
    assert str(info.value) == ("Timed out after 0.9s waiting for workflow wf1 (do_export); last state: phase=started, "
                               "step=2/5, active_description='Importing database'")
    # polls at 0.3s and 0.75s, then one last once the deadline is reached, but never sooner than
    # the interval after the one before (1.05s)
    assert stub.count('GET', 'sites/s/workflows/wf1') == 3
    assert [round(s, 3) for s in clock.sleeps] == [0.3, 0.45, 0.3]


def test_workflow_post_5xx_that_created_it_is_not_posted_again(stub, make_client):
    made = []

    def post(rec):
        wf = _wf('made1', type='clone_database', params=rec.body['params'], environment_id='dev')
        made.append(wf)
        return Reply(502, 'Bad Gateway')  # the platform created it but the answer was lost
    stub.add('POST', 'sites/s/environments/dev/workflows', post)
    stub.add('GET', 'sites/s/workflows', lambda rec: Reply(200, [
        _wf('old', type='clone_database', params={'from_environment': 'live'}, created_at=time.time() - 3600)] + made))
    stub.add('GET', 'sites/s/workflows/made1', Reply(200, _wf('made1', type='clone_database', result='succeeded')))
    warnings = []
    wf = Workflows(make_client(warnings=warnings)).run(('env', 's', 'dev'), 'clone_database',
                                                       {'from_environment': 'live'}, timeout=30)
    assert wf['id'] == 'made1'
    assert stub.count('POST', 'sites/s/environments/dev/workflows') == 1
    assert stub.count('GET', 'sites/s/workflows') == 1
    assert 'checking whether the clone_database workflow was created' in warnings[0]


def test_workflow_post_timeout_that_created_nothing_is_posted_again(stub, make_client):
    stub.add('POST', 'users/%s/workflows' % USER_ID, Reply(503, 'busy'),
             Reply(202, _wf('new', type='create_site')))
    # an older identical workflow does not count: it was created before this attempt
    stub.add('GET', 'users/%s/workflows' % USER_ID, Reply(200, [
        _wf('ancient', type='create_site', params={'label': 'A', 'site_name': 'a'}, created_at=time.time() - 7200)]))
    stub.add('GET', 'users/%s/workflows/new' % USER_ID, Reply(200, _wf('new', type='create_site', result='succeeded')))
    wf = Workflows(make_client()).run(('user',), 'create_site', {'label': 'A', 'site_name': 'a'}, timeout=30)
    assert wf['id'] == 'new'
    assert stub.count('POST', 'users/%s/workflows' % USER_ID) == 2


def test_workflow_post_4xx_is_not_retried(stub, make_client):
    stub.add('POST', 'sites/s/workflows', Reply(403, 'Forbidden for this user'))
    with pytest.raises(ApiError, match='POST sites/s/workflows failed with HTTP 403: Forbidden for this user'):
        Workflows(make_client()).start(('site', 's'), 'delete_site', {})
    assert stub.count('POST', 'sites/s/workflows') == 1
    assert stub.count('GET', 'sites/s/workflows') == 0


def test_non_json_success_body_is_an_error(stub, make_client):
    stub.add('GET', 'sites/x', Reply(200, raw=b'<html>proxy page</html>', content_type='text/html'))
    with pytest.raises(ApiError, match='not JSON'):
        make_client().get('sites/x')


def test_no_token_is_a_clear_error(stub):
    from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonClient
    with pytest.raises(PantheonError, match='PANTHEON_MACHINE_TOKEN'):
        PantheonClient('', api_url=stub.api_url)


def test_json_is_sent_as_json(stub, make_client):
    stub.add('POST', 'sites/s/environments/dev/backups/catalog/f1/database/s3token',
             Reply(200, {'url': 'https://storage.example/x.sql.gz?Signature=abc'}))
    url = make_client().backup_url('s', 'dev', 'f1', 'database')
    assert url.endswith('Signature=abc')
    rec = stub.matching('POST', 'sites/s/environments/dev/backups/catalog/f1/database/s3token')[0]
    assert rec.headers['Content-Type'] == 'application/json'
    assert rec.body == {'method': 'get'}
    assert json.loads(json.dumps(rec.body)) == {'method': 'get'}


def test_workflow_post_429_waits_and_posts_again_without_lookup(stub, make_client):
    stub.add('POST', 'sites/s/workflows', Reply(429, 'Too many requests', headers={'Retry-After': '1'}),
             Reply(202, _wf('w2', type='clear_cache')))
    stub.add('GET', 'sites/s/workflows/w2', Reply(200, _wf('w2', type='clear_cache', result='succeeded')))
    clock = VirtualClock()
    Workflows(make_client(retry_base_delay=0.01, clock=clock.clock, sleep=clock.sleep)).run(
        ('site', 's'), 'clear_cache', {'framework_cache': True}, timeout=30)
    assert stub.count('POST', 'sites/s/workflows') == 2
    # the POST waited the server's Retry-After (1 s, on the virtual clock) before it was sent again
    assert clock.sleeps and clock.sleeps[0] == 1.0, clock.sleeps
    assert stub.count('GET', 'sites/s/workflows') == 0


def test_broken_off_answers_are_retried(stub, make_client):
    stub.add('GET', 'sites/x', Reply(200, {'id': 'x', 'pad': 'y' * 100}, truncate=10), Reply(200, {'id': 'x'}))
    assert make_client().get('sites/x') == {'id': 'x'}
    assert stub.count('GET', 'sites/x') == 2


def test_workflow_post_whose_answer_broke_off_is_adopted(stub, make_client):
    made = []

    def post(rec):
        made.append(_wf('cut1', type='create_site', params=rec.body['params']))
        return Reply(202, made[-1], truncate=5)
    stub.add('POST', 'users/%s/workflows' % USER_ID, post)
    stub.add('GET', 'users/%s/workflows' % USER_ID, lambda rec: Reply(200, made))
    stub.add('GET', 'users/%s/workflows/cut1' % USER_ID, Reply(200, _wf('cut1', type='create_site', result='succeeded')))
    wf = Workflows(make_client()).run(('user',), 'create_site', {'label': 'B', 'site_name': 'b'}, timeout=30)
    assert wf['id'] == 'cut1'
    assert stub.count('POST', 'users/%s/workflows' % USER_ID) == 1


def test_unfinished_workflows_are_found_by_type_and_match(stub, make_client):
    stub.add('GET', 'users/%s/workflows' % USER_ID, Reply(200, [
        _wf('a', type='create_site', params={'site_name': 'one'}),
        _wf('b', type='create_site', params={'site_name': 'two'}),
        _wf('c', type='create_site', params={'site_name': 'one'}, result='succeeded'),
        _wf('d', type='delete_site', params={}),
    ]))
    client = make_client()
    found = Workflows(client).unfinished(('user',), 'create_site', lambda wf: wf['params']['site_name'] == 'one')
    assert [wf['id'] for wf in found] == ['a']
    assert [wf['id'] for wf in Workflows(client).unfinished(('user',), 'create_site')] == ['a', 'b']


@pytest.mark.parametrize('status', [403, 404])
def test_unreadable_workflow_list_means_none_known_to_run(stub, make_client, status):
    stub.add('GET', 'sites/s/workflows', Reply(status, 'no'))
    assert Workflows(make_client()).unfinished(('site', 's'), 'deploy_product') == []
    assert stub.count('GET', 'sites/s/workflows') == 1


def test_workflow_list_server_errors_are_not_hidden(stub, make_client):
    stub.add('GET', 'sites/s/workflows', Reply(500, 'down'))
    with pytest.raises(ApiError):
        Workflows(make_client(retries=0)).unfinished(('site', 's'), 'deploy_product')


def test_lookups_are_asked_once_per_client_until_a_write_or_a_workflow_wait(stub, make_client):
    """A module run asks for a site, its environments, settings and domains once; a write or a
    workflow wait makes the next lookup ask again; workflows and backups are always asked."""
    stub.add('GET', 'site-names/alpha', Reply(200, {'id': SITE_ID, 'name': 'alpha'}))
    stub.add('GET', 'sites/%s' % SITE_ID, Reply(200, {'id': SITE_ID, 'name': 'alpha', 'framework': 'drupal8'}))
    stub.add('GET', 'sites/%s/environments' % SITE_ID, Reply(200, {'dev': {}, 'live': {}}))
    stub.add('GET', 'sites/%s/environments/live/settings' % SITE_ID, Reply(200, {'drush_version': '8'}))
    stub.add('GET', 'sites/%s/environments/live/backups/catalog' % SITE_ID, Reply(200, {}))
    stub.add('POST', 'sites/%s/environments/live/workflows' % SITE_ID, Reply(202, _wf()))
    stub.add('GET', 'sites/%s/workflows/wf1' % SITE_ID, Reply(200, _wf(phase='finished', result='succeeded')))
    client = make_client(poll_interval=0.01)

    def lookups():
        site = client.get_site('alpha')
        site['name'] = 'changed by the caller'  # a caller's change never reaches the next answer
        client.environments(SITE_ID)
        client.env_settings(SITE_ID, 'live')
        client.backup_catalog(SITE_ID, 'live')

    lookups()
    lookups()
    assert client.get_site(SITE_ID)['name'] == 'alpha'
    for path in ('site-names/alpha', 'sites/%s$' % SITE_ID, 'sites/%s/environments$' % SITE_ID,
                 'sites/%s/environments/live/settings' % SITE_ID):
        assert stub.count('GET', path) == 1, path
    assert stub.count('GET', 'sites/%s/environments/live/backups/catalog' % SITE_ID) == 2
    Workflows(client).run(('env', SITE_ID, 'live'), 'do_export', {'database': True}, timeout=30)
    lookups()
    assert stub.count('GET', 'site-names/alpha') == 2
    assert stub.count('GET', 'sites/%s/environments/live/settings' % SITE_ID) == 2
    # a workflow wait alone (a workflow another run started) forgets them too
    Workflows(client).wait(('site', SITE_ID), _wf(), timeout=30)
    client.environments(SITE_ID)
    assert stub.count('GET', 'sites/%s/environments$' % SITE_ID) == 3
