# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""Resolve ``site`` + ``env`` options into what the transfer modules need to reach them."""

from __future__ import annotations

import re

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError

FRAMEWORKS = ('drupal', 'drupal8', 'wordpress', 'wordpress_network')
_ENV_RE = re.compile(r'^[a-z0-9][a-z0-9-]{0,10}$')


def target_argspec():
    """``site`` and ``env`` of the environment a module writes to (doc fragment pantheon.platform.site_env)."""
    return dict(site=dict(type='str', required=True), env=dict(type='str', default='dev'))


def pair_argspec():
    """Source ``site``/``env`` and ``target_site``/``target_env`` (doc fragment pantheon.platform.site_env.pair)."""
    spec = target_argspec()
    spec.update(target_site=dict(type='str', required=True), target_env=dict(type='str', default='dev'))
    return spec


class SiteEnv(object):
    """One environment of one site: ``site_id``, ``site_name``, ``framework``, ``env``, ``info``
    (the environment object) and ``label`` (``name.env`` for messages)."""

    def __init__(self, site, env, info):
        self.site = site
        self.site_id = site['id']
        self.site_name = site.get('name') or site['id']
        self.framework = site.get('framework')
        self.env = env
        self.info = info or {}
        self.label = '%s.%s' % (self.site_name, env)

    @property
    def sftp_mode(self):
        return bool(self.info.get('on_server_development'))

    @property
    def is_multidev(self):
        return self.env not in ('dev', 'test', 'live')


def check_env_name(env, option='env'):
    if not env or not _ENV_RE.match(env):
        raise PantheonError('%s must be an environment name such as dev, test, live or a multidev name '
                            '(lowercase letters, digits and dashes, at most 11 characters), got %r' % (option, env))


def refuse_frozen(site, action):
    """Refuse ``action`` on a frozen site, before anything is posted: Terminus refuses backup:create,
    import:database, env:clear-cache, env:deploy and most env commands on one
    (``SiteAwareTrait::requireSiteIsNotFrozen``), and its test and live environments are unavailable."""
    if site.get('frozen'):
        raise PantheonError('Site %s is frozen: its test and live environments and many commands are unavailable '
                            'while it remains frozen, so %s is refused; unfreeze the site first'
                            % (site.get('name') or site.get('id'), action))


def is_initialized(client, site_id, env, info=None):
    """Whether an environment is initialized: dev and multidevs always are; test and live when
    their settings say ``is_initialized`` (Terminus ``Environment::isInitialized`` reads
    ``GET sites/{site}/environments/{env}/settings``; the environment object carries the same
    ``is_initialized``)."""
    if env not in ('test', 'live'):
        return True
    if isinstance(info, dict) and 'is_initialized' in info:
        return bool(info['is_initialized'])  # the environment object has it too (no second request)
    return bool(client.env_settings(site_id, env).get('is_initialized'))


def resolve(client, site, env, option='site', write=None, initialized=None):
    """The SiteEnv for ``site`` (name or UUID) and ``env``; clear errors when either is missing.
    With ``write`` (what the caller is about to do, for the message), a frozen site is refused,
    and so is an uninitialized environment (also with ``initialized`` set to what the caller
    needs it for), before anything is posted."""
    check_env_name(env, option='env' if option == 'site' else 'target_env')
    site_obj = client.get_site(site)
    if write:
        refuse_frozen(site_obj, write)
    envs = client.environments(site_obj['id'])
    if env not in envs:
        raise PantheonError('Site %s has no %s environment (it has: %s)%s' % (
            site_obj.get('name') or site, env, ', '.join(sorted(envs)) or 'none',
            '; create the multidev first' if env not in ('dev', 'test', 'live') else ''))
    needed = write or initialized
    if needed and not is_initialized(client, site_obj['id'], env, envs[env]):
        raise PantheonError('The %s environment of %s has not been initialized, so %s is refused; initialize it '
                            'first (deploy to it from %s: terminus env:deploy)'
                            % (env, site_obj.get('name') or site, needed, 'dev' if env == 'test' else 'test'))
    return SiteEnv(site_obj, env, envs[env])


def backup_framework(client, backup):
    """The framework of the site whose backup the ``backup`` option ({site, env}) names."""
    return client.get_site(backup['site']).get('framework')


def same_framework(source_framework, source_label, target, what):
    """Refuse ``what`` between sites of different frameworks (a Drupal 7, Drupal 8+ or WordPress
    site's code, database or files mean nothing to another), before anything is written."""
    if source_framework and target.framework and source_framework != target.framework:
        raise PantheonError('The frameworks differ: %s is %s and %s is %s, so %s is refused; the source and the '
                            'target must run the same framework'
                            % (source_label, source_framework, target.label, target.framework, what))


def framework_of(target):
    """The site's framework, failing clearly when it is unknown."""
    framework = target.framework
    if framework not in FRAMEWORKS:
        raise PantheonError('Site %s has no known framework (%r); expected one of %s'
                            % (target.site_name, framework, ', '.join(FRAMEWORKS)))
    return framework
