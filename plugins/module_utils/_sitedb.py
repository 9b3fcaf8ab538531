# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""An environment's database over SSH: the drush/wp commands per framework, and a streaming
reader of SQL dumps that summarizes each table (schema, row count, order-independent checksum)
in constant memory.

The dumps come from the site's own tool (``drush sql-dump``, ``drush sql:dump`` or
``wp db export -``), that is ``mysqldump`` on the platform's MariaDB, so two environments of the
same framework produce the same text for the same data. The reader understands mysqldump's
output as written (backquoted names, backslash escapes, raw binary bytes, extended ``INSERT``s
with lines of many MB, ``/*!...*/`` and ``/*M!...*/`` comments, ``LOCK TABLES``, triggers and
views with ``DEFINER``s inside ``DELIMITER`` blocks); SQLite dumps (double-quoted names,
doubled quotes) are read too.

Why a dump and not ``CHECKSUM TABLE``: the only database access Pantheon gives over SSH is
through Drush and WP-CLI; a dump through them works for every framework and Drush version, and
hashing its rows lets the comparison neutralize URL rewrites (``replacements``) and name the rows
that differ. ``CHECKSUM TABLE`` would give neither, and its value depends on the row format.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import tempfile

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._drush import parse_drush_version
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import describe_failure, remote_command
from ansible_collections.pantheon.platform.plugins.module_utils._stream import Stream

_DEFAULT_DRUSH = {'drupal': 8, 'drupal8': 11}
_INSERT_RE = re.compile(br'^\s*(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?INTO\s+(`(?:[^`]|``)+`|"(?:[^"]|"")+"|[^\s(]+)'
                        br'\s*(\([^)]*\))?\s*VALUES\s*', re.IGNORECASE)
_CREATE_RE = re.compile(br'^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`(?:[^`]|``)+`|"(?:[^"]|"")+"|[^\s(]+)',
                        re.IGNORECASE)
_INDEX_RE = re.compile(br'^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+.*?\s+ON\s+(`(?:[^`]|``)+`|"(?:[^"]|"")+"|[^\s(]+)',
                       re.IGNORECASE | re.DOTALL)
_AUTO_INCREMENT_RE = re.compile(br'\s+AUTO_INCREMENT=\d+', re.IGNORECASE)
_SERIALIZED_LEN_RE = re.compile(br's:\d+:(\\?")')
_SPECIAL = re.compile(br'[\'"`(),;]')
ROW_DETAIL_LIMIT = 200000
PREVIEW_CHARS = 64
_MASK = (1 << 128) - 1


def drush_major(client, site_env):
    """Major Drush version of an environment (its settings' drush_version, else the framework's usual)."""
    try:
        value = client.env_settings(site_env.site_id, site_env.env).get('drush_version')
    except PantheonError:
        value = None
    major = parse_drush_version(value)[0]
    if major:
        return major
    return _DEFAULT_DRUSH.get(site_env.framework, 8)


def _is_wordpress(framework):
    return framework in ('wordpress', 'wordpress_network')


def import_argv(framework, drush):
    """Remote command that reads a SQL dump on stdin into the environment's database."""
    if _is_wordpress(framework):
        return ['wp', 'db', 'import', '-']
    return ['drush', 'sql-cli'] if drush < 9 else ['drush', 'sql:cli']


def dump_argv(framework, drush):
    """Remote command that writes the environment's database as SQL on stdout."""
    if _is_wordpress(framework):
        return ['wp', 'db', 'export', '-']
    return ['drush', 'sql-dump'] if drush < 9 else ['drush', 'sql:dump']


def _unquote(name):
    name = name.decode('utf-8', 'replace')
    if len(name) >= 2 and name[0] == name[-1] and name[0] in '`"':
        quote = name[0]
        return name[1:-1].replace(quote * 2, quote)
    return name


class TableSummary(object):
    __slots__ = ('rows', 'checksum', 'schema', 'details', 'details_complete')

    def __init__(self):
        self.rows = 0
        self.checksum = 0
        self.schema = hashlib.sha256()
        self.details = None
        self.details_complete = True

    def as_dict(self):
        return dict(rows=self.rows, checksum='%032x' % self.checksum, schema=self.schema.hexdigest()[:32])


