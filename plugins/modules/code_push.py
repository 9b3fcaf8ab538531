#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: code_push
short_description: Make a Pantheon environment's code the same as another environment's, through git
version_added: 1.0.0
description:
  - Reads the code a source environment runs from the source site's codeserver and pushes that commit to the
    branch of the target environment of the target site (C(master) for dev, the environment id for a multidev),
    over C(ssh://codeserver.dev.{site_id}@HOST:PORT/~/repository.git).
  - The source code of dev is C(master) and of a multidev its branch. Test and live run the newest deploy tag
    (C(pantheon_test_N) / C(pantheon_live_N), named by the environment's C(target_ref)), which is often behind
    C(master); the module takes that tag's commit, never C(master).
  - O(target_env) must be C(dev) or a multidev. Test and live receive code by deployment from dev (the platform's
    C(deploy) workflow, C(terminus env:deploy)), not by push.
  - The source history is fetched into a temporary bare repository on the host that runs the module, which is
    removed afterwards.
  - After a push the module waits for the C(sync_code) workflow the platform starts for the target environment,
    so the code is deployed on the environment when the task returns.
  - Idempotent. When the target branch already points at the source commit nothing is pushed and the result
    is C(changed=false).
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  wait_timeout:
    default: 600
  force:
    description:
      - Replace the target branch even when the source commit does not contain the target's commit
        (a force push).
      - With C(false), a target branch holding commits that the source lacks makes the module fail
        and nothing is pushed.
    type: bool
    default: true
extends_documentation_fragment:
  - pantheon.platform.overwrite
  - pantheon.platform.site_env.pair
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.wait
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - Compares the two commits and reports whether a push would happen; pushes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the target branch's commit before and after.
notes:
  - A frozen target site (the API's C(frozen) field) is refused before anything is posted, with a message naming it, as
    Terminus refuses its commands on frozen sites (C(requireSiteIsNotFrozen)); its test and live environments are
    unavailable while it is frozen.
  - The target environment must be in git mode; a dev environment in SFTP mode refuses pushes, so the module
    fails before pushing and says so.
  - The SSH key given by O(ssh_private_key) must be registered with the account, as for any git access.
requirements:
  - git on the host that runs the module (fetches and pushes through the codeserver)
  - rsync on the host that runs the module (lists the target's files to tell whether it holds content, unless O(overwrite=true))
seealso:
  - module: pantheon.platform.clone_verify
'''

EXAMPLES = r'''
- name: Copy the code of the old site's live environment to the new site's dev
  pantheon.platform.code_push:
    site: old-site
    env: live
    target_site: new-site
    target_env: dev
    wait_timeout: 900

- name: Would a push happen?
  pantheon.platform.code_push:
    site: old-site
    target_site: new-site
  check_mode: true
  register: would_push
'''

RETURN = r'''
source_commit:
  description: Commit the source environment runs (its branch's head, or the commit of its deploy tag).
  returned: success
  type: str
  sample: 3f2a9c1d0e6b4b8a9f7c2d1e0a9b8c7d6e5f4a3b
target_commit:
  description: Commit of the target branch before and after the task.
  returned: success
  type: dict
  contains:
    before:
      description: Commit before the push, null when the branch did not exist.
      type: str
      returned: success
    after:
      description: Commit after the push (in check mode, the commit it would have).
      type: str
      returned: success
  sample: {before: 1b2c3d4e5f60718293a4b5c6d7e8f90112233445, after: 3f2a9c1d0e6b4b8a9f7c2d1e0a9b8c7d6e5f4a3b}
source_ref:
  description: The ref the source code was read from, the branch or, for test and live, the deploy tag.
  returned: success
  type: str
  sample: refs/tags/pantheon_live_3
source_branch:
  description: Branch of the source environment (for test and live the code comes from RV(source_ref) instead).
  returned: success
  type: str
  sample: master
target_branch:
  description: Branch written on the target site.
  returned: success
  type: str
  sample: master
pushed:
  description: Whether a push was made.
  returned: success
  type: bool
sync_workflow:
  description: The C(sync_code) workflow that deployed the pushed code on the target environment.
  returned: when a push was made
  type: dict
  contains:
    id:
      description: Workflow id.
      type: str
      returned: always
    type:
      description: C(sync_code).
      type: str
      returned: always
    result:
      description: Final result (C(succeeded)).
      type: str
      returned: always
    duration:
      description: Seconds from the workflow's creation to its end.
      type: float
      returned: always
'''

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._git import Codeserver, GitWorkspace, branch_ref
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import git_branch
from ansible_collections.pantheon.platform.plugins.module_utils._overwrite import overwrite_argspec, refuse_content
from ansible_collections.pantheon.platform.plugins.module_utils._target import pair_argspec, resolve, same_framework
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import describe


class PushCode(Step):
    """The commit of the target environment's branch; the source environment's deployed commit is asked for."""

    supports_diff = True

    def within(self, sequence):
        with GitWorkspace(timeout=self.params['wait_timeout']) as self.workspace:
            return sequence()

    def current(self):
        params = self.params
        client = self.client
        if params['target_env'] in ('test', 'live'):
            raise PantheonError('target_env %s cannot receive a git push: test and live get their code by deployment '
                                'from dev (the platform tags it pantheon_%s_N; terminus env:deploy); push to dev or a '
                                'multidev' % (params['target_env'], params['target_env']))
        source = self.source = resolve(client, params['site'], params['env'])
        target = self.target = resolve(client, params['target_site'], params['target_env'], option='target_site',
                                       write='a code push')
        same_framework(source.framework, source.label, target, 'a code push')
        if source.site_id == target.site_id and git_branch(source.env) == git_branch(target.env):
            raise PantheonError('Source %s and target %s use the same branch of the same repository; nothing to push'
                                % (source.label, target.label))
        self.src_repo = Codeserver(params, source.site_id, source.site_name)
        self.dst_repo = Codeserver(params, target.site_id, target.site_name)
        self.source_ref, self.source_commit = self.workspace.deployed_code(self.src_repo, source)
        if self.source_commit is None:
            raise PantheonError('The source repository of %s has no branch %s' % (source.label, git_branch(source.env)))
        return dict(branch=git_branch(target.env), commit=self.workspace.ls_remote(self.dst_repo, branch_ref(target.env)))

    def desired(self, current):
        desired = dict(current, commit=self.source_commit)
        if desired != current:
            if self.target.sftp_mode:
                raise PantheonError('%s is in SFTP mode, which refuses git pushes; switch it to git mode first'
                                    % self.target.label)
            refuse_content(self.module, self.target, 'a code push')
        return desired

    def result(self, current, desired):
        return dict(pushed=False, source_branch=git_branch(self.source.env), target_branch=current['branch'],
                    source_ref=self.source_ref, source_commit=self.source_commit,
                    target_commit=dict(before=current['commit'], after=desired['commit']))

    def diff_view(self, state):
        return '%s: %s\n' % (state['branch'], state['commit'])

    def apply(self, current, desired):
        params, workspace, source, target = self.params, self.workspace, self.source, self.target
        before, source_commit = current['commit'], desired['commit']
        workspace.fetch(self.src_repo, self.source_ref, 'refs/pantheon/source')
        if before and not params['force']:
            workspace.fetch(self.dst_repo, branch_ref(target.env), 'refs/pantheon/target')
            if not workspace.is_ancestor(before, source_commit):
                raise PantheonError('The %s branch of %s has commits that %s does not contain; set force: true to '
                                    'replace them' % (current['branch'], target.label, source.label))
        owner = ('env', target.site_id, target.env)
        known = set(wf['id'] for wf in self.module.workflows.history(owner, ('sync_code',)))
        workspace.push(self.dst_repo, source_commit, current['branch'], force=params['force'])
        # the platform starts a sync_code for the push; the code is deployed when it has finished
        return dict(pushed=True,
                    sync_workflow=describe(self.module.workflows.wait_started_by_platform(owner, 'sync_code', known,
                                                                                          target.label)),
                    target_commit=dict(before=before,
                                       after=workspace.ls_remote(self.dst_repo, branch_ref(target.env))))


def main():
    spec = pair_argspec()
    spec.update(force=dict(type='bool', default=True))
    spec.update(overwrite_argspec())
    module = PantheonModule(argument_spec=spec, ssh=True, wait_timeout_default=600, supports_check_mode=True)
    module.run_step(PushCode)


if __name__ == '__main__':
    main()
