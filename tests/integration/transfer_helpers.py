# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the integration tests of code_push, files_sync, database_stream and clone_verify.

Everything goes through the emulator's real interfaces: the API, OpenSSH, git and rsync.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile

from helpers.ansible import run_playbook
from helpers.modules import run_module_main

MODULE_TASK = '''
- hosts: localhost
  gather_facts: false
  tasks:
{tasks}
'''


def play_env(emulator, tmp_path):
    """Environment for ansible-playbook: the emulator's PANTHEON_* plus a private cache dir."""
    env = dict(emulator.env)
    env['PANTHEON_CACHE_DIR'] = str(tmp_path / 'pantheon-cache')
    env['PANTHEON_RETRY_BASE_DELAY'] = '0.1'
    # the emulator's workflows finish in moments: poll them every 0.2s at first, not every second
    env['PANTHEON_POLL_INTERVAL'] = '0.2'
    return env


def task_yaml(name, module, args, extra=''):
    """One task (indented for MODULE_TASK) that registers ``out``."""
    lines = ['    - name: %s' % name, '      pantheon.platform.%s:' % module]
    for key, value in args.items():
        lines.append('        %s: %s' % (key, _yaml(value)))
    lines.append('      register: out')
    if extra:
        lines.extend('      ' + line for line in extra.strip().splitlines())
    return '\n'.join(lines)


def _yaml(value):
    return json.dumps(value)


def run_tasks(emulator, tmp_path, tasks, **kwargs):
    """Run a playbook made of ``tasks`` ([(name, module, args)]); returns the PlaybookResult."""
    body = '\n'.join(task_yaml(*task) for task in tasks)
    env = play_env(emulator, tmp_path)
    env.update(kwargs.pop('env', None) or {})
    return run_playbook(MODULE_TASK.format(tasks=body), env=env, **kwargs)


class ModuleRun:
    """What run_module returns in place of a PlaybookResult for a module run in-process: ``rc``,
    ``stdout`` (the result as ansible-playbook prints it: without the invocation), ``stderr`` (what
    the module wrote there), ``output`` (all of it, for assertion messages)."""

    def __init__(self, result, stderr):
        self.result = result
        self.rc = 1 if result.get('failed') else 0
        self.stdout = json.dumps(dict((k, v) for k, v in result.items() if k != 'invocation'), indent=1, sort_keys=True)
        self.stderr = stderr
        self.output = 'rc=%s\n--- stdout\n%s\n--- stderr\n%s' % (self.rc, self.stdout, self.stderr)


def run_module(emulator, tmp_path, module, args, check=False, diff=False, **kwargs):
    """Run one module; returns (result holder with ``rc`` and ``output``, the module's result or None).

    The module runs in the test process (helpers.modules.call_module) against the emulator, with
    check mode and diff passed as Ansible passes them. With ``ansible=True``, or any argument of
    run_playbook (``verbosity`` for what a user sees at -vvvv, ``inventory`` for another
    interpreter), it runs through ansible-playbook as a task named ``step`` (what each module family
    keeps to prove the Ansible side: argument spec, action plugin, check mode).
    """
    if kwargs.pop('ansible', False) or kwargs:
        res = run_tasks(emulator, tmp_path, [('step', module, args)], check=check, diff=diff, **kwargs)
        try:
            return res, res.task('step')
        except KeyError:
            return res, None
    out, _stdout, stderr = run_module_main(module, args, env=play_env(emulator, tmp_path), check_mode=check, diff=diff)
    return ModuleRun(out, stderr), out


def seed(emulator, sites, seed_value=1):
    """Seed sites; returns {name: {id, name, framework, envs}}."""
    return dict((s['name'], s) for s in emulator.seed({'seed': seed_value, 'sites': sites}))


