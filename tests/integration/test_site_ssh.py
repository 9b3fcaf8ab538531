# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_ssh against the emulator's real SSH server: host key checking, quoting, rsync -e, git."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.pantheon.platform.plugins.module_utils._ssh import (
    appserver_target,
    codeserver_target,
    describe_failure,
    remote_command,
)


@pytest.fixture
def ssh_site(emulator, site_prefix, tmp_path):
    name = site_prefix + 'ssh'
    site = emulator.seed({'sites': [{'name': name, 'framework': 'drupal8', 'upstream': 'drupal10', 'envs': ['dev'],
                                     'db': {'nodes': 3}}]})[0]
    params = {'ssh_host': emulator.ssh_host, 'ssh_port': emulator.ssh_port,
              'ssh_private_key': emulator.ssh_private_key,
              'ssh_known_hosts': str(tmp_path / 'kh' / 'known_hosts')}
    return site, params


def ssh(target, argv, **kwargs):
    return subprocess.run(target.ssh_argv() + [remote_command(argv)], capture_output=True, text=True, timeout=120,
                          check=False, **kwargs)


def test_unknown_host_key_is_recorded_and_a_changed_one_refused(ssh_site, tmp_path):
    site, params = ssh_site
    target = appserver_target(params, site['id'], 'dev')
    assert target.user == 'appserver.dev.%s' % site['id']
    known_hosts = params['ssh_known_hosts']
    assert not os.path.exists(known_hosts)

    first = ssh(target, ['drush', 'sqlq', 'SELECT 1'])
    assert first.returncode == 0, first.stderr
    host_entry = '[%s]:%s' % (params['ssh_host'], params['ssh_port'])
    found = subprocess.run(['ssh-keygen', '-F', host_entry, '-f', known_hosts], capture_output=True, text=True, check=False)
    assert found.returncode == 0 and 'ssh-ed25519' in found.stdout, 'host key not recorded'

    # a second connection with the recorded key works without any prompt
    assert ssh(target, ['drush', 'sqlq', 'SELECT 1']).returncode == 0

    # the server now presents a key other than the recorded one: refused
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp_path / 'fake')], check=True)
    fake = open(str(tmp_path / 'fake.pub'), encoding='utf-8').read().split()
    with open(known_hosts, 'w', encoding='utf-8') as f:
        f.write('%s %s %s\n' % (host_entry, fake[0], fake[1]))
    refused = ssh(target, ['drush', 'sqlq', 'SELECT 1'])
    assert refused.returncode == 255
    msg = describe_failure(target, refused.returncode, refused.stderr)
    assert 'refusing to connect' in msg and known_hosts in msg, msg
    # and the known key was not replaced behind our back
    assert fake[1] in open(known_hosts, encoding='utf-8').read()


def test_remote_arguments_survive_quoting(ssh_site):
    site, params = ssh_site
    target = appserver_target(params, site['id'], 'dev')
    tricky = "it's a \"quoted\" $HOME `x` ; echo no"
    query = "SELECT '%s'" % tricky.replace("'", "''")
    assert remote_command(['drush', 'sqlq', query]).startswith("drush sqlq 'SELECT ")
    out = ssh(target, ['drush', 'sqlq', query])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == tricky


def test_rsync_and_git_use_the_same_ssh_settings(ssh_site, tmp_path):
    site, params = ssh_site
    target = appserver_target(params, site['id'], 'dev')
    src = tmp_path / 'up'
    src.mkdir()
    (src / 'foundation probe.txt').write_text('hello from the foundation tests\n')
    up = subprocess.run(['rsync', '-rlz', '--temp-dir=~/tmp/', '-e', target.rsh(), str(src) + '/',
                         target.rsync_remote('files/probe/')], capture_output=True, text=True, timeout=120, check=False)
    assert up.returncode == 0, up.stderr
    back = tmp_path / 'back'
    down = subprocess.run(['rsync', '-rlz', '-e', target.rsh(), target.rsync_remote('files/probe/'), str(back) + '/'],
                          capture_output=True, text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stderr
    assert (back / 'foundation probe.txt').read_text() == 'hello from the foundation tests\n'

    code, url = codeserver_target(params, site['id'])
    assert url == 'ssh://codeserver.dev.%s@%s:%s/~/repository.git' % (site['id'], params['ssh_host'], params['ssh_port'])
    env = dict(os.environ)
    env.update(code.git_env())
    refs = subprocess.run(['git', 'ls-remote', url], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert refs.returncode == 0, refs.stderr
    assert 'refs/heads/master' in refs.stdout
