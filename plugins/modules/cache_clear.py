#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: cache_clear
short_description: Clear the caches of a Pantheon environment, including Drupal's or WordPress's own
version_added: 1.0.0
description:
  - Runs the platform's C(clear_cache) workflow on an environment and waits for it, as the dashboard's
    "Clear Caches" button and C(terminus env:clear-cache) do.
  - With O(framework_cache=true) (the default) the platform also clears the CMS's caches (a Drupal cache
    rebuild), which is what a site needs after its database was replaced by a clone.
  - Clearing caches is an action, not a state, so every run that is not in check mode clears them and
    reports C(changed=true); the P(pantheon.platform.site_clone#role) role calls it only after it moved data.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  wait_timeout:
    default: 300
  framework_cache:
    description:
      - Also clear the CMS's own caches (Drupal or WordPress), not only the edge cache.
    type: bool
    default: true
extends_documentation_fragment:
  - pantheon.platform.site_env
  - pantheon.platform.auth
  - pantheon.platform.wait
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup
attributes:
  check_mode:
    support: full
    details:
      - Checks that the site and environment exist and reports C(changed=true) without starting the workflow.
  diff_mode:
    support: none
notes:
  - A frozen site (the API's C(frozen) field) is refused before anything is posted, with a message naming it, as
    Terminus refuses its commands on frozen sites (C(requireSiteIsNotFrozen)); its test and live environments are
    unavailable while it is frozen.
seealso:
  - module: pantheon.platform.site_import
'''

EXAMPLES = r'''
- name: Rebuild the caches of the clone after its database was imported
  pantheon.platform.cache_clear:
    site: new-site
    env: dev

- name: Clear only the edge cache of live
  pantheon.platform.cache_clear:
    site: my-site
    env: live
    framework_cache: false
'''

RETURN = r'''
workflow:
  description: The C(clear_cache) workflow (absent in check mode).
  returned: when the workflow ran
  type: dict
  contains:
    id:
      description: Workflow id.
      type: str
      returned: always
    type:
      description: Workflow type, C(clear_cache).
      type: str
      returned: always
    result:
      description: Final result, C(succeeded).
      type: str
      returned: always
    duration:
      description: Seconds from the workflow's creation to its end (the platform's timestamps).
      type: float
      returned: always
  sample: {id: 6c0e7a1e-1b2f-11ef-9a5f-0242ac120002, type: clear_cache, result: succeeded, duration: 3.2}
'''

from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._target import resolve, target_argspec
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import describe


class ClearCache(Step):
    """An action, not a state: every run that is not in check mode clears the caches."""

    def current(self):
        self.target = resolve(self.client, self.params['site'], self.params['env'], write='clearing its caches')

    def desired(self, current):
        return dict(framework_cache=self.params['framework_cache'])

    def changed(self, current, desired):
        return True

    def apply(self, current, desired):
        target = self.target
        return dict(workflow=describe(self.module.workflows.run(('env', target.site_id, target.env), 'clear_cache',
                                                                desired)))


def main():
    module = PantheonModule(
        argument_spec=dict(
            target_argspec(),
            framework_cache=dict(type='bool', default=True),
        ),
        wait_timeout_default=300,
        supports_check_mode=True,
    )
    module.run_step(ClearCache)


if __name__ == '__main__':
    main()
