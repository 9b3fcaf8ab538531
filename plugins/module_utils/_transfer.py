# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Downloads of signed URLs: size probe, resumable streaming reader.

Internal use only: this module is private to the pantheon.platform collection and may change
without notice.

Signed backup URLs carry their credentials in the query string, so every message built here
names a URL through ``_errors.shown_url`` only and passes other text through ``_errors.redact``.
"""

from __future__ import annotations

import re
import time
import traceback
import zlib


REQUESTS_IMPORT_ERROR = None
try:
    from requests import exceptions as _rexc
    from urllib3 import exceptions as _uexc
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - exercised by ansible-test sanity only
    _rexc = None
    _uexc = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError, redact, shown_url
from ansible_collections.pantheon.platform.plugins.module_utils._http import Backoff, new_session, verify_setting
from ansible_collections.pantheon.platform.plugins.module_utils._backups import parse_catalog
from ansible_collections.pantheon.platform.plugins.module_utils._progress import Progress

DEFAULT_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r'^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$', re.IGNORECASE)
_XML_FIELD = re.compile(r'<(Code|Message)>([^<]{0,300})</\1>')
# Statuses worth another attempt: the store is busy or broken for a moment.
_RETRY_STATUS = frozenset((408, 425, 429, 500, 502, 503, 504))


class TransferError(PantheonError):
    """A download failed. The message never holds a signed query string."""

    def __init__(self, message, status=None):
        super(TransferError, self).__init__(message)
        self.message = message
        self.status = status

    def __str__(self):
        return self.message


def _error_detail(response, url):
    """A short, secret-free description of an error response body."""
    try:
        body = response.content[:4096].decode('utf-8', 'replace')
    except Exception:  # pylint: disable=broad-except
        body = ''
    fields = dict(_XML_FIELD.findall(body))
    if fields:
        detail = ': '.join(v.strip() for k, v in sorted(fields.items()) if v.strip())
    else:
        detail = ' '.join(body.split())[:200]
    return redact(detail, [url])


def _parse_content_range(value):
    """Return (start, end, total) from a Content-Range header; parts may be None."""
    match = _CONTENT_RANGE.match(value or '')
    if not match:
        return None
    start, end, total = match.groups()
    return (int(start) if start is not None else None,
            int(end) if end is not None else None,
            int(total) if total and total != '*' else None)


def _transient_exceptions():
    return (_rexc.ConnectionError, _rexc.Timeout, _rexc.ChunkedEncodingError, _rexc.ContentDecodingError,
            _uexc.HTTPError, OSError)


def _need_requests():
    if not HAS_REQUESTS:
        raise TransferError('The Python library "requests" is required for downloads: %s' % (REQUESTS_IMPORT_ERROR or 'not installed'))


def probe_size(url, validate_certs=True, ca_path=None, timeout=60, attempts=4, session=None):
    """Size in bytes of the object behind ``url``, or None when the server does not say.

    Uses ``GET`` with ``Range: bytes=0-0`` (signed URLs are often signed for GET only, so HEAD
    is never used) and reads the total from ``Content-Range``; a server that ignores ranges and
    answers 200 is measured by its ``Content-Length``. The body is never read.
    """
    return probe(url, validate_certs, ca_path, timeout, attempts, session)[0]


def probe(url, validate_certs=True, ca_path=None, timeout=60, attempts=4, session=None, head=0):
    """(size or None, the first ``head`` bytes) of the object behind ``url`` from one ranged GET
    (``Range: bytes=0-<head-1>``), as probe_size measures it; with ``head`` 0 no body is read."""
    _need_requests()
    http = session or new_session(validate_certs, ca_path)
    backoff = Backoff(max_delay=8, jitter=False)
    last = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff.delay(attempt - 1))
        try:
            response = http.get(url, headers={'Range': 'bytes=0-%d' % max(head - 1, 0), 'Accept-Encoding': 'identity'},
                                stream=True, timeout=timeout, verify=verify_setting(validate_certs, ca_path),
                                allow_redirects=True)
        except _transient_exceptions() as exc:
            last = 'connection failed (%s)' % type(exc).__name__
            continue
        except _rexc.RequestException as exc:
            raise TransferError('Could not reach %s: %s' % (shown_url(url), redact(str(exc), [url])))
        try:
            status = response.status_code
            if status == 206:
                parsed = _parse_content_range(response.headers.get('Content-Range'))
                if parsed is None:
                    raise TransferError('%s answered 206 without a usable Content-Range header' % shown_url(url), status)
                return parsed[2], _read_head(response, head, url)
            if status == 416:
                parsed = _parse_content_range(response.headers.get('Content-Range'))
                if parsed is not None and parsed[2] == 0:
                    return 0, b''
                return None, b''
            if status == 200:
                length = response.headers.get('Content-Length')
                return (int(length) if length and length.isdigit() else None), _read_head(response, head, url)
            if status in _RETRY_STATUS:
                last = 'HTTP %d' % status
                continue
            raise TransferError('GET %s failed with HTTP %d%s' % (
                shown_url(url), status, (': ' + _error_detail(response, url)) if status >= 400 else ''), status)
        finally:
            response.close()
    raise TransferError('GET %s failed after %d attempts: %s' % (shown_url(url), attempts, last))


def _read_head(response, head, url):
    if not head:
        return b''
    data = b''
    try:
        for chunk in response.iter_content(min(head, 65536)):
            data += chunk
            if len(data) >= head:
                break
    except _transient_exceptions() as exc:
        if not data:
            raise TransferError('GET %s broke before its first bytes (%s)' % (shown_url(url), type(exc).__name__))
    return data[:head]


# How much of a download is looked at before anything is imported (check_content).
HEAD_BYTES = 8192
_SQL_START = re.compile(br'^(\xef\xbb\xbf)?\s*(--|/\*|#|(CREATE|DROP|INSERT|SET|LOCK|UNLOCK|USE|START|BEGIN|'
                        br'DELIMITER|ALTER|REPLACE|COMMIT)\b)', re.IGNORECASE)


def check_content(head, kind, where):
    """Refuse, from its first bytes (HEAD_BYTES or more), a download that cannot be what ``kind``
    needs, before anything is imported: ``database`` a SQL dump (gzipped or not), ``files`` and
    ``site`` an archive (tar, gzipped tar, zip or bzip2). An HTML page (a sign-in or error page
    served with status 200) is named as such. Raises TransferError naming ``where``."""
    if not head:
        raise TransferError('%s is empty' % where)
    if head.lstrip()[:64].lower().startswith((b'<!doctype html', b'<html')):
        raise TransferError('%s is an HTML page, not %s (a sign-in or error page answered with status 200?); '
                            'nothing was imported' % (where, 'a database dump' if kind == 'database' else 'an archive'))
    data = head
    if head[:2] == GZIP_MAGIC:
        try:
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES)
        except zlib.error as exc:
            raise TransferError('%s starts like gzip data but is corrupt (%s); nothing was imported' % (where, exc))
    if kind == 'database':
        if b'\x00' in data[:HEAD_BYTES] or not _SQL_START.match(data):
            raise TransferError('%s is not a SQL dump (its first bytes%s do not look like mysqldump output); nothing '
                                'was imported' % (where, ', once gunzipped,' if data is not head else ''))
        return
    if head[:4] == b'PK\x03\x04' or head[:3] == b'BZh':
        return
    if len(data) >= 262 and data[257:262] == b'ustar':
        return
    if len(data) < 262 and data is not head:
        return  # too little gzip output to tell
    raise TransferError('%s is not an archive (tar, tar.gz, tgz, zip): %s; nothing was imported'
                        % (where, 'its gzip data is not a tar stream' if data is not head else 'not gzip, tar or zip data'))


def checked_chunks(chunks, kind, where, need=1024):
    """``chunks`` (an iterable of bytes), with its first ``need`` bytes or more (what the first
    chunks bring) checked by check_content before this returns: the caller starts writing only
    after bad content was refused."""
    chunks = iter(chunks)
    first = []
    size = 0
    for chunk in chunks:
        first.append(chunk)
        size += len(chunk)
        if size >= need:
            break
    check_content(b''.join(first), kind, where)

    def joined():
        yield from first
        yield from chunks
    return joined()


class DownloadStream(object):
    """A resumable, streaming reader of one URL.

    Iterate it for chunks of bytes, or call ``read(n)`` (it is a file-like object that
    ``gzip.GzipFile`` and ``tarfile.open(mode='r|gz')`` accept). After a connection reset, a
    read timeout or a body shorter than announced, it asks again with ``Range: bytes=N-`` from
    the first missing byte, checks that the server resumed at that byte and that the object
    did not change (``ETag``, total size), and carries on. It fails after ``retries``
    consecutive attempts that bring no new bytes. When the whole object has been read, the
    byte count is checked against the announced size (and ``expected_size`` when given).

    ``url`` may be a callable returning a URL: it is called again to get a fresh signed URL
    when the store refuses a resume with 401/403 (an expired link).

    Attributes after (or during) reading: ``total`` (announced size or None), ``received``
    (bytes handed out), ``resumes`` (number of resumed requests), ``url_refreshes``.
    """

    def __init__(self, url, validate_certs=True, ca_path=None, chunk=DEFAULT_CHUNK, timeout=60,
                 retries=5, expected_size=None, session=None, on_resume=None, progress=None):
        _need_requests()
        self._url_factory = url if callable(url) else None
        self._url = url() if callable(url) else url
        self._verify = verify_setting(validate_certs, ca_path)
        self.chunk = int(chunk) or DEFAULT_CHUNK
        self.timeout = timeout
        self.retries = retries
        self.expected_size = expected_size
        self._http = session or new_session(validate_certs, ca_path)
        self._on_resume = on_resume
        self._progress = progress  # a _progress.Progress: bytes so far, for the progress callback
        self.total = None
        self.received = 0
        self.resumes = 0
        self.url_refreshes = 0
        self._etag = None
        self._iter = None
        self._buffer = b''
        self._pos = 0
        self._done = False
        self.closed = False

    # -- public helpers -------------------------------------------------------------------
    @property
    def display_url(self):
        return shown_url(self._url)

    def readable(self):
        return True

    def close(self):
        self.closed = True
        if self._progress is not None:
            self._progress.close()
        if self._iter is not None:
            self._iter.close()
            self._iter = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __iter__(self):
        if self._pos < len(self._buffer):
            data = self._buffer[self._pos:]
            self._buffer, self._pos = b'', 0
            yield data
        if self._iter is None:
            self._iter = self._chunks()
        yield from self._iter

    def read(self, size=-1):
        """Up to ``size`` bytes (all the rest when size < 0); b'' at the end."""
        if self._iter is None:
            self._iter = self._chunks()
        if size is None or size < 0:
            return b''.join(self)
        parts = []
        need = size
        while need > 0:
            if self._pos >= len(self._buffer):
                if self._done:
                    break
                try:
                    self._buffer, self._pos = next(self._iter), 0
                except StopIteration:
                    self._done = True
                    break
            part = self._buffer[self._pos:self._pos + need]
            self._pos += len(part)
            need -= len(part)
            parts.append(part)
        return parts[0] if len(parts) == 1 else b''.join(parts)

    # -- the download loop ----------------------------------------------------------------
    def _fail(self, message, status=None):
        raise TransferError(message, status)

    def _request(self):
        headers = {'Accept-Encoding': 'identity'}
        if self.received:
            headers['Range'] = 'bytes=%d-' % self.received
            if self._etag:
                headers['If-Range'] = self._etag
        return self._http.get(self._url, headers=headers, stream=True, timeout=self.timeout,
                              verify=self._verify, allow_redirects=True)

    def _accept(self, response):
        """Check a response's status and headers; return the number of bytes to skip."""
        status = response.status_code
        etag = response.headers.get('ETag')
        if status == 206:
            parsed = _parse_content_range(response.headers.get('Content-Range'))
            if parsed is None or parsed[0] is None:
                self._fail('%s answered 206 without a usable Content-Range header' % self.display_url, status)
            start, dummy, total = parsed
            if start != self.received:
                self._fail('%s resumed at byte %d instead of %d' % (self.display_url, start, self.received), status)
            self._check_same_object(total, etag)
            return 0
        if status == 200:
            length = response.headers.get('Content-Length')
            total = int(length) if length and length.isdigit() else None
            if self.received:
                # The server ignored the range (or the If-Range validator no longer matched):
                # the object must be the same one, then the bytes already handed out are skipped.
                self._check_same_object(total, etag)
            else:
                self.total = total
                self._etag = etag
            return self.received
        if status == 416 and self.received and self.total is not None and self.received >= self.total:
            return None
        detail = _error_detail(response, self._url) if status >= 400 else ''
        self._fail('GET %s failed with HTTP %d%s' % (self.display_url, status, (': ' + detail) if detail else ''), status)
        return None  # not reached

    def _body(self, response):
        """The raw bytes of the body as they arrive (no Content-Encoding decoding: a .gz served
        with ``Content-Encoding: gzip`` must stay compressed, and sizes must match the headers)."""
        raw = response.raw
        read1 = getattr(raw, 'read1', None)
        if read1 is not None:
            while True:
                data = read1(self.chunk, decode_content=False)
                if not data:
                    return
                yield data
        else:  # urllib3 < 2.1
            yield from raw.stream(min(self.chunk, 65536), decode_content=False)

    def _check_same_object(self, total, etag):
        if self.received and self.total is not None and total is not None and total != self.total:
            self._fail('%s changed while it was downloaded (size %d, then %d)' % (self.display_url, self.total, total))
        if self.received and self._etag and etag and etag != self._etag:
            self._fail('%s changed while it was downloaded (ETag changed)' % self.display_url)
        if self.total is None:
            self.total = total
        if self._etag is None:
            self._etag = etag

    def _chunks(self):
        failures = 0
        backoff = Backoff(max_delay=10, jitter=False)
        last_error = None
        refreshed_for = None
        at_once = False  # a refreshed link is tried again without waiting
        while True:
            if failures:
                if failures > self.retries:
                    self._fail('Download of %s failed after %d attempts without progress at byte %d of %s: %s' % (
                        self.display_url, failures, self.received,
                        self.total if self.total is not None else 'unknown', last_error))
                if not at_once:
                    time.sleep(backoff.delay(failures - 1))
                at_once = False
            if self.received or failures:
                self.resumes += 1
                if self._on_resume is not None:
                    self._on_resume(self.received, self.total, last_error)
            progressed = False
            try:
                response = self._request()
            except _transient_exceptions() as exc:
                failures += 1
                last_error = 'connection failed (%s)' % type(exc).__name__
                continue
            except _rexc.RequestException as exc:
                self._fail('Download of %s failed: %s' % (self.display_url, redact(str(exc), [self._url])))
            try:
                if response.status_code in _RETRY_STATUS:
                    failures += 1
                    last_error = 'HTTP %d' % response.status_code
                    continue
                if response.status_code in (401, 403) and self._url_factory is not None and refreshed_for != self.received:
                    # An expired signed link: ask for a fresh one once per position.
                    refreshed_for = self.received
                    self._url = self._url_factory()
                    self.url_refreshes += 1
                    failures += 1
                    last_error = 'HTTP %d (link refreshed)' % response.status_code
                    at_once = True
                    continue
                skip = self._accept(response)
                if skip is None:
                    break
                try:
                    for data in self._body(response):
                        if not data:
                            continue
                        if skip:
                            if len(data) <= skip:
                                skip -= len(data)
                                continue
                            data = data[skip:]
                            skip = 0
                        self.received += len(data)
                        progressed = True
                        failures = 0
                        if self.total is not None and self.received > self.total:
                            self._fail('%s sent more bytes than announced (%d > %d)' % (self.display_url, self.received, self.total))
                        if self._progress is not None:
                            self._progress.update(self.received, self.total or self.expected_size)
                        yield data
                except _transient_exceptions() as exc:
                    last_error = 'connection broken (%s)' % type(exc).__name__
                    if not progressed:
                        failures += 1
                        continue
                    # Some bytes arrived: the completeness check below resumes from there.
            finally:
                response.close()
            if self.total is None:
                break  # the server never said how big the object is: a clean end is the end
            if self.received >= self.total:
                break
            if not progressed:
                failures += 1
            last_error = last_error or 'body ended early'
        if self.expected_size is not None and self.received != self.expected_size:
            self._fail('Download of %s ended after %d bytes, expected %d' % (self.display_url, self.received, self.expected_size))
        self._done = True


