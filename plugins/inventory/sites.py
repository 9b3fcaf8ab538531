# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: sites
short_description: Pantheon sites as inventory hosts
version_added: 1.0.0
description:
  - Lists the Pantheon sites a machine token can see, as C(terminus site:list) does, and makes each one an inventory
    host named after the site. The hosts are never contacted; they carry the site's data as variables, for
    playbooks such as C(pantheon.platform.clone_fleet) that run every job on the controller.
  - The sites are those of the user's site memberships and of the sites of every organization the user belongs to
    (except as an C(unprivileged) member), read page by page and counted once each. With O(organization), only the
    sites of those organizations.
  - It talks to the API through the collection modules' client (login with the machine token, session cached on disk
    like the modules do, retries of connection errors, HTTP 429 and 5xx).
  - "Each host gets these variables: C(pantheon_site_id), C(pantheon_site_name), C(pantheon_label),
    C(pantheon_framework) (V(drupal), V(drupal8), V(wordpress), V(wordpress_network) or null), C(pantheon_upstream)
    (a dict: C(id), C(label), C(machine_name), C(url), C(branch) when the platform gives them, or null),
    C(pantheon_organization) (the holding organization's machine name, else its UUID, or null),
    C(pantheon_organization_id), C(pantheon_tags) (the organization's tags on the site, sorted),
    C(pantheon_plan) (the plan's name, for example V(Sandbox) or V(Basic)), C(pantheon_frozen), C(pantheon_region)
    and, with O(environments), C(pantheon_environments)."
  - The machine token is never put into host variables, the inventory cache or any message.
  - The configuration file's name must end with C(pantheon.yml) or C(pantheon.yaml).
author:
  - pantheon.platform developers (@pantheon-platform)
requirements:
  - requests (Python library, on the controller)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; it must be V(pantheon.platform.sites) for the file to be read by it.
    type: str
    required: true
    choices: [pantheon.platform.sites]
  machine_token:
    description:
      - Pantheon machine token used to log in.
      - Leave it out of the file and set E(PANTHEON_MACHINE_TOKEN) (or E(TERMINUS_MACHINE_TOKEN)); on AWX or
        Automation Platform the collection's credential type injects it (see the collection's C(docs/awx.md)).
      - A template such as V({{ lookup('ansible.builtin.env', 'MY_TOKEN') }}) is rendered first.
    type: str
    env:
      - name: PANTHEON_MACHINE_TOKEN
      - name: TERMINUS_MACHINE_TOKEN
  api_url:
    description: Base URL of the Pantheon API; every call goes to C({api_url}/{path}).
    type: str
    default: https://terminus.pantheon.io/api
    env:
      - name: PANTHEON_API_URL
    ini:
      - section: pantheon
        key: api_url
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the API.
      - Only turn this off for a local test platform.
    type: bool
    default: true
    env:
      - name: PANTHEON_VALIDATE_CERTS
    ini:
      - section: pantheon
        key: validate_certs
  ca_path:
    description: CA bundle (PEM) to trust instead of the system's CAs.
    type: path
    env:
      - name: PANTHEON_CA_PATH
    ini:
      - section: pantheon
        key: ca_path
  organization:
    description:
      - Only the sites of these organizations (UUID, machine name or name, as the user's organization memberships
        know them). An organization the user does not belong to is an error.
      - Without it, every site the user can see.
    type: list
    elements: str
    default: []
  tags:
    description:
      - Only sites that carry every one of these tags.
      - Tags are an organization's labels on its sites, so a site seen only through a site membership has none.
    type: list
    elements: str
    default: []
  framework:
    description: Only sites of these frameworks.
    type: list
    elements: str
    choices: [drupal, drupal8, wordpress, wordpress_network]
    default: []
  name_pattern:
    description:
      - Only sites whose name matches this Python regular expression (searched, so anchor it with C(^) and C($) to
        match the whole name).
      - For example V(^(?!.*-copy$\)) leaves out the sites whose names end with C(-copy).
    type: str
  plan:
    description: Only sites on one of these plans (plan names such as V(Sandbox), V(Basic), V(Performance Small); compared without regard to case).
    type: list
    elements: str
    default: []
  environments:
    description:
      - Read each site's environments (one more request per site) into C(pantheon_environments), a dict keyed by
        environment name (C(dev), C(test), C(live), multidevs) whose values have C(initialized),
        C(connection_mode) (V(git) or V(sftp)) and C(php_version).
      - Turn it off for a faster listing of a very large account.
    type: bool
    default: true
notes:
  - Caching (O(cache)) keeps the sites read from the API (before O(tags), O(framework), O(name_pattern) and O(plan)
    are applied), keyed by this file, the API URL and a hash of the token, so another token never reads them.
    It holds no token and no session.
  - The platform's per-user API rate limits apply; the client waits for C(Retry-After) on HTTP 429. Caching the
    inventory (for example for an hour) keeps repeated jobs from listing the account again.
seealso:
  - module: pantheon.platform.org_site_info
'''

EXAMPLES = r'''
# agency.pantheon.yml: every site of the organization "agency" tagged "migrate", as clone jobs of
# pantheon.platform.clone_fleet (each site cloned into <name>-copy), grouped by framework.
plugin: pantheon.platform.sites
organization: agency
tags: [migrate]
name_pattern: '^(?!.*-copy$)'           # not the clones of an earlier run
compose:
  site_clone_source_site: pantheon_site_name
  site_clone_target_site: pantheon_site_name ~ '-copy'
  site_clone_organization: pantheon_organization_id
groups:
  frozen: pantheon_frozen
keyed_groups:
  - key: pantheon_framework
    prefix: framework

# ansible-inventory -i agency.pantheon.yml --graph
# ansible-playbook -i agency.pantheon.yml pantheon.platform.clone_fleet -e 'clone_fleet_hosts=all:!frozen'

---
# every WordPress site the token can see, cached for an hour, grouped by upstream and plan
plugin: pantheon.platform.sites
framework: [wordpress, wordpress_network]
environments: false
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/pantheon-inventory
cache_timeout: 3600
keyed_groups:
  - key: pantheon_upstream.machine_name | default('none')
    prefix: upstream
  - key: pantheon_plan | lower
    prefix: plan
'''

import hashlib
import re

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonClient, PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._summaries import site_organization_id, site_upstream

CONFIG_SUFFIXES = ('pantheon.yml', 'pantheon.yaml')
CACHE_FORMAT = 1


def _org_names(membership):
    org = membership.get('organization') or {}
    profile = org.get('profile') or {}
    org_id = org.get('id') or membership.get('organization_id')
    return org_id, profile.get('machine_name'), profile.get('name')


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'pantheon.platform.sites'

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(CONFIG_SUFFIXES)

    # ------------------------------------------------------------------ reading the API
    def _client(self):
        token = self.get_option('machine_token')
        if token and self.templar.is_template(token):
            token = self.templar.template(token)
        token = (token or '').strip()
        if not token:
            raise AnsibleParserError(
                '%s: no Pantheon machine token: set PANTHEON_MACHINE_TOKEN (or TERMINUS_MACHINE_TOKEN) in the '
                'environment, or machine_token in %s' % (self.NAME, self._config_path))
        self._token = token
        try:
            return PantheonClient(token, api_url=self.get_option('api_url'),
                                  validate_certs=self.get_option('validate_certs'),
                                  ca_path=self.get_option('ca_path'),
                                  warn=self.display.warning, debug=self.display.vvv)
        except PantheonError as e:
            raise AnsibleParserError('%s: %s' % (self.NAME, e.message))

    def _fetch(self, client):
        """{'format': 1, 'sites': [record, ...]} with every site the options let through the API (no filters)."""
        sites = {}
        org_info = {}
        memberships = client.organizations()
        for membership in memberships:
            org_id, machine_name, name = _org_names(membership)
            if org_id:
                org_info[org_id] = {'machine_name': machine_name, 'name': name,
                                    'membership': membership.get('id'), 'role': membership.get('role')}
        wanted = self.get_option('organization')
        if wanted:
            org_ids = []
            for ref in wanted:
                found = [oid for oid, info in sorted(org_info.items())
                         if ref in (oid, info['membership'], info['machine_name'], info['name'])]
                if not found:
                    known = sorted(info['machine_name'] or oid for oid, info in org_info.items())
                    raise PantheonError('No organization %r among the organizations of this machine token\'s user (%s)'
                                        % (ref, ', '.join(known) or 'none'))
                org_ids.append(found[0])
        else:
            for membership in client.paged('users/%s/memberships/sites' % client.user_id):
                site = membership.get('site')
                if isinstance(site, dict) and site.get('id'):
                    sites.setdefault(site['id'], {'site': site, 'tags': set()})
            org_ids = [oid for oid, info in sorted(org_info.items()) if info['role'] != 'unprivileged']
        for org_id in org_ids:
            for membership in client.paged('organizations/%s/memberships/sites' % org_id):
                site = membership.get('site')
                if not isinstance(site, dict) or not site.get('id'):
                    continue
                entry = sites.setdefault(site['id'], {'site': site, 'tags': set()})
                entry['tags'].update(str(t) for t in (membership.get('tags') or []))
        records = []
        for site_id in sorted(sites):
            entry = sites[site_id]
            record = self._record(entry['site'], entry['tags'], org_info)
            if self.get_option('environments'):
                record['environments'] = self._environments(client, site_id)
            records.append(record)
        return {'format': CACHE_FORMAT, 'sites': records}

    @staticmethod
    def _record(site, tags, org_info):
        org_id = site_organization_id(site)
        info = org_info.get(org_id) or {}
        return {
            'site_id': site['id'],
            'site_name': site.get('name'),
            'label': site.get('label'),
            'framework': site.get('framework') or None,
            'upstream': site_upstream(site),
            'organization': (info.get('machine_name') or org_id) if org_id else None,
            'organization_id': org_id or None,
            'tags': sorted(tags),
            'plan': site.get('plan_name'),
            'frozen': bool(site.get('frozen')),
            'region': site.get('preferred_zone'),
        }

    @staticmethod
    def _environments(client, site_id):
        result = {}
        for env_id, env in sorted(client.environments(site_id).items()):
            env = env if isinstance(env, dict) else {}
            php = env.get('php_version')
            result[env_id] = {
                # dev and multidevs always are; test and live once their first deploy ran (as Terminus reads it)
                'initialized': bool(env.get('is_initialized', True)) if env_id in ('test', 'live') else True,
                'connection_mode': 'sftp' if env.get('on_server_development') else 'git',
                'php_version': str(php) if php is not None else None,
            }
        return result

    # ------------------------------------------------------------------ filters and hosts
    def _matches(self, record):
        tags = self.get_option('tags')
        if tags and set(tags) - set(record['tags']):
            return False
        frameworks = self.get_option('framework')
        if frameworks and record['framework'] not in frameworks:
            return False
        if self._name_re is not None and not self._name_re.search(record['site_name'] or ''):
            return False
        plans = [p.lower() for p in self.get_option('plan')]
        if plans and (record['plan'] or '').lower() not in plans:
            return False
        return True

    def _populate(self, data):
        strict = self.get_option('strict')
        for record in data['sites']:
            if not record.get('site_name') or not self._matches(record):
                continue
            host = self.inventory.add_host(record['site_name'])
            hostvars = dict(('pantheon_' + key, value) for key, value in record.items())
            for key, value in hostvars.items():
                self.inventory.set_variable(host, key, value)
            self._set_composite_vars(self.get_option('compose'), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, host, strict=strict)

    def _cache_key(self, path):
        # The sites a token sees depend on the token: a hash of it (never the token) keeps one user's cached
        # list from another; the options that change what is read from the API are part of the key too.
        digest = hashlib.sha256('\0'.join([
            self.get_option('api_url') or '', self._token, ','.join(self.get_option('organization')),
            str(bool(self.get_option('environments')))]).encode('utf-8')).hexdigest()[:16]
        return '%s_%s' % (self.get_cache_key(path), digest)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._config_path = path
        self._read_config_data(path)
        pattern = self.get_option('name_pattern')
        try:
            self._name_re = re.compile(pattern) if pattern else None
        except re.error as e:
            raise AnsibleParserError('%s: name_pattern %r is not a valid regular expression: %s'
                                     % (self.NAME, pattern, to_native(e)))
        client = self._client()
        cache_key = self._cache_key(path)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        data = None
        if use_cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                update_cache = True
            else:
                if not isinstance(data, dict) or data.get('format') != CACHE_FORMAT:
                    data, update_cache = None, True
        if data is None:
            try:
                data = self._fetch(client)
            except PantheonError as e:
                raise AnsibleParserError('%s: %s' % (self.NAME, client.redact(e.message)))
        if update_cache:
            self._cache[cache_key] = data
        self._populate(data)
