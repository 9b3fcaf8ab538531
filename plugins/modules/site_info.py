#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: site_info
short_description: Look up a Pantheon site and its environments
version_added: 1.0.0
description:
  - Finds a Pantheon site by machine name or UUID and returns its main attributes (framework, upstream,
    organization, frozen state) and, for each environment, whether it is initialized, its connection mode,
    platform domain, PHP and Drush versions.
  - A site that does not exist, or that the user may not access, gives RV(exists=false) rather than a failure.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  name:
    description:
      - Machine name (for example V(my-site)) or UUID of the site.
    type: str
    required: true
  ssh_check:
    description:
      - Environments whose appserver to reach over SSH with a read-only command (C(drush version) on Drupal,
        C(wp cli version) on WordPress), to learn before any change whether the key is accepted there.
      - The module fails, naming V(site.env) and the key, when SSH is refused or fails.
      - Environments that do not exist or are not initialized are not tried (see RV(ssh_checked)), nor are those of a
        site with no upstream deployed yet (no code to run the command in), nor V(test) and V(live) of a frozen site
        (the platform makes them unavailable), so that a caller can look a site up and check SSH in one run and still
        refuse such a site with its own message.
    type: list
    elements: str
    default: []
    version_added: 1.1.0
  environments:
    description:
      - The environments to describe in RV(site.environments) (each costs two API requests, its settings and its
        domains). Environments of the site not named here are left out of RV(site.environments); RV(site.environment_ids)
        lists them all. A name the site has no environment for is not an error (it is absent from both).
      - By default every environment is described.
      - Environments of O(ssh_check) and O(measure) are described whatever this says.
    type: list
    elements: str
    version_added: 1.1.0
  measure:
    description:
      - Environments whose elements to measure without making a backup (nothing is written; see RV(measured)).
      - The database through C(wp db size --size_format=b) on WordPress, C(drush sql-query) (Drush 8) or
        C(drush sql:query) (Drush 9+) on Drupal, summing C(DATA_LENGTH + INDEX_LENGTH) of the schema's tables in
        C(information_schema.TABLES); C(files/) and C(code/) (without C(.git)) through rsync listings (a dry run, in which
        nothing is transferred).
      - These are uncompressed sizes; a backup of the same content is about as large or smaller (it is gzipped).
      - An element that cannot be measured (SSH refused, a command that fails, an environment that does not exist or
        is not initialized) does not fail the module; RV(measured) says why.
    type: list
    elements: str
    default: []
    version_added: 1.1.0
  measure_elements:
    description: The elements O(measure) measures.
    type: list
    elements: str
    choices: [code, database, files]
    default: [code, database, files]
    version_added: 1.1.0
  clone_marks:
    description:
      - Also list the ownership tags (C(refs/tags/pantheon-platform-clone-*)) that clone jobs of this collection left in
        the site's repository (see RV(clone_marks)); a site that holds one is the target of a clone, whatever its name.
      - Reads the repository over SSH (C(git ls-remote) on the codeserver), so the SSH options apply.
    type: bool
    default: false
    version_added: 1.1.0
