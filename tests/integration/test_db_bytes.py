# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Database bytes survive every import route exactly (issue 10, points 3 and 7).

Each seeded database holds utf8mb4 text (emoji, 4-byte characters), CR LF inside text, binary
values (every byte, NUL, 0x1a, quotes, backslashes) and one row of several MB. After a URL import
(site_import kind database: do_import), a stream import (database_stream: sql-dump piped into
sql-cli over SSH) and a site archive import (archive + site_import kind site: do_migration), the
target's values are read back from MariaDB with the target environment's own credentials and
compared with the source's, byte for byte."""

from __future__ import annotations

import os

import pytest

from pantheon_emulator.seed import SPECIAL_BINARY, SPECIAL_TEXT

from helpers.ansible import run_playbook
from transfer_helpers import play_env, run_module, seed

# (query, what the value must contain) per framework: the rows the seed fills with special content
PROBES = {
    'drupal': [
        ("SELECT value FROM variable WHERE name = 'site_slogan'", 'text'),
        ("SELECT body_value FROM field_data_body WHERE entity_id = 1", 'text'),
        ("SELECT data FROM cache_bootstrap WHERE cid = 'emulator:binary'", 'binary'),
        ("SELECT data FROM cache WHERE cid = 'emulator_big_row'", 'big'),
    ],
    'drupal8': [
        ("SELECT data FROM config WHERE name = 'system.site'", 'text'),
        ("SELECT body_value FROM node__body WHERE entity_id = 1", 'text'),
        ("SELECT value FROM key_value WHERE name = 'emulator.binary'", 'binary'),
        ("SELECT data FROM cache_data WHERE cid = 'emulator_big_row'", 'big'),
    ],
    'wordpress': [
        ("SELECT option_value FROM wp_options WHERE option_name = 'emulator_special'", 'text'),
        ("SELECT option_value FROM wp_options WHERE option_name = 'widget_text'", 'text'),
        ("SELECT post_content FROM wp_posts WHERE ID = 1", 'text'),
        ("SELECT option_value FROM wp_options WHERE option_name = 'emulator_big_row'", 'big'),
    ],
}
BIG = 3 * 1024 * 1024


def _values(emulator, site, env, framework):
    """The probed values as bytes, read from MariaDB (not from a dump)."""
    conn = emulator.db(site, env)
    try:
        out = []
        with conn.cursor() as cur:
            for query, dummy in PROBES[framework]:
                cur.execute(query)
                row = cur.fetchone()
                assert row is not None, '%s: no row on %s.%s' % (query, site, env)
                value = row[0]
                out.append(value.encode('utf-8') if isinstance(value, str) else bytes(value))
        return out
    finally:
        conn.close()


def _check_source(values, framework):
    """The source really holds what the test is about (so the comparison can fail)."""
    special = SPECIAL_TEXT.encode('utf-8')
    for (query, kind), value in zip(PROBES[framework], values):
        if kind == 'text':
            assert b'\r\n' in value and '\U0001F680'.encode('utf-8') in value, query
        elif kind == 'binary':
            assert value == SPECIAL_BINARY, query
        else:
            assert len(value) >= BIG, query
    assert any(special in v for v in values)


def _sites(emulator, framework, envs=('dev', 'live')):
    prefix = 'by%s-' % os.urandom(3).hex()
    db = {'nodes': 5, 'posts': 5, 'big_row': '3MB'}
    sites = seed(emulator, [
        {'name': prefix + 'src', 'framework': framework, 'envs': list(envs), 'db': db,
         'backups': [{'env': envs[-1], 'elements': ['database']}]},
        {'name': prefix + 'dst', 'framework': framework, 'envs': ['dev'], 'db': {'nodes': 2, 'posts': 2}},
    ], seed_value=11)
    return sites[prefix + 'src'], sites[prefix + 'dst']


@pytest.mark.parametrize('framework', ['drupal', 'wordpress'])
def test_stream_import_keeps_bytes(emulator, tmp_path, framework):
    src, dst = _sites(emulator, framework)
    source = _values(emulator, src['name'], 'live', framework)
    _check_source(source, framework)
    res, out = run_module(emulator, tmp_path, 'database_stream',
                          {'overwrite': True, 'site': dst['name'], 'backup': {'site': src['name'], 'env': 'live'}})
    assert res.rc == 0, res.output
    assert out['imported'] is True
    assert _values(emulator, dst['name'], 'dev', framework) == source


PLAY = '''
- hosts: localhost
  gather_facts: false
  tasks:
%s'''


def _import_keeps_bytes(emulator, tmp_path, framework, env, tasks, step, workflow):
    """Run the playbook ``tasks`` (src -> dst), then compare the probed values byte for byte."""
    src, dst = _sites(emulator, framework, envs=('dev', env) if env != 'dev' else ('dev',))
    source = _values(emulator, src['name'], env, framework)
    _check_source(source, framework)
    res = run_playbook(PLAY % tasks, extra_vars={'src': src['name'], 'dst': dst['name'], 'env': env},
                       env=play_env(emulator, tmp_path))
    assert res.rc == 0, res.output
    assert res.task(step)['workflow']['type'] == workflow
    assert _values(emulator, dst['name'], 'dev', framework) == source


@pytest.mark.parametrize('framework', ['drupal8', 'wordpress'])
def test_url_import_keeps_bytes(emulator, tmp_path, framework):
    _import_keeps_bytes(emulator, tmp_path, framework, 'live', '''
    - name: signed urls
      pantheon.platform.backup_info: {site: "{{ src }}", env: "{{ env }}", urls: true}
      register: source
    - name: url import
      pantheon.platform.site_import: {overwrite: true, site: "{{ dst }}", kind: database, url: "{{ source.latest.database.url }}"}
''', 'url import', 'do_import')


def test_archive_import_keeps_bytes(emulator, tmp_path):
    _import_keeps_bytes(emulator, tmp_path, 'drupal', 'dev', '''
    - name: archive
      pantheon.platform.archive: {site: "{{ src }}"}
      register: site_archive
    - name: archive import
      pantheon.platform.site_import: {overwrite: true, site: "{{ dst }}", kind: site, url: "{{ site_archive.url }}", max_size_mb: 256}
    - name: archive removal
      pantheon.platform.archive: {site: "{{ src }}", state: absent, path: "{{ site_archive.path }}"}
''', 'archive import', 'do_migration')
