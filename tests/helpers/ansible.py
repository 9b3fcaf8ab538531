# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the real ``ansible-playbook`` from .venv against this checkout of the collection.

    from helpers.ansible import run_playbook
    res = run_playbook('''
    - hosts: localhost
      gather_facts: false
      tasks:
        - name: look
          pantheon.platform.site_info:
            name: "{{ site }}"
          register: out
    ''', extra_vars={'site': 'alpha'}, env=emulator_env)
    assert res.rc == 0, res.output
    assert res.task('look')['exists']

See tests/helpers/README.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time

from helpers.secrets import scan_run

__all__ = ['REPO', 'PlaybookResult', 'run_playbook', 'collections_path', 'ansible_env']

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The virtualenv of the interpreter running the tests (.venv, or .venv-<version> under hacking/matrix.sh),
# so that the ansible-playbook run is the ansible-core under test.
VENV_BIN = os.path.dirname(sys.executable) if os.path.exists(os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')) \
    else os.path.join(REPO, '.venv', 'bin')
PYTHON = os.path.join(VENV_BIN, 'python')
TMP = os.path.join(REPO, '.tmp')
# Every run is made at -vvvv with Ansible's log file, and scanned for secrets afterwards (scan_run).
SCAN_VERBOSITY = 4
REPORT_DIR_VAR = re.compile(r'site_clone_report_dir["\']?\s*[:=]\s*["\']?([^"\'\s,}]+)')


def collections_path():
    """A collections root where ansible_collections/pantheon/platform is this checkout (symlink in .tmp/)."""
    root = os.path.join(TMP, 'collections')
    parent = os.path.join(root, 'ansible_collections', 'pantheon')
    link = os.path.join(parent, 'platform')
    os.makedirs(parent, exist_ok=True)
    if os.path.realpath(link) != os.path.realpath(REPO):
        tmp_link = '%s.%d' % (link, os.getpid())
        try:
            os.symlink(REPO, tmp_link)
            os.replace(tmp_link, link)
        except OSError:
            if os.path.lexists(tmp_link):
                os.unlink(tmp_link)
            if os.path.realpath(link) != os.path.realpath(REPO):
                raise
    return root


CALLBACK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins')


def ansible_env(env=None, results_file=None):
    """The environment ansible-playbook runs with (os.environ + our settings + ``env``).

    With ``results_file``, the test-only callback pantheon_test_results writes every task result there.
    """
    full = dict(os.environ)
    full.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_path(),
        'ANSIBLE_PYTHON_INTERPRETER': PYTHON,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'ANSIBLE_HOST_KEY_CHECKING': '0',
        'PATH': VENV_BIN + os.pathsep + os.environ.get('PATH', ''),
    })
    full.pop('ANSIBLE_STDOUT_CALLBACK', None)
    if results_file:
        full['ANSIBLE_CALLBACK_PLUGINS'] = CALLBACK_DIR
        full['ANSIBLE_CALLBACKS_ENABLED'] = 'pantheon_test_results'
        full['PANTHEON_TEST_RESULTS_FILE'] = results_file
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = str(value)
    return full


class PlaybookResult:
    """rc, stdout, stderr (default callback); ``data``: every task result (test callback); results by name."""

    def __init__(self, rc, stdout, stderr, cmd, results_file=None):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.cmd = cmd
        self.data = None
        if results_file and os.path.exists(results_file):
            with open(results_file, encoding='utf-8') as f:
                self.data = json.load(f)

    @property
    def output(self):
        """stdout + stderr, handy in assertion messages."""
        return 'rc=%s\n--- stdout\n%s\n--- stderr\n%s' % (self.rc, self.stdout, self.stderr)

    @property
    def tasks(self):
        """[{name, host, status (ok/failed/skipped/unreachable), result}] in run order."""
        return (self.data or {}).get('tasks', [])

    def task(self, name, host='localhost'):
        """The result dict of the last task called ``name`` on ``host`` (KeyError if it did not run)."""
        for entry in reversed(self.tasks):
            if entry['name'] == name and entry['host'] == host:
                return entry['result']
        raise KeyError('task %r did not run on %s; ran: %s' % (name, host, [t['name'] for t in self.tasks]))

    def results(self, name):
        """{host: result} of every host that ran the task called ``name``."""
        return dict((t['host'], t['result']) for t in self.tasks if t['name'] == name)

    @property
    def stats(self):
        return (self.data or {}).get('stats', {})


