# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin pantheon.platform.sites: real ansible-inventory with a real inventory file
against the emulator (filters, compose, keyed groups, caching, paging, errors, no token in output)."""

from __future__ import annotations

import json
import os
import subprocess

from helpers.ansible import VENV_BIN, ansible_env
from helpers.secrets import assert_no_secrets
from site_clone_helpers import last_request_id, requests_since
from transfer_helpers import play_env


def unsafe_free(value):
    """ansible-inventory --list marks values from plugins {"__ansible_unsafe": v}; the plain data."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, unsafe_free(v)) for k, v in value.items())
    if isinstance(value, list):
        return [unsafe_free(v) for v in value]
    return value


def write_inventory(tmp_path, text, name='sites.pantheon.yml'):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return str(path)


def run_inventory(emulator, tmp_path, path, env=None, args=('--list',)):
    full_env = play_env(emulator, tmp_path)
    full_env.update(env or {})
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-inventory'), '-i', path] + list(args),
                          env=ansible_env(full_env), cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=300, check=False)
    tokens = [emulator.machine_token] + [v for k, v in (env or {}).items() if 'TOKEN' in k and v]
    assert_no_secrets(proc.stdout + proc.stderr, tokens)
    return proc


def listing(emulator, tmp_path, path, **kwargs):
    proc = run_inventory(emulator, tmp_path, path, **kwargs)
    assert proc.returncode == 0, proc.stderr
    assert 'WARNING' not in proc.stderr, proc.stderr
    return unsafe_free(json.loads(proc.stdout))


def group_hosts(data, group):
    return sorted(data.get(group, {}).get('hosts', []))


def seed_org(emulator, prefix):
    org = prefix + 'agency'
    lazy = {'lazy': True, 'db': {'nodes': 2}, 'files': {'count': 1, 'size': 100}}
    sites = [
        dict(lazy, name=prefix + 'alpha', framework='drupal', org=org, tags=['migrate'], plan='Basic'),
        dict(lazy, name=prefix + 'bravo', framework='drupal8', org=org, tags=['migrate', 'eu'],
             envs=['dev', 'test', 'live', 'feature1']),
        dict(lazy, name=prefix + 'cold', framework='drupal', org=org, tags=['migrate'], frozen=True),
        dict(lazy, name=prefix + 'delta', framework='wordpress', org=org, plan='Performance Small'),
        dict(lazy, name=prefix + 'alpha-copy', framework='drupal', org=org, tags=['migrate']),
        dict(lazy, name=prefix + 'outsider', framework='drupal', tags=['migrate']),  # tags without an org: none
    ]
    seeded = emulator.seed({'seed': 15, 'orgs': [{'name': org.title(), 'machine_name': org}], 'sites': sites})
    return org, dict((s['name'][len(prefix):], s['id']) for s in seeded)


