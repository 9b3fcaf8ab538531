#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: database_stream
short_description: Import a database dump into a Pantheon environment over SSH, without the URL-import size limit
version_added: 1.0.0
description:
  - Streams a C(database.sql.gz) (a database backup or any URL) into the database of an environment over SSH,
    decompressing it on the way. Drupal 7 (Drush 8) uses C(drush sql-cli), Drupal 8+ (Drush 9 and later)
    C(drush sql:cli), and WordPress C(wp db import -).
  - Memory use is constant whatever the size of the dump.
  - By default (O(spool=true)) the compressed dump is first downloaded to a private temporary file and checked
    (complete, and a valid gzip stream to its end) before the target is touched, so a broken download never
    reaches the target. Only the import itself then runs over SSH.
  - With O(spool=false) the download is piped straight into the import. When the download breaks (after its
    resume attempts) or the gzip data is corrupt, the module kills the SSH connection instead of closing the
    import's input, so the remote side sees a dropped connection and never a clean end of input, and the module
    fails.
  - "Idempotent: after an import the module records, on the controller, the checksum of the SQL it imported
    and a fingerprint of the resulting database (tables, row counts, per-table checksums, schemas). When the same
    dump is given again and the target's database still has that fingerprint, nothing is imported and the result
    is C(changed=false). Any change to the target database since, or another dump, imports again."
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  spool:
    description:
      - Download and check the whole dump before the import starts (needs local disk for the compressed dump in
        O(staging_dir)). With V(false), stream it straight into the import.
    type: bool
    default: true
  staging_dir:
    description:
      - Directory for the temporary copy of the compressed dump (O(spool=true)). It is removed afterwards.
      - Defaults to the system's temporary directory.
    type: path
  force:
    description:
      - Import even when the target already holds exactly what this dump produced.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds the import (and each database read for the fingerprint) may run before it is stopped and the module
        fails.
    type: int
    default: 3600
extends_documentation_fragment:
  - pantheon.platform.overwrite
  - pantheon.platform.site_env
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.transfer_source
  - pantheon.platform.backup_ref
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - The dump is downloaded and checked, and the target's fingerprint is read, to tell whether an import would
        happen; nothing is imported.
  diff_mode:
    support: none