class DumpReader(object):
    """Feed a dump line by line (bytes); ``tables`` then maps names to TableSummary.

    ``replacements``: (old, new) byte pairs applied to every row before hashing (to compare a
    database against one whose URLs were rewritten); they also make PHP serialized string
    lengths (``s:12:"``) neutral. ``ignore``: fnmatch patterns of tables to skip.
    ``detail_tables``: tables whose rows are remembered (hash -> first column) to list the rows
    that differ, at most ROW_DETAIL_LIMIT rows per table.
    """

    def __init__(self, replacements=None, ignore=(), detail_tables=(), neutral_lengths=None):
        self.replacements = [(a, b) for a, b in (replacements or []) if a]
        self.neutral_lengths = bool(self.replacements) if neutral_lengths is None else neutral_lengths
        self.ignore = list(ignore or [])
        self.detail_tables = set(detail_tables or ())
        self.tables = {}
        self.statements = 0
        self.backslash = None   # MySQL dumps escape with backslashes, SQLite dumps do not
        self._delimiter = None  # inside a mysqldump ``DELIMITER ;;`` block (triggers, routines)
        # scanner state
        self._in_statement = False
        self._kind = None       # 'insert', 'create', 'index', 'other'
        self._table = None
        self._quote = None
        self._escape = False
        self._depth = 0
        self._row = None        # list of byte pieces of the current row
        self._first_comma = None
        self._row_len = 0
        self._schema_parts = None

    # ------------------------------------------------------------------ helpers
    def _ignored(self, name):
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.ignore) or name.startswith('sqlite_')

    def _summary(self, name):
        summary = self.tables.get(name)
        if summary is None:
            summary = self.tables[name] = TableSummary()
            if name in self.detail_tables:
                summary.details = {}
        return summary

    def _finish_row(self, data):
        summary = self._summary(self._table)
        first = data[:self._first_comma] if self._first_comma is not None else data
        for old, new in self.replacements:
            data = data.replace(old, new)
        if self.neutral_lengths:
            data = _SERIALIZED_LEN_RE.sub(br's:_:\1', data)
        digest = hashlib.sha1(data).digest()
        summary.rows += 1
        summary.checksum = (summary.checksum + int.from_bytes(digest[:16], 'big')) & _MASK
        if summary.details is not None:
            if len(summary.details) >= ROW_DETAIL_LIMIT:
                summary.details_complete = False
            else:
                entry = summary.details.setdefault(digest, [0, first[:PREVIEW_CHARS * 4]])
                entry[0] += 1

    # ------------------------------------------------------------------ scanning
    def _start(self, line):
        match = _INSERT_RE.match(line)
        if match:
            name = _unquote(match.group(1))
            if self.backslash is None:
                self.backslash = match.group(1)[:1] == b'`'
            self._kind = 'insert' if not self._ignored(name) else 'other'
            self._table = name
            return match.end()
        match = _CREATE_RE.match(line)
        if match:
            name = _unquote(match.group(1))
            if self.backslash is None:
                self.backslash = match.group(1)[:1] == b'`'
            self._kind = 'create' if not self._ignored(name) else 'other'
            self._table = name
            self._schema_parts = []
            return 0
        match = _INDEX_RE.match(line)
        if match and not self._ignored(_unquote(match.group(1))):
            self._kind = 'create'
            self._table = _unquote(match.group(1))
            self._schema_parts = []
            return 0
        self._kind = 'other'
        self._table = None
        return 0

    def _end_statement(self):
        if self._kind == 'create' and self._schema_parts is not None:
            text = b' '.join(b''.join(self._schema_parts).split())
            text = _AUTO_INCREMENT_RE.sub(b'', text)
            self._summary(self._table).schema.update(text + b'\n')
        self.statements += 1
        self._in_statement = False
        self._kind = self._table = self._schema_parts = None
        self._quote = None
        self._escape = False
        self._depth = 0
        self._row = None

    def feed(self, line):
        """Feed one line of the dump (bytes, newline included)."""
        pos = 0
        if not self._in_statement:
            stripped = line.strip()
            if not stripped or stripped.startswith(b'--') or stripped.startswith(b'#'):
                return
            if stripped[:10].upper() == b'DELIMITER ':
                # mysqldump wraps triggers and routines (with their DEFINERs) in DELIMITER ;; ...
                # DELIMITER ; -- their bodies hold ';' and no table data, so the block is skipped
                delimiter = stripped[10:].strip()
                self._delimiter = None if delimiter == b';' else delimiter
                return
            if self._delimiter is not None:
                return
            if stripped.startswith(b'/*') and stripped.endswith(b'*/') and b';' not in stripped:
                # a comment line on its own, such as MariaDB's first line
                # /*M!999999\- enable the sandbox mode */ (no statement, no ';')
                return
            self._in_statement = True
            pos = self._start(line)
        if self._kind == 'create':
            self._schema_parts.append(line)
        insert = self._kind == 'insert'
        backslash = bool(self.backslash)
        length = len(line)
        segment_start = pos
        while pos < length:
            if self._quote is not None:
                pos = self._skip_quoted(line, pos, backslash)
                continue
            match = _SPECIAL.search(line, pos)
            if match is None:
                break
            char = match.group(0)
            at = match.start()
            pos = at + 1
            if char in (b"'", b'"', b'`'):
                self._quote = char
            elif char == b',':
                if insert and self._depth == 1 and self._row is not None and self._first_comma is None:
                    self._first_comma = self._row_len + at - segment_start
            elif char == b'(':
                self._depth += 1
                if insert and self._depth == 1:
                    self._row = []
                    self._row_len = 0
                    self._first_comma = None
                    segment_start = pos
            elif char == b')':
                self._depth -= 1
                if insert and self._depth == 0 and self._row is not None:
                    self._row.append(line[segment_start:at])
                    self._finish_row(b''.join(self._row))
                    self._row = None
            elif self._depth <= 0:  # ';' outside parentheses ends the statement
                self._end_statement()
                rest = line[pos:]
                if rest.strip():
                    self.feed(rest)
                return
        if insert and self._row is not None:
            piece = line[segment_start:]
            self._row.append(piece)
            self._row_len += len(piece)

    def _skip_quoted(self, line, pos, backslash):
        """Advance past quoted text from ``pos``; returns the new position."""
        if self._escape:
            self._escape = False
            return pos + 1
        quote = self._quote
        next_quote = line.find(quote, pos)
        if backslash:
            next_bs = line.find(b'\\', pos)
            if next_bs != -1 and (next_quote == -1 or next_bs < next_quote):
                self._escape = True
                return next_bs + 1
        if next_quote == -1:
            return len(line)
        if line[next_quote + 1:next_quote + 2] == quote:
            return next_quote + 2
        self._quote = None
        return next_quote + 1

    def finish(self):
        """The summaries as plain dicts: {table: {rows, checksum, schema}}."""
        if self._in_statement and self._kind not in (None, 'other'):
            raise PantheonError('The SQL dump ended inside a statement (for table %s); it is incomplete' % self._table)
        return dict((name, summary.as_dict()) for name, summary in sorted(self.tables.items()))


