#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: site
short_description: Create or delete a Pantheon site
version_added: 1.0.0
description:
  - With O(state=present), makes sure a site with this machine name exists. A missing site is created through the
    platform's C(create_site) workflow, its upstream is deployed (C(deploy_product)) and the module waits until the
    dev environment answers its health check (C(https://{dev platform domain}/pantheon_healthcheck) with HTTP 200).
  - An existing site is never changed. If it has another upstream or belongs to another organization than
    requested, the module fails and says so. A different O(label) or O(region) only gives a warning, because the
    module does not change them (labels are cosmetic, and the region of a site cannot be changed).
  - A site that exists but has no upstream yet (for example, an earlier run was interrupted after C(create_site))
    gets the requested upstream deployed.
  - A creation that an earlier, interrupted run left going is waited for rather than started again. When the site
    has no upstream yet, or when C(create_site) is refused because the name is taken while no site has it, the module
    looks for an unfinished C(create_site) workflow for this name in the user's workflows, then for an unfinished
    C(deploy_product) in the site's workflows, waits for them, and goes on as above, so the site ends up created,
    with its upstream deployed and its dev environment healthy.
  - With O(state=absent), deletes the site through the C(delete_site) workflow if it exists.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  wait_timeout:
    default: 600
  name:
    description:
      - Machine name of the site (lowercase letters, digits and dashes), or its UUID when O(state=absent) or when
        the site must already exist.
    type: str
    required: true
  label:
    description:
      - Human-readable label used when the site is created. Defaults to O(name).
    type: str
  upstream:
    description:
      - Upstream to deploy on a new site, by id, machine name (for example V(drupal-10-composer-managed)) or label,
        among the upstreams the user may use.
      - Required to create a site. For an existing site, the module fails if its upstream is another one.
    type: str
  organization:
    description:
      - Organization that should hold the site, by UUID, machine name or name, among the user's organizations.
      - For an existing site, the module fails if another organization holds it.
    type: str
  region:
    description:
      - Preferred zone (region) for a new site, passed to the platform as is (the platform validates it).
      - Left to the platform when not set.
    type: str
  environments:
    description:
      - With O(state=present), describe these environments in the returned RV(site) (their settings and platform
        domain), as M(pantheon.platform.site_info) does with its O(pantheon.platform.site_info#module:environments)
        option; C(environment_ids) then lists all of the site's environments. Saves a lookup after a creation.
      - Not set, RV(site) has neither C(environments) nor C(environment_ids).
    type: list
    elements: str
    version_added: 1.1.0
  state:
    description:
      - V(present) to create the site if needed, V(absent) to delete it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.wait
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup
attributes:
  check_mode:
    support: full
    details:
      - Reads the platform (site, upstreams, organizations) and reports what would change; starts no workflow.
  diff_mode:
    support: full
    details:
      - Before and after show the site's name, label, upstream, organization and region (empty when absent).
notes:
  - O(wait_timeout) applies to each workflow (C(create_site), C(deploy_product), C(delete_site)), including one an
    earlier run started, and to the wait for the dev environment's health check.
'''

EXAMPLES = r'''
- name: Create a Drupal site for the clone
  pantheon.platform.site:
    name: my-site-clone
    label: My site (clone)
    upstream: drupal-10-composer-managed
    organization: my-agency
    region: us-central1

- name: Delete a scratch site
  pantheon.platform.site:
    name: my-scratch-site
    state: absent

- name: Create sites with the credentials set once
  module_defaults:
    group/pantheon.platform.pantheon:
      machine_token: "{{ lookup('ansible.builtin.env', 'PANTHEON_MACHINE_TOKEN') }}"
  pantheon.platform.site:
    name: "{{ item }}"
    upstream: wordpress
  loop:
    - blog-one-clone
    - blog-two-clone
'''

RETURN = r'''
site:
  description:
    - The site after the task, in the shape M(pantheon.platform.site_info) returns; C(environments) and
      C(environment_ids) only with O(environments).
    - Empty when the site is absent, and in check mode when it would be created.
  returned: always
  type: dict
  sample:
    id: 3f1d8c0e-5b4a-4a52-9b1e-0c5a7d2e9f10
    name: my-site-clone
    label: My site (clone)
    framework: drupal8
    organization: null
    upstream: {"id": "8a129104-9d37-4082-aaf8-e6f31154644e", "label": "Drupal 10"}
    region: us-central1
    frozen: false
workflows:
  description:
    - The workflows the task ran or waited for, in order, each with its id, type, result and duration in seconds.
    - C(adopted=true) marks a workflow an earlier run had started and this task only waited for.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "9a1b...", "type": "create_site", "result": "succeeded", "duration": 41.2, "adopted": true},
           {"id": "7c2d...", "type": "deploy_product", "result": "succeeded", "duration": 63.0}]
'''

from ansible_collections.pantheon.platform.plugins.module_utils._api import SITE_NAME_RE, ApiError, PantheonError, is_uuid
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._summaries import site_summary, site_upstream

DIFF_KEYS = ('name', 'label', 'upstream', 'organization', 'region')


def _diff_view(summary):
    if not summary:
        return {}
    view = dict((k, summary.get(k)) for k in DIFF_KEYS)
    if isinstance(view['upstream'], dict):
        view['upstream'] = view['upstream'].get('machine_name') or view['upstream'].get('label') or view['upstream'].get('id')
    return view


class SiteStep(Step):
    """The site present (created, or its creation finished) or absent, on the step engine."""

    supports_diff = True

    def __init__(self, module):
        super().__init__(module)
        self.timeout = module.params['wait_timeout']
        self.workflows = module.workflows
        self.site = None
        self.upstream = self.org = None

    # ------------------------------------------------------------------ the engine's steps
    def current(self):
        site = self.client.find_site(self.params['name'])
        if self.params['state'] == 'absent':
            self.site = site
            return site_summary(self.client, site, environments=False) if site else None
        self.upstream = self.resolve_upstream() if self.params['upstream'] else None
        self.org = self.resolve_organization() if self.params['organization'] else None
        self.site = self.settle(site)
        return self.summary(self.site) if self.site else None

    def desired(self, current):
        if self.params['state'] == 'absent':
            return None
        if current is None:
            return self.created()
        return self.existing(current)

    def diff_view(self, state):
        return _diff_view(state)

    def result(self, current, desired):
        result = dict(site=(current or {}) if self.params['state'] == 'present' else {},
                      workflows=self.workflows.records)
        if not self.changed(current, desired):
            # the site as it is, also when nothing changes (the engine gives a diff only for a change)
            result.update(self.diff(current, desired))
        return result

    def apply(self, current, desired):
        if self.params['state'] == 'absent':
            self.workflows.run(('site', self.site['id']), 'delete_site', {})
            return dict(site={})
        if current is None:
            return self.create()
        # created earlier, but its upstream was never deployed: finish the job
        self.deploy_and_wait(self.site['id'], self.upstream)
        return self.finished(current, self.current_summary(self.site['id']))

    # ------------------------------------------------------------------ what is asked
    def created(self):
        """The site this run would create (refused before any write when it cannot be)."""
        name = self.params['name']
        if not SITE_NAME_RE.match(name) or is_uuid(name):
            raise PantheonError('Cannot create a site named %r: a site name is lowercase letters, digits and dashes' % name)
        if self.upstream is None:
            raise PantheonError('Site %s does not exist; the upstream option is required to create it' % name)
        return {'name': name, 'label': self.params['label'] or name, 'region': self.params['region'],
                'organization': self.org['id'] if self.org else None,
                'upstream': {'id': self.upstream.get('id'), 'machine_name': self.upstream.get('machine_name'),
                             'label': self.upstream.get('label')}}

    def existing(self, before):
        """An existing site: refused when it is not what was asked; its missing upstream is what would change."""
        conflicts = []
        org, upstream = self.org, self.upstream
        if org is not None and before['organization'] != org['id']:
            conflicts.append('it belongs to %s, not to organization %r (%s)'
                             % ('organization %s' % before['organization'] if before['organization'] else 'no organization',
                                self.params['organization'], org['id']))
        if upstream is not None and before['upstream'] and before['upstream']['id'] not in (upstream.get('id'), upstream.get('product_id')):
            current = before['upstream']
            conflicts.append('its upstream is %s (%s), not %r (%s)'
                             % (current.get('machine_name') or current.get('label') or '?', current['id'],
                                self.params['upstream'], upstream.get('id')))
        if conflicts:
            raise PantheonError('Site %s already exists, but %s. This module never changes an existing site\'s upstream '
                                'or organization: pick another site name, or delete the site first.'
                                % (before['name'], ' and '.join(conflicts)))
        if self.params['label'] and before['label'] != self.params['label']:
            self.module.warn('Site %s exists with label %r, not %r; the label was left unchanged.'
                             % (before['name'], before['label'], self.params['label']))
        if self.params['region'] and before['region'] and before['region'] != self.params['region']:
            self.module.warn('Site %s exists in region %r, not %r; a site\'s region cannot be changed.'
                             % (before['name'], before['region'], self.params['region']))
        if upstream is None and not before['upstream']:
            self.module.warn('Site %s has no upstream deployed (its creation was not finished); give the upstream '
                             'option to deploy one.' % before['name'])
        if upstream is not None and not before['upstream']:
            return dict(before, upstream={'id': upstream.get('id'), 'machine_name': upstream.get('machine_name'),
                                          'label': upstream.get('label')})
        return before

    # ------------------------------------------------------------------ writes
    def create(self):
        name = self.params['name']
        params = {'label': self.params['label'] or name, 'site_name': name}
        if self.params['region']:
            params['preferred_zone'] = self.params['region']
        if self.org is not None:
            params['organization_id'] = self.org['id']
        try:
            wf = self.workflows.run(('user',), 'create_site', params)
        except ApiError as e:
            # Refused because the name is taken, yet no site has it: an earlier, interrupted run's
            # create_site is still running. Wait for that one instead.
            running = self.creation_left_running(name) if e.status == 409 else None
            if running is None and e.status == 409:
                # A creation that finished between the lookup above and this create_site (an earlier run's,
                # whose create_site was still running a moment ago) made the site: go on as with an existing one.
                found = self.client.find_site(name)
                if found is not None:
                    return self.taken_over(found)
                # no site this user can see has the name: another user's site holds it
                raise PantheonError('Cannot create site %s: the name %s is taken by a site this user may not access '
                                    '(the platform refused create_site: %s); choose another site name'
                                    % (name, name, e))
            if running is None:
                raise
            site_id = self.adopt_creation(running, name)
        else:
            site_id = self.site_made_by(wf, name)
        try:
            self.deploy_and_wait(site_id, self.upstream)
        except PantheonError as exc:
            # the site exists from here on: say so, and how to finish
            raise PantheonError('%s. The site %s was created (id %s) but its upstream is not deployed or its dev '
                                'environment not ready yet; run again to finish (the same task deploys what is '
                                'missing)' % (str(exc).rstrip('.'), name, site_id))
        return self.finished(None, self.current_summary(site_id))

    def taken_over(self, found):
        """The site an earlier run's creation made after this run's lookup: the existing-site path, on it."""
        self.site = self.settle(found)
        before = self.summary(self.site)
        after = self.existing(before)
        if after == before:
            return dict(self.finished(before, before), changed=False)
        self.deploy_and_wait(self.site['id'], self.upstream)
        return self.finished(before, self.current_summary(self.site['id']))

    def finished(self, before, after):
        """What a write returns: the site as it is now (and, with --diff, what it was)."""
        return dict(self.diff(before, after), site=after, workflows=self.workflows.records)

    def diff(self, before, after):
        """{'diff': ...} of the two states, with --diff; else nothing."""
        return dict(diff=dict(before=_diff_view(before), after=_diff_view(after))) if self.module._diff else {}

    # ------------------------------------------------------------------ helpers
    def creation_left_running(self, site_name):
        """The unfinished create_site workflow an earlier run started for this name, or None."""
        return self.workflows.left_running(
            ('user',), 'create_site', lambda wf: (wf.get('params') or {}).get('site_name') == site_name)

    def site_made_by(self, workflow, site_name):
        """The id of the site a finished create_site workflow made (from waiting_for_task, else by name)."""
        site_id = (workflow.get('waiting_for_task') or {}).get('site_id') or workflow.get('site_id')
        if site_id:
            return site_id
        found = self.client.find_site(site_name)
        if found is None:
            raise PantheonError('The create_site workflow %s succeeded but site %s cannot be found'
                                % (workflow.get('id'), site_name))
        return found['id']

    def adopt_creation(self, workflow, site_name):
        """Wait for the create_site an earlier run started; returns the id of the site it made."""
        return self.site_made_by(self.workflows.adopt(('user',), workflow), site_name)

    def settle(self, site):
        """A site without an upstream is one whose creation was not finished: let the create_site and
        deploy_product an earlier run may have left going finish first. Returns the site as it is then.
        Sites with an upstream, the normal case, cost no extra request."""
        if site is None or site_upstream(site) is not None:
            return site
        running = self.creation_left_running(site['name'])
        if running is not None:
            if self.module.check_mode:
                self.module.warn('A create_site workflow for %s (%s) started earlier is still running; a real run '
                                 'waits for it.' % (site['name'], running['id']))
                return site
            site = self.client.get_site(self.adopt_creation(running, site['name']))
        deploying = self.workflows.left_running(('site', site['id']), 'deploy_product')
        if deploying is not None and not self.module.check_mode:
            self.workflows.adopt(('site', site['id']), deploying)
            self.wait_dev_healthy(site['id'])
            site = self.client.get_site(site['id'])
        return site

    def resolve_upstream(self):
        wanted = self.params['upstream']
        upstream = self.client.find_upstream(wanted)
        if upstream is None:
            names = sorted(u.get('machine_name') or u.get('label') or u.get('id') for u in self.client.upstreams()
                           if isinstance(u, dict))
            raise PantheonError('Upstream %r is not one of the upstreams this user may use (%s)'
                                % (wanted, ', '.join(names) or 'none'))
        return upstream

    def resolve_organization(self):
        wanted = self.params['organization']
        org = self.client.find_organization(wanted)
        if org is None:
            raise PantheonError('Organization %r is not one of the organizations this user belongs to' % wanted)
        return org

    def deploy_and_wait(self, site_id, upstream):
        self.workflows.run(('site', site_id), 'deploy_product', {'product_id': upstream['id']})
        self.wait_dev_healthy(site_id)

    def wait_dev_healthy(self, site_id):
        self.client.wait_healthy(self.client.platform_domain(site_id, 'dev'), self.timeout)

    def current_summary(self, site_id):
        return self.summary(self.client.get_site(site_id))

    def summary(self, site):
        """The site as returned: with the environments of the environments option described, when given."""
        describe = self.params.get('environments')
        return site_summary(self.client, site, environments=describe is not None, describe=describe)


def main():
    module = PantheonModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            label=dict(type='str'),
            upstream=dict(type='str'),
            organization=dict(type='str'),
            region=dict(type='str'),
            environments=dict(type='list', elements='str'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        wait_timeout_default=600,
        supports_check_mode=True,
    )

    module.run_step(SiteStep)


if __name__ == '__main__':
    main()
