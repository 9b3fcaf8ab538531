# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules behind the role's post-clone fix-ups, on their own: wp_search_replace and cache_clear."""

from __future__ import annotations

from site_clone_helpers import last_request_id, requests_since, writes_since
from transfer_helpers import run_module


def _fetch(db, sql, args=()):
    """One value, read back from the environment's MariaDB database with its own credentials."""
    emulator, site, env = db
    conn = emulator.db(site, env)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]
    finally:
        conn.close()


def option(db, name):
    return _fetch(db, 'SELECT option_value FROM wp_options WHERE option_name = %s', (name,))


def cache_rows(db):
    return _fetch(db, 'SELECT COUNT(*) FROM cache')


def test_wp_search_replace(emulator, tmp_path, site_prefix):
    name = site_prefix + 'wp'
    emulator.seed({'seed': 2, 'sites': [{'name': name, 'framework': 'wordpress', 'envs': ['dev', 'test', 'live'],
                                         'db': {'posts': 4}, 'files': {'count': 1, 'size': 100}}]})
    db = (emulator, name, 'dev')
    home = option(db, 'home')
    old = home.split('://', 1)[1]
    args = {'site': name, 'env': 'dev', 'search': old, 'replace': 'dev-elsewhere.example.test'}

    since = last_request_id(emulator)
    # through ansible-playbook: check mode as Ansible passes it
    res, out = run_module(emulator, tmp_path, 'wp_search_replace', args, check=True, ansible=True)
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['replacements'] >= 2  # siteurl and home at least
    assert option(db, 'home') == home, 'check mode changed nothing (it ran the dry run only)'
    assert [r['path'] for r in requests_since(emulator, since) if r['channel'] == 'ssh'] == ['wp search-replace']

    res, out = run_module(emulator, tmp_path, 'wp_search_replace', args)
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['replacements'] >= 2
    assert option(db, 'home') == 'https://dev-elsewhere.example.test'

    res, out = run_module(emulator, tmp_path, 'wp_search_replace', args)
    assert res.rc == 0, res.output
    assert out == dict(out, changed=False, replacements=0)

    res, out = run_module(emulator, tmp_path, 'wp_search_replace', dict(args, replace=old, search=old))
    assert res.rc != 0 and 'search and replace are the same' in res.output


def test_wp_search_replace_refuses_drupal(emulator, tmp_path, site_prefix):
    name = site_prefix + 'd7'
    emulator.seed({'seed': 2, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 2},
                                         'files': {'count': 1, 'size': 100}}]})
    res, _out = run_module(emulator, tmp_path, 'wp_search_replace', {'site': name, 'search': 'a.example', 'replace': 'b.example'})
    assert res.rc != 0
    assert 'not WordPress' in res.output and 'Traceback' not in res.output


def test_cache_clear(emulator, tmp_path, site_prefix):
    name = site_prefix + 'cc'
    emulator.seed({'seed': 2, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 2},
                                         'files': {'count': 1, 'size': 100}}]})
    db = (emulator, name, 'dev')
    assert cache_rows(db) > 0

    since = last_request_id(emulator)
    res, out = run_module(emulator, tmp_path, 'cache_clear', {'site': name, 'env': 'dev'}, check=True, ansible=True)
    assert res.rc == 0, res.output
    assert out['changed'] is True and 'workflow' not in out
    assert writes_since(emulator, since) == [] and cache_rows(db) > 0

    res, out = run_module(emulator, tmp_path, 'cache_clear', {'site': name, 'env': 'dev'})
    assert res.rc == 0, res.output
    assert out['changed'] is True
    assert out['workflow']['type'] == 'clear_cache' and out['workflow']['result'] == 'succeeded'
    assert cache_rows(db) == 0
    posts = [r for r in requests_since(emulator, since) if r['method'] == 'POST' and r['path'].endswith('/workflows')]
    assert [r['path'].split('/environments/')[1] for r in posts] == ['dev/workflows']

    res, _out = run_module(emulator, tmp_path, 'cache_clear', {'site': name, 'env': 'nope'})
    assert res.rc != 0 and 'has no nope environment' in res.output
