# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""An environment's ``files/`` over rsync: unpacking a files backup into a staging directory,
uploading with the flags the platform requires, and listing a manifest (path, size, checksum).

rsync runs as ``rsync -rlz ... -e '<ssh>' SRC/ USER@HOST:files/``: no ``-a``, ``-p``, ``-o``,
``-g`` or ``-D`` (the platform owns modes and owners and has no devices), a temporary directory
in ``~/tmp/`` (``--temp-dir``), and either checksum or size comparison.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import threading
from posixpath import normpath

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._progress import Progress
from ansible_collections.pantheon.platform.plugins.module_utils._stream import ProcessError, Stream

FILES_DIR = 'files/'
# rsync exit codes that mean the connection broke (worth another try): socket/stream/protocol
# errors, timeouts, and ssh's own 255.
RSYNC_CONNECTION_CODES = frozenset((10, 12, 30, 35, 255))
PLATFORM_MAX_FILE = 256 * 1024 * 1024
_TOP_FOLDER_RE = re.compile(r'^files(_[A-Za-z0-9-]+)?$')
_STAT_LINE_RE = re.compile(r'^([A-Z][A-Za-z ]+?):\s+([\d,.]+)')
EXAMPLES_KEPT = 20
# rsync prints bytes it cannot show in the current locale (and a backslash before '#') as \#ooo
_RSYNC_ESCAPE_RE = re.compile(br'\\#([0-7]{3})')
# rsync --info=progress2's overall line: bytes so far, percent of the whole transfer's size, rate, time,
# then (xfr#N, to-chk=M/T) or (xfr#N, ir-chk=M/T); rewritten in place after a carriage return.
_PROGRESS2_RE = re.compile(br'^\s*([\d,]+)\s+(\d{1,3})%\s+\S+/s\s+\d+:\d\d:\d\d')
# A test hook, not an option: rsync --bwlimit (KiB/s) so that a small upload lasts a few progress heartbeats.
BWLIMIT_ENV = 'PANTHEON_TEST_RSYNC_BWLIMIT'


class UnsafeArchive(PantheonError):
    """A member of the archive would land outside the staging directory."""


# --------------------------------------------------------------------------- unpacking


def free_bytes(directory):
    """Bytes an unprivileged writer may still use on the filesystem of ``directory`` (statvfs)."""
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def check_staging_room(directory, needed, what):
    """Refuse to unpack ``what`` (``needed`` bytes, the download's size: a .tar.gz unpacks to at least about
    that much) into ``directory`` when its filesystem has less free space. Nothing is known of an unknown size."""
    if not needed:
        return
    try:
        free = free_bytes(directory)
    except OSError as e:
        raise PantheonError('Cannot read the free space of the staging directory %s: %s' % (directory, e.strerror or e),
                            reason='no_space')
    if free < needed:
        raise PantheonError('The staging directory %s has %.1f MiB free, but %s is %.1f MiB and is unpacked there (at '
                            'least that much); nothing was downloaded or written. Free space there or pass a larger '
                            'staging_dir (site_clone_staging_dir for the site_clone role)'
                            % (directory, free / 1048576.0, what, needed / 1048576.0), reason='no_space')


def _member_path(name):
    """Normalized relative path of a tar member, or raise UnsafeArchive."""
    original = name
    name = name.replace('\\', '/')
    while name.startswith('./'):
        name = name[2:]
    name = name.rstrip('/')
    if not name or name == '.':
        return ''
    if name.startswith('/') or re.match(r'^[A-Za-z]:', name):
        raise UnsafeArchive('The archive member %r has an absolute path; refusing to unpack it' % original)
    parts = name.split('/')
    if '..' in parts:
        raise UnsafeArchive('The archive member %r contains "..", refusing to unpack it' % original)
    return '/'.join(p for p in parts if p not in ('', '.'))


def _inside(link_dir, target):
    """Whether a symlink in ``link_dir`` (relative to the tree) pointing to ``target`` stays inside the tree."""
    if target.startswith('/'):
        return False
    resolved = normpath('/'.join([link_dir, target])) if link_dir else normpath(target)
    return not (resolved == '..' or resolved.startswith('../'))


