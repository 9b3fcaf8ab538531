# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_info's measure in-process against the emulator: each element of an environment weighed
without a backup (Drush 8, Drush 12, WP-CLI; rsync listings of files/ and code/), read-only (no
workflow, no write), and "undetermined" with the reason when measuring is impossible. Also the
emulator's `wp db size` output forms (wp-cli/db-command DB_Command::size())."""

from __future__ import annotations

import json
import os
import subprocess

from site_clone_helpers import last_request_id, requests_since
from transfer_helpers import remote, run_module, seed, ssh_argv


def _tree_bytes(root, skip_top=()):
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d not in skip_top]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


def test_site_info_measures_each_element_without_a_backup(emulator, site_prefix, tmp_path):
    sites = seed(emulator, [
        {'name': site_prefix + 'd7', 'framework': 'drupal', 'db': {'nodes': 6},
         'envs': {'dev': {}, 'test': {'initialized': False}, 'live': {}},
         'files': {'count': 5, 'size': [300, 3000], 'depth': 1}},
        {'name': site_prefix + 'd10', 'framework': 'drupal8', 'envs': ['dev'], 'db': {'nodes': 4},
         'files': {'count': 3}},
        {'name': site_prefix + 'wp', 'framework': 'wordpress', 'envs': ['dev', 'live'], 'db': {'posts': 5},
         'files': {'count': 4}},
    ])
    since = last_request_id(emulator)
    for site, env in ((sites[site_prefix + 'd7'], 'live'), (sites[site_prefix + 'd10'], 'dev'),
                      (sites[site_prefix + 'wp'], 'live')):
        res, out = run_module(emulator, tmp_path, 'site_info', {'name': site['name'], 'measure': [env]})
        assert res.rc == 0, res.output
        measured = out['measured'][env]
        state = emulator.state(site['name'], env)
        assert measured['undetermined'] == {}, measured
        assert measured['sizes']['database'] == state['db']['bytes'] > 0
        assert measured['sizes']['files'] == state['files']['bytes'] > 0
        assert measured['files_count'] == state['files']['count']
        assert measured['sizes']['code'] == _tree_bytes(state['paths']['code'], skip_top=('.git',)) > 0

    # read-only: no workflow, no API write, and over SSH only the size queries and rsync listings
    log = requests_since(emulator, since)
    assert [r['path'] for r in log if r.get('channel') != 'ssh' and r.get('method') not in ('GET', None)
            and 'machine-token' not in r['path']] == []
    ssh = [r['path'] for r in log if r.get('channel') == 'ssh']
    # Drush 8 on Drupal 7, Drush 12 on Drupal 10, WP-CLI; rsync listings of files/ and code/ for each
    assert sorted(set(ssh)) == ['drush sql-query', 'drush sql:query', 'rsync', 'wp db size'], ssh
    assert ssh.count('rsync') == 6, ssh

    # measuring impossible: an environment not initialized, a command that fails; only that element is undetermined
    wp = sites[site_prefix + 'wp']
    emulator.faults({'match': {'channel': 'ssh', 'path': 'wp db size'}, 'action': {'reset': True}})
    try:
        res, out = run_module(emulator, tmp_path, 'site_info',
                              {'name': wp['name'], 'measure': ['live', 'test'], 'measure_elements': ['database', 'files']})
    finally:
        emulator.clear_faults()
    assert res.rc == 0, res.output
    live = out['measured']['live']
    assert live['sizes']['database'] is None and 'Could not measure the database of %s.live' % wp['name'] in \
        live['undetermined']['database'], live
    assert live['sizes']['files'] > 0 and 'code' not in live['sizes'] and set(live['undetermined']) == {'database'}
    assert out['measured']['test']['sizes'] == {'database': None, 'files': None}
    assert 'has no test environment' in out['measured']['test']['undetermined']['files']
    d7 = sites[site_prefix + 'd7']
    res, out = run_module(emulator, tmp_path, 'site_info', {'name': d7['name'], 'measure': ['test']})
    assert res.rc == 0, res.output
    assert set(out['measured']['test']['undetermined']) == {'code', 'database', 'files'}
    assert 'not initialized' in out['measured']['test']['undetermined']['code']


def test_emulated_wp_db_size_prints_as_wp_cli(emulator, site_prefix):
    """wp-cli/db-command DB_Command::size(): --size_format alone prints the bare number; --format renders a
    Name/Size row ("N B" without --size_format); --size_format with --human-readable is an error."""
    wp = seed(emulator, [{'name': site_prefix + 'wps', 'framework': 'wordpress', 'envs': ['dev'],
                          'db': {'posts': 3}}])[site_prefix + 'wps']
    size = emulator.state(wp['name'], 'dev')['db']['bytes']
    assert remote(emulator, wp['id'], 'dev', ['wp', 'db', 'size', '--size_format=b']) == '%d\n' % size
    assert remote(emulator, wp['id'], 'dev', ['wp', 'db', 'size', '--size_format=kb']) == '%d\n' % int(size / 1024 + 0.5)
    assert json.loads(remote(emulator, wp['id'], 'dev', ['wp', 'db', 'size', '--format=json'])) == \
        [{'Name': 'pantheon', 'Size': '%d B' % size}]
    assert remote(emulator, wp['id'], 'dev', ['wp', 'db', 'size']) == 'Name\tSize\npantheon\t%d B\n' % size
    assert 'Cannot use --size_format and --human-readable' in remote(
        emulator, wp['id'], 'dev', ['wp', 'db', 'size', '--size_format=b', '--human-readable'], check=False) + \
        _stderr(emulator, wp['id'])


def _stderr(emulator, site_id):
    proc = subprocess.run(ssh_argv(emulator, site_id, 'dev') + ['wp db size --size_format=b --human-readable'],
                          capture_output=True, check=False)
    assert proc.returncode == 1
    return proc.stderr.decode()