def ssh_argv(emulator, site_id, env, user_kind='appserver'):
    user = ('appserver.%s.%s' % (env, site_id)) if user_kind == 'appserver' else 'codeserver.dev.%s' % site_id
    return ['ssh', '-T', '-p', str(emulator.ssh_port), '-i', emulator.ssh_private_key, '-o', 'BatchMode=yes',
            '-o', 'IdentitiesOnly=yes', '-o', 'UserKnownHostsFile=%s' % emulator.known_hosts,
            '-o', 'StrictHostKeyChecking=accept-new', '%s@%s' % (user, emulator.ssh_host)]


def rsh(emulator):
    return ' '.join(shlex.quote(a) for a in ssh_argv(emulator, 'x', 'dev')[:-1])


def remote(emulator, site_id, env, argv, data=None, check=True):
    """Run a command on an environment over SSH (quoted as Terminus does); returns stdout text."""
    line = ' '.join(shlex.quote(a) for a in argv)
    proc = subprocess.run(ssh_argv(emulator, site_id, env) + [line], input=data, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('remote %s failed (%d): %s' % (line, proc.returncode, proc.stderr.decode(errors='replace')))
    return proc.stdout.decode('utf-8', 'replace')


def sql(emulator, site, env, query):
    """Run one SQL statement with the site's own tool."""
    if site['framework'] == 'wordpress':
        return remote(emulator, site['id'], env, ['wp', 'db', 'query', query])
    if site['framework'] == 'drupal':
        return remote(emulator, site['id'], env, ['drush', 'sql-query', query])
    return remote(emulator, site['id'], env, ['drush', 'sql:query', query])


def upload_file(emulator, site_id, env, rel_path, data):
    """Write one file under the environment's files/ with rsync over SSH."""
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, rel_path)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, 'wb') as handle:
            handle.write(data)
        subprocess.run(['rsync', '-rR', '--temp-dir=~/tmp/', '-e', rsh(emulator), './' + rel_path,
                        'appserver.%s.%s@%s:files/' % (env, site_id, emulator.ssh_host)],
                       cwd=tmp, check=True, capture_output=True)


def git_env(emulator):
    env = dict(os.environ)
    env.update(GIT_SSH_COMMAND=rsh(emulator), GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@example.com',
               GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@example.com', GIT_TERMINAL_PROMPT='0')
    return env


def repo_url(emulator, site_id):
    return 'ssh://codeserver.dev.%s@%s:%s/~/repository.git' % (site_id, emulator.ssh_host, emulator.ssh_port)


def commit_change(emulator, site_id, rel_path, text, branch='master'):
    """Clone the site's repository, change one file, commit and push; returns the new commit."""
    env = git_env(emulator)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(['git', 'clone', '-q', '--branch', branch, repo_url(emulator, site_id), tmp], env=env,
                       check=True, capture_output=True)
        path = os.path.join(tmp, rel_path)
        os.makedirs(os.path.dirname(path) or tmp, exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
        subprocess.run(['git', 'add', rel_path], cwd=tmp, env=env, check=True, capture_output=True)
        subprocess.run(['git', 'commit', '-q', '-m', 'change %s' % rel_path], cwd=tmp, env=env, check=True,
                       capture_output=True)
        subprocess.run(['git', 'push', '-q', 'origin', branch], cwd=tmp, env=env, check=True, capture_output=True)
        return subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=tmp, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()


def api_post(emulator, path, body):
    session = emulator.api()
    resp = session.post('%s/%s' % (emulator.api_url, path), json=body, timeout=60)
    resp.raise_for_status()
    return resp.json()


def latest_backup(emulator, site_id, env, element):
    """(folder, signed url) of the newest finished archive of ``element``."""
    session = emulator.api()
    catalog = session.get('%s/sites/%s/environments/%s/backups/catalog' % (emulator.api_url, site_id, env),
                          timeout=60).json()
    keys = sorted(k for k, v in catalog.items() if k.endswith('_' + element) and v.get('filename'))
    folder = catalog[keys[-1]]['folder']
    url = api_post(emulator, 'sites/%s/environments/%s/backups/catalog/%s/%s/s3token' % (site_id, env, folder, element),
                   {'method': 'get'})['url']
    return folder, url
