# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""What modules return of a site and its environments (site_info's ``site``; site, org_site_info and
the sites inventory use the same shape). Presentation only: the client reads, this formats.

No Ansible imports here.
"""

from __future__ import annotations

from ansible_collections.pantheon.platform.plugins.module_utils._api import NotFound, PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._drush import parse_drush_version


def site_organization_id(site):
    """The id of the organization that holds the site, or None."""
    org = site.get('organization')
    if isinstance(org, dict):
        org = org.get('id')
    if org:
        return org
    if site.get('holder_type') == 'organization' and site.get('holder_id'):
        return site['holder_id']
    return None


def site_upstream(site):
    """{id, label, machine_name, url, branch} of the site's upstream (keys it has), or None."""
    upstream = site.get('upstream')
    if not isinstance(upstream, dict) or not (upstream.get('product_id') or upstream.get('id')):
        return None
    result = {'id': upstream.get('product_id') or upstream.get('id')}
    for key in ('label', 'machine_name', 'url', 'branch'):
        if upstream.get(key):
            result[key] = upstream[key]
    return result


def site_summary(client, site, environments=True, describe=None, listing=None):
    """The site as modules return it (see site_info's RETURN), optionally with its environments.

    ``describe``: the environment ids to describe (their settings and platform domain, two GETs each); None
    describes every one. The ids of all the site's environments are in ``environment_ids`` either way.
    ``listing``: the site's environments (``client.environments``) when already read.
    """
    summary = {
        'id': site.get('id'),
        'name': site.get('name'),
        'label': site.get('label'),
        'framework': site.get('framework'),
        'organization': site_organization_id(site),
        'upstream': site_upstream(site),
        'region': site.get('preferred_zone'),
        'frozen': bool(site.get('frozen')),
    }
    if environments:
        if listing is None:
            listing = client.environments(site['id'])
        summary['environment_ids'] = sorted(listing)
        summary['environments'] = environment_summaries(client, site['id'], describe=describe, listing=listing)
    return summary


def environment_summaries(client, site_id, describe=None, listing=None):
    """{env_id: {initialized, connection_mode, platform_domain, php_version, drush_version, drush_major}}.

    Only the environments of ``describe`` (all when None); ``listing``: the site's environments if already read.
    """
    result = {}
    if listing is None:
        listing = client.environments(site_id)
    for env_id, env in sorted(listing.items()):
        if describe is not None and env_id not in describe:
            continue
        env = env if isinstance(env, dict) else {}
        settings = {}
        try:
            settings = client.env_settings(site_id, env_id)
        except NotFound:
            pass
        if env_id in ('test', 'live'):
            initialized = settings.get('is_initialized', env.get('is_initialized'))
        else:
            initialized = True  # dev and multidevs always are (as Terminus treats them)
        try:
            domain = client.platform_domain(site_id, env_id)
        except (NotFound, PantheonError):
            domain = None
        php = settings.get('php_version') or env.get('php_version')
        drush = settings.get('drush_version') or env.get('drush_version')
        result[env_id] = {
            'initialized': bool(initialized),
            'connection_mode': 'sftp' if (env.get('on_server_development') or settings.get('on_server_development')) else 'git',
            'platform_domain': domain,
            'php_version': str(php) if php is not None else None,
            'drush_version': str(drush) if drush is not None else None,
            'drush_major': parse_drush_version(drush)[0],
        }
    return result