def gunzip_command():
    """The native decompressor to run beside the unpacking (``pigz -dc`` where installed, else ``gzip -dc``),
    or None: in-process zlib then. A separate process decompresses while Python downloads and writes the members
    (benchmarks/files_transfer.py measures it)."""
    for name in ('pigz', 'gzip'):
        path = shutil.which(name)
        if path:
            return [path, '-dc']
    return None


class _Gunzip(object):
    """``fileobj`` decompressed by a native gunzip child: a thread feeds the child, ``stdout`` is the tar stream.

    ``check()`` raises what went wrong on the way in: the feeding read's own error (a failed download) first, then
    the decompressor's (not gzip data, a truncated or corrupt stream)."""

    def __init__(self, argv, fileobj):
        self.child = Stream(argv, stdin=True)
        self.stdout = self.child.proc.stdout
        self.error = None
        self._thread = threading.Thread(target=self._feed, args=(fileobj,))
        self._thread.daemon = True
        self._thread.start()

    def _feed(self, fileobj):
        try:
            self.child.feed(iter(lambda: fileobj.read(1 << 20), b''))
        except ProcessError:
            pass  # the child stopped reading: its own exit code and stderr say why (or the unpacking stopped early)
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            self.error = exc  # raised in the unpacking thread by check()

    def check(self, done=False):
        """Raise the feeding error, or (``done``: the tar stream was read to its end) the decompressor's."""
        if done:
            while self.stdout.read(1 << 20):  # what follows the tar's end-of-archive blocks (padding)
                pass
            self._thread.join()
        if self.error is not None:
            raise self.error
        if done:
            rc = self.child.finish()
            if rc not in (0, 2):  # 2: a warning only (trailing zeros after the gzip stream)
                raise PantheonError('The files archive cannot be read as a gzipped tar: %s' % (
                    self.child.stderr.strip() or '%s exited with %s' % (self.child.argv[0], rc)))

    def close(self):
        self.child.close()
        self._thread.join(10)


def extract_stream(fileobj, dest, max_examples=EXAMPLES_KEPT, gunzip=None):
    """Unpack a gzipped tar read from ``fileobj`` (read sequentially, never seeked) into ``dest``.

    When the first member's top folder is ``files`` or ``files_<env>`` (the platform's files
    backups), that folder is stripped from every member. Absolute paths and ``..`` are refused;
    symlinks pointing outside the tree, devices and FIFOs are skipped (and counted).
    ``gunzip``: the decompressor's argv (gunzip_command()), or None to decompress in-process.
    Returns counts: files, dirs, links, bytes, skipped (+ examples of skipped members).
    """
    if not gunzip:
        return _extract(fileobj, 'r|gz', dest, max_examples, None)
    pipe = _Gunzip(gunzip, fileobj)
    try:
        return _extract(pipe.stdout, 'r|', dest, max_examples, pipe)
    finally:
        pipe.close()


