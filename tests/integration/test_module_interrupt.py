# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module killed (SIGKILL of it and every process under it) in the middle of its step, then run
again on its own: the rerun finishes the step from what the platform holds, without starting it a
second time. These are the resumes a module owns (the role adds nothing to them), so they are proven
here, a module process at a time, instead of through a whole site_clone run
(tests/integration/test_role_interrupt.py keeps the kills where the role holds the state).

Each kill lands while the emulator holds the step (a fault rule ``{"hold": NAME}``), never after a
guessed delay: see tests/helpers/kill.py.
"""

from __future__ import annotations

import re
import time

from helpers.kill import hold, kill_tree, module_result, run_module_process, start_module
from site_clone_helpers import archives_on_source, last_request_id
from transfer_helpers import play_env, seed


def _posts(emulator, since, path):
    return [r for r in emulator.requests(channel='api', since=since) if r['method'] == 'POST' and r['path'] == path]


def _killed_when_held(emulator, tmp_path, module, args, rule, name):
    """Start ``module``; kill it (and everything under it) once the emulator holds it at ``rule``.
    The hold stays closed: the caller releases it."""
    emulator.faults([rule])
    proc = start_module(module, args, play_env(emulator, tmp_path), tmp_path / 'killed')
    try:
        emulator.wait_hold(name, timeout=300)
    finally:
        kill_tree(proc.pid)
        proc.communicate(timeout=60)
    return proc


def _killed_then_finished(emulator, tmp_path, module, args, rule, name):
    """``_killed_when_held``, then the hold released and the held step ended on the platform's side."""
    try:
        _killed_when_held(emulator, tmp_path, module, args, rule, name)
        emulator.release(name)
        emulator.wait_hold(name, until='finished')
    finally:
        emulator.clear_faults()


def _rerun_released_when(emulator, tmp_path, module, args, name, logged, timeout=300):
    """Run ``module`` again while the killed run's step is still held; release the hold once the
    emulator logged the API request ``logged`` = (after id, method, path regex, status or None) that
    shows the rerun waiting for that step. Returns the rerun's result."""
    since, method, pattern, status = logged
    rerun = start_module(module, args, play_env(emulator, tmp_path), tmp_path / 'rerun')
    try:
        deadline = time.monotonic() + timeout
        while not [r for r in emulator.requests(channel='api', since=since)
                   if r['method'] == method and re.search(pattern, r['path']) and status in (None, r['status'])]:
            assert rerun.poll() is None, 'the rerun ended before it waited for the held step'
            assert time.monotonic() < deadline, 'no %s %s was logged' % (method, pattern)
            time.sleep(0.1)
    finally:
        emulator.release(name)
    return module_result(rerun)


def test_code_push_killed_during_the_push_pushes_on_the_rerun(emulator, tmp_path, site_prefix):
    sites = seed(emulator, [{'name': site_prefix + 'src', 'framework': 'drupal8', 'envs': ['dev', 'live']},
                            {'name': site_prefix + 'dst', 'framework': 'drupal8', 'envs': ['dev']}])
    src, dst = sites[site_prefix + 'src'], sites[site_prefix + 'dst']
    source_head = emulator.state(src['name'], 'live')['code']['repo_head']
    before = emulator.state(dst['name'], 'dev')['code']['repo_head']
    args = {'site': src['name'], 'env': 'live', 'target_site': dst['name'], 'target_env': 'dev', 'overwrite': True}
    name = site_prefix + 'push'
    _killed_then_finished(emulator, tmp_path, 'code_push', args, hold(name, 'ssh', 'git-receive-pack'), name)
    # the killed push never reached the codeserver
    assert emulator.state(dst['name'], 'dev')['code']['repo_head'] == before

    out = run_module_process('code_push', args, play_env(emulator, tmp_path), tmp_path / 'rerun')
    assert out.get('failed') is not True, out
    assert out['changed'] is True and out['pushed'] is True
    assert out['target_commit'] == {'before': before, 'after': source_head}
    assert out['sync_workflow']['result'] == 'succeeded'
    state = emulator.state(dst['name'], 'dev')
    assert state['code']['repo_head'] == source_head and state['code']['head'] == source_head


def test_site_import_killed_while_importing_waits_for_that_import_on_the_rerun(emulator, tmp_path, site_prefix):
    """Killed once the platform runs its do_import: the rerun finds the same import running in the
    history and waits for it (no second do_import)."""
    sites = seed(emulator, [{'name': site_prefix + 'src', 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 7}},
                            {'name': site_prefix + 'dst', 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 2}}])
    src, dst = sites[site_prefix + 'src'], sites[site_prefix + 'dst']
    env = play_env(emulator, tmp_path)
    backup = run_module_process('backup', {'site': src['name'], 'elements': ['database']}, env, tmp_path / 'backup')
    assert backup['changed'] is True, backup
    info = run_module_process('backup_info', {'site': src['name'], 'folder': backup['backup']['folder'], 'urls': True},
                              env, tmp_path / 'info')
    args = {'site': dst['name'], 'kind': 'database', 'url': info['latest']['database']['url'], 'overwrite': True}
    imports = '/api/sites/%s/environments/dev/workflows' % dst['id']
    name = site_prefix + 'import'
    since = last_request_id(emulator)
    try:
        _killed_when_held(emulator, tmp_path, 'site_import', args, hold(name, 'workflow', '^do_import$'), name)
        started = _posts(emulator, since, imports)
        assert [r['status'] for r in started] == [202]
        # the rerun, while the killed run's import still runs: it must wait for that one
        since = last_request_id(emulator)
        out = _rerun_released_when(emulator, tmp_path, 'site_import', args, name,
                                   (since, 'GET', r'^/api/sites/%s/workflows/[^/]+$' % dst['id'], None))
    finally:
        emulator.clear_faults()
    assert out.get('failed') is not True, out
    assert out['changed'] is True and out['workflow']['result'] == 'succeeded'
    assert _posts(emulator, since, imports) == [], 'the rerun started a second import'
    assert emulator.state(dst['name'], 'dev')['db']['tables'] == emulator.state(src['name'], 'dev')['db']['tables']
    # and a third run finds that import done: nothing to do
    again = run_module_process('site_import', args, env, tmp_path / 'again')
    assert again['changed'] is False and again['workflow']['id'] == out['workflow']['id']


