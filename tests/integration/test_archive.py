# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.archive through ansible-playbook against the emulator.

Archives are made with the emulator's Drush 8 and Drush 12 over real SSH, downloaded from the
environment's public web inside the test and listed; removal is proven by a 404; -vvvv output
is scanned for the archive names.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from clone_steps_helpers import (ANY_ARCHIVE_NAME, KEEP, last_request_id, play_env, statuses, table_counts, tar_members,
                                 tree)
from transfer_helpers import ssh_argv
from helpers.ansible import run_playbook
from helpers.secrets import assert_no_secrets


def files_dir(emulator, site, env='dev'):
    return emulator.state(site, env)['paths']['files']


def listing(path):
    return sorted(os.listdir(path))


def fetch(emulator, url):
    return emulator.http().get(url, timeout=60)


def no_archive_names(res, names):
    text = res.stdout + res.stderr
    assert_no_secrets(text, dict(('archive name %d' % i, n) for i, n in enumerate(names)))
    assert not ANY_ARCHIVE_NAME.search(text), 'an archive name was printed'


def ssh_commands(emulator, since):
    return [r['path'] for r in emulator.requests(channel='ssh', since=since)]


@pytest.fixture(scope='module')
def sites(emulator):
    prefix = 'ar%s-' % os.urandom(3).hex()
    names = {'d7': prefix + 'd7', 'd8': prefix + 'd8', 'wp': prefix + 'wp'}
    emulator.seed({'seed': 21, 'sites': [
        {'name': names['d7'], 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 6},
         'files': {'count': 5, 'size': [200, 3000], 'depth': 2}},
        {'name': names['d8'], 'framework': 'drupal8', 'envs': ['dev'], 'db': {'nodes': 4},
         'files': {'count': 4, 'size': 1500, 'depth': 1}},
        {'name': names['wp'], 'framework': 'wordpress', 'envs': ['dev']},
    ]})
    return names


def test_drush8_archive_with_and_without_files(emulator, sites, tmp_path):
    site = sites['d7']
    state = emulator.state(site, 'dev')
    # An archive left by an earlier run must not end up inside the new one.
    stale = os.path.join(state['paths']['files'], os.urandom(20).hex() + '.tgz')
    with open(stale, 'wb') as f:
        f.write(b'an archive of an earlier run')
    before = listing(state['paths']['files'])
    since = last_request_id(emulator)
    keep_file = tmp_path / 'keep.json'
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: would archive
      pantheon.platform.archive:
        site: "{{ site }}"
      check_mode: true
      register: would

    - name: archive with files
      pantheon.platform.archive:
        site: "{{ site }}"
      register: full

    - name: the same archive again
      pantheon.platform.archive:
        site: "{{ site }}"
        path: "{{ full.path }}"
      register: again

    - name: archive without files
      pantheon.platform.archive:
        site: "{{ site }}"
        exclude_files: true
      register: nofiles