def _extract(fileobj, mode, dest, max_examples, pipe):
    counts = dict(files=0, dirs=0, links=0, bytes=0, skipped=0, skipped_examples=[], large_files=[])
    top = None
    use_filter = hasattr(tarfile, 'data_filter')
    try:
        tar = tarfile.open(fileobj=fileobj, mode=mode)
    except (tarfile.TarError, OSError, EOFError) as exc:
        if pipe is not None:
            pipe.check(done=True)
        raise PantheonError('The files archive cannot be read as a gzipped tar: %s' % exc)
    with tar:
        try:
            for member in tar:
                rel = _member_path(member.name)
                if top is None:
                    first = rel.split('/', 1)[0] if rel else ''
                    top = first if _TOP_FOLDER_RE.match(first) and (member.isdir() or '/' in rel) else ''
                if top:
                    if rel != top and not rel.startswith(top + '/'):
                        raise UnsafeArchive('The archive mixes the top folder %r with %r; refusing to guess its layout'
                                            % (top, member.name))
                    rel = rel[len(top) + 1:]
                if not rel:
                    continue
                member.name = rel
                if member.islnk():
                    link = _member_path(member.linkname)
                    if top and link.startswith(top + '/'):
                        link = link[len(top) + 1:]
                    member.linkname = link
                elif member.issym():
                    if not _inside(os.path.dirname(rel), member.linkname):
                        _skip(counts, rel, 'symlink pointing outside the tree', max_examples)
                        continue
                if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
                    _skip(counts, rel, 'not a regular file, directory or link', max_examples)
                    continue
                member.mode = (member.mode | 0o600) & 0o755 if member.isreg() else 0o755
                member.uid = member.gid = 0
                member.uname = member.gname = ''
                if use_filter:
                    tar.extract(member, dest, set_attrs=True, filter='data')
                else:  # Python without extraction filters: our own checks above apply
                    tar.extract(member, dest, set_attrs=True)
                if member.isdir():
                    counts['dirs'] += 1
                elif member.issym() or member.islnk():
                    counts['links'] += 1
                else:
                    counts['files'] += 1
                    counts['bytes'] += member.size
                    if member.size >= PLATFORM_MAX_FILE and len(counts['large_files']) < max_examples:
                        counts['large_files'].append(rel)
        except tarfile.TarError as exc:
            if isinstance(exc, getattr(tarfile, 'FilterError', ())):
                raise UnsafeArchive('Refusing to unpack a member of the archive: %s' % exc)
            if pipe is not None:
                pipe.check(done=True)
            raise PantheonError('The files archive is damaged: %s' % exc)
        except (EOFError, OSError) as exc:
            if isinstance(exc, PantheonError):
                raise
            if pipe is not None:
                pipe.check(done=True)
            raise PantheonError('Unpacking the files archive failed: %s' % exc)
    if pipe is not None:
        pipe.check(done=True)
    return counts


def _skip(counts, rel, why, max_examples):
    counts['skipped'] += 1
    if len(counts['skipped_examples']) < max_examples:
        counts['skipped_examples'].append('%s (%s)' % (rel, why))


def scan_local(root, max_examples=EXAMPLES_KEPT):
    """Counts of a local tree (files, dirs, links, bytes) and the files the platform will refuse."""
    counts = dict(files=0, dirs=0, links=0, bytes=0, large_files=[])
    for dirpath, dirnames, filenames in os.walk(root):
        counts['dirs'] += len(dirnames)
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                counts['links'] += 1
            elif stat.S_ISREG(st.st_mode):
                counts['files'] += 1
                counts['bytes'] += st.st_size
                if st.st_size >= PLATFORM_MAX_FILE and len(counts['large_files']) < max_examples:
                    counts['large_files'].append(os.path.relpath(path, root))
    return counts


# --------------------------------------------------------------------------- rsync
def _number(text):
    try:
        return int(text.replace(',', '').split('.')[0])
    except ValueError:
        return 0


def rsync_name(raw):
    """A path as rsync printed it (bytes) -> text, undoing rsync's ``\\#ooo`` escapes."""
    raw = _RSYNC_ESCAPE_RE.sub(lambda match: bytes([int(match.group(1), 8)]), raw)
    return raw.decode('utf-8', 'backslashreplace')


def parse_stats(lines):
    """rsync --stats lines -> {snake_case_name: int}."""
    stats = {}
    for line in lines:
        match = _STAT_LINE_RE.match(line.strip())
        if match:
            key = re.sub(r'[^a-z0-9]+', '_', match.group(1).strip().lower()).strip('_')
            stats[key] = _number(match.group(2))
    return stats


def parse_progress2(segment):
    """(bytes, percent) of one rsync --info=progress2 overall-progress segment (bytes), or None."""
    match = _PROGRESS2_RE.match(segment)
    if not match:
        return None
    return int(match.group(1).replace(b',', b'')), min(100, int(match.group(2)))


def rsync_output(chunks, on_line, on_progress):
    """Split rsync's stdout ``chunks`` (bytes, as they arrive) at newlines and carriage returns: progress2
    segments go to ``on_progress(bytes, percent)``, every other line to ``on_line(raw)``. Only the
    unfinished segment is held."""
    pending = b''
    for chunk in chunks:
        pending += chunk
        parts = re.split(br'[\r\n]', pending)
        pending = parts.pop()
        for part in parts:
            _segment(part, on_line, on_progress)
    if pending:
        _segment(pending, on_line, on_progress)