requirements:
  - rsync on the host that runs the module (only for O(measure), which lists C(files/) and C(code/) over SSH)
  - git on the host that runs the module (only for O(clone_marks), which lists the repository's tags)
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.attributes
  - pantheon.platform.attributes.info_module
  - pantheon.platform.attributes.actiongroup_ssh
'''

EXAMPLES = r'''
- name: Look up the source site
  pantheon.platform.site_info:
    name: my-source-site
  register: source

- name: Fail early when the source site is frozen
  ansible.builtin.assert:
    that:
      - source.exists
      - not source.site.frozen
    fail_msg: my-source-site is missing or frozen

- name: Credentials once for every module of the collection
  module_defaults:
    group/pantheon.platform.pantheon:
      machine_token: "{{ lookup('ansible.builtin.env', 'PANTHEON_MACHINE_TOKEN') }}"
  block:
    - name: Look the source up, and learn before any change whether SSH to its live environment works
      pantheon.platform.site_info:
        name: my-source-site
        ssh_check: [live]
        ssh_private_key: ~/.ssh/id_ed25519

    - name: Measure the live environment's database and files, without a backup
      pantheon.platform.site_info:
        name: my-source-site
        measure: [live]
        measure_elements: [database, files]
      register: weighed

    - name: Look up a site by UUID, describing only its live environment (fewer API requests)
      pantheon.platform.site_info:
        name: 3f1d8c0e-5b4a-4a52-9b1e-0c5a7d2e9f10
        environments: [live]
      register: by_uuid
'''

RETURN = r'''
measured:
  description:
    - For each environment of O(measure), C(sizes) (bytes of each element of O(measure_elements), null when it could
      not be measured), C(undetermined) (why, for each element that could not be measured) and C(files_count) (the
      number of files and links under C(files/), or null).
  returned: always
  type: dict
  sample: {live: {sizes: {code: 5242880, database: 18874368, files: 104857600}, undetermined: {}, files_count: 1203}}
  version_added: 1.1.0
clone_marks:
  description:
    - With O(clone_marks=true), the ownership tags of clone jobs in the site's repository (empty for a site no clone
      job wrote); null otherwise, and when the site does not exist.
  returned: always
  type: list
  elements: str
  sample: [refs/tags/pantheon-platform-clone-5f0c1a3e9b7d2c4e6a8f0b1d]
  version_added: 1.1.0
ssh_checked:
  description: The environments of O(ssh_check) reached over SSH (the others do not exist or are not initialized).
  returned: always
  type: list
  elements: str
  sample: [live]
exists:
  description: Whether the site exists and the user may access it.
  returned: always
  type: bool
  sample: true
site:
  description: The site; empty when RV(exists=false).
  returned: always
  type: dict
  contains:
    id:
      description: Site UUID.
      type: str
      sample: 3f1d8c0e-5b4a-4a52-9b1e-0c5a7d2e9f10
    name:
      description: Machine name.
      type: str
      sample: my-site
    label:
      description: Human-readable label.
      type: str
      sample: My Site
    framework:
      description: V(drupal) (Drupal 6/7), V(drupal8) (Drupal 8+), V(wordpress) or V(wordpress_network); null before an upstream is deployed.
      type: str
      sample: drupal8
    organization:
      description: UUID of the organization that holds the site, or null.
      type: str
      sample: 5e1b1f2c-3a6b-4c0e-8d3f-1a2b3c4d5e6f
    upstream:
      description: The site's upstream (C(id), and C(label), C(machine_name), C(url), C(branch) when known), or null.
      type: dict
      sample: {"id": "8a129104-9d37-4082-aaf8-e6f31154644e", "label": "Drupal 10"}
    region:
      description: The site's preferred zone (region).
      type: str
      sample: us-central1
    frozen:
      description: Whether the site is frozen.
      type: bool
      sample: false
    environment_ids:
      description: The ids of all the site's environments, sorted (described in RV(site.environments) or not).
      type: list
      elements: str
      sample: [dev, live, test]
      version_added: 1.1.0
    environments:
      description: The environments, keyed by environment id (V(dev), V(test), V(live), multidevs); only those of
        O(environments) (and O(ssh_check)) when O(environments) is given.
      type: dict
      sample:
        dev:
          initialized: true
          connection_mode: git
          platform_domain: dev-my-site.pantheonsite.io
          php_version: "8.2"
          drush_version: "12"
          drush_major: 12
      contains:
        initialized:
          description: Whether the environment is initialized (dev and multidevs always are).
          type: bool
        connection_mode:
          description: V(git) or V(sftp).
          type: str
        platform_domain:
          description: The environment's platform domain (C(host[:port])), or null if it has none.
          type: str
        php_version:
          description: PHP version as the platform reports it.
          type: str
        drush_version:
          description: Drush version as the platform reports it.
          type: str
        drush_major:
          description: The major version of RV(site.environments.drush_version) (V(8) for C(8.4.12)), or null when the
            platform reports none. Parsed once, in the collection, so that playbooks compare numbers.
          type: int
