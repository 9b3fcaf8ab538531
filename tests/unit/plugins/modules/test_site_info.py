# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_info against the served stub API (no emulator needed): its logic in-process
(helpers.modules.call_module), and through the real ansible-playbook what only Ansible does
(module_defaults groups, loops, no_log of the token at -vvvv, the interpreter without requests)."""

from __future__ import annotations

import pytest

from stub_api import Reply

from helpers.ansible import run_playbook
from helpers.modules import call_module
from helpers.secrets import assert_no_secrets

SITE_ID = '22222222-2222-4222-8222-222222222222'
TOKEN = 'machine-token-MODULE-abcdef0123456789'

PLAY = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/pantheon.platform.pantheon:
      api_url: "{{ api_url }}"
  tasks:
    - name: look
      pantheon.platform.site_info:
        name: "{{ item }}"
      loop: "{{ names }}"
      register: out
'''


@pytest.fixture
def site_api(stub):
    stub.add('GET', 'site-names/alpha', Reply(200, {'id': SITE_ID, 'name': 'alpha'}))
    stub.add('GET', 'site-names/missing', Reply(404, 'A site named missing was not found.'))
    stub.add('GET', 'sites/' + SITE_ID, Reply(200, {
        'id': SITE_ID, 'name': 'alpha', 'label': 'Alpha', 'framework': 'drupal8', 'frozen': False,
        'holder_type': 'organization', 'holder_id': 'org-1', 'preferred_zone': 'us-central1',
        'upstream': {'product_id': 'up-1', 'label': 'Drupal 10', 'machine_name': 'drupal-10'}}))
    stub.add('GET', 'sites/%s/environments' % SITE_ID, Reply(200, {
        'dev': {'on_server_development': True, 'php_version': '82'},
        'live': {'php_version': '81'},
        'feature': {}}))
    stub.add('GET', r'sites/%s/environments/(dev|feature)/settings' % SITE_ID, Reply(200, {'drush_version': '12'}))
    stub.add('GET', 'sites/%s/environments/live/settings' % SITE_ID, Reply(200, {'is_initialized': False, 'drush_version': '8.4.12'}))
    stub.add('GET', 'sites/%s/environments/dev/domains' % SITE_ID, Reply(200, [
        {'id': 'dev-alpha.example.org', 'type': 'platform'}, {'id': 'www.example.org', 'type': 'custom'}]))
    stub.add('GET', r'sites/%s/environments/(live|feature)/domains' % SITE_ID, Reply(200, []))
    return stub


def env_for(stub, tmp_path, **extra):
    env = {'PANTHEON_MACHINE_TOKEN': TOKEN, 'PANTHEON_CACHE_DIR': str(tmp_path / 'cache'),
           'PANTHEON_API_URL': None, 'TERMINUS_MACHINE_TOKEN': None}
    env.update(extra)
    return env


@pytest.fixture
def look(site_api, tmp_path):
    """look(name, **env) -> site_info's result for ``name``, run in-process with ``env`` (env_for)."""
    def run(name, **extra):
        return call_module('site_info', {'name': name, 'api_url': site_api.api_url},
                           env=env_for(site_api, tmp_path, **extra))
    return run


def test_environments_option_describes_only_those(site_api, tmp_path):
    """environments: only the named environments are described (their settings and domains fetched); every id is
    in environment_ids; a name the site lacks is simply absent."""
    out = call_module('site_info', {'name': SITE_ID, 'api_url': site_api.api_url, 'environments': ['dev', 'nope']},
                      env=env_for(site_api, tmp_path))
    site = out['site']
    assert site['environment_ids'] == ['dev', 'feature', 'live']
    assert site['environments'] == {'dev': {
        'initialized': True, 'connection_mode': 'sftp', 'platform_domain': 'dev-alpha.example.org',
        'php_version': '82', 'drush_version': '12', 'drush_major': 12}}
    env_paths = [r.path for r in site_api.requests if '/environments/' in r.path]
    assert env_paths and all('/environments/dev/' in p for p in env_paths), env_paths
    # none described: the site and its environment ids only
    before = len(site_api.requests)
    out = call_module('site_info', {'name': SITE_ID, 'api_url': site_api.api_url, 'environments': []},
                      env=env_for(site_api, tmp_path))
    assert out['site']['environments'] == {} and out['site']['environment_ids'] == ['dev', 'feature', 'live']
    assert not [r.path for r in site_api.requests[before:] if '/environments/' in r.path]


@pytest.mark.parametrize('change', [{'frozen': True}, {'upstream': None}])
def test_ssh_check_leaves_out_what_a_caller_refuses(stub, tmp_path, change):
    """ssh_check does not try test/live of a frozen site nor a site with no upstream yet (the role's preflight refuses
    those with its own message after the lookup): no SSH is attempted (the SSH host would refuse it)."""
    site = {'id': SITE_ID, 'name': 'alpha', 'framework': 'drupal8', 'frozen': False,
            'upstream': {'product_id': 'up-1', 'label': 'Drupal 10'}}
    site.update(change)
    stub.add('GET', 'sites/' + SITE_ID, Reply(200, site))
    stub.add('GET', 'sites/%s/environments' % SITE_ID, Reply(200, {'dev': {}, 'live': {}}))
    stub.add('GET', r'sites/%s/environments/(dev|live)/settings' % SITE_ID, Reply(200, {'is_initialized': True}))
    stub.add('GET', r'sites/%s/environments/(dev|live)/domains' % SITE_ID, Reply(200, []))
    check = ['live'] if change.get('frozen') else ['dev', 'live']
    out = call_module('site_info', {'name': SITE_ID, 'api_url': stub.api_url, 'ssh_check': check,
                                    'ssh_host': '127.0.0.1', 'ssh_port': 1, 'environments': []},
                      env=env_for(stub, tmp_path))
    assert out.get('failed') is not True, out
    assert out['ssh_checked'] == [] and sorted(out['site']['environments']) == sorted(check)