notes:
  - A frozen site (the API's C(frozen) field) is refused before anything is posted, with a message naming it, as
    Terminus refuses its commands on frozen sites (C(requireSiteIsNotFrozen)); its test and live environments are
    unavailable while it is frozen.
  - "What the target holds after a failure: a download that breaks with O(spool=true) never reaches the target,
    so its database is unchanged. With O(spool=false), or when the SSH connection itself breaks during the import,
    the import is cut off. Whether the previous database survives then depends on the import: the emulator and any
    import that runs in one transaction keep it. A MySQL import through C(drush sql-cli) or C(wp db import)
    keeps the tables it has not reached yet and has already replaced the ones before. The module then fails with a
    message that says so, and running it again imports the whole dump again."
  - The fingerprint record is kept in C(~/.ansible/pantheon/imports/) (or E(PANTHEON_CACHE_DIR)/imports) on the
    host that runs the module, readable only by its user. Without it, the dump is simply imported again.
  - Reading the fingerprint means reading the whole target database once after each import (and once before a
    repeated import), with C(drush sql-dump) or C(wp db export).
requirements:
  - rsync on the host that runs the module (lists the target's files to tell whether it holds content, unless O(overwrite=true))
seealso:
  - module: pantheon.platform.clone_verify
  - module: pantheon.platform.backup
'''

EXAMPLES = r'''
- name: Import the newest live database backup of the old site into the new site's dev environment
  pantheon.platform.database_stream:
    site: new-site
    env: dev
    backup:
      site: old-site
      env: live

- name: Stream a dump from a URL straight into the import, without a local copy
  pantheon.platform.database_stream:
    site: new-site
    env: dev
    url: "{{ dump_url }}"
    spool: false
'''

RETURN = r'''
imported:
  description: Whether an import ran (in check mode, whether one would).
  returned: success
  type: bool
sql_bytes:
  description: Size of the decompressed SQL.
  returned: success
  type: int
  sample: 73400320
sql_sha256:
  description: SHA-256 of the decompressed SQL.
  returned: when O(spool=true), or after an import
  type: str
database:
  description:
    - The target database after the task, as read back from it. C(tables) and C(rows) count its tables and rows.
      C(fingerprint) is one hash over every table's schema, row count and checksum.
    - In check mode, when an import would run, this describes the current (old) database.
  returned: success
  type: dict
  sample: {tables: 74, rows: 120345, fingerprint: 1f0c9a...}
source:
  description: The dump used. C(kind) is V(backup) (with C(site), C(env), C(folder), C(filename), C(size)) or V(url)
    (the URL without query string and last path segment).
  returned: success
  type: dict
download:
  description: C(bytes) downloaded, C(resumes) (requests that resumed with C(Range) after a broken connection) and
    C(url_refreshes) (signed links renewed).
  returned: success
  type: dict
command:
  description: The remote command that read the dump.
  returned: success
  type: str
  sample: drush sql:cli
'''

import hashlib
import os
import tempfile
import time

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._sitedb import (
    drush_major,
    fingerprint,
    import_argv,
    import_state_path,
    load_import_state,
    save_import_state,
    summarize_database,
)
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target, describe_failure, remote_command
from ansible_collections.pantheon.platform.plugins.module_utils._stream import ProcessError, Stream
from ansible_collections.pantheon.platform.plugins.module_utils._overwrite import overwrite_argspec, refuse_content
from ansible_collections.pantheon.platform.plugins.module_utils._target import (
    backup_framework,
    framework_of,
    resolve,
    same_framework,
    target_argspec,
)
from ansible_collections.pantheon.platform.plugins.module_utils._transfer import (
    TransferError,
    checked_chunks,
    gunzip_chunks,
    open_source,
    source_argspec,
)

READ_CHUNK = 1 << 20


class _Hashing(object):
    """Pass chunks through while counting and hashing them."""

    def __init__(self, chunks):
        self._chunks = chunks
        self.size = 0
        self.sha = hashlib.sha256()

    def __iter__(self):
        for chunk in self._chunks:
            self.size += len(chunk)
            self.sha.update(chunk)
            yield chunk


def _file_chunks(path):
    with open(path, 'rb') as handle:
        yield from iter(lambda: handle.read(READ_CHUNK), b'')


def _source_label(info):
    """How messages name the dump: the backup's site.env, or the URL without its query and name."""
    if info.get('kind') == 'backup':
        return 'The database backup of %s.%s' % (info.get('site'), info.get('env'))
    return 'The download from %s' % info.get('url')


def _spool(stream, staging_dir, where):
    """Download the whole dump to a private file and check it. Returns (path, sql_size, sql_sha256)."""
    fd, path = tempfile.mkstemp(prefix='pantheon-db-', suffix='.sql.gz', dir=staging_dir)
    try:
        with os.fdopen(fd, 'wb') as handle:
            def saved():
                for chunk in stream:
                    handle.write(chunk)
                    yield chunk
            sql = _Hashing(checked_chunks(gunzip_chunks(saved()), 'database', where))
            for dummy in sql:
                pass
    except BaseException:
        os.unlink(path)
        raise
    return path, sql.size, sql.sha.hexdigest()


def _download(stream):
    return dict(bytes=stream.received, resumes=stream.resumes, url_refreshes=stream.url_refreshes)


def _describe_db(tables):
    return dict(tables=len(tables), rows=sum(t['rows'] for t in tables.values()), fingerprint=fingerprint(tables))


def _run_import(module, target, argv, sql_chunks, streaming):
    """Feed the SQL to the remote import. Raises PantheonError with what the target holds on failure."""
    command = target.ssh_argv() + [remote_command(argv)]
    with Stream(command, stdin=True, timeout=module.params['wait_timeout']) as child:
        child.drain_stdout()
        try:
            child.feed(sql_chunks)
        except TransferError as exc:
            raise PantheonError(
                '%s. The import on %s was cut off before the end of its input (the SSH connection was killed, so no '
                'end of input was sent). A transactional import keeps the previous database; a MySQL import keeps '
                'only the tables it had not reached. Run the task again to import the whole dump.'
                % (exc.message.rstrip('.'), target.destination))
        except ProcessError as exc:
            rc = child.finish()
            raise PantheonError('%s: %s' % (exc.message, describe_failure(target, rc, child.stderr, what=' '.join(argv))))
        rc = child.finish()
        if rc != 0:
            hint = ''
            if streaming:
                hint = ' The previous database is kept only if the import is transactional.'
            raise PantheonError(describe_failure(target, rc, child.stderr, what=' '.join(argv)) + hint, rc=rc)


class StreamDatabase(Step):
    """Whether the environment's database holds the dump: with O(spool=true), the dump's SHA-256 when the record of
    the last import has it and the database still has the fingerprint that import left (unless O(force)); else
    unknown (None), and the dump is imported."""

    def within(self, sequence):
        params, client = self.params, self.client
        target_env = self.target_env = resolve(client, params['site'], params['env'], write='a database import')
        self.framework = framework_of(target_env)
        if params.get('backup'):
            same_framework(backup_framework(client, params['backup']),
                           '%s.%s' % (params['backup']['site'], params['backup']['env']), target_env, 'a database import')
        self.drush = drush_major(client, target_env)
        self.target = appserver_target(params, target_env.site_id, target_env.env)
        self.argv = import_argv(self.framework, self.drush)
        if params['staging_dir'] and not os.path.isdir(params['staging_dir']):
            raise PantheonError('staging_dir %s does not exist' % params['staging_dir'])
        self.stream, self.info = open_source(
            client, params, 'database', progress_label='database_stream %s: download and import' % target_env.label,
            on_resume=lambda got, total, why: self.module.debug('download resumed at byte %s of %s (%s)' % (got, total, why)))
        self.state_path = import_state_path(target_env.site_id, target_env.env)
        self.spool_path = None
        self.read = {}
        try:
            return sequence()
        finally:
            if self.spool_path:
                os.unlink(self.spool_path)

    def _database(self):
        dummy, tables = summarize_database(self.target, self.framework, self.drush, timeout=self.params['wait_timeout'])
        return tables

    def current(self):
        if not self.params['spool']:
            return None
        stream = self.stream
        with stream:
            self.spool_path, sql_size, sql_sha = _spool(stream, self.params['staging_dir'], _source_label(self.info))
        self.read.update(sql_bytes=sql_size, sql_sha256=sql_sha, download=_download(stream))
        state = load_import_state(self.state_path)
        if not self.params['force'] and state.get('sql_sha256') == sql_sha and state.get('fingerprint'):
            self.read['database'] = _describe_db(self._database())
            if self.read['database']['fingerprint'] == state['fingerprint']:
                return sql_sha
        return None

    def desired(self, current):
        # not spooled: the dump's SHA-256 is known only once it streamed, so it is imported
        desired = self.read.get('sql_sha256', 'the streamed dump')
        if desired != current:
            refuse_content(self.module, self.target_env, 'a database import')
        return desired

    def result(self, current, desired):
        return dict(self.read, imported=current != desired, command=' '.join(self.argv), source=self.info)

    def preview(self, current, desired):
        return {} if 'database' in self.read else dict(database=_describe_db(self._database()))

    def apply(self, current, desired):
        result = {}
        if self.spool_path:
            sql = _Hashing(gunzip_chunks(_file_chunks(self.spool_path)))
            _run_import(self.module, self.target, self.argv, sql, streaming=False)
        else:
            with self.stream:
                # the dump's first bytes are looked at before the import starts
                sql = _Hashing(checked_chunks(gunzip_chunks(self.stream), 'database', _source_label(self.info)))
                _run_import(self.module, self.target, self.argv, sql, streaming=True)
            result.update(sql_bytes=sql.size, sql_sha256=sql.sha.hexdigest(), download=_download(self.stream))
        tables = self._database()
        if not tables:
            self.module.warn('The import into %s finished but the database has no tables; was the dump empty?'
                             % self.target_env.label)
        result['database'] = _describe_db(tables)
        save_import_state(self.state_path, dict(sql_sha256=sql.sha.hexdigest(), fingerprint=result['database']['fingerprint'],
                                                imported_at=time.time(), source=self.info))
        return result


def main():
    spec = target_argspec()
    spec.update(
        spool=dict(type='bool', default=True),
        staging_dir=dict(type='path'),
        force=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=3600),
    )
    spec.update(source_argspec())
    spec.update(overwrite_argspec())
    module = PantheonModule(
        argument_spec=spec,
        ssh=True,
        supports_check_mode=True,
        mutually_exclusive=[('url', 'backup')],
        required_one_of=[('url', 'backup')],
    )
    module.run_step(StreamDatabase)


if __name__ == '__main__':
    main()
