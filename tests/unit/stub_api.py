# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small threaded HTTP server that answers scripted responses and records every request.

Used by the unit tests of ``plugins/module_utils/_api.py``: the client under test talks real
HTTP to it on 127.0.0.1, nothing in our code is mocked.

    with StubApi() as api:
        api.add('GET', r'sites/abc', Reply(503), Reply(200, {'id': 'abc'}))
        client = PantheonClient('token', api_url=api.api_url, cache_dir=tmp_path)
        client.get('sites/abc')
        assert api.count('GET', 'sites/abc') == 2

Routes are regular expressions matched against the path after ``/api/`` (no query). Each route
holds a queue of replies; the last reply repeats. A reply may be a callable taking the
``Recorded`` request and returning a Reply. Unscripted requests get 404 with a JSON string body.
``POST authorize/machine-token`` answers with a fresh session unless scripted otherwise.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.parse
import uuid

USER_ID = '11111111-1111-4111-8111-111111111111'


class VirtualClock:
    """A virtual clock for a client's injectable ``clock``/``sleep``: waits advance it, nothing sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class Reply:
    """A scripted answer. ``body``: dict/list/str (JSON-encoded), bytes (sent raw) or None (empty)."""

    def __init__(self, status=200, body=None, headers=None, delay=0.0, raw=None, drop=False, content_type=None,
                 truncate=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.delay = delay
        self.raw = raw
        self.drop = drop  # close the connection without any answer
        self.content_type = content_type
        self.truncate = truncate  # send only this many body bytes (Content-Length says more), then close

    def encoded(self):
        if self.raw is not None:
            return self.raw, self.content_type or 'text/plain'
        if self.body is None:
            return b'', self.content_type or 'application/json'
        return json.dumps(self.body).encode(), self.content_type or 'application/json'


class Recorded:
    def __init__(self, method, path, query, headers, body, when):
        self.method = method
        self.path = path            # after /api/, no query
        self.query = query          # dict of lists
        self.headers = headers
        self.body = body            # decoded JSON or None
        self.time = when

    def __repr__(self):
        return '<%s %s %s>' % (self.method, self.path, self.query)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    # headers and body leave in two writes on a kept-alive connection: without TCP_NODELAY, Nagle's
    # algorithm holds the body until the client's delayed ACK (about 40 ms a request)
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _handle(self):
        server = self.server.stub
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        if path.startswith('/api/'):
            path = path[len('/api/'):]
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode('utf-8', 'replace')
        rec = Recorded(self.command, path, urllib.parse.parse_qs(parsed.query), dict(self.headers), body, time.time())
        with server.lock:
            server.requests.append(rec)
        reply = server.reply_for(rec)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        data, ctype = reply.encoded()
        self.send_response(reply.status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if reply.truncate is not None:
            self.wfile.write(data[:reply.truncate])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # dropped/truncated replies and client timeouts end in resets: expected, keep the output quiet
        pass


class StubApi:
    def __init__(self, user_id=USER_ID, session_ttl=3600):
        self.user_id = user_id
        self.session_ttl = session_ttl
        self.routes = []
        self.requests = []
        self.sessions = []
        self.lock = threading.Lock()
        self.server = _Server(('127.0.0.1', 0), _Handler)
        self.server.stub = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- lifecycle
    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self):
        return 'http://127.0.0.1:%d' % self.server.server_address[1]

    @property
    def api_url(self):
        return self.base_url + '/api'

    # -- scripting
    def add(self, method, path_re, *replies):
        """Script replies for ``method`` + path regex (full match). Later routes win over earlier ones."""
        self.routes.insert(0, [method.upper(), re.compile(path_re + r'\Z'), list(replies)])
        return self

    def reply_for(self, rec):
        with self.lock:
            for method, rx, replies in self.routes:
                if method == rec.method and rx.match(rec.path):
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                    break
            else:
                reply = None
        if callable(reply):
            reply = reply(rec)
        if reply is None:
            if rec.method == 'POST' and rec.path == 'authorize/machine-token':
                return self.login_reply(rec)
            return Reply(404, 'No route for %s %s in the stub.' % (rec.method, rec.path))
        return reply

    def login_reply(self, rec):
        session = '%s:%s:%s' % (self.user_id, uuid.uuid4(), uuid.uuid4().hex)
        with self.lock:
            self.sessions.append(session)
        return Reply(200, {'session': session, 'expires_at': int(time.time()) + self.session_ttl, 'user_id': self.user_id})

    # -- inspection
    def matching(self, method, path_re):
        rx = re.compile(path_re + r'\Z')
        with self.lock:
            return [r for r in self.requests if r.method == method.upper() and rx.match(r.path)]

    def count(self, method, path_re):
        return len(self.matching(method, path_re))

    @property
    def logins(self):
        return self.count('POST', 'authorize/machine-token')

    def gaps(self, method, path_re):
        """Seconds between consecutive matching requests."""
        times = [r.time for r in self.matching(method, path_re)]
        return [b - a for a, b in zip(times, times[1:])]
