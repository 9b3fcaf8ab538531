# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_transfer against a real HTTP server on loopback: ranges, resets, truncation, redaction."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import random
import socket
import struct
import tarfile
import threading

import pytest

from ansible_collections.pantheon.platform.plugins.module_utils import _transfer
from ansible_collections.pantheon.platform.plugins.module_utils._errors import redact, shown_url

SECRET = 'Signature=s3cr3tSIGNATUREvalue'


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # keep pytest output quiet
        pass

    def do_HEAD(self):  # noqa: N802 - the probe must never use HEAD
        self.server.log.append(('HEAD', None))
        self.send_response(405)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def do_GET(self):  # noqa: N802
        srv = self.server
        rng = self.headers.get('Range')
        srv.log.append(('GET', rng))
        plan = srv.plan.pop(0) if srv.plan else 'ok'
        blob = srv.blob
        if plan == 'expired':
            body = (b'<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message>'
                    b'<StringToSign>' + SECRET.encode() + b'</StringToSign></Error>')
            self.send_response(403)
            self.send_header('Content-Type', 'application/xml')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if plan == '503':
            self.send_response(503)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        start = 0
        status = 200
        if rng and plan != 'ignore-range':
            spec = rng.split('=', 1)[1]
            first, dummy, last = spec.partition('-')
            start = int(first)
            end = int(last) if last else len(blob) - 1
            end = min(end, len(blob) - 1)
            status = 206
        else:
            end = len(blob) - 1
        if plan == 'changed':
            blob = blob + b'x'
        payload = blob[start:end + 1]
        self.send_response(status)
        self.send_header('Content-Length', str(len(payload)))
        self.send_header('ETag', '"v2"' if plan == 'changed' else '"v1"')
        if status == 206:
            self.send_header('Content-Range', 'bytes %d-%d/%d' % (start, end, len(blob)))
        self.end_headers()
        if plan.startswith('reset:') or plan.startswith('truncate:'):
            cut = int(plan.split(':')[1])
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            if plan.startswith('reset:'):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.wfile.write(payload)


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # the client hanging up is part of the tests
        pass


@pytest.fixture()
def server(monkeypatch):
    # retries wait 0.01 s, 0.02 s, ... instead of 1 s, 2 s, ...: what is tested is that they happen, not how long
    # they wait (the schedule itself: test_http.py, on a virtual clock)
    monkeypatch.setenv('PANTHEON_RETRY_BASE_DELAY', '0.01')
    httpd = _QuietServer(('127.0.0.1', 0), _Handler)
    httpd.blob = os.urandom(300_000)
    httpd.plan = []
    httpd.log = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = 'http://127.0.0.1:%d/backups/site/dev/f/files.tar.gz?Expires=1&%s' % (httpd.server_address[1], SECRET)
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_shown_url_drops_query_and_userinfo():
    url = 'https://user:pw@store.example:8443/b/site/dev/1_backup/site_dev_files.tar.gz?Signature=abc&Expires=2#x'
    assert shown_url(url) == 'https://store.example:8443/b/site/dev/1_backup/site_dev_files.tar.gz'
    assert shown_url(url, hide_name=True) == 'https://store.example:8443/b/site/dev/1_backup/...'
    assert shown_url(url, hide_path=True) == 'https://store.example:8443/...'
    assert shown_url('') == ''


def test_redact_hides_registered_secrets_and_every_form_of_a_signed_url():
    url = 'https://store.example/b/site/dev/1_backup/site_dev_files.tar.gz?Signature=abcdef&Expires=2'
    text = ('GET %s failed; signature abcdef; path /b/site/dev/1_backup/site_dev_files.tar.gz; %s; token TOKEN-1234; '
            'archive 0123456789abcdef.tgz; other https://x.example/p?q=1' % (url, shown_url(url)))
    out = redact(text, [url, 'TOKEN-1234', ('0123456789abcdef.tgz', '<archive>'), 'ab', None])
    assert 'abcdef&' not in out and 'Signature=abcdef' not in out and 'abcdef;' not in out
    assert 'site_dev_files' not in out and 'TOKEN-1234' not in out and '0123456789abcdef' not in out
    assert 'https://store.example/...' in out and '<archive>' in out and '********' in out
    assert 'https://x.example/p?<hidden>' in out
    assert redact(None) is None


def test_probe_size_uses_ranged_get_not_head(server):
    assert _transfer.probe_size(server.url, validate_certs=False) == len(server.blob)
    assert server.log == [('GET', 'bytes=0-0')]


def test_probe_size_falls_back_to_content_length(server):
    server.plan = ['ignore-range']
    assert _transfer.probe_size(server.url) == len(server.blob)


