# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.archive with import_site: write, import and remove in one module step.

The archive is public from the moment Drush writes it until it is removed (issue 11, point 4):
the module imports it and removes it before it returns, whatever the import did, and on SIGINT
or SIGTERM (point 5). The emulator logs each archive's creation, import and removal (channel
``archive``); hacking/exposure.py turns that log into the figures written to
``.tmp/reliability/exposure.json``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from clone_steps_helpers import ANY_ARCHIVE_NAME, last_request_id
from helpers.ansible import PYTHON, VENV_BIN, ansible_env
from helpers.kill import hold
from site_clone_helpers import archives_on_source, writes_since
from transfer_helpers import play_env, run_module

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'hacking'))
import exposure  # noqa: E402  pylint: disable=wrong-import-position,import-error

EXPOSURE_JSON = os.path.join(os.path.dirname(__file__), '..', '..', '.tmp', 'reliability', 'exposure.json')


@pytest.fixture(scope='module')
def sites(emulator):
    prefix = 'ai%s-' % os.urandom(3).hex()
    recipe = [{'name': prefix + 'src', 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 5},
               'files': {'count': 4, 'size': [300, 2000], 'depth': 1}},
              {'name': prefix + 'dst', 'framework': 'drupal', 'envs': ['dev']},
              {'name': prefix + 'd10', 'framework': 'drupal8', 'envs': ['dev']}]
    seeded = emulator.seed({'seed': 31, 'sites': recipe})
    return dict((s['name'][len(prefix):], s) for s in seeded)


def archive_events(emulator, since):
    return [(r['method'], r['path']) for r in emulator.requests(channel='archive', since=since)]


def test_archive_is_imported_and_removed_in_one_step(emulator, sites, tmp_path):
    """Made, imported into the target's dev and removed (404) by one call: the result names no
    archive, the journal forgets it, and the emulator's log shows created < imported < removed."""
    src, dst = sites['src'], sites['dst']
    journal = tmp_path / 'state.json'
    journal.write_text(json.dumps({'job': 'j'}))
    since = last_request_id(emulator)
    args = {'site': src['name'], 'env': 'dev', 'import_site': dst['name'], 'journal': str(journal), 'overwrite': True}
    run, result = run_module(emulator, tmp_path, 'archive', args)
    assert run.rc == 0, run.output
    assert result['changed'] is True and result['url_status'] == 404 and result['route'] == 'archive'
    assert 'path' not in result and 'url' not in result
    assert result['imported']['site'] == dst['id']
    assert result['imported']['workflow']['type'] == 'do_migration'
    assert result['imported']['workflow']['result'] == 'succeeded'
    assert archives_on_source(emulator, src['name'], 'dev') == []
    assert json.loads(journal.read_text()) == {'job': 'j', 'archive': None}
    # the target has the source's content
    source, target = emulator.state(src['name'], 'dev', digest=True), emulator.state(dst['name'], 'dev', digest=True)
    assert target['db']['tables'] == source['db']['tables']
    # one archive: created, imported (do_migration downloaded it), removed, in that order
    events = archive_events(emulator, since)
    assert [m for m, _p in events] == ['CREATED', 'IMPORT', 'REMOVED'], events
    assert len(set(p for _m, p in events)) == 1
    figures = exposure.exposure(emulator.requests(since=since))
    assert figures['archives'] == 1 and figures['unremoved'] == 0
    exposure.write(EXPOSURE_JSON, 'module-import-site', figures)
    print('exposure (one archive, module alone): %s' % json.dumps(figures['per_archive']))
    assert not ANY_ARCHIVE_NAME.search(json.dumps(figures))