''' + KEEP % "{'would': would, 'full': full, 'again': again, 'nofiles': nofiles}",
                       extra_vars={'site': site, 'keep_file': str(keep_file)}, env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    kept = json.loads(keep_file.read_text())
    would, full, again, nofiles = kept['would'], kept['full'], kept['again'], kept['nofiles']
    names = [full['path'].rsplit('/', 1)[1], nofiles['path'].rsplit('/', 1)[1]]

    # Check mode: changed, the Drush version, no name, and no archive command over SSH.
    assert would['changed'] is True and would['format'] == 'drush8' and 'path' not in would
    assert [c for c in ssh_commands(emulator, since) if 'archive' in c] == ['drush archive-dump'] * 2
    # Names: 40 hex characters, different each time, printed nowhere; results hidden.
    for result in (full, nofiles, again):
        assert result['sitedir'] == 'sites/default'
    for result in (full, nofiles):
        assert result['changed'] is True and result['format'] == 'drush8' and result['drush_version'] == '8'
        assert re.match(r'^sites/default/files/[0-9a-f]{40}\.tgz$', result['path'])
        assert result['url'].endswith('/' + result['path'])
        assert result['url'].startswith(emulator.web_url(site, 'dev') + '/')
    assert names[0] != names[1]
    assert again['changed'] is False and again['size'] == full['size'] and again['url'] == full['url']
    for task in ('archive with files', 'the same archive again', 'archive without files'):
        assert res.task(task).get('censored')
    assert listing(state['paths']['files']) == sorted(before + names)
    no_archive_names(res, names)

    # Contents: the Drush 8 layout with the environment's code, database and (or without) files.
    source_files = tree(state['paths']['files'])
    source_files = dict((k, v) for k, v in source_files.items() if not ANY_ARCHIVE_NAME.fullmatch(k))
    for result, with_files in ((full, True), (nofiles, False)):
        resp = fetch(emulator, result['url'])
        assert resp.status_code == 200 and len(resp.content) == result['size']
        got = tar_members(resp.content)
        assert 'MANIFEST.ini' in got
        assert re.search(rb'\ndocroot = "/srv/bindings/[0-9a-f]{32}/code"\n', got['MANIFEST.ini'])
        assert b'\nsitedir = "sites/default"\n' in got['MANIFEST.ini']
        sqls = [n for n in got if n.endswith('.sql')]
        assert sqls == ['pantheon.sql']
        assert table_counts(emulator, got['pantheon.sql']) == state['db']['tables']
        assert got.get('code/index.php') is not None and got.get('code/sites/default/settings.php') is not None
        in_archive = dict((n[len('code/sites/default/files/'):], data) for n, data in got.items()
                          if n.startswith('code/sites/default/files/') and data is not None)
        if with_files:
            # Everything of files/ but the archives this module makes.
            assert in_archive == source_files
        else:
            assert in_archive == {}

    # Removal: check mode first, then the removal proven by 404, then nothing left to do.
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: would remove
      pantheon.platform.archive:
        site: "{{ site }}"
        state: absent
        path: "{{ paths[0] }}"
      check_mode: true
      register: would

    - name: would still remove after check mode
      pantheon.platform.archive:
        site: "{{ site }}"
        state: absent
        path: "{{ paths[0] }}"
      check_mode: true
      register: would_again

    - name: remove
      pantheon.platform.archive:
        site: "{{ site }}"
        state: absent
        path: "{{ paths[0] }}"
      register: removed

    - name: remove again
      pantheon.platform.archive:
        site: "{{ site }}"
        state: absent
        path: "{{ paths[0] }}"
      register: removed_again

    - name: remove the other
      pantheon.platform.archive:
        site: "{{ site }}"
        state: absent
        path: "{{ paths[1] }}"
''', extra_vars={'site': site, 'paths': [full['path'], nofiles['path']]}, env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    assert res.task('would remove')['changed'] is True and res.task('would still remove after check mode')['changed']
    assert res.task('remove') == dict(res.task('remove'), changed=True, url_status=404)
    assert res.task('remove again')['changed'] is False and res.task('remove again')['url_status'] == 404
    assert res.task('remove the other')['changed'] is True
    for url in (full['url'], nofiles['url']):
        assert fetch(emulator, url).status_code == 404
    assert listing(state['paths']['files']) == before
    no_archive_names(res, names)
    os.remove(stale)


