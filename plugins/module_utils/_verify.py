# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""Element-by-element comparison of two environments (code, database, files, home page).

Each ``compare_*`` returns ``{'match': bool, 'source': {...}, 'target': {...}, 'differences': {...}}``
where the differences list at most ``limit`` entries of each kind (``missing``: in the source
only, ``extra``: in the target only, ``changed``: in both but different) and count them all.
Nothing here writes anything anywhere but a temporary directory on the controller.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

try:
    from requests import exceptions as _rexc
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test sanity only
    _rexc = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError, web_origin
from ansible_collections.pantheon.platform.plugins.module_utils._archive import ARCHIVE_FILE_RE
from ansible_collections.pantheon.platform.plugins.module_utils._files import iter_manifest
from ansible_collections.pantheon.platform.plugins.module_utils._git import Codeserver, GitWorkspace
from ansible_collections.pantheon.platform.plugins.module_utils._http import Backoff, new_session
from ansible_collections.pantheon.platform.plugins.module_utils._sitedb import PREVIEW_CHARS, summarize_database
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target
from ansible_collections.pantheon.platform.plugins.module_utils._stream import ProcessError

# Text that marks a broken site even when it answers 200 (white screens, PHP and CMS errors).
ERROR_MARKERS = (
    'The website encountered an unexpected error',
    'Error establishing a database connection',
    'There has been a critical error on this website',
    'PDOException',
    'Fatal error:',
    'Parse error:',
    'Uncaught exception',
    'Uncaught Error',
    'Site not found',
    'Database connection failed',
)
_TITLE_RE = re.compile(r'<title[^>]*>(.*?)</title>', re.IGNORECASE | re.DOTALL)
HOME_READ_LIMIT = 1 << 20
# an environment that is waking up (after a code sync) may answer 5xx for a moment
HOME_ATTEMPTS = 3
HOME_RETRY_DELAY = 2.0


def _new_differences():
    return dict(missing=[], extra=[], changed=[], count=0)


def _note(differences, kind, item, limit):
    differences['count'] += 1
    if len(differences[kind]) < limit:
        differences[kind].append(item)


# --------------------------------------------------------------------------- code
def compare_code(params, source, target, limit, timeout=None):
    """Compare the code two environments run (branch, or deploy tag for test/live): commit, and
    tree when the commits differ."""
    with GitWorkspace(timeout=timeout) as workspace:
        src_repo = Codeserver(params, source.site_id, source.site_name)
        dst_repo = Codeserver(params, target.site_id, target.site_name)
        src_ref, src_commit = workspace.deployed_code(src_repo, source)
        dst_ref, dst_commit = workspace.deployed_code(dst_repo, target)
        out = dict(source=dict(commit=src_commit, ref=src_ref), target=dict(commit=dst_commit, ref=dst_ref),
                   differences=_new_differences())
        if src_commit is None or dst_commit is None:
            out['match'] = False
            out['differences']['count'] = 1
            out['differences']['reason'] = 'the %s branch does not exist' % ('source' if src_commit is None else 'target')
            return out
        if src_commit == dst_commit:
            out['match'] = True
            return out
        workspace.fetch(src_repo, src_ref, 'refs/pantheon/source', depth=1)
        workspace.fetch(dst_repo, dst_ref, 'refs/pantheon/target', depth=1)
        src_tree = workspace.tree_of('refs/pantheon/source')
        dst_tree = workspace.tree_of('refs/pantheon/target')
        out['source']['tree'] = src_tree
        out['target']['tree'] = dst_tree
        if src_tree == dst_tree:
            out['match'] = True
            out['same_tree_different_commit'] = True
            return out
        out['differences'] = workspace.diff_trees(src_tree, dst_tree, limit)
        out['match'] = out['differences']['count'] == 0
        return out


# --------------------------------------------------------------------------- files
def _excluded(path, patterns):
    # A site archive of this collection (a random 40-hex name at the top of files/) exists only while
    # a clone run makes, imports and removes it; another run's may be there while this one compares.
    if '/' not in path and ARCHIVE_FILE_RE.match(path):
        return True
    return any(fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path.split('/', 1)[0] + '/', pattern)
               for pattern in patterns)


def _count(totals, kind, size):
    if kind == 'd':
        totals['dirs'] += 1
    elif kind == 'L':
        totals['links'] += 1
    else:
        totals['files'] += 1
        totals['bytes'] += size


def compare_files(params, source, target, limit, compare='checksum', exclude=(), timeout=None):
    """Compare the files/ trees: counts, bytes and a manifest of path, size and checksum (or mtime)."""
    src_ssh = appserver_target(params, source.site_id, source.env)
    dst_ssh = appserver_target(params, target.site_id, target.env)
    empty = tempfile.mkdtemp(prefix='pantheon-verify-')
    differences = _new_differences()
    src_totals = dict(files=0, dirs=0, links=0, bytes=0)
    dst_totals = dict(files=0, dirs=0, links=0, bytes=0)
    try:
        manifest = {}
        for path, kind, size, stamp in iter_manifest(src_ssh, checksum=compare == 'checksum', timeout=timeout,
                                                     empty_dir=empty):
            if _excluded(path, exclude):
                continue
            _count(src_totals, kind, size)
            manifest[path] = (kind, size, stamp)
        for path, kind, size, stamp in iter_manifest(dst_ssh, checksum=compare == 'checksum', timeout=timeout,
                                                     empty_dir=empty):
            if _excluded(path, exclude):
                continue
            _count(dst_totals, kind, size)
            theirs = manifest.pop(path, None)
            if theirs is None:
                _note(differences, 'extra', path, limit)
                continue
            if kind != theirs[0]:
                _note(differences, 'changed', path, limit)
            elif kind == 'f' and (size != theirs[1] or (compare != 'size' and stamp != theirs[2])):
                _note(differences, 'changed', path, limit)
        for path in sorted(manifest):
            _note(differences, 'missing', path, limit)
    except ProcessError as exc:
        raise PantheonError(exc.message)
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    return dict(match=differences['count'] == 0, source=src_totals, target=dst_totals, differences=differences,
                compare=compare)


