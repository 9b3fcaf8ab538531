# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""The one HTTP transport: the session factory (verify and CA rules), one backoff schedule and one
poll primitive. The API client, signed downloads (``_transfer``) and home-page checks (``_verify``)
all use them; no other module builds a ``requests.Session`` or reads the retry settings.

No Ansible imports here.
"""

from __future__ import annotations

import os
import random
import time
import traceback

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

USER_AGENT = 'pantheon.platform-ansible-collection'
# The first wait before a retry, in seconds (jittered to 0.5-1x, doubled each time); tests shorten it.
RETRY_BASE_DELAY_ENV = 'PANTHEON_RETRY_BASE_DELAY'
DEFAULT_RETRY_BASE_DELAY = 1.0
# Polling, in units of the poll interval (1 s on the platform; tests shorten the unit): first poll after
# 1 unit, then every POLL_FAST units during the first POLL_WINDOW units of the wait and every POLL_SLOW
# units after. Something that finishes is noticed within 1.5 s during its first minute and within 5 s
# after, and a 10-minute wait costs at most 150 polls (issue 13's goal; Terminus polls every 5 s, never
# faster than once a second: "The API will not allow polling faster than once per second").
POLL_FAST = 1.5
POLL_WINDOW = 60.0
POLL_SLOW = 5.0


def env_float(name, default):
    """A non-negative number from the environment variable ``name``, else ``default``."""
    value = os.environ.get(name)
    if value in (None, ''):
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def retry_base_delay(value=None):
    """The first retry wait: ``value``, else PANTHEON_RETRY_BASE_DELAY, else 1 s (one meaning everywhere)."""
    if value is None:
        value = env_float(RETRY_BASE_DELAY_ENV, DEFAULT_RETRY_BASE_DELAY)
    return max(0.0, float(value))


def verify_setting(validate_certs=True, ca_path=None):
    """requests' ``verify``: False without certificate checks, the CA bundle ``ca_path`` (which must
    exist), else True (the system's CAs)."""
    if not validate_certs:
        return False
    if ca_path:
        if not os.path.exists(ca_path):
            raise PantheonError('ca_path %s does not exist' % ca_path)
        return ca_path
    return True


def new_session(validate_certs=True, ca_path=None, headers=None):
    """A ``requests.Session`` with the collection's User-Agent and ``verify`` rule.

    Pass ``verify=session.verify`` with each request too: a session-level setting loses to the
    REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE environment variables."""
    if not HAS_REQUESTS:
        raise PantheonError('The Python library "requests" is required: %s' % (REQUESTS_IMPORT_ERROR or 'not installed'))
    session = requests.Session()
    session.headers.update({'User-Agent': USER_AGENT})
    session.headers.update(headers or {})
    session.verify = verify_setting(validate_certs, ca_path)
    return session


class Backoff:
    """Waits between attempts: ``base * 2**n`` capped at ``max_delay``, jittered to 0.5-1x unless
    ``jitter`` is False; a server's ``Retry-After`` wins (capped at ``retry_after_cap``)."""

    def __init__(self, base=None, max_delay=30.0, jitter=True, retry_after_cap=120.0, rand=random.random):
        self.base = retry_base_delay(base)
        self.max_delay = float(max_delay)
        self.jitter = jitter
        self.retry_after_cap = retry_after_cap
        self._rand = rand

    def delay(self, attempt, retry_after=None):
        """The wait after failed attempt number ``attempt`` (0 for the first)."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        delay = min(self.max_delay, self.base * (2 ** attempt))
        return delay * (0.5 + self._rand() / 2) if self.jitter else delay

    def __iter__(self):
        attempt = 0
        while True:
            yield self.delay(attempt)
            attempt += 1


def next_poll(previous, start, interval):
    """When to poll again after the poll scheduled at ``previous`` (the wait started at ``start``)."""
    return previous + (POLL_FAST if previous - start < POLL_WINDOW * interval else POLL_SLOW) * interval


class PollTimeout(Exception):
    """``poll`` reached its deadline; ``.last`` is the last value ``check`` returned."""

    def __init__(self, last):
        super().__init__('poll timed out')
        self.last = last


def poll(check, timeout, interval, clock=time.monotonic, sleep=time.sleep, first=None):
    """Call ``check()`` until it returns ``(True, value)``; returns ``value``.

    The calls follow one schedule fixed from the start (see POLL_FAST/POLL_WINDOW/POLL_SLOW), the
    first ``first`` seconds in (default one ``interval``; 0: at once), never two less than
    ``interval`` apart, and a last one at the deadline; after it PollTimeout (with the last value
    ``check`` returned as ``(False, value)``). ``clock`` and ``sleep`` are injectable (virtual time
    in tests)."""
    start = clock()
    deadline = start + timeout
    scheduled = earliest = start + (interval if first is None else first)
    while True:
        wake = max(min(scheduled, deadline), earliest)
        now = clock()
        if wake > now:
            sleep(wake - now)
        polled_at = clock()
        done, value = check()
        if done:
            return value
        if clock() >= deadline:
            raise PollTimeout(value)
        earliest = polled_at + interval
        scheduled = max(next_poll(scheduled, start, interval), earliest)
