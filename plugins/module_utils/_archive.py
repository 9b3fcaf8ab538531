# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""Drupal site archives made with Drush on an appserver, and files removed from ``files/``.

An archive lives at ``sites/default/files/<40 hex>.tgz`` (the environment's ``files/``
directory, public on the web) while it exists, so its name is a secret: nothing here puts it
in a message; callers replace it with ``<archive>`` in any remote output they show.

Where Drush writes it depends on the generation (see drush_destination()): Drush 8 resolves a
relative ``--destination`` from the directory it started in (the SSH home, whose ``code/`` is
the Drupal root), Drush 11+ from the Drupal root.

Pantheon offers no ``rm`` over SSH. Files are listed with ``rsync --list-only`` and removed
with ``rsync --delete`` from an empty directory, limited by include rules to the named files
(the way Pantheon's documentation empties directories).
"""

from __future__ import annotations

import configparser
import os
import posixpath
import re
import secrets
import shutil
import tarfile
import tempfile
import zlib

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import remote_failure
from ansible_collections.pantheon.platform.plugins.module_utils._stream import run
from ansible_collections.pantheon.platform.plugins.module_utils._transfer import TransferError, open_stream, probe_size

FILES_PREFIX = 'sites/default/files/'
# Where Drush 8 wrote an archive given FILES_PREFIX + name (as versions of this collection before
# the fix did): <SSH home>/sites/default/files/, not served. Names there in this module's form
# (STRAY_NAME_RE) are taken for ours.
STRAY_DIR = 'sites/default/files/'
STRAY_NAME_RE = re.compile(r'^[0-9a-f]{40}\.tgz$')
ARCHIVE_PATH_RE = re.compile(r'^sites/default/files/[0-9a-f]{40}\.(tgz|tar\.gz)$')
# The same name at the top of files/ (what clone_verify leaves out of its files comparison).
ARCHIVE_FILE_RE = re.compile(r'^[0-9a-f]{40}\.(tgz|tar\.gz)$')
# Drush 11+ writes into ``<destination>/archive.tar.gz`` unless the destination ends in .tar.gz.
SUFFIX = {'drush8': '.tgz', 'drush11': '.tar.gz'}
# Drush 8 builds ``<dbname>.<YYYYmmdd_HHMMSS>.tar`` next to the destination, gzips it and renames it;
# a run cut short leaves that working file behind.
DRUSH_WORK_FILE_RE = re.compile(r'^[A-Za-z0-9_-]+\.\d{8}_\d{6}\.tar(\.gz)?$')
# What a write above the platform's file size limit says about itself (EFBIG and its texts).
TOO_LARGE_MARKERS = ('file too large', 'file size limit exceeded', 'efbig')
# What ssh says when the platform cuts the connection: on a write above the file limit (platform-facts: a
# `drush ard` above 256MB dies with it), but also on any other cut, so it is no evidence of size alone.
CUT_MARKER = 'closed by remote host'
# The platform's largest file in sites/default/files (docs filesystem/large-files); a stand-in platform with
# a lower limit (the test emulator) names it in PANTHEON_FILE_SIZE_LIMIT (bytes).
FILE_SIZE_LIMIT = 256 * 1024 * 1024
FILE_SIZE_LIMIT_ENV = 'PANTHEON_FILE_SIZE_LIMIT'
# A cut counts as "too large" when the partial archive it left reached this share of the limit.
NEAR_LIMIT = 0.9


# What replaces an archive's name, path or URL in messages (see PantheonModule.add_secret).
ARCHIVE_SHOWN = '<archive>'


class ArchiveError(PantheonError):
    """An archive operation failed; ``reason`` is machine-readable (too_large, drush_failed, ...)."""

    def __init__(self, message, reason, **extra):
        super().__init__(message, **extra)
        self.reason = reason


def rsync(target, args, what, missing_ok=False):
    """Run ``rsync ARGS -e <ssh to target>``; returns its stdout as text. A failure raises
    :func:`_ssh.remote_failure`; with ``missing_ok`` a source that does not exist (exit 23, "No such file or
    directory") returns None instead. Here, beside its only callers (listing and removing archives), so that
    a module that only uses SSH does not name rsync among its requirements."""
    rc, out, err = run(['rsync'] + list(args) + ['-e', target.rsh()], text=True)
    if missing_ok and rc == 23 and 'No such file or directory' in (err or ''):
        return None
    if rc != 0:
        raise remote_failure(target, rc, err, what)
    return out


def new_archive_path(fmt):
    """``sites/default/files/<40 hex characters from the OS CSPRNG>`` + ``.tgz`` (Drush 8) or ``.tar.gz``."""
    return '%s%s%s' % (FILES_PREFIX, secrets.token_hex(20), SUFFIX[fmt])


def file_name(path):
    return path[len(FILES_PREFIX):]


def drush_format(major):
    """The archive format a Drush major makes: drush8 (archive-dump), drush11 (archive:dump)."""
    if major == 8:
        return 'drush8'
    if major is not None and major >= 11:
        return 'drush11'
    raise ArchiveError('Drush %s cannot make a site archive: archive-dump exists in Drush 8, and archive:dump in '
                       'Drush 11 and later (Drush 9 and 10 have neither); set drush_version in pantheon.yml or '
                       'require a newer drush/drush in composer.json' % major, 'unsupported')


def drush_destination(fmt, path):
    """The ``--destination`` that makes Drush write ``path`` (relative to the Drupal root).

    Drush 8 (``drush_archive_dump``) resolves a relative destination from DRUSH_OLDCWD, the
    directory Drush started in: the SSH home, where the Drupal root is ``code/`` (the clone
    procedure's ``code/sites/default/files/...``). Drush 11+ (``ArchiveDumpCommands``) renames
    the archive to the destination after DrupalBoot has chdir'ed to the Drupal root."""
    return 'code/' + path if fmt == 'drush8' else path


def drush_command(fmt, path, exclude_files, exclude_code_paths=()):
    """The remote argv that writes the archive to ``path`` (relative to the Drupal root)."""
    if fmt == 'drush8':
        argv = ['drush', 'archive-dump', '--destination=%s' % drush_destination(fmt, path)]
        if exclude_files:
            argv.append('--tar-options=--exclude=code/sites/default/files')
        else:
            # Leave out archives this module made earlier (a stale archive would end up inside the new one).
            argv.append('--tar-options=' + ' '.join('--exclude=code/%s%s%s' % (FILES_PREFIX, '[0-9a-f]' * 40, suffix)
                                                    for suffix in sorted(set(SUFFIX.values()))))
        argv.append('--overwrite')
        return argv
    argv = ['drush', 'archive:dump', '--destination=%s' % drush_destination(fmt, path), '--code', '--db']
    if not exclude_files:
        argv.append('--files')
    if exclude_code_paths:
        argv.append('--exclude-code-paths=%s' % ','.join(exclude_code_paths))
    return argv


# What Drush 8 archive-dump logs when its core-status of the site failed: the archive then has no
# sites/<site> directory (no settings.php, no files) and MANIFEST.ini no sitedir (Terminus #2580).
SITEDIR_WARNING = 'Unable to determine sites directory'
_SETTINGS_RE = re.compile(r'^[^/]+/sites/[^/]+/settings\.php$')
MANIFEST_MAX = 1 << 16


def read_manifest(text):
    """The site sections of a Drush 8 MANIFEST.ini: {section: {key: value}} for every section but
    [Global] (quotes removed). Keys written without a section header (Drush's export of a site whose
    sites directory it could not determine) land in [Global] and so name no site."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text)
    return dict((name, dict((k, v.strip().strip('"')) for k, v in parser.items(name)))
                for name in parser.sections() if name.lower() != 'global')


def inspect_drush8(url, params, expected_size=None):
    """What a Drush 8 archive at a public URL holds of its site: {'sitedir', 'docroot', 'settings'}.

    Reads the archive once as a stream (gzip, then tar headers; member data is skipped, nothing is
    written to disk) up to MANIFEST.ini, which Drush 8 adds after the site directory. ``sitedir``
    is None when the MANIFEST names no site directory; ``settings`` tells whether
    ``<docroot>/<sitedir>/settings.php`` came before it. Raises ArchiveError(reason='damaged') when
    the bytes are not a gzipped tar with a MANIFEST.ini, TransferError when the download fails."""
    settings_seen = set()
    manifest = None
    stream = open_stream(url, validate_certs=params.get('validate_certs', True), ca_path=params.get('ca_path'),
                         expected_size=expected_size)
    try:
        with tarfile.open(fileobj=stream, mode='r|gz') as tar:
            for member in tar:
                name = member.name[2:] if member.name.startswith('./') else member.name
                if name == 'MANIFEST.ini' and member.isfile():
                    manifest = tar.extractfile(member).read(MANIFEST_MAX).decode('utf-8', 'replace')
                    break
                if _SETTINGS_RE.match(name) and member.isfile():
                    settings_seen.add(name)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ArchiveError('The archive is not a gzipped tar that Drush 8 would write (%s)' % e, 'damaged')
    finally:
        stream.close()
    if manifest is None:
        raise ArchiveError('The archive has no MANIFEST.ini, which Drush 8 archive-dump always writes', 'damaged')
    try:
        sites = read_manifest(manifest)
    except configparser.Error as e:
        raise ArchiveError('The MANIFEST.ini of the archive cannot be read (%s)' % str(e).splitlines()[0], 'damaged')
    site = next(iter(sites.values()), {}) if len(sites) == 1 else {}
    sitedir = site.get('sitedir') or None
    docroot = posixpath.basename(site.get('docroot', '').rstrip('/')) or 'code'
    return dict(sitedir=sitedir, docroot=docroot,
                settings=bool(sitedir) and '%s/%s/settings.php' % (docroot, sitedir.strip('/')) in settings_seen)


def file_size_limit():
    """The platform's file size limit in bytes (PANTHEON_FILE_SIZE_LIMIT, else 256MB)."""
    value = os.environ.get(FILE_SIZE_LIMIT_ENV, '').strip()
    if not value:
        return FILE_SIZE_LIMIT
    if not value.isdigit() or int(value) < 1:
        raise PantheonError('%s must be a number of bytes, got %r' % (FILE_SIZE_LIMIT_ENV, value))
    return int(value)


def looks_too_large(rc, out, err, partial_size=None, limit=None):
    """Whether a failed archive run outgrew the platform's file limit, by evidence: the platform said so
    (EFBIG), or the connection was cut and the partial archive it left (``partial_size``, measured on the
    platform) reached the limit. A cut with a small partial file, or none, is another failure."""
    text = ('%s\n%s' % (out or '', err or '')).lower()
    if any(marker in text for marker in TOO_LARGE_MARKERS):
        return True
    if CUT_MARKER not in text or partial_size is None:
        return False
    return partial_size >= NEAR_LIMIT * (limit or file_size_limit())


def public_state(url, params):
    """(exists, size) of the object at a public URL: a ranged GET, 404 meaning absent."""
    try:
        return True, probe_size(url, validate_certs=params.get('validate_certs', True),
                                ca_path=params.get('ca_path'), attempts=3)
    except TransferError as e:
        if e.status in (404, 410):
            return False, None
        hint = ''
        if e.status in (401, 403):
            hint = ' (is the environment locked with a password? The platform could not download the archive either)'
        raise PantheonError('The archive URL under https://%s/... did not answer as expected: HTTP %s%s'
                            % (url.split('/')[2], e.status or 'no answer', hint))


def list_files(target, directory='files/', missing_ok=False, sizes=False):
    """Names of the entries at the top of ``directory`` (relative to the SSH home; the environment's
    ``files/`` by default). With ``missing_ok`` a directory that does not exist has no entries. With
    ``sizes`` a dict name -> size in bytes (rsync's listing)."""
    out = rsync(target, ['--list-only', target.rsync_remote(directory)], 'listing of %s' % directory,
                missing_ok=missing_ok)
    if out is None:
        return {} if sizes else set()
    found = {}
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and parts[4] != '.':
            try:
                size = int(parts[1].replace(',', '').replace('.', ''))
            except ValueError:
                size = None
            found[parts[4].split(' -> ', 1)[0]] = size
    return found if sizes else set(found)


def remove_files(target, names, directory='files/'):
    """Remove files at the top of ``directory`` (``files/`` by default) by name (rsync --delete from
    an empty directory)."""
    names = sorted(set(n for n in names if n and '/' not in n))
    if not names:
        return
    empty = tempfile.mkdtemp(prefix='pantheon-empty-')
    try:
        rules = ['--include=/%s' % re.sub(r'([*?\[\\])', r'\\\1', name) for name in names] + ['--exclude=*']
        rsync(target, ['-r', '--delete'] + rules + [empty + '/', target.rsync_remote(directory)], 'removal of files')
    finally:
        shutil.rmtree(empty, ignore_errors=True)
