# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.backup and backup_info through ansible-playbook against the emulator.

Every archive a backup reports is downloaded through the signed URL backup_info returns and
compared with the environment's content (emulator state); -vvvv output is scanned for the
machine token, the session and the signed URLs' query strings.
"""

from __future__ import annotations

import gzip
import json
import urllib.parse
import uuid

import pytest

from clone_steps_helpers import (KEEP, code_tree, known_secrets, last_request_id, play_env, statuses, table_counts, tar_members,
                                 workflow_posts)
from helpers.ansible import run_playbook
from helpers.secrets import assert_no_secrets
from pantheon_emulator.store import Store


def download(emulator, url):
    resp = emulator.http().get(url, timeout=60)
    assert resp.status_code == 200, resp.status_code
    return resp.content


def check_archive(emulator, element, blob, state):
    """The downloaded archive of ``element`` holds the environment's content."""
    if element == 'database':
        assert table_counts(emulator, gzip.decompress(blob)) == state['db']['tables']
        return
    members = dict((name, data) for name, data in tar_members(blob).items() if data is not None)
    if element == 'files':
        assert len(members) == state['files']['count']
        assert sum(len(data) for data in members.values()) == state['files']['bytes']
    else:
        assert dict((name.split('/', 1)[1], data) for name, data in members.items()) == code_tree(state)


@pytest.fixture(scope='module')
def d8_site(emulator):
    name = 'bk-d8-%s' % uuid.uuid4().hex[:8]
    emulator.seed({'seed': 11, 'sites': [{
        'name': name, 'framework': 'drupal8', 'envs': ['dev', 'live'],
        'db': {'nodes': 7}, 'files': {'count': 6, 'size': [300, 5000], 'depth': 2, 'unicode': True}}]})
    return name