def test_a_failed_import_still_removes_the_archive(emulator, sites, tmp_path):
    src, dst = sites['src'], sites['dst']
    since = last_request_id(emulator)
    emulator.faults([{'match': {'channel': 'workflow', 'path': '^do_migration$'},
                      'action': {'workflow_fail': 'Unable to download the archive'}, 'times': 1}])
    try:
        run, result = run_module(emulator, tmp_path, 'archive',
                                 {'site': src['name'], 'env': 'dev', 'import_site': dst['name'], 'overwrite': True})
    finally:
        emulator.clear_faults()
    assert run.rc != 0
    assert result['reason'] == 'import_failed', result
    assert 'Unable to download the archive' in result['msg'] and 'was removed (its URL answers 404)' in result['msg']
    assert not ANY_ARCHIVE_NAME.search(json.dumps(result))
    assert archives_on_source(emulator, src['name'], 'dev') == []
    assert [m for m, _p in archive_events(emulator, since)] == ['CREATED', 'REMOVED']


def test_check_mode_with_an_existing_archive_imports_and_removes_nothing(emulator, sites, tmp_path):
    """An archive an earlier run made (path) and import_site, in check mode: a change is reported, and
    nothing is imported or removed (before the step engine this path imported and removed it)."""
    src, dst = sites['src'], sites['dst']
    run, made = run_module(emulator, tmp_path, 'archive', {'site': src['name'], 'env': 'dev'})
    assert run.rc == 0 and made['path'], run.output
    try:
        since = last_request_id(emulator)
        args = {'site': src['name'], 'env': 'dev', 'path': made['path'], 'import_site': dst['name'], 'overwrite': True}
        run, would = run_module(emulator, tmp_path, 'archive', args, check=True)
        assert run.rc == 0 and would['changed'] is True and would['size'] == made['size'], run.output
        assert 'url_status' not in would and 'imported' not in would and 'path' not in would
        assert archive_events(emulator, since) == [] and writes_since(emulator, since) == []
        assert archives_on_source(emulator, src['name'], 'dev') == [made['path'].rsplit('/', 1)[1]]
    finally:
        args = {'site': src['name'], 'env': 'dev', 'path': made['path'], 'state': 'absent'}
        run, gone = run_module(emulator, tmp_path, 'archive', args)
    assert run.rc == 0 and gone['changed'] is True and archives_on_source(emulator, src['name'], 'dev') == []


def test_import_site_refusals_make_no_archive(emulator, sites, tmp_path):
    src = sites['src']
    since = last_request_id(emulator)
    cases = [({'import_site': src['name']}, 'archived site itself'),
             ({'import_site': 'no-such-site-%s' % os.urandom(3).hex()}, 'no-such-site'),
             ({'import_site': sites['dst']['name'], 'import_max_size_mb': -1}, 'import_max_size_mb')]
    for extra, message in cases:
        run, result = run_module(emulator, tmp_path, 'archive', dict({'site': src['name'], 'env': 'dev'}, **extra))
        assert run.rc != 0 and message in result['msg'], (extra, result)
    # a Drush 11+ site: the platform imports Drush 8 archives only
    args = {'site': sites['d10']['name'], 'env': 'dev', 'import_site': sites['dst']['name'], 'overwrite': True}
    run, result = run_module(emulator, tmp_path, 'archive', args)
    assert run.rc != 0 and result['reason'] == 'unsupported' and 'Drush 8' in result['msg'], result
    assert archive_events(emulator, since) == []
    assert not [r for r in emulator.requests(channel='ssh', since=since) if 'archive' in r['path']]


PLAY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: archive, import, remove
      pantheon.platform.archive:
        site: "{{ site }}"
        env: dev
        import_site: "{{ target }}"
        journal: "{{ journal }}"
        overwrite: true
