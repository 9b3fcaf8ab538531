# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check that secrets do not appear in text (playbook output, logs, result files).

    from helpers.secrets import assert_no_secrets
    assert_no_secrets(result.stdout + result.stderr, {'machine token': token, 'session': session})

A failure names the secret and shows where it leaked with the secret itself masked, so the
test report does not leak it a second time. Besides the plain value, the URL-encoded and the
JSON-escaped forms are looked for.
"""

from __future__ import annotations

import json
import urllib.parse

__all__ = ['assert_no_secrets', 'find_secrets']

MIN_SECRET_LENGTH = 6


def _hint(secret):
    return '%s... (%d chars)' % (secret[:3], len(secret))


def _variants(secret):
    forms = {secret, urllib.parse.quote(secret, safe=''), urllib.parse.quote_plus(secret),
             json.dumps(secret)[1:-1]}
    return [f for f in forms if f]


def _named(secrets):
    if isinstance(secrets, dict):
        items = list(secrets.items())
    else:
        items = [('secret #%d' % i, s) for i, s in enumerate(secrets, 1)]
    return [(name, str(value)) for name, value in items if value is not None and str(value) != '']


def find_secrets(text, secrets):
    """[(name, line number, masked context)] for every secret found in ``text``."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    leaks = []
    for name, secret in _named(secrets):
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError('%s is too short to be searched for reliably (%d chars)' % (name, len(secret)))
        for form in _variants(secret):
            pos = text.find(form)
            if pos < 0:
                continue
            line = text.count('\n', 0, pos) + 1
            start = max(0, pos - 60)
            context = text[start:pos + len(form) + 60].replace(form, '<%s>' % name).replace('\n', ' ')
            leaks.append((name, line, context))
            break
    return leaks


def assert_no_secrets(text, secrets, where='output'):
    """Fail (AssertionError) if any secret appears in ``text``; ``secrets`` is a dict name -> value or a list."""
    leaks = find_secrets(text, secrets)
    if leaks:
        named = dict(_named(secrets))
        lines = ['%s (%s) leaked in %s, line %d: ...%s...' % (name, _hint(named[name]), where, line, context)
                 for name, line, context in leaks]
        raise AssertionError('Secrets found:\n  ' + '\n  '.join(lines))