def _segment(part, on_line, on_progress):
    if not part.strip():
        return
    parsed = parse_progress2(part)
    if parsed is None:
        on_line(part)
        return
    try:
        on_progress(*parsed)
    except Exception:  # pylint: disable=broad-except
        pass  # progress is a courtesy: it never fails a transfer


class ItemizedChanges(object):
    """Counts (and a few examples) of rsync ``--itemize-changes`` lines, read as they arrive."""

    def __init__(self, max_examples=EXAMPLES_KEPT):
        self.max_examples = max_examples
        self.sent = 0
        self.deleted = 0
        self.created_dirs = 0
        self.links = 0
        self.attributes = 0
        self.examples = dict(sent=[], deleted=[])
        self.stat_lines = []

    @property
    def changes(self):
        return self.sent + self.deleted + self.created_dirs + self.links + self.attributes

    def _example(self, kind, path):
        if len(self.examples[kind]) < self.max_examples:
            self.examples[kind].append(path)

    def feed(self, raw):
        raw = raw.rstrip(b'\n')
        line = raw.decode('utf-8', 'replace')
        if line.startswith('*deleting'):
            self.deleted += 1
            self._example('deleted', rsync_name(raw[len('*deleting'):].strip()))
            return
        code, dummy, path = line.partition(' ')
        path = rsync_name(raw.partition(b' ')[2])
        if len(code) == 11 and code[0] in '<>ch.' and code[1] in 'fdLDS':
            if code[1] == 'f' and code[0] in '<>':
                self.sent += 1
                self._example('sent', path)
            elif code[1] == 'd' and code[0] == 'c':
                self.created_dirs += 1
            elif code[1] == 'L' or code[0] == 'h':
                self.links += 1
            elif code[2:].strip('.') and code[0] == '.':
                self.attributes += 1
            return
        self.stat_lines.append(line)


# The names of the archives pantheon.platform.archive writes at the top of files/ (40 hex digits, then
# .tgz from Drush 8 or .tar.gz from Drush 11+). A backup taken while another clone's archive existed holds
# one; rsync never sends it, and --delete leaves one on the target alone (excluded on both sides).
ARCHIVE_EXCLUDES = tuple('/%s%s' % ('[0-9a-f]' * 40, suffix) for suffix in ('.tgz', '.tar.gz'))


def rsync_upload(target, src_dir, delete=False, compare='checksum', dry_run=False, preserve_times=False,
                 excludes=None, timeout=None, compress=True, progress_label=None, total=None):
    """rsync ``src_dir`` into the target environment's files/. Returns (rc, ItemizedChanges, stats, stderr).

    ``--info=stats2`` is ``--stats`` spelled the way rsync 3.1+ forwards it to the server. With
    ``progress_label`` (and ``PANTHEON_PROGRESS_DIR`` set, not a dry run), ``--info=progress2`` too (same
    rsync 3.1+): its overall lines (bytes, percent; no file names) go to the progress callback, ``total``
    (the source's bytes) shown as the size when known.
    """
    progress = Progress.from_env(progress_label) if progress_label and not dry_run else None
    argv = ['rsync', '-rlz' if compress else '-rl', '--checksum' if compare == 'checksum' else '--size-only',
            '--temp-dir=~/tmp/', '--info=stats2,progress2' if progress else '--info=stats2', '--itemize-changes']
    if progress and (os.environ.get(BWLIMIT_ENV) or '').isdigit():
        argv.append('--bwlimit=%s' % os.environ[BWLIMIT_ENV])
    if preserve_times:
        argv += ['--times', '--omit-dir-times']
    if delete:
        argv.append('--delete')
    if dry_run:
        argv.append('--dry-run')
    for pattern in ARCHIVE_EXCLUDES + tuple(excludes or ()):
        argv.append('--exclude=%s' % pattern)
    argv += ['-e', target.rsh(), src_dir.rstrip('/') + '/', target.rsync_remote(FILES_DIR)]
    changes = ItemizedChanges()
    with Stream(argv, timeout=timeout) as child:
        if progress is None:
            for line in child.lines():
                changes.feed(line)
        else:
            try:
                rsync_output(child.chunks(1 << 16), changes.feed,
                             lambda done, percent: progress.update(done, total, percent=percent))
            finally:
                progress.close()
        rc = child.finish()
        err = child.stderr
    return rc, changes, parse_stats(changes.stat_lines), err