def open_stream(url, validate_certs=True, ca_path=None, chunk=DEFAULT_CHUNK, timeout=60, retries=5,
                expected_size=None, session=None, on_resume=None, progress=None):
    """Open ``url`` for streaming; see ``DownloadStream``. Nothing is requested until read."""
    return DownloadStream(url, validate_certs=validate_certs, ca_path=ca_path, chunk=chunk, timeout=timeout,
                          retries=retries, expected_size=expected_size, session=session, on_resume=on_resume,
                          progress=progress)


def backup_download(client, site, env, element, folder=None):
    """Resolve a backup of ``site``.``env`` into something ``open_stream`` can read.

    Picks the archive of ``element`` in ``folder`` (or the newest finished one) from the
    environment's backups catalog. Returns ``(url_factory, info)``: ``url_factory()`` asks the
    platform for a fresh signed URL each time it is called (so the URL stays inside the module
    and an expired link can be renewed), ``info`` holds site_id, env, folder, filename and size.
    """
    site_obj = client.get_site(site)
    site_id = site_obj['id']
    entries = [entry for entry in parse_catalog(client.backup_catalog(site_id, env)) if entry['element'] == element]
    if folder:
        entries = [entry for entry in entries if entry['folder'] == folder]
    if not entries:
        raise TransferError('No finished %s backup%s of %s.%s; create one first (pantheon.platform.backup)' % (
            element, ' in folder %s' % folder if folder else '', site_obj.get('name') or site, env))
    entry = entries[0]
    info = dict(site_id=site_id, site=site_obj.get('name') or site, env=env, folder=entry['folder'],
                filename=entry['filename'], size=entry['size'])

    def url_factory():
        return client.backup_url(site_id, env, entry['folder'], element)

    return url_factory, info