def test_backup_each_element_set_matches_the_environment(emulator, d8_site, tmp_path):
    sets = {'code': ['code'], 'database': ['database'], 'files': ['files'], 'all': None}
    tasks = []
    for label, elements in sets.items():
        tasks.append('''
    - name: backup {label}
      pantheon.platform.backup:
        site: "{{{{ site }}}}"
        env: live
        {elements}
      register: b_{label}

    - name: catalog of {label}
      pantheon.platform.backup_info:
        site: "{{{{ site }}}}"
        env: live
        folder: "{{{{ b_{label}.backup.folder }}}}"
        urls: true
      register: i_{label}
'''.format(label=label, elements=('elements: %s' % json.dumps(elements)) if elements else ''))
    keep = '{' + ', '.join("'b_%s': b_%s, 'i_%s': i_%s" % (k, k, k, k) for k in sets) + '}'
    playbook = '- hosts: localhost\n  gather_facts: false\n  tasks:\n' + ''.join(tasks) + KEEP % keep
    keep_file = tmp_path / 'keep.json'
    res = run_playbook(playbook, extra_vars={'site': d8_site, 'keep_file': str(keep_file)},
                       env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    kept = json.loads(keep_file.read_text())
    state = emulator.state(d8_site, 'live')

    urls = []
    for label, elements in sets.items():
        backup = kept['b_' + label]
        info = kept['i_' + label]
        wanted = elements or ['code', 'database', 'files']
        assert backup['changed'] is True and backup['reused'] is False
        assert sorted(backup['backup']['elements']) == sorted(wanted)
        # The catalog of that folder holds exactly the requested elements, with the same sizes.
        assert sorted(e['element'] for e in info['backups']) == sorted(wanted)
        assert sorted(info['latest']) == sorted(wanted)
        for element in wanted:
            entry = backup['backup']['elements'][element]
            assert entry['expires_at'] - entry['finished_at'] == pytest.approx(86400)  # keep_for default: 1 day
            latest = info['latest'][element]
            assert latest['filename'] == entry['filename'] and latest['size'] == entry['size']
            blob = download(emulator, latest['url'])
            urls.append(latest['url'])
            assert len(blob) == entry['size']
            check_archive(emulator, element, blob, state)
        # The printed results of the backup_info tasks are hidden (they hold signed URLs).
        assert res.task('catalog of %s' % label).get('censored')
        assert 'backup' in res.task('backup %s' % label)
    assert_no_secrets(res.stdout + res.stderr, known_secrets(emulator, tmp_path, urls))


def test_backup_reuse_keep_for_and_check_mode(emulator, tmp_path, site_prefix):
    site = site_prefix + 'reuse'
    emulator.seed({'seed': 12, 'sites': [{'name': site, 'framework': 'wordpress', 'envs': ['dev'],
                                          'db': {'posts': 4}, 'files': {'count': 3, 'size': 1000}}]})
    since = last_request_id(emulator)
    checked = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: would back up
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: [database]
        reuse_within: 30
''', extra_vars={'site': site}, env=play_env(emulator, tmp_path), check=True)
    assert checked.rc == 0, checked.output
    assert checked.task('would back up')['changed'] is True
    assert checked.task('would back up')['backup'] == {'folder': None, 'elements': {}}
    assert workflow_posts(emulator, since) == []
    catalog = emulator.api().get('%s/sites/%s/environments/dev/backups/catalog' % (
        emulator.api_url, _site_id(emulator, site))).json()
    assert not catalog, 'check mode made a backup'

    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: first database backup
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: [database]
        reuse_within: 30
        keep_for: 2
      register: first

    - name: same again
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: [database]
        reuse_within: 30

    - name: database and files need a new backup
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: [database, files]
        reuse_within: 30

    - name: database only reuses the newest backup holding it
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: [database]
        reuse_within: 30

    - name: reuse_within 0 always backs up
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: [database]
''', extra_vars={'site': site}, env=play_env(emulator, tmp_path))
    assert res.rc == 0, res.output
    first = res.task('first database backup')
    again = res.task('same again')
    both = res.task('database and files need a new backup')
    newest = res.task('database only reuses the newest backup holding it')
    fresh = res.task('reuse_within 0 always backs up')
    assert first['changed'] and not first['reused']
    entry = first['backup']['elements']['database']
    assert entry['expires_at'] - entry['finished_at'] == pytest.approx(2 * 86400)
    assert again['changed'] is False and again['reused'] is True
    assert again['backup'] == first['backup']
    assert both['changed'] is True and both['backup']['folder'] != first['backup']['folder']
    assert newest['changed'] is False and newest['backup']['folder'] == both['backup']['folder']
    assert list(newest['backup']['elements']) == ['database']
    assert fresh['changed'] is True and fresh['backup']['folder'] not in (first['backup']['folder'], both['backup']['folder'])

    # Check mode with a reusable backup: no change reported, nothing created.
    since = last_request_id(emulator)
    checked = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: would reuse
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: [database]
        reuse_within: 30
''', extra_vars={'site': site}, env=play_env(emulator, tmp_path), check=True)
    assert checked.rc == 0, checked.output
    assert checked.task('would reuse')['changed'] is False
    assert checked.task('would reuse')['backup']['folder'] == fresh['backup']['folder']
    assert workflow_posts(emulator, since) == []


def _site_id(emulator, name):
    for site in emulator.admin('GET', 'state/sites').json():
        if site['name'] == name:
            return site['id']
    raise KeyError(name)


def test_backup_info_lists_finished_backups_newest_first(emulator, tmp_path, site_prefix):
    site = site_prefix + 'catalog'
    emulator.seed({'seed': 13, 'sites': [{'name': site, 'framework': 'drupal', 'envs': ['dev'],
                                          'db': {'nodes': 3}, 'files': {'count': 2, 'size': 700}}]})
    site_id = _site_id(emulator, site)
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: full backup
      pantheon.platform.backup:
        site: "{{ site }}"
      register: full

    - name: database backup
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: [database]
      register: db
''', extra_vars={'site': site}, env=play_env(emulator, tmp_path))
    assert res.rc == 0, res.output
    full = res.task('full backup')['backup']['folder']
    db = res.task('database backup')['backup']['folder']

    # A third export that is still running, listed the way the platform lists one (size 0, no finish
    # time); written through the emulator's own store.
    running = '%d_backup' % (int(full.split('_')[0]) + 100)
    store = Store(emulator.data_dir)
    try:
        store.add_backup_entry(site_id, 'dev', running + '_database', running, 'database', 'running_database.sql.gz',
                               {'size': 0, 'start_time': float(running.split('_')[0]), 'ttl': 86400})
    finally:
        store.close()
    keep_file = tmp_path / 'keep.json'
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: everything
      pantheon.platform.backup_info:
        site: "{{ site }}"
      register: everything

    - name: files only
      pantheon.platform.backup_info:
        site: "{{ site }}"
        element: files

    - name: one folder
      pantheon.platform.backup_info:
        site: "{{ site }}"
        folder: "{{ full }}"

    - name: with urls
      pantheon.platform.backup_info:
        site: "{{ site }}"
        urls: true
      register: with_urls