'''


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for entry in os.listdir('/proc'):
            if entry.isdigit():
                try:
                    with open('/proc/%s/stat' % entry, encoding='ascii', errors='replace') as f:
                        ppid = int(f.read().rsplit(')', 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == parent:
                    found.append(int(entry))
                    todo.append(int(entry))
    return found


def _alive(pid):
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['ctrl-c', 'sigterm'])
def test_a_signal_during_the_import_removes_the_archive(emulator, sites, tmp_path, signum):
    """ansible-playbook interrupted while the platform imports the archive (the emulator holds the
    do_migration): the module removes the archive before it exits; its URL answers 404 and the
    journal no longer names it. Ctrl-C is SIGINT to the terminal's foreground process group;
    AWX stops a job with SIGTERM to ansible-playbook."""
    src, dst = sites['src'], sites['dst']
    journal = tmp_path / 'state.json'
    name = 'sig%d' % signum
    (tmp_path / 'play.yml').write_text(PLAY)
    (tmp_path / 'vars.json').write_text(json.dumps({'site': src['name'], 'target': dst['name'],
                                                    'journal': str(journal)}))
    (tmp_path / 'inventory.ini').write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n'
                                            % PYTHON)
    emulator.faults([hold(name, 'workflow', '^do_migration$')])
    log = open(tmp_path / 'output.log', 'w+', encoding='utf-8')  # pylint: disable=consider-using-with
    proc = subprocess.Popen([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', str(tmp_path / 'inventory.ini'),
                             str(tmp_path / 'play.yml'), '-e', '@%s' % (tmp_path / 'vars.json')],
                            env=ansible_env(play_env(emulator, tmp_path)), cwd=str(tmp_path), stdout=log,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        emulator.wait_hold(name, timeout=300)
        left = archives_on_source(emulator, src['name'], 'dev')
        assert len(left) == 1, 'the archive exists while the import is held'
        url = '%s/sites/default/files/%s' % (emulator.web_url(src['name'], 'dev'), left[0])
        assert emulator.http().get(url, timeout=60).status_code == 200
        assert json.loads(journal.read_text())['archive']['path'].endswith(left[0])
        module_processes = _descendants(proc.pid)
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        proc.wait(120)
        # the module finishes its removal even when ansible-playbook has already exited
        deadline = time.monotonic() + 120
        while any(_alive(p) for p in module_processes):
            assert time.monotonic() < deadline, 'the module did not exit after the signal'
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        emulator.clear_faults()
        log.seek(0)
        output = log.read()
        log.close()
    assert 'PLAY RECAP' not in output, output[-3000:]
    assert archives_on_source(emulator, src['name'], 'dev') == []
    assert emulator.http().get(url, timeout=60).status_code == 404
    assert json.loads(journal.read_text())['archive'] is None
    assert left[0] not in output and not ANY_ARCHIVE_NAME.search(output)


def test_an_import_site_that_holds_content_is_refused_before_the_archive_is_made(emulator, sites, tmp_path):
    """issue 11.1, the guard of the modules that write: import_site's dev is replaced whole (code, database,
    files) by do_migration, so a dev that holds content is refused unless overwrite: true, before anything is
    written on either site (no archive made on the source, nothing imported)."""
    src = sites['src']
    spec = {'name': src['name'][:-len('src')] + 'full', 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 3},
            'files': {'count': 2, 'size': 500}}
    full = emulator.seed({'seed': 32, 'sites': [spec]})[0]
    before = emulator.state(full['name'], 'dev', digest=True)
    since = last_request_id(emulator)
    args = {'site': src['name'], 'env': 'dev', 'import_site': full['name']}
    run, result = run_module(emulator, tmp_path, 'archive', args)
    assert result.get('failed') is True, result
    assert re.search(r'The target environment %s\.dev .* holds content \(\d+ database tables and 2 files\).*'
                     r'a site archive import refused.*Set overwrite: true' % re.escape(full['name']),
                     result['msg']), result['msg']
    assert 'Traceback' not in run.output
    assert archive_events(emulator, since) == [] and archives_on_source(emulator, src['name'], 'dev') == []
    # (the one SSH command besides the reads is the guard's SHOW TABLES, drush sql-query: a read)
    assert [w for w in writes_since(emulator, since) if w != 'SSH drush sql-query'] == []
    assert emulator.state(full['name'], 'dev', digest=True) == before
