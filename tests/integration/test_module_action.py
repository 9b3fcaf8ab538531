# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's modules run in-process on the controller (plugin_utils/_module_action.py), through the real
ansible-playbook: the same results as the usual AnsiballZ run, the task's ``environment`` applied to that task
alone, deprecations shown once, and the usual run wherever in-process would not be the same (another interpreter,
``PANTHEON_MODULES_IN_PROCESS=false``). -vvvv tells the two apart: only the usual run puts an
``AnsiballZ_<module>.py`` on the host."""

from __future__ import annotations

import json
import os
import re

from helpers.ansible import PYTHON, run_playbook
from site_clone_helpers import last_request_id

# The run's environment says PANTHEON_CONNECT_TIMEOUT=0, which a module refuses before it reaches the API; a task
# that passes connect_timeout, or sets the variable with the environment keyword, goes on.
PLAY = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
    {'name': 'look', 'pantheon.platform.site_info': {'name': '{{ site }}', 'environments': ['dev'],
                                                      'connect_timeout': 30}},
    {'name': 'look with the environment keyword', 'pantheon.platform.site_info': {'name': '{{ site }}'},
     'environment': {'PANTHEON_CONNECT_TIMEOUT': '30'}},
    {'name': 'look without it', 'pantheon.platform.site_info': {'name': '{{ site }}'}, 'ignore_errors': True},
    {'name': 'a deprecated alias', 'pantheon.platform.clone_verify': {
        'site': '{{ site }}', 'env': 'dev', 'target_site': '{{ site }}-absent', 'target_env': 'dev', 'timeout': 5,
        'connect_timeout': 30}, 'ignore_errors': True},
    {'name': 'check mode', 'pantheon.platform.cache_clear': {'site': '{{ site }}', 'env': 'dev', 'connect_timeout': 30},
     'check_mode': True},
    # async is Ansible's own wrapper around a module started on the host: always the usual way
    {'name': 'async', 'pantheon.platform.cache_clear': {'site': '{{ site }}', 'env': 'dev', 'connect_timeout': 30},
     'check_mode': True, 'async': 60, 'poll': 1},
]}]


def _run(emulator, tmp_path, site, env=None, inventory=None):
    values = dict(emulator.env, PANTHEON_CACHE_DIR=str(tmp_path / 'cache'), PANTHEON_CONNECT_TIMEOUT='0')
    values.update(env or {})
    res = run_playbook(json.dumps(PLAY), extra_vars={'site': site}, env=values, inventory=inventory)
    assert res.rc == 0, res.output
    return res


def _results(res):
    names = ('look', 'look with the environment keyword', 'look without it', 'a deprecated alias', 'check mode', 'async')
    out = dict((name, res.task(name)) for name in names)
    for result in out.values():
        for key in ('invocation', 'ansible_job_id', 'results_file'):  # the async job's own
            result.pop(key, None)
    return out


def test_in_process_results_are_the_usual_runs_results(emulator, tmp_path, site_prefix):
    site = site_prefix + 'inproc'
    emulator.seed({'sites': [{'name': site, 'framework': 'drupal8', 'upstream': 'drupal10', 'envs': ['dev']}]})
    since = last_request_id(emulator)
    in_process = _run(emulator, tmp_path, site)
    usual = _run(emulator, tmp_path, site, env={'PANTHEON_MODULES_IN_PROCESS': 'false'})
    # only the usual run builds and copies an AnsiballZ payload for each module task (async is always the usual way)
    for res, site_infos, cache_clears in ((in_process, 0, 1), (usual, 3, 2)):
        assert len(re.findall(r'PUT \S+ TO \S+/AnsiballZ_site_info\.py', res.output)) == site_infos, res.output[-3000:]
        assert len(re.findall(r'PUT \S+ TO \S+/AnsiballZ_cache_clear\.py', res.output)) == cache_clears
        # and at -vvv Ansible's output says which way each module ran
        assert res.output.count('Running pantheon.platform.site_info in the task worker, in-process') == 3 - site_infos

    got, expected = _results(in_process), _results(usual)
    assert got == expected
    assert got['look']['exists'] is True and list(got['look']['site']['environments']) == ['dev']
    # the environment keyword reached the module, and went with its task
    assert got['look with the environment keyword']['exists'] is True
    assert got['look without it']['failed'] is True
    assert got['look without it']['msg'] == 'connect_timeout must be a positive number of seconds, got 0'
    assert got['a deprecated alias']['failed'] is True
    assert got['check mode']['changed'] is True
    assert got['async']['changed'] is True and got['async']['finished'] == 1
    for res in (in_process, usual):
        assert res.output.count("Alias 'timeout' is deprecated") == 1, res.output[-3000:]
    # check mode cleared nothing, in either run
    posts = [r['path'] for r in emulator.requests(channel='api', since=since) if r['method'] == 'POST']
    assert [path for path in posts if not path.endswith('/authorize/machine-token')] == [], posts


def test_another_interpreter_runs_the_module_the_usual_way(emulator, tmp_path, site_prefix):
    site = site_prefix + 'otherpy'
    emulator.seed({'sites': [{'name': site, 'framework': 'drupal8', 'upstream': 'drupal10', 'envs': ['dev']}]})
    # The virtualenv's Python reached through a link in another directory: the same file, but started from there
    # it is the base Python, without the virtualenv's packages. The module runs in it, as Ansible would run it
    # anywhere, and says what it lacks; in-process it would have used the controller's packages and succeeded.
    other = tmp_path / 'bin'
    other.mkdir()
    os.symlink(PYTHON, str(other / 'python'))
    play = [dict(PLAY[0], tasks=[dict(PLAY[0]['tasks'][0], ignore_errors=True)])]
    res = run_playbook(json.dumps(play), extra_vars={'site': site}, env=dict(emulator.env),
                       inventory='localhost ansible_connection=local ansible_python_interpreter=%s\n' % (other / 'python'))
    assert res.rc == 0, res.output
    assert 'AnsiballZ_site_info.py' in res.output
    assert res.task('look')['msg'].startswith('Failed to import the required Python library (requests) on ')
