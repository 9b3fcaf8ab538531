# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.code_push through ansible-playbook, against the emulator's codeserver (real git over SSH)."""

from __future__ import annotations

from transfer_helpers import commit_change, run_module, seed


def _sites(emulator, prefix, target_envs=('dev',)):
    sites = seed(emulator, [
        {'name': prefix + 'src', 'framework': 'drupal8', 'envs': ['dev', 'live']},
        {'name': prefix + 'dst', 'framework': 'drupal8', 'envs': list(target_envs)},
    ])
    return sites[prefix + 'src'], sites[prefix + 'dst']


def _sync_workflows(emulator, site_id, env):
    workflows = emulator.api().get('%s/sites/%s/workflows' % (emulator.api_url, site_id), timeout=30).json()
    return [w for w in workflows if w.get('type') == 'sync_code' and (w.get('environment') or w.get('environment_id')) == env]


def test_push_waits_for_sync_then_is_idempotent(emulator, site_prefix, tmp_path):
    src, dst = _sites(emulator, site_prefix)
    source_head = emulator.state(src['name'], 'live')['code']['repo_head']
    before = emulator.state(dst['name'], 'dev')['code']['repo_head']
    assert source_head != before
    syncs_before = len(_sync_workflows(emulator, dst['id'], 'dev'))

    res, out = run_module(emulator, tmp_path, 'code_push', {
        'overwrite': True, 'site': src['name'], 'env': 'live', 'target_site': dst['name'], 'target_env': 'dev'})
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['pushed'] is True
    assert out['source_commit'] == source_head
    assert out['target_commit'] == {'before': before, 'after': source_head}
    assert out['sync_workflow']['result'] == 'succeeded'
    # the code is deployed on dev when the task returns: the checkout serves the pushed commit
    state = emulator.state(dst['name'], 'dev')
    assert state['code']['repo_head'] == source_head and state['code']['head'] == source_head
    assert len(_sync_workflows(emulator, dst['id'], 'dev')) == syncs_before + 1

    res, out = run_module(emulator, tmp_path, 'code_push', {
        'overwrite': True, 'site': src['name'], 'env': 'live', 'target_site': dst['name']})
    assert res.rc == 0, res.output
    assert out['changed'] is False and out['pushed'] is False
    assert out['target_commit'] == {'before': source_head, 'after': source_head}
    assert len(_sync_workflows(emulator, dst['id'], 'dev')) == syncs_before + 1


def test_check_mode_reports_but_pushes_nothing(emulator, site_prefix, tmp_path):
    src, dst = _sites(emulator, site_prefix)
    before = emulator.state(dst['name'], 'dev')['code']['repo_head']
    # through ansible-playbook: check mode and diff as Ansible passes them
    res, out = run_module(emulator, tmp_path, 'code_push', {'overwrite': True, 'site': src['name'], 'target_site': dst['name']},
                          check=True, diff=True, ansible=True)
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['pushed'] is False
    assert out['target_commit']['before'] == before
    assert out['target_commit']['after'] == out['source_commit'] != before
    assert before in out['diff']['before'] and out['source_commit'] in out['diff']['after']
    assert emulator.state(dst['name'], 'dev')['code']['repo_head'] == before


def test_no_force_refuses_to_drop_target_commits(emulator, site_prefix, tmp_path):
    src, dst = _sites(emulator, site_prefix)
    before = emulator.state(dst['name'], 'dev')['code']['repo_head']
    res, out = run_module(emulator, tmp_path, 'code_push', {
        'overwrite': True, 'site': src['name'], 'target_site': dst['name'], 'force': False})
    assert res.rc != 0
    assert 'has commits that' in out['msg'] and 'force' in out['msg']
    assert emulator.state(dst['name'], 'dev')['code']['repo_head'] == before


def test_fast_forward_without_force_and_multidev_target(emulator, site_prefix, tmp_path):
    src, dst = _sites(emulator, site_prefix, target_envs=('dev', 'feature1'))
    # first bring the multidev to the source commit, then add a commit on the source: a fast-forward
    res, out = run_module(emulator, tmp_path, 'code_push', {
        'overwrite': True, 'site': src['name'], 'target_site': dst['name'], 'target_env': 'feature1'})
    assert res.rc == 0, res.output
    assert out['target_branch'] == 'feature1' and out['changed'] is True
    new_head = commit_change(emulator, src['id'], 'modules/custom/extra.txt', 'more\n')
    res, out = run_module(emulator, tmp_path, 'code_push', {
        'overwrite': True, 'site': src['name'], 'target_site': dst['name'], 'target_env': 'feature1', 'force': False})
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['target_commit']['after'] == new_head
    assert emulator.state(dst['name'], 'feature1')['code']['head'] == new_head


def test_bad_targets_fail_clearly(emulator, site_prefix, tmp_path):
    src, dst = _sites(emulator, site_prefix)
    res, out = run_module(emulator, tmp_path, 'code_push', {
        'overwrite': True, 'site': src['name'], 'target_site': dst['name'], 'target_env': 'live'})
    assert res.rc != 0 and 'test and live get their code by deployment' in out['msg']
    res, out = run_module(emulator, tmp_path, 'code_push', {
        'overwrite': True, 'site': src['name'], 'target_site': dst['name'], 'target_env': 'nosuch'})
    assert res.rc != 0 and 'has no nosuch environment' in out['msg']
    res, out = run_module(emulator, tmp_path, 'code_push', {'overwrite': True, 'site': src['name'], 'target_site': src['name']})
    assert res.rc != 0 and 'same branch of the same repository' in out['msg']
    assert 'Traceback' not in res.stdout + res.stderr
