# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.database_stream through ansible-playbook: dumps streamed into an environment's
database over real SSH (drush sql-cli / sql:cli, wp db import -), idempotency, check mode, and
what a broken stream leaves behind."""

from __future__ import annotations

import urllib.parse

from helpers.kill import hold, kill_tree, module_result, start_module
from helpers.secrets import assert_no_secrets
from site_clone_helpers import last_request_id
from transfer_helpers import latest_backup, play_env, run_module, seed, sql


def _pair(emulator, prefix, framework, padding=0):
    db = {'nodes': 12, 'posts': 12}
    if padding:
        db['padding'] = padding
    sites = seed(emulator, [
        {'name': prefix + 'src', 'framework': framework, 'envs': ['dev', 'live'], 'db': db,
         'backups': [{'env': 'live', 'elements': ['database']}]},
        {'name': prefix + 'dst', 'framework': framework, 'envs': ['dev'], 'db': {'nodes': 3, 'posts': 3}},
    ])
    return sites[prefix + 'src'], sites[prefix + 'dst']


def _db(emulator, site, env):
    return emulator.state(site['name'], env)['db']['tables']


def _ssh_commands(emulator, since):
    """(command label, exit status) of the SSH commands run since the mark (this worker's emulator only)."""
    return [(r['path'], r['status']) for r in emulator.requests(channel='ssh', since=since)]


def test_drupal7_import_idempotent_and_reimport_after_change(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, 'drupal')
    args = {'site': dst['name'], 'backup': {'site': src['name'], 'env': 'live'}, 'overwrite': True}
    res, out = run_module(emulator, tmp_path, 'database_stream', args)
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['imported'] is True
    assert out['command'] == 'drush sql-cli'
    assert _db(emulator, dst, 'dev') == _db(emulator, src, 'live')
    assert out['database']['tables'] == len(_db(emulator, src, 'live'))
    assert out['database']['rows'] == sum(_db(emulator, src, 'live').values())
    assert out['download']['bytes'] == out['source']['size']

    res, again = run_module(emulator, tmp_path, 'database_stream', args)
    assert res.rc == 0, res.output
    assert again['changed'] is False and again['imported'] is False
    assert again['database']['fingerprint'] == out['database']['fingerprint']

    sql(emulator, dst, 'dev', "UPDATE node SET title = 'edited' WHERE nid = 2")
    res, third = run_module(emulator, tmp_path, 'database_stream', args)
    assert res.rc == 0, res.output
    assert third['changed'] is True and third['database']['fingerprint'] == out['database']['fingerprint']
    assert 'edited' not in sql(emulator, dst, 'dev', 'SELECT title FROM node WHERE nid = 2')


def test_check_mode_changes_nothing(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, 'drupal8')
    before = _db(emulator, dst, 'dev')
    since = last_request_id(emulator)
    res, out = run_module(emulator, tmp_path, 'database_stream', {
        'overwrite': True, 'site': dst['name'], 'backup': {'site': src['name'], 'env': 'live'}}, check=True)
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['imported'] is True and out['command'] == 'drush sql:cli'
    assert out['database']['rows'] == sum(before.values())
    assert _db(emulator, dst, 'dev') == before
    assert not [c for c, dummy in _ssh_commands(emulator, since) if 'sql:cli' in c or 'sql-cli' in c]


def _break_download(emulator, folder):
    """The first response stops after 3000 bytes, every resume is reset: the download cannot finish."""
    emulator.faults({'match': {'channel': 'download', 'path': '%s/.*_database\\.sql\\.gz$' % folder},
                     'sequence': [{'truncate_after': 3000}] + [{'reset': True}] * 10})


def test_broken_download_never_reaches_the_target(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, 'drupal8', padding='600KB')
    folder, dummy = latest_backup(emulator, src['id'], 'live', 'database')
    before = emulator.state(dst['name'], 'dev', digest=True)['db']
    since = last_request_id(emulator)
    _break_download(emulator, folder)
    try:
        res, out = run_module(emulator, tmp_path, 'database_stream', {
            'overwrite': True, 'site': dst['name'], 'backup': {'site': src['name'], 'env': 'live', 'folder': folder}})
    finally:
        emulator.clear_faults()
    assert res.rc != 0
    assert 'failed after' in out['msg'] and 'without progress at byte 3000' in out['msg']
    assert emulator.state(dst['name'], 'dev', digest=True)['db'] == before
    assert not [c for c, dummy in _ssh_commands(emulator, since) if 'sql' in c]


def test_stream_broken_mid_way_keeps_previous_database(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, 'drupal8', padding='600KB')
    folder, dummy = latest_backup(emulator, src['id'], 'live', 'database')
    before = emulator.state(dst['name'], 'dev', digest=True)['db']
    since = last_request_id(emulator)
    # The download stops after 3000 bytes and every resume is refused; the first resume is held until the import's
    # SSH command has reached the platform (held too, then let go), so the stream breaks while the import runs,
    # however loaded the machine is (no delay is guessed).
    started, resume = site_prefix + 'import-started', site_prefix + 'resume'
    emulator.faults([
        {'match': {'channel': 'download', 'path': '%s/.*_database\\.sql\\.gz$' % folder},
         'sequence': [{'truncate_after': 3000}, {'hold': resume, 'reset': True}] + [{'reset': True}] * 10},
        hold(started, 'ssh', 'sql:cli')])
    env = play_env(emulator, tmp_path)
    proc = start_module('database_stream', {'overwrite': True, 'site': dst['name'], 'spool': False,
                                            'backup': {'site': src['name'], 'env': 'live', 'folder': folder}},
                        env, tmp_path / 'stream')
    try:
        emulator.wait_hold(started, timeout=300)
        emulator.release(started)
        emulator.wait_hold(resume, timeout=300)
        emulator.release(resume)
        out = module_result(proc)
    finally:
        if proc.poll() is None:
            kill_tree(proc.pid)
        emulator.clear_faults()
    assert out.get('failed') is True, out
    assert 'cut off before the end of its input' in out['msg'], out['msg']
    # the import had started (an SSH command that ended with a dropped connection: the emulator logs
    # such a session as "shell"/255), yet nothing of it was kept
    dropped = [c for c, status in _ssh_commands(emulator, since) if status == 255]
    assert dropped
    assert emulator.state(dst['name'], 'dev', digest=True)['db'] == before
    assert emulator.state(dst['name'], 'dev')['home_status'] == 200


def test_wordpress_by_url_without_secrets_at_vvvv(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, 'wordpress')
    dummy, url = latest_backup(emulator, src['id'], 'live', 'database')
    res, dummy = run_module(emulator, tmp_path, 'database_stream', {'overwrite': True, 'site': dst['name'], 'url': url}, verbosity=4)
    assert res.rc == 0, res.output
    assert "'wp db import -'" in res.stdout or '"wp db import -"' in res.stdout
    assert _db(emulator, dst, 'dev') == _db(emulator, src, 'live')
    query = urllib.parse.urlsplit(url).query
    secrets = {'machine token': emulator.machine_token, 'signed URL query': query}
    secrets.update(('query value %s' % k, v) for k, v in urllib.parse.parse_qsl(query) if len(v) >= 6)
    assert_no_secrets(res.stdout + res.stderr, secrets)


def test_bad_input_fails_clearly(emulator, site_prefix, tmp_path):
    sites = seed(emulator, [{'name': site_prefix + 'nobk', 'framework': 'drupal8', 'envs': ['dev', 'live']}])
    name = site_prefix + 'nobk'
    res, out = run_module(emulator, tmp_path, 'database_stream', {'overwrite': True, 'site': name})
    assert res.rc != 0 and 'one of the following is required: url, backup' in out['msg']
    res, out = run_module(emulator, tmp_path, 'database_stream', {'overwrite': True, 'site': name, 'backup': {'site': name, 'env': 'live'}})
    assert res.rc != 0 and 'No finished database backup' in out['msg']
    res, out = run_module(emulator, tmp_path, 'database_stream', {'overwrite': True, 'site': name, 'url': 'ftp://example.com/db.sql.gz'})
    assert res.rc != 0 and 'http:// or https://' in out['msg']
    assert sites[name]['id']
    assert 'Traceback' not in res.stdout + res.stderr
