# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.site_import through ansible-playbook against the emulator.

Each import kind changes the target's content to the source's (compared through the emulator's
state and the environments' files on disk); repeated runs are unchanged; refusals change nothing
and start no workflow; -vvvv output never shows a token, a signed query or an archive name.
"""

from __future__ import annotations

import json
import os
import urllib.parse

import pytest

from clone_steps_helpers import (ANY_ARCHIVE_NAME, KEEP, code_tree, db_dump, known_secrets, last_request_id, play_env,
                                 statuses, workflow_posts)
from helpers.ansible import run_playbook
from helpers.secrets import assert_no_secrets


def site_id(emulator, name):
    return emulator.state(name, 'dev')['site']['id']


@pytest.fixture(scope='module')
def sites(emulator):
    prefix = 'im%s-' % os.urandom(3).hex()
    names = {'src': prefix + 'src', 'dst': prefix + 'dst', 'dst2': prefix + 'dst2', 'big': prefix + 'big'}
    emulator.seed({'seed': 31, 'sites': [
        {'name': names['src'], 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 9, 'site_name': 'Source'},
         'files': {'count': 6, 'size': [100, 4000], 'depth': 2, 'unicode': True},
         'code': {'files': {'sites/all/modules/custom/only_in_source/only_in_source.module': '<?php\n'}}},
        {'name': names['dst'], 'framework': 'drupal', 'envs': ['dev', 'test'], 'db': {'nodes': 2, 'site_name': 'Target'},
         'files': {'count': 2, 'size': 500}},
        {'name': names['dst2'], 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 1}, 'files': {'count': 1}},
        {'name': names['big'], 'framework': 'drupal', 'envs': ['dev'],
         'backups': [{'env': 'dev', 'element': 'files', 'sparse_size': '600MB'}]},
    ]})
    return names


def test_database_and_files_imports_from_backups(emulator, sites, tmp_path):
    src, dst = emulator.state(sites['src'], 'dev'), emulator.state(sites['dst'], 'dev')
    assert db_dump(emulator, src) != db_dump(emulator, dst)
    assert src['files'] != dst['files']
    dst_id = dst['site']['id']
    since = last_request_id(emulator)
    keep_file = tmp_path / 'keep.json'
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: source backups
      pantheon.platform.backup:
        site: "{{ src }}"
        elements: [database, files]
      register: backup

    - name: signed urls
      pantheon.platform.backup_info:
        site: "{{ src }}"
        folder: "{{ backup.backup.folder }}"
        urls: true
      register: source

    - name: would import the database
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: database
        url: "{{ source.latest.database.url }}"
      check_mode: true

    - name: import the database
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: database
        url: "{{ source.latest.database.url }}"

    - name: import the database again
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: database
        url: "{{ source.latest.database.url }}"

    - name: a fresh signed url of the same backup
      pantheon.platform.backup_info:
        site: "{{ src }}"
        folder: "{{ backup.backup.folder }}"
        urls: true
      register: again

    - name: import the same database through the fresh url
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: database
        url: "{{ again.latest.database.url }}"

    - name: import the files
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: files
        url: "{{ source.latest.files.url }}"

    - name: import the files again
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: files
        url: "{{ source.latest.files.url }}"

    - name: import the database once more, forced
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: database
        url: "{{ source.latest.database.url }}"
        force: true

    - name: import the files by backup reference
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: files
        backup: {site: "{{ src }}", folder: "{{ backup.backup.folder }}"}

    - name: import the database by backup reference, forced
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: database
        backup: {site: "{{ src }}", folder: "{{ backup.backup.folder }}"}
        force: true
''' + KEEP % "{'source': source, 'again': again, 'backup': backup}",
                       extra_vars={'src': sites['src'], 'dst': sites['dst'], 'keep_file': str(keep_file)},
                       env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    kept = json.loads(keep_file.read_text())

    would = res.task('would import the database')
    assert would['changed'] is True and would['workflow']['type'] == 'do_import' and would['workflow']['id'] is None
    first, second = res.task('import the database'), res.task('import the database again')
    assert first['changed'] is True and first['kind'] == 'database'
    assert first['workflow']['type'] == 'do_import' and first['workflow']['result'] == 'succeeded'
    assert first['workflow']['duration'] >= 0
    assert first['imported_size'] == kept['backup']['backup']['elements']['database']['size']
    assert second['changed'] is False and second['workflow']['id'] == first['workflow']['id']
    # A new signed URL of the same object (another query string) is the same import.
    assert kept['again']['latest']['database']['url'] != kept['source']['latest']['database']['url']
    assert res.task('import the same database through the fresh url')['changed'] is False
    files1, files2 = res.task('import the files'), res.task('import the files again')
    assert files1['changed'] is True and files1['imported_size'] == kept['backup']['backup']['elements']['files']['size']
    assert files2['changed'] is False and files2['workflow']['id'] == files1['workflow']['id']
    # force imports what the history says is already there.
    forced = res.task('import the database once more, forced')
    assert forced['changed'] is True and forced['workflow']['id'] != first['workflow']['id']
    # A backup reference names the same object as its signed link: the files imported by URL are already there.
    by_ref = res.task('import the files by backup reference')
    assert by_ref['changed'] is False and by_ref['workflow']['id'] == files1['workflow']['id']
    by_ref = res.task('import the database by backup reference, forced')
    assert by_ref['changed'] is True and by_ref['workflow']['result'] == 'succeeded'
    assert by_ref['imported_size'] == kept['backup']['backup']['elements']['database']['size']
    # Four imports were started on the target, no more (check mode and second runs started none).
    assert len(workflow_posts(emulator, since, dst_id)) == 4

    after = emulator.state(sites['dst'], 'dev', digest=True)
    assert db_dump(emulator, after) == db_dump(emulator, src)
    assert after['files']['digest'] == emulator.state(sites['src'], 'dev', digest=True)['files']['digest']
    assert after['home_status'] == 200

    urls = [kept[k]['latest'][e]['url'] for k in ('source', 'again') for e in ('database', 'files')]
    assert_no_secrets(res.stdout + res.stderr, known_secrets(emulator, tmp_path, urls))


def test_later_replacement_makes_the_import_run_again(emulator, sites, tmp_path):
    """Import A, then B, then A: the last one is a change (the environment holds B)."""
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: backups of two sources
      pantheon.platform.backup:
        site: "{{ item }}"
        elements: [database]
        reuse_within: 60
      loop: ["{{ src }}", "{{ dst2 }}"]
      register: backups

    - name: signed urls
      pantheon.platform.backup_info:
        site: "{{ item }}"
        element: database
        urls: true
      loop: ["{{ src }}", "{{ dst2 }}"]
      loop_control: {label: "{{ item }}"}
      register: urls

    - name: import A
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        env: test
        kind: database
        url: "{{ urls.results[0].latest.database.url }}"

    - name: import B
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        env: test
        kind: database
        url: "{{ urls.results[1].latest.database.url }}"

    - name: import A again
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        env: test
        kind: database
        url: "{{ urls.results[0].latest.database.url }}"
''', extra_vars=sites, env=play_env(emulator, tmp_path))
    assert res.rc == 0, res.output
    assert res.task('import A')['changed'] is True
    assert res.task('import B')['changed'] is True
    assert res.task('import A again')['changed'] is True
    assert db_dump(emulator, emulator.state(sites['dst'], 'test')) == db_dump(emulator, emulator.state(sites['src'], 'dev'))


def test_site_import_of_a_drush8_archive(emulator, sites, tmp_path):
    src = emulator.state(sites['src'], 'dev')
    dst_id = site_id(emulator, sites['dst'])
    since = last_request_id(emulator)
    keep_file = tmp_path / 'keep.json'
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: archive the source
      pantheon.platform.archive:
        site: "{{ src }}"
      register: site_archive

    - name: import the archive
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst2 }}"
        kind: site
        url: "{{ site_archive.url }}"
        max_size_mb: 256

    - name: import the archive again
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst2 }}"
        kind: site
        url: "{{ site_archive.url }}"
        max_size_mb: 256

    - name: remove the archive
      pantheon.platform.archive:
        site: "{{ src }}"
        state: absent
        path: "{{ site_archive.path }}"
''' + KEEP % 'site_archive', extra_vars=dict(sites, keep_file=str(keep_file)), env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    archive = json.loads(keep_file.read_text())
    first, second = res.task('import the archive'), res.task('import the archive again')
    assert first['changed'] is True and first['workflow']['type'] == 'do_migration'
    assert first['imported_size'] == archive['size']
    assert second['changed'] is False and second['workflow']['id'] == first['workflow']['id']
    assert workflow_posts(emulator, since, dst_id) == []

    after = emulator.state(sites['dst2'], 'dev', digest=True)
    assert db_dump(emulator, after) == db_dump(emulator, src)
    assert code_tree(after) == code_tree(src)
    assert after['files']['digest'] == emulator.state(sites['src'], 'dev', digest=True)['files']['digest']
    assert after['home_status'] == 200
    assert emulator.http().get(archive['url'], timeout=30).status_code == 404
    name = archive['path'].rsplit('/', 1)[1]
    assert_no_secrets(res.stdout + res.stderr, known_secrets(emulator, tmp_path, names=[name]))
    assert not ANY_ARCHIVE_NAME.search(res.stdout + res.stderr)


def test_refusals_change_nothing(emulator, sites, tmp_path):
    dst_before = emulator.state(sites['dst'], 'dev', digest=True)
    since = last_request_id(emulator)
    keep_file = tmp_path / 'keep.json'
    host = urllib.parse.urlsplit(emulator.api_url).netloc
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  vars:
    refused: &refused
      site: "{{ dst }}"
      kind: files
  tasks:
    - name: signed url of a 600MB backup
      pantheon.platform.backup_info:
        site: "{{ big }}"
        element: files
        urls: true
      register: big_backup

    - name: too large
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        url: "{{ big_backup.latest.files.url }}"
      ignore_errors: true

    - name: a higher limit lets it through (check mode)
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        url: "{{ big_backup.latest.files.url }}"
        max_size_mb: 1024
      check_mode: true

    - name: not https
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        url: "{{ big_backup.latest.files.url | replace('https://', 'http://') }}"
      ignore_errors: true

    - name: http allowed but not answering
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        url: "http://{{ host }}/secret-path/files.tar.gz?token=abcdef123456"
        allow_insecure_url: true
      ignore_errors: true

    - name: unreachable
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        url: "https://localhost:1/secret-path/files.tar.gz"
      ignore_errors: true

    - name: altered signed url
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        url: "{{ big_backup.latest.files.url | replace('_files', '_filez') }}"
      ignore_errors: true

    - name: not a url
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        url: "ftp://example.com/files.tar.gz"
      ignore_errors: true

    - name: too large, by backup reference
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        backup: {site: "{{ big }}"}
      ignore_errors: true

    - name: a backup folder that does not exist
      pantheon.platform.site_import:
        overwrite: true
        <<: *refused
        backup: {site: "{{ big }}", folder: 1000000000_backup}
      ignore_errors: true

    - name: a site archive by backup reference
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        kind: site
        backup: {site: "{{ big }}"}
      ignore_errors: true

    - name: site import outside dev
      pantheon.platform.site_import:
        overwrite: true
        site: "{{ dst }}"
        env: test
        kind: site
        url: "{{ big_backup.latest.files.url }}"
      ignore_errors: true
''' + KEEP % 'big_backup', extra_vars=dict(sites, keep_file=str(keep_file), host=host), env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    url = json.loads(keep_file.read_text())['latest']['files']['url']
    expected = {
        'too large': ('too_large', 'above max_size_mb=500'),
        'not https': ('insecure_url', 'allow_insecure_url'),
        'http allowed but not answering': ('unreachable', 'could not be reached'),
        'unreachable': ('unreachable', 'could not be reached'),
        'altered signed url': ('unreachable', 'HTTP 403'),
        'not a url': ('invalid_url', 'https://'),
        'site import outside dev': ('invalid_option', 'dev environment only'),
        'too large, by backup reference': ('too_large', 'above max_size_mb=500'),
        'a backup folder that does not exist': ('no_backup', 'No finished files backup in folder 1000000000_backup'),
        'a site archive by backup reference': ('invalid_option', 'use kind=database or kind=files'),
    }
    for task, (reason, text) in expected.items():
        result = res.task(task)
        assert statuses(res, task) == ['failed'], task
        assert result['reason'] == reason, (task, result)
        assert text in result['msg'], (task, result['msg'])
        assert 'secret-path' not in result['msg'] and '_files' not in result['msg']
    assert res.task('a higher limit lets it through (check mode)')['changed'] is True
    assert res.task('a higher limit lets it through (check mode)')['imported_size'] == 600 * 1024 * 1024
    assert workflow_posts(emulator, since) == []
    assert emulator.state(sites['dst'], 'dev', digest=True)['files'] == dst_before['files']
    secrets = known_secrets(emulator, tmp_path, [url])
    secrets['fake token'] = 'abcdef123456'
    assert_no_secrets(res.stdout + res.stderr, secrets)
