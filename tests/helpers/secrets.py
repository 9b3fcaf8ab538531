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
import os
import ssl
import time
import urllib.parse
import urllib.request

__all__ = ['assert_no_secrets', 'find_secrets', 'emulator_secrets', 'scan_run', 'SCAN_LOG_DIR']

# Where scan_run records what it scanned (one JSON line per run, one file per pytest process):
# hacking/reliability_report.py reads them for docs/reliability.md.
SCAN_LOG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            '.tmp', 'reliability', 'secrets')

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


def _admin_url(api_url):
    """The emulator's admin root for an API URL on loopback (``https://localhost:PORT/api``), else None."""
    parts = urllib.parse.urlsplit(api_url or '')
    if parts.scheme not in ('http', 'https') or parts.hostname not in ('localhost', '127.0.0.1', '::1'):
        return None
    return '%s://%s/_emulator' % (parts.scheme, parts.netloc)


def emulator_secrets(api_url, since):
    """{name: value} of what the emulator at ``api_url`` issued or saw since ``since`` (unix time):
    machine tokens, sessions, URL signatures, DB passwords, archive names
    (``GET /_emulator/secrets``); {} when ``api_url`` is not a reachable emulator."""
    admin = _admin_url(api_url)
    if not admin:
        return {}
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the emulator on loopback: a test may have given a wrong CA on purpose
    try:
        with urllib.request.urlopen('%s/secrets?since=%f' % (admin, since), context=context, timeout=60) as resp:
            found = json.load(resp)
    except (OSError, ValueError):
        return {}
    named = {}
    for kind, values in sorted(found.items()):
        for i, value in enumerate(sorted(set(values))):
            if value and len(value) >= MIN_SECRET_LENGTH:
                named['%s %d' % (kind.replace('_', ' '), i)] = value
    return named


def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def _texts(paths):
    """(where, text) of every file under ``paths`` (files or directories; missing ones skipped)."""
    for path in paths:
        path = str(path)
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                # .state/: the role's private state files (0600), which must name the archive they
                # are to remove after an interruption; never printed
                dirs[:] = [d for d in dirs if d != '.state']
                for name in sorted(names):
                    yield os.path.join(root, name), _read(os.path.join(root, name))
        elif os.path.isfile(path):
            yield path, _read(path)


def scan_run(env, since, texts, paths=(), label=''):
    """Fail (AssertionError) if a run's output or files hold a secret: the machine token of ``env``
    and what the emulator at its PANTHEON_API_URL issued or saw since ``since`` (emulator_secrets).

    ``texts``: {where: text} (stdout, stderr); ``paths``: files or directories (Ansible's log, the
    results file, report directories). Records what was scanned under SCAN_LOG_DIR."""
    started = time.monotonic()
    secrets = emulator_secrets((env or {}).get('PANTHEON_API_URL'), since)
    token = (env or {}).get('PANTHEON_MACHINE_TOKEN')
    if token and len(token) >= MIN_SECRET_LENGTH:
        secrets['machine token (env)'] = token
    sources = list(texts.items()) + list(_texts(paths))
    leaks = []
    for where, text in sources:
        for name, line, context in find_secrets(text, secrets):
            leaks.append('%s (%s) leaked in %s, line %d: ...%s...' % (name, _hint(secrets[name]), where, line, context))
    try:
        os.makedirs(SCAN_LOG_DIR, exist_ok=True)
        kinds = {}
        for name in secrets:
            kind = name.rsplit(' ', 1)[0] if name[-1].isdigit() else name
            kinds[kind] = kinds.get(kind, 0) + 1
        with open(os.path.join(SCAN_LOG_DIR, '%d.jsonl' % os.getpid()), 'a', encoding='utf-8') as f:
            f.write(json.dumps({'test': os.environ.get('PYTEST_CURRENT_TEST', '').rsplit(' ', 1)[0], 'run': label,
                                'sources': len(sources), 'bytes': sum(len(t) for _w, t in sources),
                                'secrets': kinds, 'hits': len(leaks),
                                'seconds': round(time.monotonic() - started, 3)}) + '\n')
    except OSError:
        pass
    if leaks:
        raise AssertionError('Secrets found:\n  ' + '\n  '.join(leaks))
