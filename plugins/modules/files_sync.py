#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: files_sync
short_description: Upload files into a Pantheon environment's files directory with rsync over SSH
version_added: 1.0.0
description:
  - Makes the C(files/) directory of an environment (C(sites/default/files) for Drupal, C(wp-content/uploads) for
    WordPress) hold the files of a local directory (O(src)) or of a files backup (O(backup) or O(url)).
  - A files backup (C(.tar.gz)) is downloaded, decompressed and unpacked in one pass into a staging directory, with
    no intermediate archive on disk. C(pigz), else C(gzip), decompresses in its own process when installed (beside
    the download and the unpacking), else Python does. The download resumes with HTTP C(Range) after a broken connection. The top
    folder of a platform files backup (C(files_<env>/)) is stripped. Members with absolute paths or C(..) are
    refused; devices, FIFOs and symlinks pointing outside the tree are skipped.
  - The upload is C(rsync -rlz --temp-dir=~/tmp/) over SSH (C(-rl) with O(compress=false)), as the platform requires (no C(-a), and no owners, groups,
    permissions or devices), comparing files by checksum or by size. With the callback P(pantheon.platform.progress#callback)
    enabled, it also runs with C(--info=progress2) (rsync 3.1 or later, as C(--info=stats2) already needs) and the
    callback's heartbeat shows the upload's bytes, percentage and rate (no file names).
  - Memory use stays flat whatever the size of the files, since nothing is held in memory whole.
  - Idempotent. A second run with the same source transfers nothing and reports C(changed=false).
  - With O(backup), after each sync the module records the backup (its catalog folder, file name and size), the
    options, and a digest of the target's listing (every path with its size and modification time, read with an
    rsync dry run that computes no checksums). When the next run names the same backup with the same options and
    the target's listing is unchanged, nothing is downloaded (RV(up_to_date=true)); any change on the target, another
    backup or other options make it download and compare as usual. The record is kept in
    C(~/.ansible/pantheon/files_sync/) (or E(PANTHEON_CACHE_DIR)/files_sync) on the host the module runs on; deleting
    it forces a full run. A change on the target that keeps a file's size and its modification time to the second is
    not seen, as with rsync's own quick check.
  - With O(url) the archive is downloaded and unpacked on every run, since a URL names no backup the platform can
    describe.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  src:
    description:
      - Local directory whose content is uploaded (the content, not the directory itself).
      - Exactly one of O(src), O(url) and O(backup) is required.
    type: path
  delete:
    description:
      - Remove files from the target that are not in the source (rsync C(--delete)). Files matching O(exclude) are
        kept.
    type: bool
    default: false
  compare:
    description:
      - How rsync decides that a file differs. V(checksum) reads every file on both sides (slower, exact).
        V(size) only compares sizes (fast, but misses same-size edits).
    type: str
    choices: [checksum, size]
    default: checksum
  exclude:
    description:
      - rsync exclude patterns (C(--exclude)), relative to the files directory, for example C(css/) or C(php/).
      - The names of the site archives M(pantheon.platform.archive) writes at the top of the files directory (40
        hexadecimal digits, then C(.tgz) or C(.tar.gz)) are always excluded, so a backup taken while another clone's
        archive existed never carries that archive into the target, and O(delete) never removes one there.
    type: list
    elements: str
    default: []
  preserve_times:
    description:
      - Keep the files' modification times on the target (rsync C(--times --omit-dir-times)).
    type: bool
    default: false
  compress:
    description:
      - Compress what rsync sends (C(-z); rsync 3.2+ picks zstd or lz4 when both ends have it). It pays over a link
        slower than the CPUs compress, as the link from a controller to the platform is (in C(docs/benchmarks.md),
        about half the time over a 4 MiB/s link), and costs time over a fast local link (about twice C(-rl) on
        loopback).
      - Files rsync already knows as compressed (C(.jpg), C(.gz), C(.mp4) and the like) are never recompressed.
    type: bool
    default: true
    version_added: 1.1.0
  staging_dir:
    description:
      - Directory in which a private staging directory is created to unpack a backup. It needs room for the
        unpacked files.
      - Before anything is downloaded from a backup, the module refuses (reason C(no_space)) when the free space of
        this directory's filesystem is less than the size of the files backup (a C(.tar.gz) unpacks to at least
        about its own size).
      - Defaults to the system's temporary directory.
    type: path
  keep_staging:
    description:
      - Keep the staging directory after the task (its path is returned as RV(staging_path)). By default it is
        removed, also when the task fails.
    type: bool
    default: false
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
      - rsync runs with C(--dry-run) and reports what it would send and delete. A backup or URL source is still
        downloaded and unpacked into the staging directory, which is then removed, so only local temporary space is
        used.
  diff_mode:
    support: partial
    details:
      - The diff lists the first 20 paths sent and deleted.
