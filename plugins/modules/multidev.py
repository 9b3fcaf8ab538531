#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: multidev
short_description: Create a Multidev environment of a Pantheon site from another of its environments
version_added: 1.1.0
description:
  - Makes sure the site O(site) has the Multidev environment O(name), creating it from O(from_env) as
    C(terminus multidev:create <site>.<from_env> <name>) does when it is missing. The platform's
    C(create_cloud_development_environment) workflow makes the environment, runs it on the Git branch of the same
    name (an existing branch of that name is used, else one is made at the code O(from_env) runs), and copies
    O(from_env)'s database and files into it.
  - An environment of that name that exists already is left as it is (C(changed=false)), whatever it holds.
  - A creation an earlier, interrupted run started and left running is waited for instead of posting a second one.
  - Bad names are refused before anything is posted. The platform's rules, from Pantheon's Multidev documentation, are
    lowercase letters, digits and hyphens, starting with a letter or digit, at most 11 characters, and none of the
    reserved names C(master), C(settings), C(team), C(support), C(multidev), C(debug), C(files), C(tags),
    C(billing) (nor C(dev), C(test), C(live)).
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  wait_timeout:
    default: 600
  site:
    description: Name or UUID of the site.
    type: str
    required: true
  name:
    description: The Multidev environment (and Git branch) name.
    type: str
    required: true
  from_env:
    description: The environment whose code, database and files the new environment starts from.
    type: str
    default: dev
  describe_site:
    description:
      - Also return RV(site), the site with this environment described, as M(pantheon.platform.site_info) returns it
        with O(pantheon.platform.site_info#module:environments=[name]). Saves a lookup after a creation.
    type: bool
    default: false
    version_added: 1.1.0
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.wait
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup
attributes:
  check_mode:
    support: full
    details:
      - Looks the site and its environments up, checks the name, and says whether the environment would be created.
  diff_mode:
    support: full
    details:
      - The diff shows the environment before (nothing when it is created) and after (its site, name and O(from_env)).
notes:
  - Multidev is a feature of the account or organization (Pantheon's Multidev FAQ); the platform refuses the
    creation on a site without it, and beyond the site's Multidev limit (10 by default). The module reports the
    platform's answer.
  - A frozen site is refused before anything is posted (Terminus's C(multidev:create) refuses frozen sites,
    C(getUnfrozenSiteEnv)).
seealso:
  - module: pantheon.platform.site_info
'''

EXAMPLES = r'''
- name: Make a Multidev "review" from dev (as terminus multidev:create my-site.dev review)
  pantheon.platform.multidev:
    site: my-site
    name: review

- name: Start a Multidev from live's database and files
  pantheon.platform.multidev:
    site: my-site
    name: hotfix-1
    from_env: live
'''

RETURN = r'''
created:
  description: Whether this run created the environment (false when it existed, or in check mode).
  returned: always
  type: bool
  sample: true
environment:
  description: The environment, as C(site_info) names it.
  returned: always
  type: dict
  contains:
    site_id:
      description: UUID of the site.
      type: str
      returned: always
    name:
      description: The Multidev name (also its branch).
      type: str
      returned: always
    from_env:
      description: The environment it was created from (O(from_env); for an existing one, what was asked).
      type: str
      returned: always
  sample: {site_id: 0f1b2c3d-0000-4000-8000-000000000001, name: review, from_env: dev}
site:
  description:
    - The site after the task, in the shape M(pantheon.platform.site_info) returns, with this environment described
      in C(environments) and all of the site's in C(environment_ids).
    - In check mode, the site as it is (without the environment a real run would create).
  returned: with O(describe_site=true)
  type: dict
  sample: {id: 0f1b2c3d-0000-4000-8000-000000000001, name: my-site, framework: drupal8, environment_ids: [dev, live,
           review, test], environments: {review: {initialized: true, platform_domain: review-my-site.pantheonsite.io}}}
workflow:
  description:
    - The C(create_cloud_development_environment) workflow this run started or waited for (id, type, result and
      duration in seconds from the platform's timestamps).
    - C(adopted=true) when an earlier, interrupted run had started it and this run waited for it.
  returned: when a workflow ran
  type: dict
  sample: {id: 6c0e7a1e-1b2f-11ef-9a5f-0242ac120002, type: create_cloud_development_environment,
           result: succeeded, duration: 41.2}
'''

import re

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._summaries import site_summary
from ansible_collections.pantheon.platform.plugins.module_utils._target import check_env_name, refuse_frozen
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import describe

WORKFLOW = 'create_cloud_development_environment'
# Pantheon docs, Multidev ("Create a Multidev environment") and the Multidev FAQ.
RESERVED = ('master', 'settings', 'team', 'support', 'multidev', 'debug', 'files', 'tags', 'billing')
NAME_RE = re.compile(r'^[a-z0-9][a-z0-9-]{0,10}$')


def check_name(name):
    """Refuse what the platform would refuse as a Multidev name, naming the rule."""
    if name in ('dev', 'test', 'live'):
        raise PantheonError('name %r is one of the standard environments; a Multidev needs another name' % name)
    if not NAME_RE.match(name or ''):
        raise PantheonError('name must be at most 11 lowercase letters, digits and hyphens, starting with a letter '
                            'or digit (a Multidev name is also its Git branch), got %r' % (name,))
    if name in RESERVED:
        raise PantheonError('name %r is reserved on the platform (reserved: %s)' % (name, ', '.join(RESERVED)))


class CreateMultidev(Step):
    """The environment ``name`` of the site: absent (None) or there; created from ``from_env`` when absent."""

    supports_diff = True

    def current(self):
        name, source = self.params['name'], self.params['from_env']
        check_name(name)
        check_env_name(source, option='from_env')
        self.site = self.client.get_site(self.params['site'])
        self.envs = self.client.environments(self.site['id'])
        self.owner = ('site', self.site['id'])
        self.running = self.module.workflows.left_running(
            self.owner, WORKFLOW, match=lambda wf: (wf.get('params') or {}).get('environment_id') == name)
        # one an earlier run is still creating is not there yet: this run waits for it
        return dict(site_id=self.site['id'], name=name) if name in self.envs and not self.running else None

    def desired(self, current):
        if current is not None:
            return current
        name, source = self.params['name'], self.params['from_env']
        if source not in self.envs:
            raise PantheonError('Site %s has no %s environment to create the %s Multidev from (it has: %s)'
                                % (self.site.get('name') or self.site['id'], source, name,
                                   ', '.join(sorted(self.envs)) or 'none'))
        refuse_frozen(self.site, 'creating the %s Multidev' % name)
        return dict(site_id=self.site['id'], name=name, from_env=source)

    def result(self, current, desired):
        return dict(created=False, environment=dict(site_id=self.site['id'], name=self.params['name'],
                                                    from_env=self.params['from_env']), **self.described())

    def described(self, listing=None):
        """{'site': the site described} with O(describe_site), else {}; ``listing``: its environments if read."""
        if not self.params['describe_site']:
            return {}
        return dict(site=site_summary(self.client, self.site, describe=[self.params['name']],
                                      listing=listing if listing is not None else self.envs))

    def apply(self, current, desired):
        if self.running:
            # an earlier run was interrupted while the platform created it: wait for that one
            workflow = describe(self.module.workflows.adopt(self.owner, self.running), adopted=True)
        else:
            name, source = desired['name'], desired['from_env']
            workflow = describe(self.module.workflows.run(self.owner, WORKFLOW, {
                'environment_id': name,
                'deploy': {
                    'clone_database': {'from_environment': source},
                    'clone_files': {'from_environment': source},
                    'annotation': 'Create the "%s" environment.' % name,
                },
            }))
        # the site as it is now, with the new environment (read again: the listing above predates it)
        return dict(created=True, workflow=workflow, **self.described(self.client.environments(self.site['id'])))


def main():
    module = PantheonModule(
        argument_spec=dict(
            site=dict(type='str', required=True),
            name=dict(type='str', required=True),
            from_env=dict(type='str', default='dev'),
            describe_site=dict(type='bool', default=False),
        ),
        wait_timeout_default=600,
        supports_check_mode=True,
    )
    module.run_step(CreateMultidev)


if __name__ == '__main__':
    main()
