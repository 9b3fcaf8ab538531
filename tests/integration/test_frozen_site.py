# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A frozen site is refused before anything is posted (issue 10, point 7a): each module that writes
(in-process against the emulator) and the site_clone role (through ansible-playbook).

Terminus refuses backup:create, import:database, env:clear-cache, env:deploy and most env commands
on a frozen site (SiteAwareTrait::requireSiteIsNotFrozen); its test and live are unavailable."""

from __future__ import annotations

import pytest

from site_clone_helpers import clone_site, last_request_id, read_report, requests_since, writes_since
from transfer_helpers import run_module, seed

# module -> (its arguments, with FROZEN / OTHER standing for the frozen site and a normal one)
WRITERS = {
    'backup': dict(site='FROZEN', env='dev'),
    'cache_clear': dict(site='FROZEN', env='dev'),
    'site_import': dict(site='FROZEN', env='dev', kind='database', url='https://example.com/db.sql.gz'),
    'files_sync': dict(site='FROZEN', env='dev', backup=dict(site='OTHER', env='live')),
    'database_stream': dict(site='FROZEN', env='dev', backup=dict(site='OTHER', env='live')),
    'wp_search_replace': dict(site='FROZEN', env='dev', search='https://old.example.com', replace='https://new.example.com'),
    'archive': dict(site='FROZEN', env='live'),
    'code_push': dict(site='OTHER', env='live', target_site='FROZEN', target_env='dev'),
}


@pytest.fixture(scope='module')
def frozen_pair(emulator):
    prefix = 'frz%s-' % emulator.pid
    sites = seed(emulator, [
        {'name': prefix + 'cold', 'framework': 'drupal', 'envs': ['dev', 'test', 'live'], 'frozen': True},
        {'name': prefix + 'warm', 'framework': 'drupal', 'envs': ['dev', 'test', 'live'],
         'backups': [{'env': 'live', 'elements': ['database', 'files']}]},
    ], seed_value=3)
    return sites[prefix + 'cold'], sites[prefix + 'warm']


def _args(spec, frozen, other):
    names = {'FROZEN': frozen['name'], 'OTHER': other['name']}
    out = {}
    for key, value in spec.items():
        if isinstance(value, dict):
            out[key] = _args(value, frozen, other)
        else:
            out[key] = names.get(value, value)
    return out


@pytest.mark.parametrize('check_mode', [False, True], ids=['run', 'check'])
@pytest.mark.parametrize('module', sorted(WRITERS))
def test_writing_modules_refuse_a_frozen_site_before_posting(emulator, frozen_pair, tmp_path, module, check_mode):
    frozen, other = frozen_pair
    since = last_request_id(emulator)
    res, out = run_module(emulator, tmp_path, module, _args(WRITERS[module], frozen, other), check=check_mode)
    assert res.rc != 0, res.output
    assert 'Site %s is frozen' % frozen['name'] in out['msg'], out['msg']
    assert 'unfreeze' in out['msg'] and 'Traceback' not in out['msg']
    # nothing was posted, nothing ran over SSH: only reads of the API (and the login)
    seen = requests_since(emulator, since)
    assert writes_since(emulator, since) == []
    assert [r for r in seen if r['channel'] == 'ssh'] == []


def test_a_normal_site_is_not_refused(emulator, frozen_pair, tmp_path):
    _frozen, other = frozen_pair
    res, out = run_module(emulator, tmp_path, 'cache_clear', dict(site=other['name'], env='dev'))
    assert res.rc == 0 and out['changed'], res.output


def test_role_refuses_a_frozen_target_before_anything_is_posted(emulator, frozen_pair, tmp_path):
    frozen, other = frozen_pair
    report_dir = tmp_path / 'reports'
    since = last_request_id(emulator)
    res = clone_site(emulator, tmp_path, other['name'], frozen['name'], report_dir)
    assert res.rc != 0
    report = read_report(report_dir, '%s.live-to-%s.dev' % (other['name'], frozen['name']))
    message = (report.get('error') or {}).get('message', '')
    assert 'The target site %s is frozen' % frozen['name'] in message, report
    assert writes_since(emulator, since) == []
