# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""What an environment's elements weigh, read without making a backup (nothing is written).

- database: the bytes of data and indexes MariaDB holds (``information_schema.TABLES``, the sum of
  ``DATA_LENGTH + INDEX_LENGTH`` of the environment's schema), through ``wp db size --size_format=b``
  on WordPress, ``drush sql-query`` (Drush 8) / ``drush sql:query`` (Drush 9+) on Drupal;
- files: the regular files under ``files/``, from an rsync listing (a dry run into an empty local
  directory: nothing is transferred);
- code: the regular files under ``code/`` without ``.git``, from the same kind of listing.

These are the uncompressed sizes: a backup gzips them, so a backup's size is about these or less
(gzip adds a few bytes per 32 KB on incompressible data, tar 512 bytes per file header).
"""

from __future__ import annotations

import re
import shutil
import tempfile

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._files import FILES_DIR, iter_manifest
from ansible_collections.pantheon.platform.plugins.module_utils._sitedb import drush_major
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target, run_remote
from ansible_collections.pantheon.platform.plugins.module_utils._stream import ProcessError

ELEMENTS = ('code', 'database', 'files')
CODE_DIR = 'code'
SIZE_SQL = ('SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES '
            'WHERE TABLE_SCHEMA = DATABASE()')


def listing(params, site_env, path=FILES_DIR, skip_top=(), timeout=300):
    """(count, bytes) of the files and links under ``path`` (``files`` or ``code``) of the environment,
    from an rsync listing (nothing is transferred). Entries under a top-level name in ``skip_top``
    are left out. ``bytes`` counts regular files only (a link is a name, not content)."""
    target = appserver_target(params, site_env.site_id, site_env.env)
    empty = tempfile.mkdtemp(prefix='pantheon-listing-')
    count = total = 0
    try:
        for name, kind, size, dummy_stamp in iter_manifest(target, path=path, checksum=False, timeout=timeout,
                                                           empty_dir=empty):
            if kind == 'd' or name.split('/', 1)[0] in skip_top:
                continue
            count += 1
            if kind == 'f':
                total += size
    except ProcessError as exc:
        raise PantheonError(exc.message)
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    return count, total


def database_argv(framework, drush):
    """The read-only remote command printing the database's bytes of data and indexes."""
    if framework in ('wordpress', 'wordpress_network'):
        # wp-cli/db-command DB_Command::size(): with --size_format and no --format, only the number
        return ['wp', 'db', 'size', '--size_format=b']
    return ['drush', 'sql-query' if drush < 9 else 'sql:query', SIZE_SQL]


def database_bytes(client, params, site_env, timeout=300):
    """Bytes of data and indexes in the environment's database (one read-only SSH command)."""
    target = appserver_target(params, site_env.site_id, site_env.env)
    argv = database_argv(site_env.framework, drush_major(client, site_env))
    what = 'Could not measure the database of %s (%s)' % (site_env.label, ' '.join(argv[:3]))
    try:
        dummy_rc, out, dummy_err = run_remote(target, argv, check=True, timeout=timeout)
    except ProcessError as exc:
        raise PantheonError('%s: %s' % (what, exc), reason=exc.reason)
    numbers = [line.strip() for line in out.splitlines() if re.match(r'^\s*\d+\s*$', line)]
    if not numbers:
        raise PantheonError('%s: it printed no number of bytes' % what)
    return int(numbers[-1])


def measure(client, params, site_env, elements=ELEMENTS, timeout=300):
    """{'sizes': {element: bytes or None}, 'undetermined': {element: why}, 'files_count': n or None}
    for ``elements`` of the environment. An element that cannot be measured is None in ``sizes`` and
    says why in ``undetermined``; nothing raises for it."""
    result = dict(sizes={}, undetermined={}, files_count=None)
    for element in [e for e in ELEMENTS if e in elements]:
        try:
            if element == 'database':
                result['sizes'][element] = database_bytes(client, params, site_env, timeout)
            elif element == 'files':
                result['files_count'], result['sizes'][element] = listing(params, site_env, FILES_DIR, timeout=timeout)
            else:
                result['sizes'][element] = listing(params, site_env, CODE_DIR, skip_top=('.git',), timeout=timeout)[1]
        except PantheonError as exc:
            result['sizes'][element] = None
            result['undetermined'][element] = str(exc)
    return result
