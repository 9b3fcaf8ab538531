# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""The error tree every module_utils raises, and the one redaction function.

Every exception a module can meet is a :class:`PantheonError`; ``PantheonModule.run`` turns it into
a clean failure (``msg``, ``reason`` when the role needs one, and the error's extra result keys).
No Ansible and no ``requests`` imports here, so every helper can raise these.
"""

from __future__ import annotations

import re

from urllib.parse import parse_qsl, urlsplit, urlunsplit

MASK = '********'
_QUERY_RE = re.compile(r'(\S)\?[^\s\'"<>)]+')
# Values shorter than this are not replaced (they would mangle ordinary words).
MIN_SECRET = 4


class PantheonError(Exception):
    """Base error; ``str()`` is the message. ``reason``: machine-readable cause (or None).

    ``extra``: keys a module puts into its failure result next to ``msg``.
    """

    def __init__(self, message, reason=None, **extra):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.extra = extra

    def __str__(self):
        return self.message

    def result(self):
        """Extra keys a module may put into its failure result."""
        extra = dict(self.extra)
        if self.reason is not None:
            extra.setdefault('reason', self.reason)
        return extra


class TransportError(PantheonError):
    """The request did not get an HTTP answer (connection refused, timeout, TLS failure)."""

    def __init__(self, message, method=None, path=None, retryable=True):
        super().__init__(message)
        self.method = method
        self.path = path
        self.retryable = retryable


class ProcessError(PantheonError):
    """A child process (ssh, rsync, git) failed or was stopped. ``.rc`` and ``.stderr`` (tail, text)."""

    def __init__(self, message, rc=None, stderr='', reason=None):
        super().__init__(message, reason=reason)
        self.rc = rc
        self.stderr = stderr


def shown_url(url, hide_name=False, hide_path=False):
    """``scheme://host[:port]/path`` of ``url``: no user info, query or fragment.

    ``hide_name`` replaces the last path segment (a secret archive name) by ``...``;
    ``hide_path`` the whole path.
    """
    if not url:
        return ''
    try:
        parts = urlsplit(str(url))
        port = parts.port
    except ValueError:
        return '<unparsable URL>'
    host = parts.hostname or ''
    if ':' in host:
        host = '[%s]' % host
    if port:
        host = '%s:%d' % (host, port)
    path = parts.path
    if hide_path:
        path = '/...'
    elif hide_name and path and not path.endswith('/'):
        path = path.rsplit('/', 1)[0] + '/...'
    return urlunsplit((parts.scheme, host, path, '', ''))


def _replacements(secret):
    """(text, replacement) pairs for one registered secret."""
    if isinstance(secret, (tuple, list)):
        value, shown = secret
    else:
        value, shown = secret, None
    if value is None:
        return []
    value = str(value)
    if len(value) < MIN_SECRET:
        return []
    if '://' not in value:
        return [(value, shown or MASK)]
    # A URL: hide it whole, without its query, as shown_url shows it, its query and its path.
    try:
        parts = urlsplit(value)
        values = [v for dummy, v in parse_qsl(parts.query) if len(v) >= MIN_SECRET]
    except ValueError:
        return [(value, shown or MASK)]
    placeholder = shown or shown_url(value, hide_path=True)
    pairs = [(value, placeholder), (value.split('?', 1)[0], placeholder), (shown_url(value), placeholder)]
    if parts.query:
        pairs.append((parts.query, MASK))
    pairs.extend((v, MASK) for v in values)
    if parts.path and len(parts.path) > 1:
        pairs.append((parts.path, '/...'))
    return pairs


def redact(text, secrets=()):
    """``text`` with every secret replaced and every query string hidden.

    ``secrets``: values (tokens, passwords, archive names, signed URLs) or ``(value, shown)`` pairs
    that say what replaces the value (default ``********``; a URL becomes ``scheme://host/...``).
    The one redaction function of the collection: modules register secrets with
    ``PantheonModule.add_secret`` and ``run()`` redacts what leaves the module.
    """
    if text is None:
        return text
    text = str(text)
    pairs = []
    for secret in secrets or ():
        pairs.extend(_replacements(secret))
    for value, shown in sorted(pairs, key=lambda p: len(p[0]), reverse=True):
        text = text.replace(value, shown)
    return _QUERY_RE.sub(r'\1?<hidden>', text)