def test_site_killed_while_create_site_runs_waits_for_that_creation(emulator, tmp_path, site_prefix):
    """Killed once create_site is accepted: the rerun's own create_site is refused (the name is
    taken), so it waits for the one the killed run started, then deploys the upstream."""
    target = site_prefix + 'made'
    args = {'name': target, 'upstream': 'drupal10', 'wait_timeout': 300}
    creates = '/api/users/%s/workflows' % emulator.user_id
    name = site_prefix + 'create'
    since = last_request_id(emulator)
    try:
        _killed_when_held(emulator, tmp_path, 'site', args, hold(name, 'workflow', '^create_site$'), name)
        assert [r['status'] for r in _posts(emulator, since, creates)] == [202]
        running = [w for w in emulator.api().get('%s/users/%s/workflows' % (emulator.api_url, emulator.user_id),
                                                 timeout=30).json()
                   if w['type'] == 'create_site' and w['params']['site_name'] == target]
        assert len(running) == 1 and running[0]['result'] is None, 'the killed run left its create_site running'
        # released once the rerun, refused its own create_site (409), polls the killed run's one: it found that one
        # running (released earlier, the creation could finish before the rerun looked for it)
        out = _rerun_released_when(emulator, tmp_path, 'site', args, name,
                                   (since, 'GET', '^%s/%s$' % (creates, running[0]['id']), None))
    finally:
        emulator.clear_faults()
    assert out.get('failed') is not True, out
    assert out['changed'] is True
    assert [(w['type'], w.get('adopted', False)) for w in out['workflows']] == [('create_site', True),
                                                                                ('deploy_product', False)]
    assert out['workflows'][0]['id'] == running[0]['id']
    assert [r['status'] for r in _posts(emulator, since, creates)] == [202, 409]
    assert out['site']['upstream']['machine_name'] == 'drupal10'
    assert emulator.state(target, 'dev')['code']['head']


def test_backup_killed_during_the_export_is_reused_by_the_rerun(emulator, tmp_path, site_prefix):
    """Killed while do_export runs: the export finishes on the platform, and a rerun that may reuse a
    recent backup takes that one instead of exporting again."""
    site = seed(emulator, [{'name': site_prefix + 'src', 'framework': 'drupal', 'envs': ['dev'],
                            'db': {'nodes': 3}, 'files': {'count': 2, 'size': 500}}])[site_prefix + 'src']
    args = {'site': site['name'], 'elements': ['database', 'files'], 'reuse_within': 15}
    exports = '/api/sites/%s/environments/dev/workflows' % site['id']
    name = site_prefix + 'export'
    since = last_request_id(emulator)
    _killed_then_finished(emulator, tmp_path, 'backup', args, hold(name, 'workflow', '^do_export$'), name)
    assert [r['status'] for r in _posts(emulator, since, exports)] == [202]
    out = run_module_process('backup', args, play_env(emulator, tmp_path), tmp_path / 'rerun')
    assert out.get('failed') is not True, out
    assert out['changed'] is False and out['reused'] is True
    assert set(out['backup']['elements']) == {'database', 'files'}
    assert len(_posts(emulator, since, exports)) == 1, 'the rerun exported again'


def test_archive_removal_killed_midway_removes_on_the_rerun(emulator, tmp_path, site_prefix):
    """archive state=absent killed while it removes the archive: the archive is still there, and the
    rerun removes it and proves it gone (404)."""
    site = seed(emulator, [{'name': site_prefix + 'd7', 'framework': 'drupal', 'envs': ['dev'],
                            'db': {'nodes': 3}, 'files': {'count': 2, 'size': 500}}])[site_prefix + 'd7']
    env = play_env(emulator, tmp_path)
    made = run_module_process('archive', {'site': site['name'], 'exclude_files': True}, env, tmp_path / 'make')
    assert made.get('failed') is not True and made['changed'] is True, made
    left = archives_on_source(emulator, site['name'], 'dev')
    assert len(left) == 1
    args = {'site': site['name'], 'state': 'absent', 'path': made['path']}
    name = site_prefix + 'remove'
    _killed_then_finished(emulator, tmp_path, 'archive', args, hold(name, 'ssh', '^rsync'), name)
    # the removal never ran: its client was killed
    assert archives_on_source(emulator, site['name'], 'dev') == left

    out = run_module_process('archive', args, env, tmp_path / 'rerun')
    assert out.get('failed') is not True, out
    assert out['changed'] is True and out['url_status'] == 404
    assert archives_on_source(emulator, site['name'], 'dev') == []
    assert run_module_process('archive', args, env, tmp_path / 'again')['changed'] is False
