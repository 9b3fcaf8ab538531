# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""Client for the Pantheon platform API (the API Terminus talks to).

No Ansible imports here: the caller passes ``warn`` and ``debug`` callbacks.

What the client does for its callers:

* exchanges the machine token for a session and caches the session on disk (0600 file under
  ``~/.ansible/pantheon/``, keyed by a hash of token and API URL) so that many module runs on one
  controller log in once; a 401 triggers exactly one fresh login;
* retries connection errors, timeouts, 429 and 5xx with bounded exponential backoff and jitter
  (honouring ``Retry-After``), never other 4xx;
* turns every failure into a :class:`PantheonError` whose text names status, method, path and
  body, and never holds the token, the session or a query string;
* lists workflows (starting, adopting and waiting for them is ``_workflows``' job; what modules
  return of a site is ``_summaries``');
* reads paged collections and resolves sites by name or UUID.
"""

from __future__ import annotations

import copy
import email.utils
import hashlib
import json
import os
import re
import tempfile
import time
import traceback

from ansible_collections.pantheon.platform.plugins.module_utils._errors import (  # noqa: F401 (re-exported)
    PantheonError,
    TransportError,
    redact,
)
from ansible_collections.pantheon.platform.plugins.module_utils._http import (
    Backoff,
    PollTimeout,
    env_float,
    new_session,
    poll,
    verify_setting,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX controllers
    fcntl = None

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

DEFAULT_API_URL = 'https://terminus.pantheon.io/api'
DEFAULT_CACHE_DIR = os.path.join('~', '.ansible', 'pantheon')

UUID_RE = re.compile(r'^[a-f0-9]{8}-([a-f0-9]{4}-){3}[a-f0-9]{12}$', re.IGNORECASE)
# Pantheon site machine names: lowercase letters, digits and dashes.
SITE_NAME_RE = re.compile(r'^[a-z0-9][a-z0-9-]*$')

# Statuses that are never retried (anything 4xx other than 429 is not retried either).
NO_RETRY_STATUSES = frozenset((400, 401, 403, 404, 409))
RETRY_AFTER_CAP = 120.0
# Seconds to keep trying a host that gives no HTTP answer (refused, unresolvable, silent) before failing.
DEFAULT_CONNECT_TIMEOUT = 30
SESSION_REFRESH_MARGIN = 60
MIN_POLL_INTERVAL = 1.0

WEB_PORT_ENV = 'PANTHEON_WEB_PORT'

# Lookups a module run asks for again and again (a site by name, the site, its environments, an
# environment's settings and domains) are answered once per client (a client lives for one module
# run). Any other request than a GET, and every workflow wait, forgets them: what the run changes, or
# a workflow changes, is read again. Workflows, backups and everything else are never kept.
KEPT_GET_RE = re.compile(r'^(site-names/[^/]+|sites/[^/]+(/environments(/[^/]+/(settings|domains))?)?)$')


def web_origin(domain):
    """``https://<domain>``, the origin of an environment's web at its platform domain.

    Platform domains carry no port (the API answers bare host names, and the platform serves
    HTTPS on 443). Only a stand-in platform such as the test emulator, whose every environment's
    web listens on one loopback port, sets PANTHEON_WEB_PORT: that port is then added to a domain
    that names none. Unset, as against the real platform, nothing changes."""
    port = os.environ.get(WEB_PORT_ENV, '').strip()
    if not port or ':' in domain:
        return 'https://%s' % domain
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise PantheonError('%s must be a TCP port number (1-65535), got %r' % (WEB_PORT_ENV, port))
    return 'https://%s:%d' % (domain, int(port))


def is_uuid(value):
    return bool(value) and bool(UUID_RE.match(str(value)))


def describe_body(body):
    """Human text for an error body: JSON string, JSON object/array, plain text, or empty."""
    if body is None:
        return '(empty body)'
    if isinstance(body, str):
        text = body.strip()
        return text if text else '(empty body)'
    if isinstance(body, (dict, list)):
        if isinstance(body, dict):
            for key in ('message', 'error', 'reason', 'detail'):
                if isinstance(body.get(key), str) and body[key].strip():
                    rest = dict((k, v) for k, v in body.items() if k != key)
                    text = body[key].strip()
                    if rest:
                        text += ' ' + json.dumps(rest, sort_keys=True)
                    return text
        return json.dumps(body, sort_keys=True)
    return str(body)


class ApiError(PantheonError):
    """A non-2xx HTTP answer. ``.status``, ``.method``, ``.path`` (no query), ``.body``."""

    def __init__(self, status, method, path, body, message=None):
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.retry_after = None
        if message is None:
            text = describe_body(body)
            if len(text) > 2000:
                text = text[:2000] + '...'
            message = '%s %s failed with HTTP %s: %s' % (method, path, status, text)
        super().__init__(message, status=status)


class NotFound(ApiError):
    pass


class LoginError(ApiError):
    """The machine token was refused (not retried, no second login)."""


def _parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class _FileLock:
    """Advisory lock on a file (no-op where fcntl is missing)."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        if fcntl is not None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class SessionCache:
    """Sessions on disk: ``<dir>/<sha256(token, api_url)>.json`` (0600) in a 0700 directory."""

    def __init__(self, directory, machine_token, api_url):
        self.directory = os.path.abspath(os.path.expanduser(directory))
        key = hashlib.sha256(('%s\n%s' % (machine_token, api_url.rstrip('/'))).encode('utf-8')).hexdigest()
        self.path = os.path.join(self.directory, 'session-%s.json' % key)
        self.lock_path = os.path.join(self.directory, 'session-%s.lock' % key)

    def ensure_dir(self):
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        try:
            st = os.stat(self.directory)
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                os.chmod(self.directory, 0o700)
        except (OSError, AttributeError):
            pass

    def lock(self):
        self.ensure_dir()
        return _FileLock(self.lock_path)

    def load(self):
        """The cached session dict if it is still good for SESSION_REFRESH_MARGIN seconds."""
        try:
            with open(self.path, 'r', encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not data.get('session') or not data.get('user_id'):
            return None
        try:
            expires_at = float(data.get('expires_at'))
        except (TypeError, ValueError):
            return None
        if expires_at - time.time() <= SESSION_REFRESH_MARGIN:
            return None
        return data

    def save(self, data):
        self.ensure_dir()
        fd, tmp = tempfile.mkstemp(prefix='.session-', dir=self.directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, 'w', encoding='utf-8') as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def discard(self, session):
        """Remove the cached session if it is ``session`` (another process may have refreshed it)."""
        try:
            with open(self.path, 'r', encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get('session') == session:
            try:
                os.unlink(self.path)
            except OSError:
                pass


class ApiSession:
    """The transport half of the client: login and the session cache, requests with retries and errors,
    the lookups kept for one run. :class:`PantheonClient` adds the platform's resources."""

    def __init__(self, machine_token, api_url=DEFAULT_API_URL, validate_certs=True, ca_path=None,
                 timeout=60, warn=None, cache_dir=None, debug=None, retries=5, retry_base_delay=None,
                 retry_max_delay=30.0, retry_max_time=300.0, use_cache=True, client_name='terminus',
                 poll_interval=None, sleep=None, clock=None, connect_timeout=None):
        if not HAS_REQUESTS:
            raise PantheonError('The Python library "requests" is required to talk to the Pantheon API.')
        if not machine_token:
            raise PantheonError('No Pantheon machine token: set the machine_token option or the '
                                'PANTHEON_MACHINE_TOKEN (or TERMINUS_MACHINE_TOKEN) environment variable.')
        self.machine_token = machine_token
        self.api_url = (api_url or DEFAULT_API_URL).rstrip('/')
        if not re.match(r'^https?://[^/]+', self.api_url):
            raise PantheonError('api_url must be an http(s) URL like %s, got %r' % (DEFAULT_API_URL, redact(self.api_url)))
        self.verify = verify_setting(validate_certs, ca_path)
        self.timeout = timeout
        self._warn = warn
        self._debug = debug
        self.retries = max(0, int(retries))
        self.backoff = Backoff(retry_base_delay, max_delay=retry_max_delay, retry_after_cap=RETRY_AFTER_CAP)
        self.retry_base_delay = self.backoff.base
        self.retry_max_delay = float(retry_max_delay)
        self.retry_max_time = float(retry_max_time)
        if connect_timeout is None:
            connect_timeout = env_float('PANTHEON_CONNECT_TIMEOUT', DEFAULT_CONNECT_TIMEOUT)
        # the bound on an unreachable API: every connection attempt and the retries between them
        self.connect_timeout = max(1.0, float(connect_timeout))
        if poll_interval is None:
            poll_interval = env_float('PANTHEON_POLL_INTERVAL', MIN_POLL_INTERVAL)
        # first wait between two polls of a workflow or health check (the real platform: 1s; tests: less)
        self.poll_interval = max(0.01, float(poll_interval))
        # injectable waiting (tests drive the polling schedule on a virtual clock)
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self.polls = 0  # workflow polls made by this instance (tests, benchmarks)
        self._kept = {}  # answers of KEPT_GET_RE lookups, until the next write or workflow wait
        self.client_name = client_name
        if cache_dir is None:
            cache_dir = os.environ.get('PANTHEON_CACHE_DIR') or DEFAULT_CACHE_DIR
        self.cache = SessionCache(cache_dir, machine_token, self.api_url) if use_cache else None
        self._session_data = None
        self.logins = 0  # logins performed by this instance (for tests and debug output)
        self.http = new_session(validate_certs, ca_path, headers={'Accept': 'application/json'})

    # ------------------------------------------------------------------ helpers
    def warn(self, msg):
        if self._warn:
            self._warn(self.redact(msg))

    def debug(self, msg):
        if self._debug:
            self._debug(self.redact(msg))

    def redact(self, text):
        """Remove the token, the session and any query string from ``text``."""
        return redact(text, (self.machine_token, (self._session_data or {}).get('session')))

    def url(self, path):
        if '://' in path:
            return path
        return '%s/%s' % (self.api_url, path.lstrip('/'))

    @staticmethod
    def display_path(path):
        """The path as shown in messages: relative to the API, no query string."""
        return path.split('?', 1)[0].split('#', 1)[0]

    # ------------------------------------------------------------------ session
    def _login(self):
        status, data = self._send('POST', 'authorize/machine-token',
                                  body={'machine_token': self.machine_token, 'client': self.client_name},
                                  auth=False, login=True)
        if not isinstance(data, dict) or not data.get('session') or not data.get('user_id'):
            raise PantheonError('Logging in with the machine token failed: the answer to POST authorize/machine-token '
                                'had no session/user_id (HTTP %s)' % status)
        self.logins += 1
        session = {'session': data['session'], 'user_id': data['user_id']}
        try:
            session['expires_at'] = float(data.get('expires_at'))
        except (TypeError, ValueError):
            session['expires_at'] = time.time() + 3600
        self.debug('logged in as user %s' % session['user_id'])
        return session

    def _ensure_session(self, failed_session=None):
        """Load (or create) a session. ``failed_session``: one the API just refused."""
        if self._session_data and not failed_session:
            if self._session_data['expires_at'] - time.time() > SESSION_REFRESH_MARGIN:
                return self._session_data
        if self.cache is None:
            self._session_data = self._login()
            return self._session_data
        with self.cache.lock():
            if failed_session:
                self.cache.discard(failed_session)
            cached = self.cache.load()
            if cached and cached.get('session') != failed_session:
                self._session_data = cached
                return cached
            self._session_data = self._login()
            try:
                self.cache.save(self._session_data)
            except OSError as e:
                self.warn('Could not write the Pantheon session cache in %s: %s' % (self.cache.directory, e.strerror))
        return self._session_data

    @property
    def user_id(self):
        return self._ensure_session()['user_id']

    # ------------------------------------------------------------------ HTTP
    def _retry_delay(self, attempt, retry_after=None):
        return self.backoff.delay(attempt, retry_after)

    def _send_once(self, method, path, params=None, body=None, auth=True, headers=None, timeout=None):
        """One HTTP exchange. Returns (status, data, response headers) or raises TransportError."""
        hdrs = dict(headers or {})
        if auth:
            try:
                hdrs['Authorization'] = 'Bearer %s' % self._ensure_session()['session']
            except TransportError as e:
                # the login already retried on its own schedule: no retries around retries
                e.retryable = False
                raise
        # verify per request: a session-level setting loses to REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
        read_timeout = timeout or self.timeout
        kwargs = dict(params=params, headers=hdrs, timeout=(min(self.connect_timeout, read_timeout), read_timeout),
                      verify=self.verify)
        if body is not None:
            kwargs['data'] = json.dumps(body)
            hdrs['Content-Type'] = 'application/json'
        shown = self.display_path(path)
        started = time.time()
        try:
            resp = self.http.request(method, self.url(path), **kwargs)
        except requests.exceptions.SSLError as e:
            raise TransportError('%s %s failed: TLS error talking to %s (%s); check validate_certs/ca_path'
                                 % (method, shown, self._host(), self._exc_text(e)), method, shown, retryable=False)
        except requests.exceptions.ConnectTimeout:
            raise TransportError('%s %s failed: could not connect to %s within %ss'
                                 % (method, shown, self._host(), kwargs['timeout'][0]), method, shown)
        except requests.exceptions.Timeout:
            raise TransportError('%s %s failed: no answer from %s within %ss' % (method, shown, self._host(), read_timeout),
                                 method, shown)
        except requests.exceptions.ChunkedEncodingError as e:
            raise TransportError('%s %s failed: the answer from %s broke off (%s)' % (method, shown, self._host(), self._exc_text(e)),
                                 method, shown)
        except requests.exceptions.ConnectionError as e:
            raise TransportError('%s %s failed: could not connect to %s (%s)' % (method, shown, self._host(), self._exc_text(e)),
                                 method, shown)
        except requests.exceptions.RequestException as e:
            raise TransportError('%s %s failed: %s' % (method, shown, self._exc_text(e)), method, shown, retryable=False)
        text = resp.text
        if not text.strip():
            data = None
        else:
            try:
                data = json.loads(text)
            except ValueError:
                data = text
        self.debug('%s %s -> %s (%.2fs)' % (method, shown, resp.status_code, time.time() - started))
        return resp.status_code, data, resp.headers

    def _host(self):
        return re.sub(r'^https?://', '', self.api_url).split('/', 1)[0]

    def _exc_text(self, exc):
        # requests/urllib3 messages hold the URL (with any query); keep the gist, hide queries and secrets.
        text = str(exc)
        m = re.search(r"\(Caused by (\w+)\((?:<[^>]*>, )?'?(.*?)'?\)\)?$", text)
        if m:
            text = '%s: %s' % (m.group(1), m.group(2))
        return self.redact(text)[:300]

    def _send(self, method, path, params=None, body=None, auth=True, retry=True, login=False, headers=None, timeout=None):
        """Send with the retry policy. Returns (status, data); raises ApiError/TransportError."""
        try:
            return self._send_retrying(method, path, params, body, auth, retry, login, headers, timeout)
        except PantheonError as e:
            e.message = self.redact(e.message)
            raise

    def _send_retrying(self, method, path, params, body, auth, retry, login, headers, timeout):
        shown = self.display_path(path)
        started = self.clock()
        attempts = (self.retries + 1) if retry else 1
        attempt = 0
        while True:
            retry_after = None
            try:
                status, data, resp_headers = self._send_once(method, path, params=params, body=body, auth=auth,
                                                             headers=headers, timeout=timeout)
            except TransportError as e:
                if not e.retryable:
                    raise
                failure = e
                status = None
            else:
                if 200 <= status < 300:
                    return status, data
                cls = NotFound if status == 404 else ApiError
                failure = cls(status, method, shown, data)
                if login and status in (400, 401, 403):
                    failure = LoginError(status, method, shown, data,
                                         message='The machine token was refused: %s %s failed with HTTP %s: %s'
                                         % (method, shown, status, describe_body(data)))
                if status != 429 and status < 500:
                    raise failure
                retry_after = _parse_retry_after(resp_headers.get('Retry-After'))
                failure.retry_after = retry_after
            attempt += 1
            delay = self.next_delay(failure, attempt, attempts, started, retry_after)
            reason = 'HTTP %s' % status if status else failure.message
            self.warn('%s %s: %s; retry %d/%d in %.1fs' % (method, shown, reason, attempt, attempts - 1, delay))
            self.sleep(delay)

    def next_delay(self, failure, attempt, attempts, started, retry_after=None):
        """Seconds to wait before try ``attempt + 1``; raises ``failure`` when attempts or time are used up."""
        if attempt >= attempts:
            raise self._exhausted(failure, attempt)
        delay = self._retry_delay(attempt - 1, retry_after)
        elapsed = self.clock() - started
        if isinstance(failure, TransportError) and elapsed + delay > self.connect_timeout:
            # no HTTP answer at all: the host is unreachable; fail within connect_timeout
            raise self._exhausted(failure, attempt, 'connect_timeout=%gs' % self.connect_timeout)
        if elapsed + delay > self.retry_max_time:
            raise self._exhausted(failure, attempt)
        return delay

    def _exhausted(self, failure, attempts, bound=None):
        if attempts > 1 or bound:
            failure.message = '%s (gave up after %d attempt%s%s)' % (
                failure.message, attempts, '' if attempts == 1 else 's', '; ' + bound if bound else '')
        failure.message = self.redact(failure.message)
        return failure

    def request(self, method, path, params=None, body=None, expect_json=True, retry=True):
        """Call ``{api_url}/{path}`` with the session. Returns (status, data).

        ``data`` is the decoded JSON, else the text, else None for an empty body.
        Raises NotFound (404), ApiError (other non-2xx), TransportError, PantheonError.
        A 401 leads to exactly one fresh login and one more try.
        """
        method = method.upper()
        key = None
        if method != 'GET':
            self._kept.clear()
        elif KEPT_GET_RE.match(path.strip('/')):
            key = (path.strip('/'), tuple(sorted((params or {}).items())))
            if key in self._kept:
                return copy.deepcopy(self._kept[key])
        try:
            status, data = self._send(method, path, params=params, body=body, retry=retry)
        except ApiError as e:
            if e.status != 401 or isinstance(e, LoginError):
                raise
            self.debug('HTTP 401 on %s %s: logging in again' % (method, self.display_path(path)))
            self._ensure_session(failed_session=(self._session_data or {}).get('session'))
            status, data = self._send(method, path, params=params, body=body, retry=retry)
        if expect_json and isinstance(data, str):
            raise ApiError(status, method, self.display_path(path), data,
                           message='%s %s returned HTTP %s with a body that is not JSON: %s'
                           % (method, self.display_path(path), status, describe_body(data)[:500]))
        if key is not None:
            self._kept[key] = copy.deepcopy((status, data))
        return status, data

    def forget(self):
        """Forget the kept lookups (a workflow wait: what the workflow changes is read again)."""
        self._kept.clear()

    def get(self, path, params=None):
        return self.request('GET', path, params=params)[1]

    def post(self, path, body=None):
        return self.request('POST', path, body=body if body is not None else {})[1]

    def paged(self, path, limit=100, params=None):
        """All items of a paged collection (``limit=N&start=<last id>``)."""
        items = []
        seen = set()
        start = None
        while True:
            query = dict(params or {})
            query['limit'] = limit
            if start is not None:
                query['start'] = start
            page = self.get(path, params=query)
            if page is None:
                page = []
            if isinstance(page, dict):
                page = list(page.values())
            if not isinstance(page, list):
                raise PantheonError('GET %s returned %s instead of a list' % (self.display_path(path), type(page).__name__))
            if not page:
                break
            new_last = None
            for item in page:
                if not isinstance(item, dict) or 'id' not in item:
                    continue
                new_last = item['id']
                if new_last in seen:
                    continue
                seen.add(new_last)
                items.append(item)
            if len(page) < limit or new_last is None or new_last == start:
                break
            start = new_last
        return items


class PantheonClient(ApiSession):
    """Pantheon API client: the session (:class:`ApiSession`) and the platform's resources - sites,
    environments, domains, upstreams, organizations, backups and workflow lists. What modules return of
    a site is ``_summaries``'; starting and waiting for workflows is ``_workflows``'."""

    # ------------------------------------------------------------------ sites and envs
    def find_site(self, name_or_uuid):
        """The site object (``GET sites/{id}?site_state=true``) or None when there is none."""
        name_or_uuid = (name_or_uuid or '').strip()
        if not name_or_uuid:
            raise PantheonError('A site name or UUID is required')
        if is_uuid(name_or_uuid):
            site_id = name_or_uuid.lower()
        else:
            if not SITE_NAME_RE.match(name_or_uuid):
                raise PantheonError('%r is not a valid Pantheon site name (lowercase letters, digits and dashes) '
                                    'or site UUID' % name_or_uuid)
            try:
                data = self.get('site-names/%s' % name_or_uuid)
            except NotFound:
                return None
            if not isinstance(data, dict) or not data.get('id'):
                return None
            site_id = data['id']
        try:
            site = self.get('sites/%s' % site_id, params={'site_state': 'true'})
        except NotFound:
            return None
        if not isinstance(site, dict):
            raise PantheonError('GET sites/%s returned an unexpected body' % site_id)
        site.setdefault('id', site_id)
        return site

    def get_site(self, name_or_uuid):
        site = self.find_site(name_or_uuid)
        if site is None:
            raise NotFound(404, 'GET', 'site-names/%s' % name_or_uuid, None,
                           message='Could not find a site named or identified by %r that this user may access'
                           % name_or_uuid)
        return site

    def environments(self, site_id):
        data = self.get('sites/%s/environments' % site_id)
        if not data:
            return {}
        if not isinstance(data, dict):
            raise PantheonError('GET sites/%s/environments returned an unexpected body' % site_id)
        return data

    def env_settings(self, site_id, env):
        data = self.get('sites/%s/environments/%s/settings' % (site_id, env))
        return data if isinstance(data, dict) else {}

    def domains(self, site_id, env):
        data = self.get('sites/%s/environments/%s/domains' % (site_id, env))
        return data if isinstance(data, list) else []

    def platform_domain(self, site_id, env):
        """The last domain with type == "platform" (a host name; web_origin() makes its URL)."""
        found = None
        for domain in self.domains(site_id, env):
            if isinstance(domain, dict) and domain.get('type') == 'platform' and domain.get('id'):
                found = domain['id']
        if not found:
            raise PantheonError('No platform domain found for the %s environment of site %s' % (env, site_id))
        return found

    def upstreams(self):
        data = self.get('users/%s/upstreams' % self.user_id)
        return data if isinstance(data, list) else []

    def find_upstream(self, name):
        """Upstream matched by id, product_id, machine_name or label (as Terminus does), or None."""
        for upstream in self.upstreams():
            if not isinstance(upstream, dict):
                continue
            if name in (upstream.get('id'), upstream.get('product_id'), upstream.get('machine_name'), upstream.get('label')):
                return upstream
        return None

    def organizations(self):
        """The user's organization memberships (paged)."""
        return self.paged('users/%s/memberships/organizations' % self.user_id)

    def find_organization(self, name):
        """The organization (``{id, profile...}``) matched by id, membership id, machine name or name."""
        for membership in self.organizations():
            org = membership.get('organization') or {}
            profile = org.get('profile') or {}
            org_id = org.get('id') or membership.get('organization_id')
            if name in (membership.get('id'), org_id, profile.get('machine_name'), profile.get('name')):
                result = dict(org)
                result['id'] = org_id
                return result
        return None

    def healthcheck(self, domain, timeout=30):
        """GET https://{domain}/pantheon_healthcheck without credentials. Returns the HTTP status or None."""
        try:
            resp = self.http.get('%s/pantheon_healthcheck' % web_origin(domain), timeout=timeout,
                                 headers={'Authorization': None}, verify=self.verify)
        except requests.exceptions.RequestException as e:
            self.debug('health check of %s failed: %s' % (domain, self._exc_text(e)))
            return None
        return resp.status_code

    def wait_healthy(self, domain, timeout):
        """Poll the health check until it answers 200; raise PantheonError after ``timeout`` seconds."""
        def check():
            status = self.healthcheck(domain, timeout=min(30, max(1, timeout)))
            return status == 200, status

        try:
            return poll(check, timeout, self.poll_interval, clock=self.clock, sleep=self.sleep, first=0)
        except PollTimeout as e:
            raise PantheonError('%s/pantheon_healthcheck did not answer 200 within %ss (last answer: %s)'
                                % (web_origin(domain), timeout, 'HTTP %s' % e.last if e.last else 'no connection'))

    def workflows(self, site_id):
        data = self.get('sites/%s/workflows' % site_id)
        return data if isinstance(data, list) else []

    def user_workflows(self):
        data = self.get('users/%s/workflows' % self.user_id)
        return data if isinstance(data, list) else []

    def backup_catalog(self, site_id, env):
        data = self.get('sites/%s/environments/%s/backups/catalog' % (site_id, env))
        return data if isinstance(data, dict) else {}

    def backup_url(self, site_id, env, folder, element):
        data = self.post('sites/%s/environments/%s/backups/catalog/%s/%s/s3token' % (site_id, env, folder, element),
                         {'method': 'get'})
        if not isinstance(data, dict) or not data.get('url'):
            raise PantheonError('No download URL for the %s backup %s of %s.%s' % (element, folder, site_id, env))
        return data['url']
