# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""What a target environment holds, and whether a clone job may write into it.

An environment *holds content* when its database has at least one table or its files area
(``files/``) holds at least one file. A site the platform has just created (``create_site`` then
``deploy_product``) has neither: its database is empty until the CMS is installed and its files
area is empty. Code alone is not inspected (see docs/overwrite.md for the limits).

Who owns a target (the clone job's tag in its repository) is in ``_ownership.py``.
"""

from __future__ import annotations

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._measure import listing
from ansible_collections.pantheon.platform.plugins.module_utils._sitedb import drush_major
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target, run_remote
from ansible_collections.pantheon.platform.plugins.module_utils._stream import ProcessError

ROLE_OPTION = 'site_clone_overwrite'


def overwrite_argspec():
    return dict(overwrite=dict(type='bool', default=False))


def _tables_argv(site_env, drush):
    if site_env.framework in ('wordpress', 'wordpress_network'):
        return ['wp', 'db', 'query', 'SHOW TABLES', '--skip-column-names']
    return ['drush', 'sql-query' if drush < 9 else 'sql:query', 'SHOW TABLES']


def count_tables(client, params, site_env, timeout=300):
    """Number of tables in the environment's database (``SHOW TABLES`` through Drush or WP-CLI)."""
    target = appserver_target(params, site_env.site_id, site_env.env)
    argv = _tables_argv(site_env, drush_major(client, site_env))
    try:
        dummy_rc, out, dummy_err = run_remote(target, argv, check=True, timeout=timeout)
    except ProcessError as exc:
        raise PantheonError('Could not list the database tables of %s: %s' % (site_env.label, exc), reason=exc.reason)
    return len([line for line in out.splitlines() if line.strip()])


def count_files(params, site_env, timeout=300):
    """(number, bytes) of the files (and links) under the environment's files/ (an rsync listing, no transfer)."""
    return listing(params, site_env, timeout=timeout)


def content_of(client, params, site_env, timeout=300):
    """{'tables': n, 'files': n, 'files_bytes': n} of the environment."""
    files, files_bytes = count_files(params, site_env, timeout)
    return dict(tables=count_tables(client, params, site_env, timeout), files=files, files_bytes=files_bytes)


def holds_content(content):
    return bool(content.get('tables') or content.get('files'))


def describe_content(content):
    tables, files = content['tables'], content['files']
    return '%d database table%s and %d file%s' % (tables, '' if tables == 1 else 's', files, '' if files == 1 else 's')


def refusal(site_env, content, job=None):
    """The message refusing to write into ``site_env``, which holds ``content``."""
    owner = (' and is not the own target of clone job %s (it did not create it)' % job) if job else ''
    return ('The target environment %s (site %s, environment %s) holds content (%s)%s; it is left untouched. '
            'Set overwrite: true (%s: true in the site_clone role) to replace it'
            % (site_env.label, site_env.site_name, site_env.env, describe_content(content), owner, ROLE_OPTION))


def refuse_content(module, site_env, what):
    """For the modules that write into an environment: refuse when it holds content, unless the
    module's ``overwrite`` option is set. Called after the module found it has something to write."""
    if module.params.get('overwrite'):
        return
    content = content_of(module.client, module.params, site_env, timeout=module.params.get('wait_timeout') or 300)
    if holds_content(content):
        raise PantheonError(refusal(site_env, content).replace('; it is left', ' (%s refused); it is left' % what, 1))