def test_filters_compose_and_keyed_groups(emulator, tmp_path, site_prefix):
    org, ids = seed_org(emulator, site_prefix)
    path = write_inventory(tmp_path, '''
plugin: pantheon.platform.sites
organization: %s
tags: [migrate]
name_pattern: '^(?!.*-copy$)'
compose:
  site_clone_source_site: pantheon_site_name
  site_clone_target_site: pantheon_site_name ~ '-copy'
  multidevs: pantheon_environments.keys() | difference(['dev', 'test', 'live']) | list
groups:
  frozen: pantheon_frozen
keyed_groups:
  - key: pantheon_framework
    prefix: framework
  - key: pantheon_tags
    prefix: tag
  - key: pantheon_plan | lower
    prefix: plan
''' % org)
    data = listing(emulator, tmp_path, path)
    hostvars = data['_meta']['hostvars']
    p = site_prefix
    # outsider is not in the organization, delta has no "migrate" tag, alpha-copy fails name_pattern
    assert sorted(hostvars) == [p + 'alpha', p + 'bravo', p + 'cold']
    bravo = hostvars[p + 'bravo']
    assert bravo['pantheon_site_id'] == ids['bravo']
    assert bravo['pantheon_framework'] == 'drupal8'
    assert bravo['pantheon_organization'] == org and bravo['pantheon_organization_id']
    assert bravo['pantheon_tags'] == ['eu', 'migrate']
    assert bravo['pantheon_plan'] == 'Sandbox' and hostvars[p + 'alpha']['pantheon_plan'] == 'Basic'
    assert bravo['pantheon_upstream']['machine_name'] and bravo['pantheon_upstream']['id']
    assert sorted(bravo['pantheon_environments']) == ['dev', 'feature1', 'live', 'test']
    assert bravo['pantheon_environments']['dev'] == {'initialized': True, 'connection_mode': 'git',
                                                     'php_version': bravo['pantheon_environments']['dev']['php_version']}
    assert bravo['site_clone_target_site'] == p + 'bravo-copy' and bravo['multidevs'] == ['feature1']
    assert hostvars[p + 'cold']['pantheon_frozen'] is True
    assert group_hosts(data, 'frozen') == [p + 'cold']
    assert group_hosts(data, 'framework_drupal') == [p + 'alpha', p + 'cold']
    assert group_hosts(data, 'tag_eu') == [p + 'bravo']
    assert group_hosts(data, 'plan_basic') == [p + 'alpha']

    path = write_inventory(tmp_path, '''
plugin: pantheon.platform.sites
organization: [%s]
framework: [wordpress, drupal8]
plan: [performance small]
environments: false
''' % org)
    data = listing(emulator, tmp_path, path)
    assert sorted(data['_meta']['hostvars']) == [p + 'delta']
    assert 'pantheon_environments' not in data['_meta']['hostvars'][p + 'delta']


def test_user_and_organization_memberships_each_site_once(emulator, tmp_path, site_prefix):
    """Without organization: the user's site memberships plus every organization's sites, each once."""
    _org, ids = seed_org(emulator, site_prefix)
    path = write_inventory(tmp_path, '''
plugin: pantheon.platform.sites
name_pattern: '^%s'
''' % site_prefix)
    since = last_request_id(emulator)
    data = listing(emulator, tmp_path, path)
    names = sorted(n[len(site_prefix):] for n in data['_meta']['hostvars'])
    assert names == ['alpha', 'alpha-copy', 'bravo', 'cold', 'delta', 'outsider']
    assert data['_meta']['hostvars'][site_prefix + 'outsider']['pantheon_organization'] is None
    assert data['_meta']['hostvars'][site_prefix + 'outsider']['pantheon_tags'] == []
    paths = [r['path'] for r in requests_since(emulator, since)]
    assert any(p.startswith('/api/users/') and p.endswith('/memberships/sites') for p in paths), paths
    # every site is a direct membership (owner) and an organization site too, yet read once
    for site_id in ids.values():
        assert paths.count('/api/sites/%s/environments' % site_id) == 1, (site_id, paths)

    # another user who is a member of one site only sees that one
    other = emulator.add_user(site_prefix + 'other@example.com', sites=[ids['delta']])
    other_env = {'PANTHEON_MACHINE_TOKEN': other['machine_token'], 'PANTHEON_CACHE_DIR': str(tmp_path / 'other-cache')}
    data = listing(emulator, tmp_path, path, env=other_env)
    assert sorted(data['_meta']['hostvars']) == [site_prefix + 'delta']


def test_organization_sites_are_paged(emulator, tmp_path, site_prefix):
    org = site_prefix + 'big'
    emulator.seed({'seed': 15, 'orgs': [{'name': org, 'machine_name': org}],
                   'sites': [{'name': '%ss%03d' % (site_prefix, i), 'org': org, 'lazy': True,
                              'framework': 'drupal'} for i in range(105)]})
    path = write_inventory(tmp_path, 'plugin: pantheon.platform.sites\norganization: %s\nenvironments: false\n' % org)
    since = last_request_id(emulator)
    data = listing(emulator, tmp_path, path)
    assert len(data['_meta']['hostvars']) == 105
    pages = [r for r in requests_since(emulator, since) if r['path'].startswith('/api/organizations/')]
    assert len(pages) == 2, pages


