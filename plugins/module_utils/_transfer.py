# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Downloads of signed URLs: size probe, resumable streaming reader, URL redaction.

Internal use only: this module is private to the pantheon.platform collection and may change
without notice.

Signed backup URLs carry their credentials in the query string, so every message built here
names a URL through ``redact_url`` only.
"""

from __future__ import annotations

import re
import time
import traceback

from urllib.parse import urlsplit, urlunsplit, parse_qsl

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    from requests import exceptions as _rexc
    from urllib3 import exceptions as _uexc
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - exercised by ansible-test sanity only
    requests = None
    _rexc = None
    _uexc = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError

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


def redact_url(url, hide_name=False):
    """Return ``scheme://host[:port]/path`` of ``url``: no user info, query or fragment.

    With ``hide_name`` the last path segment (for example a secret archive name) is replaced
    by ``...`` as well.
    """
    if not url:
        return ''
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return '<unparsable URL>'
    host = parts.hostname or ''
    if ':' in host:
        host = '[%s]' % host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port:
        host = '%s:%d' % (host, port)
    path = parts.path
    if hide_name and path and not path.endswith('/'):
        path = path.rsplit('/', 1)[0] + '/...'
    return urlunsplit((parts.scheme, host, path, '', ''))


def _scrub(text, url):
    """Remove every query value of ``url`` from ``text`` (error bodies can echo signatures)."""
    try:
        values = [v for dummy, v in parse_qsl(urlsplit(url).query, keep_blank_values=False) if len(v) >= 4]
    except ValueError:
        values = []
    query = urlsplit(url).query if url else ''
    if query:
        values.append(query)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, '***')
    return text


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
    return _scrub(detail, url)


def _verify_arg(validate_certs, ca_path):
    if not validate_certs:
        return False
    return ca_path or True


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
    _need_requests()
    http = session or requests.Session()
    delay = 0.5
    last = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(delay)
            delay = min(delay * 2, 8)
        try:
            response = http.get(url, headers={'Range': 'bytes=0-0', 'Accept-Encoding': 'identity'},
                                stream=True, timeout=timeout, verify=_verify_arg(validate_certs, ca_path),
                                allow_redirects=True)
        except _transient_exceptions() as exc:
            last = 'connection failed (%s)' % type(exc).__name__
            continue
        except _rexc.RequestException as exc:
            raise TransferError('Could not reach %s: %s' % (redact_url(url), _scrub(str(exc), url)))
        try:
            status = response.status_code
            if status == 206:
                parsed = _parse_content_range(response.headers.get('Content-Range'))
                if parsed is None:
                    raise TransferError('%s answered 206 without a usable Content-Range header' % redact_url(url), status)
                return parsed[2]
            if status == 416:
                parsed = _parse_content_range(response.headers.get('Content-Range'))
                if parsed is not None and parsed[2] == 0:
                    return 0
                return None
            if status == 200:
                length = response.headers.get('Content-Length')
                return int(length) if length and length.isdigit() else None
            if status in _RETRY_STATUS:
                last = 'HTTP %d' % status
                continue
            raise TransferError('GET %s failed with HTTP %d%s' % (
                redact_url(url), status, (': ' + _error_detail(response, url)) if status >= 400 else ''), status)
        finally:
            response.close()
    raise TransferError('GET %s failed after %d attempts: %s' % (redact_url(url), attempts, last))


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
                 retries=5, expected_size=None, session=None, on_resume=None):
        _need_requests()
        self._url_factory = url if callable(url) else None
        self._url = url() if callable(url) else url
        self._verify = _verify_arg(validate_certs, ca_path)
        self.chunk = int(chunk) or DEFAULT_CHUNK
        self.timeout = timeout
        self.retries = retries
        self.expected_size = expected_size
        self._http = session or requests.Session()
        self._on_resume = on_resume
        self.total = None
        self.received = 0
        self.resumes = 0
        self.url_refreshes = 0
        self._etag = None
        self._iter = None
        self._buffer = b''
        self._done = False
        self.closed = False

    # -- public helpers -------------------------------------------------------------------
    @property
    def display_url(self):
        return redact_url(self._url)

    def readable(self):
        return True

    def close(self):
        self.closed = True
        if self._iter is not None:
            self._iter.close()
            self._iter = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __iter__(self):
        if self._buffer:
            data, self._buffer = self._buffer, b''
            yield data
        if self._iter is None:
            self._iter = self._chunks()
        for data in self._iter:
            yield data

    def read(self, size=-1):
        if self._iter is None:
            self._iter = self._chunks()
        if size is None or size < 0:
            parts = [self._buffer]
            self._buffer = b''
            parts.extend(self._iter)
            return b''.join(parts)
        while len(self._buffer) < size and not self._done:
            try:
                self._buffer += next(self._iter)
            except StopIteration:
                self._done = True
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

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
            for data in raw.stream(min(self.chunk, 65536), decode_content=False):
                yield data

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
        delay = 0.5
        last_error = None
        refreshed_for = None
        while True:
            if failures:
                if failures > self.retries:
                    self._fail('Download of %s failed after %d attempts without progress at byte %d of %s: %s' % (
                        self.display_url, failures, self.received,
                        self.total if self.total is not None else 'unknown', last_error))
                time.sleep(delay)
                delay = min(delay * 2, 10)
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
                self._fail('Download of %s failed: %s' % (self.display_url, _scrub(str(exc), self._url)))
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
                    delay = 0
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
                        delay = 0.5
                        if self.total is not None and self.received > self.total:
                            self._fail('%s sent more bytes than announced (%d > %d)' % (self.display_url, self.received, self.total))
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
                expected_size=None, session=None, on_resume=None):
    """Open ``url`` for streaming; see ``DownloadStream``. Nothing is requested until read."""
    return DownloadStream(url, validate_certs=validate_certs, ca_path=ca_path, chunk=chunk, timeout=timeout,
                          retries=retries, expected_size=expected_size, session=session, on_resume=on_resume)