''' + KEEP % 'with_urls', extra_vars={'site': site, 'full': full, 'keep_file': str(keep_file)}, env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output

    everything = res.task('everything')
    assert [(e['folder'], e['element']) for e in everything['backups']] == [
        (db, 'database'), (full, 'files'), (full, 'database'), (full, 'code')]
    assert all(e['folder'] != running for e in everything['backups'])
    assert everything['latest']['database']['folder'] == db
    assert everything['latest']['files']['folder'] == full
    assert everything['latest']['code']['folder'] == full
    assert all('url' not in e for e in everything['latest'].values())
    assert [e['element'] for e in res.task('files only')['backups']] == ['files']
    assert list(res.task('files only')['latest']) == ['files']
    assert set(e['folder'] for e in res.task('one folder')['backups']) == {full}
    assert res.task('one folder')['latest']['database']['folder'] == full

    # URLs: a fresh signed link per latest entry, downloadable, never printed.
    assert res.task('with urls').get('censored')
    with_urls = json.loads(keep_file.read_text())
    urls = [with_urls['latest'][e]['url'] for e in ('code', 'database', 'files')]
    for element, url in zip(('code', 'database', 'files'), urls):
        assert urllib.parse.urlsplit(url).query
        assert len(download(emulator, url)) == with_urls['latest'][element]['size']
    assert_no_secrets(res.stdout + res.stderr, known_secrets(emulator, tmp_path, urls))


def test_clear_errors_change_nothing(emulator, tmp_path, d8_site):
    since = last_request_id(emulator)
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: no such site
      pantheon.platform.backup:
        site: no-such-site-here
      ignore_errors: true

    - name: no such env
      pantheon.platform.backup:
        site: "{{ site }}"
        env: mdev9
      ignore_errors: true

    - name: no elements
      pantheon.platform.backup:
        site: "{{ site }}"
        elements: []
      ignore_errors: true

    - name: zero days
      pantheon.platform.backup:
        site: "{{ site }}"
        keep_for: 0
      ignore_errors: true

    - name: unknown element
      pantheon.platform.backup_info:
        site: "{{ site }}"
        element: everything
      ignore_errors: true
''', extra_vars={'site': d8_site}, env=play_env(emulator, tmp_path))
    assert res.rc == 0, res.output
    assert "Could not find a site named or identified by 'no-such-site-here'" in res.task('no such site')['msg']
    assert 'has no mdev9 environment' in res.task('no such env')['msg']
    assert 'elements must name at least one of code, database, files' in res.task('no elements')['msg']
    assert 'keep_for must be at least 1 day, got 0' in res.task('zero days')['msg']
    assert 'element' in res.task('unknown element')['msg'] and 'everything' in res.task('unknown element')['msg']
    for name in ('no such site', 'no such env', 'no elements', 'zero days', 'unknown element'):
        assert statuses(res, name) == ['failed']
        assert 'Traceback' not in json.dumps(res.task(name))
    assert workflow_posts(emulator, since) == []