def test_cache_holds_no_token_and_saves_the_listing(emulator, tmp_path, site_prefix):
    org, _ids = seed_org(emulator, site_prefix)
    cache_dir = tmp_path / 'inventory-cache'
    path = write_inventory(tmp_path, '''
plugin: pantheon.platform.sites
organization: %s
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: %s
cache_timeout: 3600
''' % (org, cache_dir))
    since = last_request_id(emulator)
    first = listing(emulator, tmp_path, path)
    assert len(first['_meta']['hostvars']) == 5
    api_calls = len([r for r in requests_since(emulator, since) if r['path'].startswith('/api/')])
    assert api_calls > 0
    cached = ''.join(f.read_text(encoding='utf-8') for f in cache_dir.iterdir())
    assert site_prefix + 'bravo' in cached
    assert emulator.machine_token not in cached
    sessions = []
    for f in (tmp_path / 'pantheon-cache').rglob('*.json'):
        sessions.append(json.loads(f.read_text(encoding='utf-8'))['session'])
    assert sessions and not [s for s in sessions if s in cached]

    since = last_request_id(emulator)
    second = listing(emulator, tmp_path, path)
    assert second == first
    assert [r for r in requests_since(emulator, since) if r['path'].startswith('/api/')] == []

    # another token never reads this token's cached sites
    other = emulator.add_user(site_prefix + 'cache@example.com', sites=[])
    proc = run_inventory(emulator, tmp_path, path, env={'PANTHEON_MACHINE_TOKEN': other['machine_token'],
                                                        'PANTHEON_CACHE_DIR': str(tmp_path / 'other-cache')})
    assert 'No organization' in proc.stderr, proc.stderr

    # --flush-cache reads the API again
    since = last_request_id(emulator)
    listing(emulator, tmp_path, path, args=('--list', '--flush-cache'))
    assert [r for r in requests_since(emulator, since) if r['path'].startswith('/api/organizations/')]


def test_bad_token_bad_options_clear_errors(emulator, tmp_path):
    path = write_inventory(tmp_path, 'plugin: pantheon.platform.sites\n')
    strict = {'ANSIBLE_INVENTORY_UNPARSED_FAILED': '1'}
    wrong = 'not-a-valid-token-' + 'x' * 20
    proc = run_inventory(emulator, tmp_path, path, env=dict(strict, PANTHEON_MACHINE_TOKEN=wrong))
    assert proc.returncode != 0
    assert 'pantheon.platform.sites: The machine token was refused' in proc.stderr, proc.stderr
    assert 'Traceback' not in proc.stderr

    no_token = dict(strict, PANTHEON_MACHINE_TOKEN=None, TERMINUS_MACHINE_TOKEN=None)
    proc = run_inventory(emulator, tmp_path, path, env=no_token)
    assert proc.returncode != 0 and 'no Pantheon machine token' in proc.stderr, proc.stderr

    path = write_inventory(tmp_path, "plugin: pantheon.platform.sites\nname_pattern: '(unclosed'\n")
    proc = run_inventory(emulator, tmp_path, path, env=strict)
    assert proc.returncode != 0 and 'name_pattern' in proc.stderr and 'Traceback' not in proc.stderr, proc.stderr

    path = write_inventory(tmp_path, 'plugin: pantheon.platform.sites\norganization: nobody-here\n')
    proc = run_inventory(emulator, tmp_path, path, env=strict)
    assert proc.returncode != 0 and "No organization 'nobody-here'" in proc.stderr, proc.stderr

    # TERMINUS_MACHINE_TOKEN is read when PANTHEON_MACHINE_TOKEN is not set
    proc = run_inventory(emulator, tmp_path, write_inventory(tmp_path, 'plugin: pantheon.platform.sites\n'),
                         env=dict(strict, PANTHEON_MACHINE_TOKEN=None, TERMINUS_MACHINE_TOKEN=emulator.machine_token),
                         args=('--graph',))
    assert proc.returncode == 0, proc.stderr