def retryable_rsync_failure(rc, err):
    """Whether an rsync failure is a broken connection worth another attempt (not a refusal)."""
    if rc not in RSYNC_CONNECTION_CODES:
        return False
    refused = ('syntax or usage error', 'is not allowed', 'Permission denied', 'Host key verification failed',
               'REMOTE HOST IDENTIFICATION HAS CHANGED')
    return not any(text in (err or '') for text in refused)


def describe_rsync_failure(target, rc, err):
    err = (err or '').strip()[-2000:]
    if rc in (11, 23) and ('File too large' in err or 'EFBIG' in err):
        hint = ' Some files are at or above the platform\'s size limit for a single file (256MB) and were refused.'
    elif rc == 23:
        hint = ' Some files could not be transferred.'
    elif rc in RSYNC_CONNECTION_CODES:
        hint = ' The connection to %s broke.' % target.destination
    else:
        hint = ''
    return 'rsync to %s:%s failed with exit code %d.%s %s' % (target.destination, FILES_DIR, rc, hint, err)


# --------------------------------------------------------------------------- manifests
def iter_manifest(target, path=FILES_DIR, checksum=True, timeout=None, empty_dir=None):
    """Yield (path, kind, size, checksum-or-mtime) of everything under ``path`` on the target.

    Uses an rsync dry run from the target into an empty local directory: the remote sender
    computes each file's checksum (``--checksum``) and nothing is transferred. ``kind`` is
    ``f`` (file), ``d`` (directory) or ``L`` (symlink).
    """
    fmt = '%i|%l|%M|%C|%n'
    argv = ['rsync', '-rln', '--out-format=' + fmt]
    if checksum:
        argv.append('--checksum')
    argv += ['-e', target.rsh(), target.rsync_remote(path.rstrip('/') + '/'), empty_dir.rstrip('/') + '/']
    with Stream(argv, timeout=timeout) as child:
        for raw in child.lines():
            parts = raw.rstrip(b'\n').split(b'|', 4)
            if len(parts) != 5 or len(parts[0]) != 11:
                continue
            code, size, mtime, digest = (part.decode('ascii', 'replace') for part in parts[:4])
            kind = code[1]
            name = rsync_name(parts[4]).rstrip('/')
            if not name or name == '.':
                continue
            if kind == 'd':
                yield name, 'd', 0, ''
            elif kind == 'L':
                link_name = name.split(' -> ', 1)[0]
                yield link_name, 'L', _number(size), ''
            else:
                yield name, kind, _number(size), digest.strip() if checksum else mtime
        rc = child.finish()
        if rc != 0:
            raise ProcessError(describe_rsync_failure(target, rc, child.stderr).replace('rsync to', 'rsync listing of'),
                               rc=rc, stderr=child.stderr)


# --------------------------------------------------------------------------- the last sync's record
def sync_record_path(site_id, env):
    """Where files_sync keeps what its last sync into ``site_id``.``env`` left there
    (``$PANTHEON_CACHE_DIR/files_sync/``, default ``~/.ansible/pantheon/files_sync/``)."""
    base = os.environ.get('PANTHEON_CACHE_DIR') or os.path.join('~', '.ansible', 'pantheon')
    return os.path.join(os.path.expanduser(base), 'files_sync', '%s.%s.json' % (site_id, env))


def listing_digest(target, timeout=None):
    """SHA-256 of the target's files/ listing (every path with its kind, size and modification time, in
    rsync's order), read by an rsync dry run without checksums: the target computes nothing and
    nothing is held in memory."""
    digest = hashlib.sha256()
    empty = tempfile.mkdtemp(prefix='pantheon-empty-')
    try:
        for entry in iter_manifest(target, checksum=False, timeout=timeout, empty_dir=empty):
            digest.update(json.dumps(list(entry)).encode('utf-8') + b'\n')
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    return digest.hexdigest()


def read_sync_record(path):
    """The record at ``path``, or None (none yet, or unreadable)."""
    try:
        with open(path, encoding='utf-8') as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_sync_record(path, record):
    """Write ``record`` atomically (0600, its directory 0700)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.record-', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            json.dump(record, handle, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