'''

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._measure import ELEMENTS, measure
from ansible_collections.pantheon.platform.plugins.module_utils._module import Lookup, PantheonModule
from ansible_collections.pantheon.platform.plugins.module_utils._ownership import clone_marks
from ansible_collections.pantheon.platform.plugins.module_utils._summaries import site_summary
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target, describe_failure, run_remote
from ansible_collections.pantheon.platform.plugins.module_utils._target import SiteEnv


def check_ssh(mod, summary, env):
    """Run a read-only command the platform allows on the environment's appserver; fail naming site.env and key."""
    target = appserver_target(mod.params, summary['id'], env)
    argv = ['wp', 'cli', 'version'] if (summary.get('framework') or '').startswith('wordpress') else ['drush', 'version']
    rc, dummy_out, err = run_remote(target, argv)
    if rc != 0:
        key = mod.params.get('ssh_private_key')
        raise PantheonError('Cannot reach %s.%s over SSH with %s: %s' % (
            summary['name'], env, 'the key %s' % key if key else "ssh's default keys and agent (no ssh_private_key)",
            describe_failure(target, rc, err)))


def measure_env(mod, site, summary, env):
    """What measure() says of one environment, or why none of it could be measured."""
    elements = [e for e in ELEMENTS if e in mod.params['measure_elements']]
    info = (summary.get('environments') or {}).get(env)
    why = None
    if info is None:
        why = 'site %s has no %s environment' % (summary['name'], env)
    elif not info.get('initialized'):
        why = 'the %s environment of %s is not initialized (it has no code, database or files yet)' % (env, summary['name'])
    if why:
        return dict(sizes=dict((e, None) for e in elements), undetermined=dict((e, why) for e in elements),
                    files_count=None)
    return measure(mod.client, mod.params, SiteEnv(site, env, info), elements)


class Site(Lookup):
    """The site and its environments; optionally SSH checked, measured and its clone marks listed."""

    def current(self):
        return describe_site(self.module)


def describe_site(mod):
    client = mod.client
    site = client.find_site(mod.params['name'])
    if site is None:
        return dict(exists=False, site={}, ssh_checked=[], measured={}, clone_marks=None)
    describe = mod.params['environments']
    if describe is not None:
        describe = set(describe) | set(mod.params['ssh_check']) | set(mod.params['measure'])
    summary = site_summary(client, site, describe=describe)
    checked = []
    if mod.params['ssh_check'] or mod.params['clone_marks']:
        mod.check_ssh_key()
    for env in mod.params['ssh_check']:
        if not (summary.get('environments') or {}).get(env, {}).get('initialized') or summary.get('upstream') is None:
            continue
        if summary.get('frozen') and env in ('test', 'live'):
            continue
        check_ssh(mod, summary, env)
        checked.append(env)
    if mod.params['measure'] and not (mod.params['ssh_check'] or mod.params['clone_marks']):
        mod.check_ssh_key()
    measured = dict((env, measure_env(mod, site, summary, env)) for env in mod.params['measure'])
    marks = clone_marks(mod.params, summary['id'], summary['name']) if mod.params['clone_marks'] else None
    return dict(exists=True, site=summary, ssh_checked=checked, measured=measured, clone_marks=marks)


def main():
    module = PantheonModule(
        argument_spec=dict(name=dict(type='str', required=True),
                           ssh_check=dict(type='list', elements='str', default=[]),
                           environments=dict(type='list', elements='str'),
                           measure=dict(type='list', elements='str', default=[]),
                           measure_elements=dict(type='list', elements='str', choices=list(ELEMENTS),
                                                 default=list(ELEMENTS)),
                           clone_marks=dict(type='bool', default=False)),
        ssh=True,
        check_key=False,  # a lookup without ssh_check uses no key
        supports_check_mode=True,
    )
    module.run_step(Site)


if __name__ == '__main__':
    main()