notes:
  - A frozen site (the API's C(frozen) field) is refused before anything is posted, with a message naming it, as
    Terminus refuses its commands on frozen sites (C(requireSiteIsNotFrozen)); its test and live environments are
    unavailable while it is frozen.
  - The platform refuses single files of 256MB or more. Such files are reported as warnings and make rsync fail
    for them.
  - Large uploads straight into a multi-container live environment may fail without an error on the platform. Upload
    to dev or test and clone the files to live from there, then check with M(pantheon.platform.clone_verify).
  - rsync is retried up to twice when the connection breaks (rsync exit codes 10, 12, 30, 35 and ssh's 255). A re-run
    continues where the previous one stopped.
requirements:
  - rsync on the host that runs the module
seealso:
  - module: pantheon.platform.clone_verify
'''

EXAMPLES = r'''
- name: Copy the files of the newest live backup of the old site to the new site's dev environment
  pantheon.platform.files_sync:
    site: new-site
    env: dev
    backup:
      site: old-site
      env: live
    delete: true

- name: Upload a local directory
  pantheon.platform.files_sync:
    site: new-site
    env: dev
    src: /srv/exports/files
    exclude: [css/, js/]
'''

RETURN = r'''
files_sent:
  description: Number of files whose content rsync sent (or would send in check mode).
  returned: success
  type: int
  sample: 1204
files_deleted:
  description: Number of files and directories removed from the target (or that would be removed).
  returned: success
  type: int
  sample: 0
bytes_sent:
  description: Bytes rsync wrote to the connection (after compression and delta transfer).
  returned: success
  type: int
  sample: 73400320
transferred_bytes:
  description: Total size of the files rsync sent.
  returned: success
  type: int
  sample: 104857600
rsync_stats:
  description: The statistics rsync printed (C(--stats)), keys in snake case, numbers as integers.
  returned: success
  type: dict
  sample: {number_of_files: 1300, number_of_regular_files_transferred: 1204, total_file_size: 104857600, total_bytes_sent: 73400320}
examples:
  description: The first 20 paths sent and deleted.
  returned: success
  type: dict
  sample: {sent: [2024/01/a.jpg], deleted: []}
source:
  description:
    - What was uploaded. C(kind) is V(src), V(backup) or V(url). C(files), C(dirs), C(links) and C(bytes) count the
      source tree.
    - For a backup also C(site), C(env), C(folder), C(filename) and C(size); for a URL the URL without its query string
      and last path segment.
  returned: success
  type: dict
  sample: {kind: backup, site: old-site, env: live, folder: 1700000000_backup, files: 1300, bytes: 104857600}
download:
  description: The download of a backup or URL source. C(bytes) read, C(resumes) (requests that resumed with
    C(Range) after a broken connection), C(url_refreshes) (signed links renewed).
  returned: when O(backup) or O(url) is used
  type: dict
  sample: {bytes: 98566144, resumes: 1, url_refreshes: 0}
up_to_date:
  description: Whether the target's files were found as the last sync of the same backup (with the same options) left
    them, so that nothing was downloaded or sent.
  returned: when O(backup) is used
  type: bool
  sample: false
staging_path:
  description: The staging directory that was kept.
  returned: when O(keep_staging=true) and a backup or URL was unpacked
  type: str
'''

import os
import shutil
import tempfile

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._files import (
    check_staging_room,
    describe_rsync_failure,
    extract_stream,
    gunzip_command,
    listing_digest,
    read_sync_record,
    retryable_rsync_failure,
    rsync_upload,
    scan_local,
    sync_record_path,
    write_sync_record,
)
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target
from ansible_collections.pantheon.platform.plugins.module_utils._overwrite import overwrite_argspec, refuse_content
from ansible_collections.pantheon.platform.plugins.module_utils._transfer import (
    HEAD_BYTES,
    check_content,
    open_source,
    source_argspec,
)
from ansible_collections.pantheon.platform.plugins.module_utils._target import (
    backup_framework,
    resolve,
    same_framework,
    target_argspec,
)

RSYNC_ATTEMPTS = 3


class _Head(object):
    """A file-like wrapper of a download that keeps its first HEAD_BYTES (``data``)."""

    def __init__(self, stream):
        self._stream = stream
        self.data = b''

    def read(self, size=-1):
        chunk = self._stream.read(size)
        if len(self.data) < HEAD_BYTES:
            self.data += chunk[:HEAD_BYTES - len(self.data)]
        return chunk


RECORD_OPTIONS = ('delete', 'compare', 'exclude', 'preserve_times')


def _backup_identity(info, params):
    """What names a backup sync: the backup (catalog folder, file name, size) and the options."""
    return dict(source=dict((k, info.get(k)) for k in ('site_id', 'env', 'folder', 'filename', 'size')),
                options=dict((k, params[k]) for k in RECORD_OPTIONS))


def _prepare_source(module, result, target=None, record=None):
    """Return (directory to upload, staging directory to remove); (None, None) when the target is as the
    last sync of the same backup left it (``record``), so nothing needs downloading."""
    params = module.params
    if params['src']:
        src = params['src']
        if not os.path.isdir(src):
            raise PantheonError('src %s is not a directory' % src)
        result['source'] = dict(kind='src', path=src, **scan_local(src))
        return src, None
    parent = params['staging_dir']
    if parent and not os.path.isdir(parent):
        raise PantheonError('staging_dir %s does not exist' % parent)
    staging = None
    try:
        stream, info = open_source(
            module.client, params, 'files', progress_label='files_sync %s.%s: download' % (params['site'], params['env']),
            on_resume=lambda got, total, why: module.debug('download resumed at byte %s of %s (%s)' % (got, total, why)))
        if info.get('kind') == 'backup':
            result['up_to_date'] = False
            # nothing is downloaded before the stream is read: compare with the last sync first
            if (record and not params['keep_staging'] and record.get('identity') == _backup_identity(info, params)
                    and record.get('listing') == listing_digest(target)):
                stream.close()
                result.update(source=info, up_to_date=True, download=dict(bytes=0, resumes=0, url_refreshes=0))
                return None, None
        try:
            # room to unpack, before anything is downloaded (the size of a backup is known; a URL's is not)
            check_staging_room(parent or tempfile.gettempdir(), info.get('size'),
                               'the files backup of %s.%s' % (info.get('site'), info.get('env')))
            staging = tempfile.mkdtemp(prefix='pantheon-files-', dir=parent)
            os.chmod(staging, 0o700)
        except BaseException:
            stream.close()
            raise
        with stream:
            head = _Head(stream)
            try:
                counts = extract_stream(head, staging, gunzip=gunzip_command())
            except PantheonError:
                # say what the download is when its first bytes tell (an HTML page, not an archive)
                check_content(head.data, 'files', 'The download from %s' % (
                    info.get('url') or '%s.%s' % (info.get('site'), info.get('env'))))
                raise
        info.update(counts)
        result['source'] = info
        result['download'] = dict(bytes=stream.received, resumes=stream.resumes, url_refreshes=stream.url_refreshes)
    except BaseException:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, staging


class FilesSync(Step):
    """rsync a directory, a URL or a backup's files into the environment's files/ directory.

    ``current`` resolves the target, makes the source a local directory (unpacking a download into staging; a
    backup the last sync already put there is not downloaded) and, unless ``overwrite`` lets it write blind,
    lists what rsync would change (a dry run). ``desired`` refuses a target that holds content. ``apply`` runs
    rsync (retrying a broken connection) and records the sync; check mode returns the dry run's numbers.
    """

    def within(self, sequence):
        self.staging = None
        try:
            return sequence()
        finally:
            if self.staging and not self.params['keep_staging']:
                shutil.rmtree(self.staging, ignore_errors=True)

    def current(self):
        params, module = self.params, self.module
        self.target_env = resolve(self.client, params['site'], params['env'], write='a files sync')
        if params.get('backup'):
            same_framework(backup_framework(self.client, params['backup']),
                           '%s.%s' % (params['backup']['site'], params['backup']['env']), self.target_env,
                           'a files sync')
        self.target = appserver_target(params, self.target_env.site_id, self.target_env.env)
        self.found = dict()
        self.record_path = sync_record_path(self.target_env.site_id, self.target_env.env) if params['backup'] else None
        src, self.staging = _prepare_source(module, self.found, self.target,
                                            read_sync_record(self.record_path) if self.record_path else None)
        if src is None:
            return dict(src=None, changes=None)
        source = self.found['source']
        for path in source.pop('large_files', []):
            module.warn('%s is 256MB or larger; the platform refuses such files' % path)
        skipped = source.pop('skipped_examples', [])
        if skipped:
            module.warn('Skipped %d archive member(s), e.g. %s' % (source.get('skipped', len(skipped)), '; '.join(skipped[:5])))
        if params['overwrite'] and not module.check_mode:
            return dict(src=src, changes=None)  # allowed to write whatever differs: rsync says what it changed
        return dict(src=src, changes=self._rsync(src, dry_run=True))

    def desired(self, current):
        dry = current['changes']
        if dry is not None and (dry['rc'] != 0 or dry['changes'].changes > 0):
            # refused before the first write when rsync would change a target that holds content
            refuse_content(self.module, self.target_env, 'a files sync')
        return current

    def changed(self, current, desired):
        if current['src'] is None:
            return False
        return current['changes'] is None or current['changes']['changes'].changes > 0

    def result(self, current, desired):
        result = dict(self.found)
        if current['src'] is None:
            result.update(files_sent=0, files_deleted=0, bytes_sent=0, transferred_bytes=0, rsync_stats={},
                          examples=dict(sent=[], deleted=[]))
        elif self.staging and self.params['keep_staging']:
            result['staging_path'] = self.staging
        return result

    def preview(self, current, desired):
        dry = current['changes']
        if dry['rc'] != 0:
            raise PantheonError(describe_rsync_failure(self.target, dry['rc'], dry['err']), rc=dry['rc'])
        return self._outcome(dry['changes'], dry['stats'])

    def apply(self, current, desired):
        params, module = self.params, self.module
        sent = deleted = 0
        for attempt in range(1, RSYNC_ATTEMPTS + 1):
            run = self._rsync(current['src'], dry_run=False)
            changes, stats = run['changes'], run['stats']
            sent += changes.sent
            deleted += changes.deleted
            if run['rc'] == 0:
                break
            if not retryable_rsync_failure(run['rc'], run['err']) or attempt == RSYNC_ATTEMPTS:
                raise PantheonError(describe_rsync_failure(self.target, run['rc'], run['err']), rc=run['rc'],
                                    changed=sent + deleted > 0, files_sent=sent, files_deleted=deleted,
                                    rsync_stats=stats, **self.found)
            module.warn('rsync attempt %d of %d: the connection broke (exit %d); trying again' % (attempt, RSYNC_ATTEMPTS, run['rc']))
        outcome = self._outcome(changes, stats, sent=sent, deleted=deleted)
        if self.record_path:
            try:
                write_sync_record(self.record_path, dict(identity=_backup_identity(self.found['source'], params),
                                                         listing=listing_digest(self.target)))
            except (OSError, PantheonError) as exc:
                module.warn('Could not record this sync (the next run downloads the backup again): %s' % exc)
        return outcome

    def _rsync(self, src, dry_run):
        params = self.params
        rc, changes, stats, err = rsync_upload(
            self.target, src, delete=params['delete'], compare=params['compare'], dry_run=dry_run,
            preserve_times=params['preserve_times'], excludes=params['exclude'], compress=params['compress'],
            progress_label=None if dry_run else 'files_sync %s.%s: upload' % (params['site'], params['env']),
            total=None if dry_run or params['exclude'] else self.found['source'].get('bytes'))
        return dict(rc=rc, changes=changes, stats=stats, err=err)

    def _outcome(self, changes, stats, sent=None, deleted=None):
        result = dict(
            changed=changes.changes > 0 or bool(sent or deleted),
            files_sent=changes.sent if sent is None else sent,
            files_deleted=changes.deleted if deleted is None else deleted,
            bytes_sent=stats.get('total_bytes_sent', 0),
            transferred_bytes=stats.get('total_transferred_file_size', 0),
            rsync_stats=stats,
            examples=changes.examples,
        )
        if self.module._diff and result['changed']:
            lines = ['+ %s' % path for path in changes.examples['sent']] + ['- %s' % path for path in changes.examples['deleted']]
            result['diff'] = dict(prepared='\n'.join(lines) + '\n')
        return result


def main():
    spec = target_argspec()
    spec.update(
        src=dict(type='path'),
        delete=dict(type='bool', default=False),
        compare=dict(type='str', default='checksum', choices=['checksum', 'size']),
        exclude=dict(type='list', elements='str', default=[]),
        preserve_times=dict(type='bool', default=False),
        compress=dict(type='bool', default=True),
        staging_dir=dict(type='path'),
        keep_staging=dict(type='bool', default=False),
    )
    spec.update(source_argspec())
    spec.update(overwrite_argspec())
    module = PantheonModule(
        argument_spec=spec,
        ssh=True,
        supports_check_mode=True,
        mutually_exclusive=[('src', 'url', 'backup')],
        required_one_of=[('src', 'url', 'backup')],
    )
    module.run_step(FilesSync)


if __name__ == '__main__':
    main()
