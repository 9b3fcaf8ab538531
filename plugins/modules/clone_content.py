#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: clone_content
short_description: Copy the database and files between two environments of one Pantheon site
version_added: 1.1.0
description:
  - Copies the files, then the database, of the environment O(site).O(env) into O(target_env) of the same site with
    the platform's C(clone_files) and C(clone_database) workflows, as C(terminus env:clone-content) does. The platform
    copies them itself, so nothing is downloaded, archived or backed up on the way.
  - Code is not copied (it moves between environments by Git or deployment; the
    P(pantheon.platform.site_clone#role) role pushes it with P(pantheon.platform.code_push#module)).
  - Copying is an action, not a state, so every run that is not in check mode copies and reports C(changed=true);
    the C(site_clone) role calls it only for the elements its checkpoint found different. A copy an earlier,
    interrupted run left running on the platform is waited for instead of starting a second one.
  - The same environment as source and target, an environment that does not exist, and an uninitialized test or live
    are refused before anything is posted (Terminus checks both environments' initialization the same way).
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  wait_timeout:
    default: 3600
  site:
    description: Name or UUID of the site.
    type: str
    required: true
  env:
    description: The environment copied from.
    type: str
    default: dev
  target_env:
    description: The environment copied into (of the same site).
    type: str
    required: true
  elements:
    description:
      - What to copy, C(files) before C(database) as Terminus does.
    type: list
    elements: str
    choices: [database, files]
    default: [database, files]
  clear_cache:
    description: Have the platform clear the target's caches after the database copy (C(env:clone-content --cc)).
    type: bool
    default: false
  updatedb:
    description: Have the platform run the database updates after the database copy (C(env:clone-content --updatedb)).
    type: bool
    default: false
requirements:
  - rsync on the host that runs the module (lists the target environment's files to tell whether it holds content, unless O(overwrite=true))
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.wait
  - pantheon.platform.overwrite
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - Checks both environments and reports C(changed=true) without starting a workflow.
  diff_mode:
    support: none
notes:
  - A frozen site is refused before anything is posted (Terminus's C(env:clone-content) refuses frozen sites).
  - The overwrite guard (O(overwrite)) inspects the target over SSH; the C(site_clone) role decides once and passes
    V(true).
seealso:
  - module: pantheon.platform.code_push
  - module: pantheon.platform.clone_verify
'''

EXAMPLES = r'''
- name: Copy live's database and files into the review Multidev (as terminus env:clone-content my-site.live review)
  pantheon.platform.clone_content:
    site: my-site
    env: live
    target_env: review
    overwrite: true

- name: Copy only the database from dev to test and clear test's caches
  pantheon.platform.clone_content:
    site: my-site
    env: dev
    target_env: test
    elements: [database]
    clear_cache: true
    overwrite: true
'''

RETURN = r'''
workflows:
  description: The workflows this run started or waited for, in order (none in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{id: 6c0e7a1e-1b2f-11ef-9a5f-0242ac120002, type: clone_files, result: succeeded, duration: 12.1},
           {id: 7d1f8b2f-1b2f-11ef-9a5f-0242ac120002, type: clone_database, result: succeeded, duration: 20.4}]
'''

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._overwrite import overwrite_argspec, refuse_content
from ansible_collections.pantheon.platform.plugins.module_utils._target import resolve
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import describe

ORDER = ('files', 'database')  # Terminus CloneContentCommand: files first, then the database


class CloneContent(Step):
    """An action, not a state: every run that is not in check mode copies the elements."""

    def current(self):
        params = self.params
        source_env, target_env = params['env'], params['target_env']
        if source_env == target_env:
            raise PantheonError('env and target_env are both %s: the source and the target must be different '
                                'environments' % source_env)
        self.source = resolve(self.client, params['site'], source_env, initialized='copying its content')
        self.target = resolve(self.client, self.source.site_id, target_env, write='copying content into it')

    def desired(self, current):
        return [e for e in ORDER if e in self.params['elements']]

    def changed(self, current, desired):
        return True

    def result(self, current, desired):
        return dict(workflows=[])

    def apply(self, current, desired):
        params, source, target = self.params, self.source, self.target
        # the target is inspected (over SSH) only by a run that copies, as the module documents for check mode
        refuse_content(self.module, target, 'copying %s from %s' % (' and '.join(params['elements']), source.label))
        owner = ('env', target.site_id, params['target_env'])
        workflows = []
        for element in desired:
            wf_type = 'clone_%s' % element
            body = {'from_environment': params['env']}
            if element == 'database':
                body.update(updatedb=int(params['updatedb']), clear_cache=params['clear_cache'])
            running = self.module.workflows.left_running(
                owner, wf_type, match=lambda wf: (wf.get('params') or {}).get('from_environment') == params['env'])
            if running:
                # an earlier, interrupted run left this copy going on the platform: wait for it
                workflows.append(describe(self.module.workflows.adopt(owner, running), adopted=True))
            else:
                workflows.append(describe(self.module.workflows.run(owner, wf_type, body)))
        return dict(workflows=workflows)


def main():
    module = PantheonModule(
        argument_spec=dict(
            site=dict(type='str', required=True),
            env=dict(type='str', default='dev'),
            target_env=dict(type='str', required=True),
            elements=dict(type='list', elements='str', choices=['database', 'files'], default=['database', 'files']),
            clear_cache=dict(type='bool', default=False),
            updatedb=dict(type='bool', default=False),
            **overwrite_argspec()
        ),
        ssh=True,
        wait_timeout_default=3600,
        supports_check_mode=True,
    )
    module.run_step(CloneContent)


if __name__ == '__main__':
    main()