def old_form_archive(emulator, site_id, name):
    """What versions before the fix ran: Drush 8 with a Drupal-root-relative destination."""
    argv = ssh_argv(emulator, site_id, 'dev') + ['drush archive-dump --destination=sites/default/files/%s --overwrite' % name]
    res = subprocess.run(argv, capture_output=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr


REMOVAL_TASK = '''
    - name: %s
      pantheon.platform.archive:
        site: "{{ site }}"
        state: absent
        path: "sites/default/files/{{ name }}"
      check_mode: %s
'''


def test_removal_cleans_up_stray_archives_of_earlier_versions(emulator, sites, tmp_path):
    """Drush 8 put archives named sites/default/files/<hex>.tgz into the SSH home's own
    sites/default/files/ (not served). The removal removes those it can tell are its own."""
    site = sites['d7']
    state = emulator.state(site, 'dev')
    site_id = [s['id'] for s in emulator.admin('GET', 'state/sites').json() if s['name'] == site][0]
    stray_dir = os.path.join(state['paths']['root'], 'sites', 'default', 'files')
    named, other = os.urandom(20).hex() + '.tgz', os.urandom(20).hex() + '.tgz'
    old_form_archive(emulator, site_id, named)
    old_form_archive(emulator, site_id, other)
    assert fetch(emulator, emulator.web_url(site, 'dev') + '/sites/default/files/' + named).status_code == 404
    with open(os.path.join(stray_dir, 'notes.txt'), 'w', encoding='utf-8') as f:
        f.write('not an archive of this module')
    files_before = listing(state['paths']['files'])
    play = ('- hosts: localhost\n  gather_facts: false\n  tasks:' + REMOVAL_TASK % ('would', 'true')
            + REMOVAL_TASK % ('remove', 'false') + REMOVAL_TASK % ('again', 'false'))
    res = run_playbook(play, extra_vars={'site': site, 'name': named}, env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    assert res.task('would')['changed'] is True and res.task('would')['strays_removed'] == 2
    assert res.task('remove') == dict(res.task('remove'), changed=True, strays_removed=2, url_status=404)
    assert res.task('again') == dict(res.task('again'), changed=False, strays_removed=0)
    assert listing(stray_dir) == ['notes.txt']
    assert listing(state['paths']['files']) == files_before
    no_archive_names(res, [named, other])


SITEDIR_FAULT = {'match': {'channel': 'ssh', 'path': r'drush.* (ard|archive-dump) '},
                 'action': {'drush_sitedir_unknown': True}}


def test_drush8_archive_without_the_site_directory_is_removed_not_returned(emulator, sites, tmp_path):
    """Terminus #2580: Drush 8 leaves sites/default out. The module never hands such an archive
    on: caught by Drush's warning when it makes it, by the MANIFEST read from the URL when it
    is given one; removed (404) either way."""
    site = sites['d7']
    state = emulator.state(site, 'dev')
    site_id = [s['id'] for s in emulator.admin('GET', 'state/sites').json() if s['name'] == site][0]
    before = listing(state['paths']['files'])
    # An archive the faulty Drush made earlier, in the files directory (served).
    given = os.urandom(20).hex() + '.tgz'
    emulator.faults(dict(SITEDIR_FAULT, times=1))
    try:
        res = subprocess.run(ssh_argv(emulator, site_id, 'dev')
                             + ['drush archive-dump --destination=code/sites/default/files/%s' % given],
                             capture_output=True, timeout=300, check=False)
    finally:
        emulator.clear_faults()
    assert res.returncode == 0 and b'Unable to determine sites directory' in res.stderr
    given_url = emulator.web_url(site, 'dev') + '/sites/default/files/' + given
    assert fetch(emulator, given_url).status_code == 200
    since = last_request_id(emulator)
    emulator.faults(SITEDIR_FAULT)
    try:
        res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: make one
      pantheon.platform.archive:
        site: "{{ site }}"
        exclude_files: true
      register: made
      ignore_errors: true

    - name: take the given one
      pantheon.platform.archive:
        site: "{{ site }}"
        path: "sites/default/files/{{ given }}"
      register: taken
      ignore_errors: true
''', extra_vars={'site': site, 'given': given}, env=play_env(emulator, tmp_path), verbosity=4)
    finally:
        emulator.clear_faults()
    assert res.rc == 0, res.output
    made, taken = res.task('make one'), res.task('take the given one')
    for result in (made, taken):
        assert result['failed'] is True and result['reason'] == 'no_sitedir', result
        assert 'path' not in result and 'url' not in result
        assert 'without being imported' in result['msg'] and '404' in result['msg']
    assert 'Unable to determine sites directory for self' in made['msg']
    assert 'names no site directory' in taken['msg']
    # Nothing left behind, nothing imported, and the given archive was read from its URL.
    assert listing(state['paths']['files']) == before
    assert fetch(emulator, given_url).status_code == 404
    web = [r['path'] for r in emulator.requests(channel='web', since=since)]
    assert ('/sites/default/files/' + given) in web
    assert not [r for r in emulator.requests(channel='api', since=since)
                if r['method'] == 'POST' and 'workflows' in r['path']]
    no_archive_names(res, [given])


def test_drush12_archive(emulator, sites, tmp_path):
    site = sites['d8']
    state = emulator.state(site, 'dev')
    before = listing(state['paths']['files'])
    # Database settings in settings.php, which Drush 11+ refuses to archive (written here so the test
    # does not depend on how the emulator seeds settings.php).
    with open(os.path.join(state['paths']['code'], 'sites', 'default', 'settings.php'), 'a', encoding='utf-8') as f:
        f.write("$databases['default']['default'] = ['driver' => 'mysql', 'database' => 'pantheon'];\n")
    keep_file = tmp_path / 'keep.json'
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: settings.php holds database settings
      pantheon.platform.archive:
        site: "{{ site }}"
      ignore_errors: true

    - name: archive without settings.php
      pantheon.platform.archive:
        site: "{{ site }}"
        exclude_code_paths: [sites/default/settings.php]
      register: d12
''' + KEEP % 'd12', extra_vars={'site': site, 'keep_file': str(keep_file)}, env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    refused = res.task('settings.php holds database settings')
    assert refused['reason'] == 'drush_failed' and 'exclude_code_paths' in refused['msg']
    assert 'Found database connection settings in sites/default/settings.php' in refused['msg']
    d12 = json.loads(keep_file.read_text())
    assert d12['format'] == 'drush11' and d12['drush_version'].startswith('12.')
    assert re.match(r'^sites/default/files/[0-9a-f]{40}\.tar\.gz$', d12['path'])
    name = d12['path'].rsplit('/', 1)[1]
    assert listing(state['paths']['files']) == sorted(before + [name])
    no_archive_names(res, [name])

    resp = fetch(emulator, d12['url'])
    assert resp.status_code == 200 and len(resp.content) == d12['size']
    got = tar_members(resp.content)
    assert b'generator: \'Drush archive:dump\'' in got['MANIFEST.yml']
    assert table_counts(emulator, got['database/database.sql']) == state['db']['tables']
    assert 'code/index.php' in got and 'code/sites/default/settings.php' not in got
    source_files = dict((k, v) for k, v in tree(state['paths']['files']).items() if not ANY_ARCHIVE_NAME.fullmatch(k))
    assert dict((n[len('files/'):], d) for n, d in got.items() if n.startswith('files/') and d is not None
                and not ANY_ARCHIVE_NAME.search(n)) == source_files

    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: remove
      pantheon.platform.archive:
        site: "{{ site }}"
        state: absent
        path: "{{ path }}"
''', extra_vars={'site': site, 'path': d12['path']}, env=play_env(emulator, tmp_path))
    assert res.rc == 0, res.output
    assert res.task('remove')['changed'] is True
    assert fetch(emulator, d12['url']).status_code == 404
    assert listing(state['paths']['files']) == before


def test_too_large_fails_and_leaves_no_partial_file(emulator, sites, tmp_path):
    dirs = dict((k, files_dir(emulator, sites[k])) for k in ('d7', 'd8'))
    before = dict((k, listing(d)) for k, d in dirs.items())
    with emulator.limits(max_file_bytes=2048):
        res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: drush 8
      pantheon.platform.archive:
        site: "{{ d7 }}"
      register: d7_archive
      ignore_errors: true

    - name: drush 12
      pantheon.platform.archive:
        site: "{{ d8 }}"
        exclude_code_paths: [sites/default/settings.php]
      ignore_errors: true
''', extra_vars=sites, env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    for task, site in (('drush 8', 'd7'), ('drush 12', 'd8')):
        result = res.task(task)
        assert statuses(res, task) == ['failed']
        assert result['reason'] == 'too_large', result
        assert 'too large' in result['msg'] and 'exclude_files: true' in result['msg']
        assert listing(dirs[site]) == before[site]
    assert res.task('drush 8')['partial_removed'] >= 1  # Drush 8 leaves its working .tar behind
    assert not ANY_ARCHIVE_NAME.search(res.stdout + res.stderr)


@pytest.mark.parametrize('rc, err, partial, limit, expected', [
    (255, 'Connection to appserver closed by remote host.', 256 * 2 ** 20, None, True),  # cut at the limit
    (255, 'Connection to appserver closed by remote host.', 16 * 1024, None, False),  # a 16 KB site, cut
    (255, 'Connection to appserver closed by remote host.', None, None, False),  # cut, nothing left to measure
    (255, 'Connection to appserver closed by remote host.', 1900, 2048, True),  # a lowered limit, reached
    (1, 'tar: write error: File too large', None, None, True),  # the platform says so (EFBIG)
    (1, 'Drush command terminated abnormally', 10 ** 9, None, False),  # no cut, no EFBIG
])
def test_too_large_is_decided_by_evidence(rc, err, partial, limit, expected):
    """Issue 11.6: "closed by remote host" alone is no evidence of size; the partial archive is."""
    from ansible_collections.pantheon.platform.plugins.module_utils._archive import looks_too_large
    assert looks_too_large(rc, '', err, partial_size=partial, limit=limit) is expected


def test_a_cut_below_the_file_limit_is_not_too_large(emulator, sites, tmp_path):
    """The emulator cuts the Drush 8 archive at 2 KB and says "closed by remote host", but the module
    knows the platform's own limit (256MB, no PANTHEON_FILE_SIZE_LIMIT): a 2 KB partial file is no
    archive outgrowing it, so the failure is drush_failed, not too_large (no fallback to a smaller
    archive is offered for a connection that was merely cut), and the partial file is removed."""
    from helpers.modules import run_module_main
    before = listing(files_dir(emulator, sites['d7']))
    env = dict(play_env(emulator, tmp_path), PANTHEON_FILE_SIZE_LIMIT=None)
    with emulator.limits(max_file_bytes=2048):
        out = run_module_main('archive', {'site': sites['d7']}, env=env)[0]
    assert out.get('failed') and out['reason'] == 'drush_failed', out
    assert 'closed by remote host' in out['msg'] and 'too large' not in out['msg'], out['msg']
    assert out['partial_removed'] >= 1
    assert listing(files_dir(emulator, sites['d7'])) == before


def test_refusals_change_nothing(emulator, sites, tmp_path):
    since = last_request_id(emulator)
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: wordpress
      pantheon.platform.archive:
        site: "{{ wp }}"
      ignore_errors: true

    - name: a path this module does not make
      pantheon.platform.archive:
        site: "{{ d7 }}"
        state: absent
        path: sites/default/files/../settings.php
      ignore_errors: true

    - name: absent without path
      pantheon.platform.archive:
        site: "{{ d7 }}"
        state: absent
      ignore_errors: true

    - name: code paths on drush 8
      pantheon.platform.archive:
        site: "{{ d7 }}"
        exclude_code_paths: [sites/default/settings.php]
      ignore_errors: true
''', extra_vars=sites, env=play_env(emulator, tmp_path))
    assert res.rc == 0, res.output
    assert res.task('wordpress')['reason'] == 'unsupported'
    assert 'Drupal sites only' in res.task('wordpress')['msg']
    assert res.task('a path this module does not make')['reason'] == 'invalid_path'
    assert 'missing: path' in res.task('absent without path')['msg']
    assert res.task('code paths on drush 8')['reason'] == 'unsupported'
    assert [c for c in ssh_commands(emulator, since) if 'archive' in c or 'rsync' in c] == []


def test_fallback_without_files_and_the_journal(emulator, tmp_path):
    """Too large whole, made without files in the same task; the journal names the archive while it
    exists (other keys kept, 0600) and forgets it once its removal is proven; too large both ways
    fails naming both routes."""
    name = 'arfb%s' % os.urandom(3).hex()
    big = [{'name': 'media/big.bin', 'size': 200 * 1024, 'compressible': False}]
    seeded = emulator.seed({'seed': 22, 'sites': [{'name': name, 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 4},
                                                   'files': {'count': 3, 'size': 500, 'compressible': True, 'big': big}}]})
    site_id = seeded[0]['id']
    files = files_dir(emulator, name)
    before = listing(files)
    journal = tmp_path / 'state' / 'job.json'
    journal.parent.mkdir()
    journal.write_text(json.dumps({'job': 'j', 'fixups_pending': True}))
    play = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: archive
      pantheon.platform.archive:
        site: "{{ site }}"
        fallback_without_files: true
        journal: "{{ journal }}"
      register: made
      ignore_errors: true
''' + KEEP % 'made'
    env = play_env(emulator, tmp_path)
    keep_file = tmp_path / 'keep.json'
    args = {'site': name, 'journal': str(journal), 'keep_file': str(keep_file)}
    with emulator.limits(max_file_bytes=150 * 1024):
        # (the environment names the lowered limit, PANTHEON_FILE_SIZE_LIMIT: the module's evidence of size)
        res = run_playbook(play, extra_vars=args, env=play_env(emulator, tmp_path), verbosity=4)
    assert res.rc == 0, res.output
    made = json.loads(keep_file.read_text())
    assert made['changed'] is True and made['route'] == 'archive_without_files', made
    assert made['failed_routes'] == ['archive']
    archive = made['path'].rsplit('/', 1)[1]
    assert listing(files) == sorted(before + [archive]), 'the too-large partial is gone, the smaller archive is there'
    members = tar_members(fetch(emulator, made['url']).content)
    assert not [m for m in members if '/sites/default/files/' in m and m.endswith('big.bin')], 'files were left out'
    noted = json.loads(journal.read_text())
    assert noted['job'] == 'j' and noted['fixups_pending'] is True
    assert noted['archive']['path'] == made['path'] and noted['archive']['env'] == 'dev'
    assert noted['archive']['site'] == site_id
    assert oct(os.stat(journal).st_mode & 0o777) == '0o600'
    no_archive_names(res, [archive])

    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: remove
      pantheon.platform.archive:
        site: "{{ site }}"
        state: absent
        path: "{{ (lookup('file', journal) | from_json).archive.path }}"
        journal: "{{ journal }}"
      register: removed
''', extra_vars={'site': name, 'journal': str(journal)}, env=env)
    assert res.rc == 0, res.output
    assert res.task('remove')['changed'] is True and res.task('remove')['url_status'] == 404
    assert json.loads(journal.read_text()) == {'job': 'j', 'fixups_pending': True, 'archive': None}
    assert listing(files) == before

    with emulator.limits(max_file_bytes=1024):
        res = run_playbook(play, extra_vars=args, env=play_env(emulator, tmp_path))
    assert res.rc == 0, res.output
    failed = json.loads(keep_file.read_text())
    assert statuses(res, 'archive') == ['failed']
    assert failed['reason'] == 'too_large' and failed['failed_routes'] == ['archive', 'archive_without_files']
    assert listing(files) == before
    assert not ANY_ARCHIVE_NAME.search(res.stdout + res.stderr)
