# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test and live run a deploy tag (pantheon_live_N), often behind master: code_push, clone_verify
and the site_clone role take live's code from the tag, never from master (issue 10, point 4).

code_push and clone_verify run in-process against the emulator (real git over SSH to its
codeserver); one role run shows the whole clone carries the tag's tree and verifies against it."""

from __future__ import annotations

import json
import os
import time

from site_clone_helpers import clone_site, read_report
from transfer_helpers import commit_change, run_module, seed

ONLY_ON_MASTER = 'NOT_DEPLOYED.txt'


def _source_ahead_of_live(emulator, prefix, framework='drupal8'):
    """A source whose master has a commit that live (pantheon_live_1) does not run."""
    sites = seed(emulator, [
        {'name': prefix + 'src', 'framework': framework, 'envs': ['dev', 'test', 'live']},
        {'name': prefix + 'dst', 'framework': framework, 'envs': ['dev']},
    ])
    src, dst = sites[prefix + 'src'], sites[prefix + 'dst']
    ahead = commit_change(emulator, src['id'], ONLY_ON_MASTER, 'pushed to dev, never deployed\n')
    live = emulator.state(src['name'], 'live')['code']
    assert live['ref'] == 'refs/tags/pantheon_live_1'
    assert live['master_head'] == ahead != live['repo_head'] == live['head']
    assert not os.path.exists(os.path.join(emulator.state(src['name'], 'live')['paths']['code'], ONLY_ON_MASTER))
    return src, dst, live['repo_head'], ahead


def test_code_push_and_verify_use_the_live_tag_not_master(emulator, site_prefix, tmp_path):
    src, dst, tagged, ahead = _source_ahead_of_live(emulator, site_prefix)
    res, out = run_module(emulator, tmp_path, 'code_push',
                          dict(site=src['name'], env='live', target_site=dst['name'], target_env='dev', overwrite=True))
    assert res.rc == 0, res.output
    assert out['source_ref'] == 'refs/tags/pantheon_live_1'
    assert out['source_commit'] == tagged != ahead
    assert out['target_commit']['after'] == tagged
    state = emulator.state(dst['name'], 'dev')
    assert state['code']['head'] == tagged
    assert not os.path.exists(os.path.join(state['paths']['code'], ONLY_ON_MASTER))

    res, out = run_module(emulator, tmp_path, 'clone_verify',
                          dict(site=src['name'], env='live', target_site=dst['name'], target_env='dev',
                               elements=['code']))
    assert res.rc == 0, res.output
    code = out['elements']['code']
    assert code['match'] is True and code['source'] == {'commit': tagged, 'ref': 'refs/tags/pantheon_live_1'}
    # what a collection reading master would have compared: the commit that is not deployed
    res, out = run_module(emulator, tmp_path, 'clone_verify',
                          dict(site=src['name'], env='dev', target_site=dst['name'], target_env='dev',
                               elements=['code'], fail_on_mismatch=False))
    assert res.rc == 0, res.output
    code = out['elements']['code']
    assert code['match'] is False and code['source']['commit'] == ahead
    assert code['differences']['missing'] == [ONLY_ON_MASTER]

    # a newer deploy moves live to pantheon_live_2: the module follows the environment's target_ref
    api = emulator.api()
    for target in ('test', 'live'):
        wf = api.post('%s/sites/%s/environments/%s/workflows' % (emulator.api_url, src['id'], target),
                      json={'type': 'deploy', 'params': {'updatedb': 0, 'clear_cache': 0, 'annotation': 'ship'}},
                      timeout=30).json()
        emulator_wait(emulator, src['id'], wf['id'])
    res, out = run_module(emulator, tmp_path, 'code_push',
                          dict(site=src['name'], env='live', target_site=dst['name'], target_env='dev', overwrite=True))
    assert res.rc == 0, res.output
    assert out['source_ref'] == 'refs/tags/pantheon_live_2' and out['source_commit'] == ahead and out['changed']


def emulator_wait(emulator, site_id, wf_id):
    """Poll a workflow to its end."""
    api = emulator.api()
    deadline = time.monotonic() + 120
    while True:
        wf = api.get('%s/sites/%s/workflows/%s' % (emulator.api_url, site_id, wf_id), timeout=30).json()
        if wf.get('result') is not None:
            assert wf['result'] == 'succeeded', wf
            return wf
        assert time.monotonic() < deadline, wf
        time.sleep(0.05)


def test_code_push_from_a_live_never_deployed_fails_clearly(emulator, site_prefix, tmp_path):
    sites = seed(emulator, [
        {'name': site_prefix + 'raw', 'framework': 'drupal8', 'envs': {'dev': {}, 'live': {'initialized': False}}},
        {'name': site_prefix + 'to', 'framework': 'drupal8', 'envs': ['dev']},
    ])
    res, out = run_module(emulator, tmp_path, 'code_push', dict(site=site_prefix + 'raw', env='live',
                                                                target_site=site_prefix + 'to'))
    assert res.rc != 0
    assert 'no deployed code' in out['msg'] and 'pantheon_live_N' in out['msg'] and site_prefix + 'raw.live' in out['msg']
    assert 'Traceback' not in out['msg']
    assert emulator.state(sites[site_prefix + 'to']['name'], 'dev')['code']['head']


def test_role_clones_the_live_tag_and_verifies_against_it(emulator, site_prefix, tmp_path):
    src, _dst, tagged, _ahead = _source_ahead_of_live(emulator, site_prefix, framework='drupal8')
    target = site_prefix + 'copy'
    report_dir = tmp_path / 'reports'
    res = clone_site(emulator, tmp_path, src['name'], target, report_dir)
    assert res.rc == 0, res.output
    state = emulator.state(target, 'dev')
    assert not os.path.exists(os.path.join(state['paths']['code'], ONLY_ON_MASTER))
    report = read_report(report_dir, '%s.live-to-%s.dev' % (src['name'], target))
    assert report['verification']['status'] == 'match', report['verification']
    code = report['verification']['elements']['code']
    assert code['match'] is True and code['source'] == {'commit': tagged, 'ref': 'refs/tags/pantheon_live_1'}
    assert 'pantheon_live_1' in json.dumps(report)