# Options shared by the modules that read a backup (files_sync, database_stream); documented by
# the pantheon.platform.transfer_source doc fragment.
BACKUP_REF_OPTIONS = dict(
    site=dict(type='str', required=True),
    env=dict(type='str', default='dev'),
    folder=dict(type='str'),
)


def source_argspec():
    return dict(
        url=dict(type='str', no_log=True),
        backup=dict(type='dict', options=BACKUP_REF_OPTIONS),
    )


def open_source(client, params, element, on_resume=None, chunk=DEFAULT_CHUNK, progress_label=None):
    """Open the download named by the ``url`` or ``backup`` option. Returns (stream, info).

    With ``progress_label``, the bytes received are reported to the progress callback
    (``_progress.Progress.from_env``: only when ``PANTHEON_PROGRESS_DIR`` is set).

    ``info`` describes the source without secrets: for a backup its site, env, folder, filename
    and size; for a URL the URL without query string and without its last path segment.
    """
    common = dict(validate_certs=params.get('validate_certs', True), ca_path=params.get('ca_path'),
                  on_resume=on_resume, chunk=chunk,
                  progress=Progress.from_env(progress_label) if progress_label else None)
    if params.get('backup'):
        ref = params['backup']
        factory, info = backup_download(client, ref['site'], ref['env'], element, ref.get('folder'))
        stream = open_stream(factory, expected_size=info['size'] or None, **common)
        info['kind'] = 'backup'
        return stream, info
    url = params.get('url') or ''
    if not re.match(r'^https?://[^/?#]+', url):
        raise TransferError('url must be an http:// or https:// URL (%s given)' % (shown_url(url, hide_name=True) or 'nothing'))
    return open_stream(url, **common), dict(kind='url', url=shown_url(url, hide_name=True))


