# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clone every element of a Drupal 7, a Drupal 8+ and a WordPress site with code_push,
database_stream and files_sync, prove it with clone_verify, then change one row, one file and one
commit on the target and check that clone_verify reports exactly those."""

from __future__ import annotations

import os

import pytest

from transfer_helpers import commit_change, remote, run_module, run_tasks, seed, sql, upload_file

ROW_TABLE = {'drupal': ('node', 'title', 'nid'), 'drupal8': ('node_field_data', 'title', 'nid'),
             'wordpress': ('wp_posts', 'post_title', 'ID')}
CODE_FILE = {'drupal': 'index.php', 'drupal8': 'index.php', 'wordpress': 'index.php'}


def _pair(emulator, prefix, framework):
    files = {'count': 20, 'size': [200, 6000], 'unicode': True, 'depth': 2, 'folders': 3, 'empty_dirs': 1}
    sites = seed(emulator, [
        {'name': prefix + 'src', 'framework': framework, 'envs': ['dev', 'live'],
         'db': {'nodes': 15, 'posts': 15}, 'files': files,
         'backups': [{'env': 'live', 'elements': ['code', 'database', 'files']}]},
        {'name': prefix + 'dst', 'framework': framework, 'envs': ['dev'], 'db': {'nodes': 2, 'posts': 2},
         'files': {'count': 4}},
    ])
    return sites[prefix + 'src'], sites[prefix + 'dst']


def _clone(emulator, tmp_path, src, dst):
    backup = {'site': src['name'], 'env': 'live'}
    res = run_tasks(emulator, tmp_path, [
        ('code', 'code_push', {'overwrite': True, 'site': src['name'], 'env': 'live', 'target_site': dst['name'], 'target_env': 'dev'}),
        ('database', 'database_stream', {'overwrite': True, 'site': dst['name'], 'env': 'dev', 'backup': backup}),
        ('files', 'files_sync', {'overwrite': True, 'site': dst['name'], 'env': 'dev', 'backup': backup, 'delete': True}),
    ])
    assert res.rc == 0, res.output
    for name in ('code', 'database', 'files'):
        assert res.task(name)['changed'] is True, name


def _verify(emulator, tmp_path, src, dst, **kwargs):
    args = {'site': src['name'], 'env': 'live', 'target_site': dst['name'], 'target_env': 'dev'}
    args.update(kwargs.pop('args', {}))
    return run_module(emulator, tmp_path, 'clone_verify', args, **kwargs)


@pytest.mark.parametrize('framework', ['drupal', 'drupal8', 'wordpress'])
def test_clone_matches_then_reports_exactly_the_changes(emulator, site_prefix, tmp_path, framework):
    src, dst = _pair(emulator, site_prefix, framework)
    res, out = _verify(emulator, tmp_path, src, dst, args={'fail_on_mismatch': False})
    assert res.rc == 0, res.output
    assert out['match'] is False and set(out['mismatched']) == {'code', 'database', 'files'}

    _clone(emulator, tmp_path, src, dst)
    res, out = _verify(emulator, tmp_path, src, dst)
    assert res.rc == 0, res.output
    assert out['changed'] is False and out['match'] is True and out['mismatched'] == []
    elements = out['elements']
    source_state = emulator.state(src['name'], 'live')
    assert elements['code']['source']['commit'] == elements['code']['target']['commit'] == source_state['code']['repo_head']
    assert elements['database']['target']['tables'] == len(source_state['db']['tables'])
    assert elements['database']['target']['rows'] == sum(source_state['db']['tables'].values())
    assert elements['files']['source'] == elements['files']['target']
    assert elements['files']['target']['files'] == source_state['files']['count'] == 20
    assert elements['files']['target']['bytes'] == source_state['files']['bytes']
    assert elements['home']['status'] == 200 and elements['home']['error'] is None

    # one row, one file, one commit
    table, column, key = ROW_TABLE[framework]
    sql(emulator, dst, 'dev', "UPDATE %s SET %s = 'changed on the target' WHERE %s = 3" % (table, column, key))
    changed_file = sorted(_file_paths(emulator, dst))[-1]
    upload_file(emulator, dst['id'], 'dev', changed_file, b'changed on the target\n')
    commit_change(emulator, dst['id'], CODE_FILE[framework], '<?php\n// changed on the target\n')

    # clone_verify only reads: check mode gives the same report (checked once, on Drupal 8)
    for check in (False, True) if framework == 'drupal8' else (False,):
        res, out = _verify(emulator, tmp_path, src, dst, check=check)
        assert res.rc != 0, res.output
        assert out['match'] is False and out['mismatched'] == ['code', 'database', 'files']
        code, database, files = (out['elements'][name]['differences'] for name in ('code', 'database', 'files'))
        assert code == {'missing': [], 'extra': [], 'changed': [CODE_FILE[framework]], 'count': 1}
        assert database['count'] == 1 and database['missing'] == [] and database['extra'] == []
        assert database['changed'] == [{'table': table, 'source_rows': database['changed'][0]['source_rows'],
                                        'target_rows': database['changed'][0]['source_rows'], 'schema_changed': False,
                                        'rows': {'changed': ['3'], 'missing': [], 'extra': []}, 'rows_complete': True}]
        assert files == {'missing': [], 'extra': [], 'changed': [changed_file], 'count': 1}
        assert out['elements']['home']['match'] is True
        assert 'code (1 difference; changed: %s)' % CODE_FILE[framework] in out['msg']
        assert 'changed: %s' % table in out['msg'] and changed_file in out['msg']


def _file_paths(emulator, site):
    root = emulator.state(site['name'], 'dev')['paths']['files']
    for dirpath, dummy, filenames in os.walk(root):
        for name in filenames:
            yield os.path.relpath(os.path.join(dirpath, name), root)


def test_wordpress_after_search_replace_needs_database_replace(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, 'wordpress')
    _clone(emulator, tmp_path, src, dst)
    old = 'live-%s.pantheonsite.localhost' % src['name']
    new = 'dev-%s.pantheonsite.localhost' % dst['name']
    # as imported, before the search-replace: it differs with the replacement, and matches as it is
    res, out = _verify(emulator, tmp_path, src, dst, args={
        'elements': ['database'], 'database_replace': [{'from': old, 'to': new}], 'database_unreplaced': True,
        'fail_on_mismatch': False})
    assert res.rc == 0, res.output
    assert out['match'] is False and out['database_unreplaced_match'] is True
    remote(emulator, dst['id'], 'dev', ['wp', 'search-replace', old, new, '--all-tables'])
    res, out = _verify(emulator, tmp_path, src, dst, args={'elements': ['database'], 'fail_on_mismatch': False})
    assert res.rc == 0, res.output
    changed = sorted(entry['table'] for entry in out['elements']['database']['differences']['changed'])
    assert out['match'] is False and 'wp_options' in changed
    res, out = _verify(emulator, tmp_path, src, dst, args={
        'elements': ['database'], 'database_replace': [{'from': old, 'to': new}], 'database_unreplaced': True})
    assert res.rc == 0, res.output
    # (matched with the replacement: not compared again as it is)
    assert out['match'] is True and out['database_unreplaced_match'] is None


def test_broken_home_page_and_ignored_tables(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, 'drupal8')
    _clone(emulator, tmp_path, src, dst)
    sql(emulator, dst, 'dev', 'DROP TABLE node_field_data')
    res, out = _verify(emulator, tmp_path, src, dst, args={'elements': ['database', 'home'], 'fail_on_mismatch': False})
    assert res.rc == 0, res.output
    assert out['changed'] is False and out['mismatched'] == ['database', 'home']
    assert out['elements']['database']['differences']['missing'] == ['node_field_data']
    home = out['elements']['home']
    assert home['status'] == 500 and home['match'] is False and home['error']
    res, out = _verify(emulator, tmp_path, src, dst, args={'elements': ['database'], 'database_ignore_tables': ['no*']})
    assert res.rc == 0, res.output
    assert out['match'] is True and out['elements']['database']['target']['tables'] == \
        out['elements']['database']['source']['tables']
