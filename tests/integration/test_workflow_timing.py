# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Modules against workflows that take time and queue (issue 10 point 5): the emulator's timing
profile (``workflow_scale``) makes every workflow last its scaled realistic duration and run after
the site's earlier workflows; the modules run in-process with the polling unit scaled the same way
(PANTHEON_POLL_INTERVAL). Nothing here asserts on wall time: polls are counted, and waits end on
workflow states and emulator holds."""

from __future__ import annotations

import math
import threading
import time

import pytest

from helpers.modules import run_module_main
from transfer_helpers import latest_backup, play_env, seed

SCALE = 0.02          # the emulator's workflows take 2% of their realistic duration
UNIT = 0.01           # the client's polling unit (1 s on the platform)


def _module(emulator, tmp_path, module, args):
    env = dict(play_env(emulator, tmp_path), PANTHEON_POLL_INTERVAL=str(UNIT))
    out, _stdout, _stderr = run_module_main(module, args, env=env)
    return out


def _polls(emulator, site_id, wf_id, since):
    path = '/api/sites/%s/workflows/%s' % (site_id, wf_id)
    return [r for r in emulator.requests(channel='api', since=since) if r['method'] == 'GET' and r['path'] == path]


def _last_id(emulator):
    rows = emulator.requests()
    return rows[-1]['id'] if rows else 0


def _workflows(emulator, site_id):
    return emulator.api().get('%s/sites/%s/workflows' % (emulator.api_url, site_id), timeout=30).json()


@pytest.fixture(scope='module')
def sites(emulator):
    prefix = 'wft%s-' % emulator.pid
    made = seed(emulator, [
        {'name': prefix + 'a', 'framework': 'drupal', 'envs': ['dev', 'test', 'live'],
         'backups': [{'env': 'live', 'elements': ['database', 'files']}]},
        {'name': prefix + 'b', 'framework': 'drupal', 'envs': ['dev', 'test', 'live']},
    ], seed_value=9)
    return made[prefix + 'a'], made[prefix + 'b']


def test_backup_waits_through_the_queue_and_polls_on_the_schedule(emulator, sites, tmp_path):
    site, _other = sites
    hold = 'timing-%s' % site['id'][:8]
    emulator.faults({'match': {'channel': 'workflow', 'path': '^clear_cache$'}, 'action': {'hold': hold}, 'times': 1})
    api = emulator.api()
    since = _last_id(emulator)
    try:
        with emulator.limits(workflow_scale=SCALE):
            blocker = api.post('%s/sites/%s/environments/dev/workflows' % (emulator.api_url, site['id']),
                               json={'type': 'clear_cache', 'params': {'framework_cache': True}}, timeout=30).json()
            emulator.wait_hold(hold)

            def release_when_queued():
                # the backup's do_export shows up queued behind the held clear_cache: then let it go
                while True:
                    queued = [w for w in _workflows(emulator, site['id'])
                              if w['type'] == 'do_export' and (w.get('waiting_for_task') or {}).get('type')
                              == 'queued_behind_workflow']
                    if queued:
                        break
                    time.sleep(0.02)  # pacing only
                emulator.release(hold)
            releaser = threading.Thread(target=release_when_queued, daemon=True)
            releaser.start()
            started = time.monotonic()
            out = _module(emulator, tmp_path, 'backup', {'site': site['name'], 'env': 'dev', 'elements': ['database'],
                                                         'reuse_within': 0})
            waited = time.monotonic() - started  # the module's whole run: every poll falls inside it
            releaser.join(60)
    finally:
        emulator.clear_faults()
    assert not out.get('failed'), out
    export = next(w for w in _workflows(emulator, site['id']) if w['type'] == 'do_export')
    first = next(w for w in _workflows(emulator, site['id']) if w['id'] == blocker['id'])
    assert export['result'] == 'succeeded' and export['started_at'] >= first['finished_at']
    assert export['queued_time'] > 0
    # polls spaced as the schedule says: at most one per 1.5 units in the first 60 units, one per
    # 5 units after (plus the first and a possible last), counted against the module's own run
    # time as the test measured it around the call (an upper bound of the polling span: a loaded
    # machine only makes polls fewer). The spacing of each pair of polls is checked on a virtual
    # clock in tests/unit/plugins/module_utils/test_polling.py, where no scheduling jitter enters.
    polls = _polls(emulator, site['id'], export['id'], since)
    fast = min(waited, 60 * UNIT)
    bound = 2 + math.ceil(fast / (1.5 * UNIT)) + math.ceil(max(0.0, waited - 60 * UNIT) / (5 * UNIT))
    assert 1 <= len(polls) <= bound, (len(polls), waited)


def test_wait_timeout_then_the_running_import_is_adopted(emulator, sites, tmp_path):
    source, target = sites
    _folder, url = latest_backup(emulator, source['id'], 'live', 'database')
    args = {'site': target['name'], 'env': 'dev', 'kind': 'database', 'url': url, 'overwrite': True}
    hold = 'adopt-%s' % target['id'][:8]
    emulator.faults({'match': {'channel': 'workflow', 'path': '^do_import$'}, 'action': {'hold': hold}, 'times': 1})
    since = _last_id(emulator)
    try:
        with emulator.limits(workflow_scale=SCALE):
            # the import is held: a 1 s wait_timeout runs out while it is still running
            timed_out = _module(emulator, tmp_path, 'site_import', dict(args, wait_timeout=1))
            assert timed_out.get('failed'), timed_out
            assert 'Timed out after 1s waiting for workflow' in timed_out['msg'] and 'do_import' in timed_out['msg']
            running = [w for w in _workflows(emulator, target['id']) if w['type'] == 'do_import' and w['result'] is None]
            assert len(running) == 1
            emulator.release(hold)
            # the rerun finds the same import still running and waits for it instead of posting another
            adopted = _module(emulator, tmp_path, 'site_import', dict(args, wait_timeout=600))
    finally:
        emulator.clear_faults()
    assert not adopted.get('failed'), adopted
    assert adopted['changed'] and adopted['workflow']['id'] == running[0]['id']
    assert adopted['workflow']['result'] == 'succeeded'
    posts = [r for r in emulator.requests(channel='api', since=since)
             if r['method'] == 'POST' and r['path'] == '/api/sites/%s/environments/dev/workflows' % target['id']]
    assert len(posts) == 1, posts
    assert url.split('?')[0] not in str(timed_out) + str(adopted), 'the signed URL stays hidden'