def fingerprint(tables):
    """One hash for a whole summary (tables, row counts, checksums, schemas)."""
    return hashlib.sha256(json.dumps(tables, sort_keys=True).encode('utf-8')).hexdigest()


def read_database(target, framework, drush, reader, timeout=None):
    """Stream the environment's dump through ``reader`` (a DumpReader). Returns bytes read."""
    argv = target.ssh_argv() + [remote_command(dump_argv(framework, drush))]
    total = 0
    with Stream(argv, timeout=timeout) as child:
        for line in child.lines():
            total += len(line)
            reader.feed(line)
        rc = child.finish()
        if rc != 0:
            raise PantheonError(describe_failure(target, rc, child.stderr, what=' '.join(dump_argv(framework, drush))))
    return total


def summarize_database(target, framework, drush, replacements=None, ignore=(), detail_tables=(), timeout=None,
                       neutral_lengths=None):
    """(reader, summary dict) of an environment's database."""
    reader = DumpReader(replacements=replacements, ignore=ignore, detail_tables=detail_tables,
                        neutral_lengths=neutral_lengths)
    read_database(target, framework, drush, reader, timeout=timeout)
    return reader, reader.finish()


# --------------------------------------------------------------------------- import records
def import_state_path(site_id, env):
    """Where database_stream records what it imported into an environment (on the controller)."""
    base = os.environ.get('PANTHEON_CACHE_DIR') or os.path.join('~', '.ansible', 'pantheon')
    return os.path.join(os.path.expanduser(base), 'imports', '%s.%s.json' % (site_id, env))


def load_import_state(path):
    """The record at ``path`` ({} when there is none or it is unreadable)."""
    try:
        with open(path) as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_import_state(path, data):
    """Write the record atomically, readable by this user only."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.state-')
    with os.fdopen(fd, 'w') as handle:
        json.dump(data, handle)
    os.replace(tmp, path)
