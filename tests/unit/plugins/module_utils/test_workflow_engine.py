# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workflow engine (_workflows.Workflows) against the served stub API, on a virtual clock: the
record shape, adoption, the history rules (what replaces what) and the wait for a workflow the
platform starts by itself (code_push's sync_code) on the one poll schedule."""

from __future__ import annotations

import pytest

from stub_api import Reply, VirtualClock

from ansible_collections.pantheon.platform.plugins.module_utils._workflows import (
    WorkflowFailed,
    WorkflowTimeout,
    Workflows,
    describe,
)


def _wf(wid, wf_type, env='dev', created=100.0, result=None, **kw):
    wf = dict(id=wid, type=wf_type, environment_id=env, created_at=created, result=result)
    if result is not None:
        wf['finished_at'] = created + 12.5
    wf.update(kw)
    return wf


def test_records_have_one_shape_and_mark_adopted_workflows(stub, make_client):
    stub.add('GET', 'sites/s/workflows/run1', Reply(200, _wf('run1', 'deploy_product', result='succeeded')))
    stub.add('POST', 'sites/s/workflows', Reply(202, _wf('new1', 'delete_site')))
    stub.add('GET', 'users/.*/workflows/new1', Reply(200, _wf('new1', 'delete_site', result='succeeded')))
    engine = Workflows(make_client(), timeout=30)
    engine.adopt(('site', 's'), _wf('run1', 'deploy_product'))
    engine.run(('site', 's'), 'delete_site', {})
    assert engine.records == [
        {'id': 'run1', 'type': 'deploy_product', 'result': 'succeeded', 'duration': 12.5, 'adopted': True},
        {'id': 'new1', 'type': 'delete_site', 'result': 'succeeded', 'duration': 12.5},
    ]
    assert describe({'type': 'do_import'}) == {'id': None, 'type': 'do_import', 'result': None, 'duration': None}


def test_a_failed_workflow_carries_its_record(stub, make_client):
    failed = _wf('f1', 'do_export', result='failed', final_task={'reason': 'disk full'})
    stub.add('POST', 'sites/s/environments/dev/workflows', Reply(202, _wf('f1', 'do_export')))
    stub.add('GET', 'sites/s/workflows/f1', Reply(200, failed))
    with pytest.raises(WorkflowFailed) as info:
        Workflows(make_client(), timeout=30).run(('env', 's', 'dev'), 'do_export', {})
    assert info.value.reason == 'workflow_failed' and info.value.platform_reason == 'disk full'
    assert info.value.result()['workflow'] == {'id': 'f1', 'type': 'do_export', 'result': 'failed', 'duration': 12.5}


def test_last_replacing_follows_the_history_rules(stub, make_client):
    stub.add('GET', 'sites/s/workflows', Reply(200, [
        _wf('other-env', 'clone_database', env='live', created=500.0),
        _wf('files-only', 'do_import', created=400.0, params={'files': 1}),
        _wf('db-import', 'do_import', created=300.0, params={'database': 1}),
        _wf('cache', 'clear_cache', created=600.0),
        _wf('no-env', 'wipe', env=None, created=700.0),
    ]))
    engine = Workflows(make_client())
    assert engine.last_replacing('s', 'dev', 'database')['id'] == 'db-import'
    assert engine.last_replacing('s', 'dev', 'files')['id'] == 'files-only'
    assert engine.last_replacing('s', 'dev', 'site')['id'] == 'files-only'
    assert engine.last_replacing('s', 'test', 'site') is None


def test_a_workflow_the_platform_starts_is_awaited_on_the_poll_schedule(stub, make_client):
    """The sync_code after a push: not listed at first, then listed running, then finished."""
    clock = VirtualClock()
    lists = [[_wf('old', 'sync_code', result='succeeded')]] * 2 + [
        [_wf('sync2', 'sync_code', created=200.0), _wf('old', 'sync_code', result='succeeded')]]
    stub.add('GET', 'sites/s/workflows$', *[Reply(200, body) for body in lists])
    stub.add('GET', 'sites/s/workflows/sync2', Reply(200, _wf('sync2', 'sync_code', created=200.0, result='succeeded')))
    engine = Workflows(make_client(poll_interval=1.0, clock=clock.clock, sleep=clock.sleep), timeout=600)
    wf = engine.wait_started_by_platform(('env', 's', 'dev'), 'sync_code', {'old'}, 'alpha.dev')
    assert wf['id'] == 'sync2' and engine.records[-1]['result'] == 'succeeded'
    # the list is read at once, then on the one schedule (1.5 intervals apart in the first minute),
    # then the workflow itself one interval later
    assert stub.count('GET', 'sites/s/workflows$') == 3
    assert clock.sleeps == [1.5, 1.5, 1.0]


def test_no_workflow_appearing_times_out_naming_what_was_awaited(stub, make_client):
    clock = VirtualClock()
    stub.add('GET', 'sites/s/workflows$', Reply(200, []))
    engine = Workflows(make_client(poll_interval=1.0, clock=clock.clock, sleep=clock.sleep), timeout=30)
    with pytest.raises(WorkflowTimeout, match='no sync_code workflow appeared for alpha.dev'):
        engine.wait_started_by_platform(('env', 's', 'dev'), 'sync_code', set(), 'alpha.dev')
    assert clock.now - 1000.0 == pytest.approx(30.0)