# --------------------------------------------------------------------------- database
def _preview(raw):
    text = raw.decode('utf-8', 'replace').strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '\'"':
        text = text[1:-1]
    return text[:PREVIEW_CHARS]


def _row_differences(src_details, dst_details, limit):
    """Rows (by first column) that differ between two {hash: [count, first column]} maps."""
    missing = {}
    extra = {}
    for digest, (count, first) in src_details.items():
        other = dst_details.get(digest, (0, None))[0]
        if count > other:
            missing[_preview(first)] = True
    for digest, (count, first) in dst_details.items():
        other = src_details.get(digest, (0, None))[0]
        if count > other:
            extra[_preview(first)] = True
    changed = [key for key in missing if key in extra]
    rows = dict(
        changed=changed[:limit],
        missing=[key for key in missing if key not in extra][:limit],
        extra=[key for key in extra if key not in missing][:limit],
    )
    return rows


def _totals(tables):
    return dict(tables=len(tables), rows=sum(t['rows'] for t in tables.values()))


def compare_database(params, source, target, source_drush, target_drush, limit, ignore=(), replacements=(),
                     timeout=None):
    """Compare two databases table by table: presence, schema, row count and checksum; for
    changed tables also which rows (by their first column) differ."""
    src_ssh = appserver_target(params, source.site_id, source.env)
    dst_ssh = appserver_target(params, target.site_id, target.env)
    replace = [(r['from'].encode('utf-8'), r['to'].encode('utf-8')) for r in replacements or ()]
    neutral = bool(replace)

    def both(detail=()):
        """Read the two databases at the same time; returns ((reader, tables), (reader, tables))."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            src = pool.submit(summarize_database, src_ssh, source.framework, source_drush, replacements=replace,
                              ignore=ignore, detail_tables=detail, timeout=timeout)
            dst = pool.submit(summarize_database, dst_ssh, target.framework, target_drush, ignore=ignore,
                              detail_tables=detail, timeout=timeout, neutral_lengths=neutral)
            return src.result(), dst.result()

    (dummy, src_tables), (dummy, dst_tables) = both()
    differences = _new_differences()
    changed = []
    for name in sorted(set(src_tables) | set(dst_tables)):
        mine, theirs = src_tables.get(name), dst_tables.get(name)
        if theirs is None:
            _note(differences, 'missing', name, limit)
        elif mine is None:
            _note(differences, 'extra', name, limit)
        elif mine != theirs:
            changed.append(name)
    if changed:
        detail = changed[:limit]
        (src_reader, dummy), (dst_reader, dummy) = both(detail)
        for name in changed:
            mine, theirs = src_tables[name], dst_tables[name]
            entry = dict(table=name, source_rows=mine['rows'], target_rows=theirs['rows'],
                         schema_changed=mine['schema'] != theirs['schema'])
            src_summary, dst_summary = src_reader.tables.get(name), dst_reader.tables.get(name)
            if name in detail and src_summary is not None and dst_summary is not None:
                entry['rows'] = _row_differences(src_summary.details or {}, dst_summary.details or {}, limit)
                entry['rows_complete'] = src_summary.details_complete and dst_summary.details_complete
            _note(differences, 'changed', entry, limit)
    return dict(match=differences['count'] == 0, source=_totals(src_tables), target=_totals(dst_tables),
                differences=differences)


# --------------------------------------------------------------------------- home page
def check_home(client, target, params, path='/', timeout=60):
    """GET the target's home page on its platform domain: 200 and no error page."""
    if not HAS_REQUESTS:
        raise PantheonError('The Python library "requests" is required: %s' % REQUESTS_IMPORT_ERROR)
    domain = client.platform_domain(target.site_id, target.env)
    url = '%s%s' % (web_origin(domain), path if path.startswith('/') else '/' + path)
    http = new_session(params.get('validate_certs', True), params.get('ca_path'))
    backoff = Backoff(HOME_RETRY_DELAY, max_delay=HOME_RETRY_DELAY, jitter=False)
    out = dict(url=url, status=None, title=None, error=None)
    for attempt in range(HOME_ATTEMPTS):
        if attempt:
            time.sleep(backoff.delay(attempt - 1))
        try:
            response = http.get(url, verify=http.verify, timeout=timeout, stream=True, allow_redirects=True)
            try:
                body = response.raw.read(HOME_READ_LIMIT, decode_content=True) or b''
            finally:
                response.close()
        except _rexc.RequestException as exc:
            out['error'] = 'no answer: %s' % type(exc).__name__
            continue
        out['error'] = None
        if response.status_code < 500:
            break
    if out['error']:
        out['match'] = False
        return out
    text = body.decode(response.encoding or 'utf-8', 'replace')
    out['status'] = response.status_code
    title = _TITLE_RE.search(text)
    out['title'] = ' '.join(title.group(1).split())[:200] if title else None
    if response.status_code != 200:
        out['error'] = 'HTTP %d' % response.status_code
    elif not text.strip():
        out['error'] = 'empty page (white screen)'
    else:
        for marker in ERROR_MARKERS:
            if marker.lower() in text.lower():
                out['error'] = 'error page: %s' % marker
                break
    out['match'] = out['error'] is None
    return out