GZIP_MAGIC = b'\x1f\x8b'
OUT_CHUNK = 1 << 20


def gunzip_chunks(chunks, out_chunk=OUT_CHUNK):
    """Decompress a stream of gzip data (several members allowed) chunk by chunk.

    Output pieces are at most ``out_chunk`` bytes, so a highly compressed input cannot blow up
    memory. Data that does not start with the gzip magic bytes passes through unchanged.
    Raises TransferError when the data is corrupt or ends before the end of a gzip member
    (a truncated download), so the caller never mistakes a cut dump for a complete one.
    """
    chunks = iter(chunks)
    first = b''
    for first in chunks:
        if first:
            break
    if not first:
        return
    if first[:2] != GZIP_MAGIC:
        yield first
        yield from chunks
        return
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    started = False

    def pieces():
        yield first
        yield from chunks

    try:
        for data in pieces():
            while data:
                started = True
                out = decomp.decompress(data, out_chunk)
                if out:
                    yield out
                if decomp.eof:
                    data = decomp.unused_data
                    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    started = False
                    if data.strip(b'\0') == b'':
                        data = b''
                else:
                    data = decomp.unconsumed_tail
                    while not data and not decomp.eof:
                        out = decomp.decompress(b'', out_chunk)
                        if not out:
                            break
                        yield out
    except zlib.error as exc:
        raise TransferError('The gzip data is corrupt: %s' % exc)
    if started and not decomp.eof:
        raise TransferError('The gzip data ends before the end of its last member: the download is truncated')