def report_dirs(extra_vars=None, inventory_text='', env=None):
    """The report directories a run of the site_clone role writes to (its extra vars, inventory, environment)."""
    found = []
    if isinstance(extra_vars, dict) and extra_vars.get('site_clone_report_dir'):
        found.append(str(extra_vars['site_clone_report_dir']))
    found.extend(REPORT_DIR_VAR.findall(inventory_text or ''))
    if (env or {}).get('PANTHEON_CLONE_REPORT_DIR'):
        found.append(env['PANTHEON_CLONE_REPORT_DIR'])
    return found


def run_playbook(playbook, extra_vars=None, env=None, check=False, verbosity=0, inventory=None,
                 diff=False, timeout=900, args=None, scan=True):
    """Run ansible-playbook; returns a PlaybookResult (never raises on a failed play, but raises
    AssertionError when its output, Ansible's log, its results or its reports hold a secret).

    playbook   -- YAML text, or a path to a playbook file
    extra_vars -- dict passed with ``-e @file`` (types kept)
    env        -- extra environment variables (value None removes one)
    check/diff -- add --check / --diff
    verbosity  -- number of -v
    inventory  -- inventory text (INI/YAML) or a path; default: localhost with the local connection
    args       -- more command-line arguments
    scan       -- run at -vvvv at least (SCAN_VERBOSITY) with Ansible's log file, then scan
                  stdout, stderr, the log, every task result and the report directories for the
                  machine token and what the emulator issued during the run (helpers.secrets.scan_run);
                  False only for benchmarks, where -vvvv would distort what is measured
    """
    os.makedirs(TMP, exist_ok=True)
    work = tempfile.mkdtemp(prefix='play-', dir=TMP)
    if os.path.exists(str(playbook)) and '\n' not in str(playbook):
        play_path = os.path.abspath(playbook)
    else:
        play_path = os.path.join(work, 'playbook.yml')
        with open(play_path, 'w', encoding='utf-8') as f:
            f.write(playbook)
    if inventory is None:
        inventory = 'localhost ansible_connection=local ansible_python_interpreter=%s\n' % PYTHON
    if '\n' in inventory or not os.path.exists(inventory):
        inv_path = os.path.join(work, 'inventory.ini' if not inventory.lstrip().startswith(('all:', '---')) else 'inventory.yml')
        with open(inv_path, 'w', encoding='utf-8') as f:
            f.write(inventory)
    else:
        inv_path = inventory
    cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inv_path, play_path]
    if extra_vars:
        vars_path = os.path.join(work, 'extra_vars.json')
        with open(vars_path, 'w', encoding='utf-8') as f:
            json.dump(extra_vars, f)
        cmd += ['-e', '@' + vars_path]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    if scan:
        verbosity = max(verbosity, SCAN_VERBOSITY)
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    cmd += list(args or [])
    results_file = os.path.join(work, 'results.json')
    full_env = ansible_env(env, results_file=results_file)
    log_path = os.path.join(work, 'ansible.log')
    if scan:
        full_env['ANSIBLE_LOG_PATH'] = log_path
    since = time.time() - 1
    proc = subprocess.run(cmd, env=full_env, cwd=work, capture_output=True, text=True, timeout=timeout, check=False)
    if scan:
        with open(inv_path, encoding='utf-8', errors='replace') as f:
            inventory_text = f.read()
        scan_run(full_env, since, {'stdout': proc.stdout, 'stderr': proc.stderr},
                 [log_path, results_file, os.path.join(work, 'clone-reports')]
                 + report_dirs(extra_vars, inventory_text, full_env), label=os.path.basename(play_path))
    return PlaybookResult(proc.returncode, proc.stdout, proc.stderr, cmd, results_file)