def test_one_login_for_many_module_runs(site_api, look):
    # six module runs (each its own client, as each task is), one session
    for name in ['alpha', 'missing', 'alpha'] * 2:
        assert look(name).get('failed') is not True
    assert site_api.count('GET', r'site-names/.*') == 6
    assert site_api.logins == 1


def test_terminus_token_variable_is_a_fallback(site_api, look):
    out = look('alpha', PANTHEON_MACHINE_TOKEN=None, TERMINUS_MACHINE_TOKEN=TOKEN)
    assert out.get('failed') is not True, out
    assert site_api.matching('POST', 'authorize/machine-token')[0].body['machine_token'] == TOKEN


def test_missing_token_is_a_clear_error(site_api, look):
    out = look('alpha', PANTHEON_MACHINE_TOKEN=None)
    assert out['failed'] is True
    msg = out['msg']
    assert msg.startswith('No Pantheon machine token') and 'PANTHEON_MACHINE_TOKEN' in msg
    assert site_api.requests == []


def test_invalid_name_is_a_clear_error(site_api, look):
    out = look('Not A Site!')
    assert out['failed'] is True
    assert "'Not A Site!' is not a valid Pantheon site name" in out['msg']
    assert site_api.count('GET', r'site-names/.*') == 0


def test_api_errors_fail_cleanly_with_status(site_api, look):
    site_api.add('GET', 'site-names/broken', Reply(403, 'You are not allowed to see this'))
    result = look('broken')
    assert result['failed'] is True
    assert result['msg'] == 'GET site-names/broken failed with HTTP 403: You are not allowed to see this'
    assert result['status'] == 403


def test_site_info_through_ansible_playbook_at_vvvv(site_api, tmp_path):
    """One ansible-playbook run (-vvvv) for what only Ansible does: the group's module_defaults reach the
    module, a loop registers each result, and neither the token nor the session reaches the output, from
    an API error that echoes the token (redaction as well as no_log), nor when the token is a module option."""
    site_api.add('GET', 'site-names/echo', Reply(400, 'bad request for token %s' % TOKEN))
    play = PLAY + '''      ignore_errors: true
    - name: look with the token as an option
      pantheon.platform.site_info:
        name: alpha
        machine_token: "{{ tok }}"
      environment:
        PANTHEON_MACHINE_TOKEN: ""
      register: by_option
'''
    res = run_playbook(play, extra_vars={'api_url': site_api.api_url, 'names': ['alpha', SITE_ID, 'missing', 'echo'],
                                         'tok': TOKEN}, env=env_for(site_api, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    by_name, by_uuid, missing, _echo = res.task('look')['results']
    assert by_name['exists'] is True and by_name['changed'] is False
    site = by_name['site']
    assert site['id'] == SITE_ID and site['name'] == 'alpha' and site['label'] == 'Alpha'
    assert site['framework'] == 'drupal8' and site['frozen'] is False
    assert site['organization'] == 'org-1'
    assert site['upstream'] == {'id': 'up-1', 'label': 'Drupal 10', 'machine_name': 'drupal-10'}
    assert site['environments'] == {
        'dev': {'initialized': True, 'connection_mode': 'sftp', 'platform_domain': 'dev-alpha.example.org',
                'php_version': '82', 'drush_version': '12', 'drush_major': 12},
        'feature': {'initialized': True, 'connection_mode': 'git', 'platform_domain': None,
                    'php_version': None, 'drush_version': '12', 'drush_major': 12},
        # the collection parses the version once: playbooks compare numbers
        'live': {'initialized': False, 'connection_mode': 'git', 'platform_domain': None,
                 'php_version': '81', 'drush_version': '8.4.12', 'drush_major': 8},
    }
    assert by_uuid['site'] == site
    assert missing['exists'] is False and missing['site'] == {}
    # the five module runs of that playbook logged in once (the session is cached on disk, per token)
    assert site_api.logins == 1
    assert 'bad request for token ********' in res.stdout
    assert 'ok: [localhost] => {' in res.stdout.split('TASK [look with the token as an option]')[1]
    assert site_api.sessions, 'the module should have logged in'
    secrets = {'machine token': TOKEN}
    secrets.update(('session %d' % i, s) for i, s in enumerate(site_api.sessions))
    assert_no_secrets(res.stdout + res.stderr, secrets, where='ansible-playbook -vvvv output')


def _python_without_requests():
    import glob
    import subprocess
    for cand in sorted(glob.glob('/usr/bin/python3.1[0-9]')) + ['/usr/bin/python3']:
        probe = subprocess.run([cand, '-c', 'import sys; assert sys.version_info >= (3, 10); import requests'],
                               capture_output=True, check=False)
        if probe.returncode != 0 and b'requests' in probe.stderr:
            return cand
    return None


def test_missing_requests_names_the_library(site_api, tmp_path):
    python = _python_without_requests()
    if python is None:
        pytest.skip('no Python >= 3.10 without requests on this machine')
    res = run_playbook(PLAY, extra_vars={'api_url': site_api.api_url, 'names': ['alpha']},
                       env=env_for(site_api, tmp_path),
                       inventory='localhost ansible_connection=local ansible_python_interpreter=%s\n' % python)
    assert res.rc != 0
    msg = res.task('look')['results'][0]['msg']
    assert 'Failed to import the required Python library (requests)' in msg, msg
    assert site_api.requests == []
