#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: org_site_info
short_description: List the sites of a Pantheon organization
version_added: 1.0.0
description:
  - Lists the sites an organization holds, as C(terminus org:site:list) does, optionally only those with given
    tags or frameworks.
  - Made for building a fleet of clone jobs from an organization (see the collection's C(docs/fleet.md)); each
    site carries what P(pantheon.platform.site_clone#role) needs to decide, without one request per site.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  organization:
    description:
      - The organization's UUID, machine name or name, as the user's organization memberships know it.
    type: str
    required: true
  tags:
    description:
      - Only sites that carry every one of these tags.
    type: list
    elements: str
    default: []
  frameworks:
    description:
      - Only sites of these frameworks.
    type: list
    elements: str
    choices: [drupal, drupal8, wordpress, wordpress_network]
    default: []
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.attributes
  - pantheon.platform.attributes.info_module
  - pantheon.platform.attributes.actiongroup
seealso:
  - module: pantheon.platform.site_info
'''

EXAMPLES = r'''
- name: Every Drupal 7 site of the agency tagged "migrate"
  pantheon.platform.org_site_info:
    organization: agency
    tags: [migrate]
    frameworks: [drupal]
  register: agency

- name: One clone job per site, each cloned into <name>-copy
  ansible.builtin.add_host:
    name: "{{ item.name }}"
    groups: clone_jobs
    site_clone_source_site: "{{ item.name }}"
    site_clone_target_site: "{{ item.name }}-copy"
  loop: "{{ agency.sites }}"
  loop_control:
    label: "{{ item.name }}"
'''

RETURN = r'''
organization:
  description: The organization.
  returned: success
  type: dict
  contains:
    id:
      description: UUID.
      type: str
      returned: success
    machine_name:
      description: Machine name.
      type: str
      returned: success
    name:
      description: Name.
      type: str
      returned: success
  sample: {id: 5e1b1f2c-3a6b-4c0e-8d3f-1a2b3c4d5e6f, machine_name: agency, name: Agency}
sites:
  description: The matching sites, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Site UUID.
      type: str
      returned: success
    name:
      description: Machine name.
      type: str
      returned: success
    label:
      description: Label.
      type: str
      returned: success
    framework:
      description: Framework, or null before an upstream is deployed.
      type: str
      returned: success
    upstream:
      description: The site's upstream (C(id) and what else the platform gives), or null.
      type: dict
      returned: success
    frozen:
      description: Whether the site is frozen.
      type: bool
      returned: success
    tags:
      description: The organization's tags on the site.
      type: list
      elements: str
      returned: success
  sample:
    - {id: 3f1d8c0e-5b4a-4a52-9b1e-0c5a7d2e9f10, name: blog, label: Blog, framework: wordpress,
       upstream: {id: e8fe8550-1ab9-4964-8838-2b9abdccf4bf}, frozen: false, tags: [migrate]}
'''

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._module import Lookup, PantheonModule
from ansible_collections.pantheon.platform.plugins.module_utils._summaries import site_summary


class Sites(Lookup):
    """The organization's sites, with their tags, filtered by tag and framework."""

    def current(self):
        return list_sites(self.params, self.client)


def list_sites(params, client):
    org = client.find_organization(params['organization'])
    if org is None:
        raise PantheonError('No organization %r among the organizations this user belongs to' % params['organization'])
    profile = org.get('profile') or {}
    wanted_tags = set(params['tags'])
    sites = []
    for membership in client.paged('organizations/%s/memberships/sites' % org['id']):
        site = membership.get('site') if isinstance(membership, dict) else None
        if not isinstance(site, dict) or not site.get('id'):
            continue
        tags = sorted(str(t) for t in (membership.get('tags') or []))
        if wanted_tags - set(tags):
            continue
        summary = site_summary(client, site, environments=False)
        if params['frameworks'] and summary['framework'] not in params['frameworks']:
            continue
        sites.append(dict((k, summary[k]) for k in ('id', 'name', 'label', 'framework', 'upstream', 'frozen')))
        sites[-1]['tags'] = tags
    sites.sort(key=lambda s: s['name'] or '')
    return dict(sites=sites,
                organization=dict(id=org['id'], machine_name=profile.get('machine_name'), name=profile.get('name')))


def main():
    module = PantheonModule(
        argument_spec=dict(
            organization=dict(type='str', required=True),
            tags=dict(type='list', elements='str', default=[]),
            frameworks=dict(type='list', elements='str', default=[],
                            choices=['drupal', 'drupal8', 'wordpress', 'wordpress_network']),
        ),
        supports_check_mode=True,
    )
    module.run_step(Sites)


if __name__ == '__main__':
    main()