def test_probe_size_retries_503_then_succeeds(server):
    server.plan = ['503', '503']
    assert _transfer.probe_size(server.url) == len(server.blob)
    assert len(server.log) == 3


def test_probe_size_error_names_status_without_secret(server):
    server.plan = ['expired']
    with pytest.raises(_transfer.TransferError) as info:
        _transfer.probe_size(server.url)
    message = str(info.value)
    assert '403' in message and 'Request has expired' in message
    assert 's3cr3t' not in message and 'Expires=' not in message
    assert info.value.status == 403


def test_stream_plain(server):
    stream = _transfer.open_stream(server.url, chunk=65536)
    assert b''.join(stream) == server.blob
    assert stream.received == stream.total == len(server.blob)
    assert stream.resumes == 0


def test_stream_resumes_after_reset_and_truncation(server):
    server.plan = ['reset:100000', 'truncate:50000']
    events = []
    stream = _transfer.open_stream(server.url, chunk=8192, on_resume=lambda got, total, why: events.append((got, why)))
    data = b''.join(stream)
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(server.blob).hexdigest()
    assert stream.resumes == 2
    ranges = [r for m, r in server.log]
    assert ranges[0] is None
    assert ranges[1] == 'bytes=%d-' % events[0][0] and events[0][0] > 0
    assert ranges[2] == 'bytes=%d-' % events[1][0] and events[1][0] > events[0][0]


def test_stream_skips_bytes_when_server_ignores_range(server):
    server.plan = ['truncate:70000', 'ignore-range']
    stream = _transfer.open_stream(server.url, chunk=4096)
    assert stream.read() == server.blob
    assert stream.resumes == 1


def test_stream_refuses_object_that_changed(server):
    server.plan = ['truncate:70000', 'changed']
    with pytest.raises(_transfer.TransferError, match='changed while it was downloaded'):
        b''.join(_transfer.open_stream(server.url))


def test_stream_gives_up_without_progress(server):
    server.plan = ['truncate:1000'] + ['truncate:0'] * 10
    stream = _transfer.open_stream(server.url, retries=2)
    with pytest.raises(_transfer.TransferError) as info:
        b''.join(stream)
    assert 'without progress at byte 1000' in str(info.value)
    assert 's3cr3t' not in str(info.value)


def test_stream_refreshes_expired_link(server):
    calls = []

    def fresh():
        calls.append(1)
        return server.url

    server.plan = ['truncate:20000', 'expired']
    stream = _transfer.open_stream(fresh)
    assert stream.read() == server.blob
    assert len(calls) == 2 and stream.url_refreshes == 1


def test_stream_expected_size_mismatch(server):
    with pytest.raises(_transfer.TransferError, match='expected 5'):
        b''.join(_transfer.open_stream(server.url, expected_size=5))


def test_stream_is_a_file_for_tarfile_stream_mode(server):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w') as tar:
        for index in range(20):
            payload = os.urandom(20000)
            info = tarfile.TarInfo('files_dev/dir/f%02d.bin' % index)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    server.blob = gzip.compress(raw.getvalue(), compresslevel=1)
    server.plan = ['reset:30000']
    stream = _transfer.open_stream(server.url, chunk=4096)
    with tarfile.open(fileobj=stream, mode='r|gz') as tar:
        names = [member.name for member in tar]
    assert len(names) == 20 and stream.resumes == 1


def _pieces(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_gunzip_chunks_multi_member_bounded_and_truncation():
    data = random.Random(7).randbytes(1000) * 300 + b'tail'
    archive = gzip.compress(data, mtime=0) + gzip.compress(b'second member', mtime=0)
    for size in (997, 65536):
        assert b''.join(_transfer.gunzip_chunks(_pieces(archive, size))) == data + b'second member'
    bomb = list(_transfer.gunzip_chunks([gzip.compress(b'\0' * (20 << 20))], out_chunk=1 << 20))
    assert max(len(p) for p in bomb) <= 1 << 20 and sum(len(p) for p in bomb) == 20 << 20
    with pytest.raises(_transfer.TransferError, match='truncated'):
        b''.join(_transfer.gunzip_chunks(_pieces(archive[:len(archive) // 2], 4096)))
    damaged = bytearray(archive)
    damaged[len(archive) // 3] ^= 0xFF
    with pytest.raises(_transfer.TransferError, match='corrupt'):
        b''.join(_transfer.gunzip_chunks([bytes(damaged)]))
    assert b''.join(_transfer.gunzip_chunks([b'plain SQL;', b' more'])) == b'plain SQL; more'
