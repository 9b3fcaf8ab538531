# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the integration tests of backup, backup_info, archive and site_import."""

from __future__ import annotations

import glob
import io
import json
import os
import re
import secrets
import subprocess
import tarfile
import urllib.parse

from transfer_helpers import play_env  # one way to build the playbook environment, re-exported

__all__ = ['ANY_ARCHIVE_NAME', 'KEEP', 'code_tree', 'db_dump', 'known_secrets', 'last_request_id', 'play_env', 'statuses',
           'table_counts', 'tar_members', 'tree', 'workflow_posts']

# A task that writes a (no_log) result where the test can read it: printed output never shows it.
KEEP = '''
    - name: keep results for the test
      ansible.builtin.copy:
        content: "{{ %s | to_json }}"
        dest: "{{ keep_file }}"
        mode: "0600"
      no_log: true
'''
ANY_ARCHIVE_NAME = re.compile(r'[0-9a-f]{40}\.(?:tgz|tar\.gz)')


def known_secrets(emulator, tmp_path, urls=(), names=()):
    """The machine token, every cached session under ``tmp_path``, the signed URLs' query strings and
    archive names, named for assert_no_secrets."""
    found = {'machine token': emulator.machine_token}
    for i, path in enumerate(sorted(glob.glob(str(tmp_path / '*' / 'session-*.json')))):
        with open(path, encoding='utf-8') as f:
            found['session %d' % i] = json.load(f)['session']
    for i, url in enumerate(urls):
        query = urllib.parse.urlsplit(url).query
        if query:
            found['signed query %d' % i] = query
    for i, name in enumerate(names):
        found['archive name %d' % i] = name
    return found


def last_request_id(emulator):
    rows = emulator.requests()
    return rows[-1]['id'] if rows else 0


def workflow_posts(emulator, since, site_id=None):
    """Paths of the workflow POSTs logged since request ``since`` (on one site's URLs when given)."""
    return [r['path'] for r in emulator.requests(since=since)
            if r['method'] == 'POST' and r['path'].endswith('/workflows') and (site_id is None or site_id in r['path'])]


def statuses(res, task):
    return [t['status'] for t in res.tasks if t['name'] == task]


def table_counts(emulator, dump):
    """{table: rows} of an SQL dump (bytes) loaded by the mysql client into a scratch database on
    the emulator's MariaDB."""
    scratch = 'scratch_' + secrets.token_hex(6)
    mysql = emulator.mysql_argv()

    def run(*args, **kwargs):
        return subprocess.run(mysql + list(args), capture_output=True, check=True, **kwargs).stdout.decode()
    run('-e', 'CREATE DATABASE %s' % scratch)
    try:
        run(scratch, input=dump)
        names = run('--batch', '--skip-column-names', '-e', "SELECT TABLE_NAME FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = '%s'" % scratch).split()
        return dict((name, int(run('--batch', '--skip-column-names', scratch, '-e', 'SELECT COUNT(*) FROM `%s`' % name)))
                    for name in names)
    finally:
        run('-e', 'DROP DATABASE %s' % scratch)


def db_dump(emulator, state):
    """A digest of an environment's database content as MariaDB holds it (tables, rows, bytes)."""
    return emulator.state(state['site']['name'], state['env'], digest=True)['db']['digest']


def tree(root, skip_links=False):
    """{relative path: bytes} of the regular files under ``root``, without .git (and links when asked)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames
                       if d != '.git' and not (skip_links and os.path.islink(os.path.join(dirpath, d)))]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if skip_links and os.path.islink(path):
                continue
            with open(path, 'rb') as f:
                found[os.path.relpath(path, root)] = f.read()
    return found


def code_tree(state):
    """The checkout of an environment without .git and the (linked) files directory."""
    return tree(state['paths']['code'], skip_links=True)


def tar_members(blob):
    """{name: bytes (None for directories)} of a gzipped tarball."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode='r:gz') as tar:
        return dict((m.name, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers())
