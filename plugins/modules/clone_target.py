#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: clone_target
short_description: Refuse a clone target that holds content, or record that a clone job owns it
version_added: 1.1.0
description:
  - Decides whether the clone job O(job) may write into the target environment O(site).O(env), before anything
    is written.
  - The target is the job's own when its site's git repository carries the job's ownership tag
    (C(refs/tags/pantheon-platform-clone-<hash of the job and the site id>), on a history of its own that no
    branch or environment uses). The job writes it, with O(mark=true), once it created the target or was allowed
    into it, so a later run of the same job finds its target again even from another controller.
  - Otherwise the environment is inspected. It holds content when its database has at least one table
    (C(SHOW TABLES) through Drush or WP-CLI) or its C(files/) holds at least one file (an rsync listing). A target
    that holds content and is not the job's own is refused unless O(overwrite=true).
  - Code is not inspected. A site the platform has just created has its upstream's code, an empty database and
    no files.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  job:
    description:
      - The name of the clone job (the C(site_clone) role passes its job name).
    type: str
    required: true
  overwrite:
    description:
      - Allow a target that holds content and is not the job's own. The result then says what would be replaced
        (RV(would_overwrite)).
    type: bool
    default: false
  mark:
    description:
      - Write the job's ownership tag into the target site's repository when it is not there yet (when the
        target is allowed). In check mode the module says it would write it.
    type: bool
    default: false
  within_site:
    description:
      - The job copies between two environments of this one site (the C(site_clone) role's route for them). Its tag
        is then named C(refs/tags/pantheon-platform-clone-env-<hash>), which
        P(pantheon.platform.site_info#module)'s C(clone_marks) does not count, so C(clone_org.yml) does not take the
        site for the target of a clone of another site.
      - Give the same value when checking and when marking (the two tags are different).
    type: bool
    default: false
    version_added: 1.1.0
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.site_env
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - With O(mark=true), the diff shows the ownership tag (RV(marker)) and whether the job owns the target,
        before and after.
requirements:
  - git on the host that runs the module (reads and writes the ownership tag through the codeserver)
  - rsync on the host that runs the module (lists the target's files over SSH)
notes:
  - The tag lives in the site's repository, so it survives losing the controller (an AWX job container). Deleting
    the tag, or the site's repository being replaced, makes the target look foreign again. It is then refused
    when it holds content, which is the safe side. See the collection's C(docs/overwrite.md).
'''

EXAMPLES = r'''
- name: Refuse a target that holds content this job did not put there
  pantheon.platform.clone_target:
    site: new-site
    env: dev
    job: old-site.live-to-new-site.dev

- name: Allow it, and say what would be replaced
  pantheon.platform.clone_target:
    site: new-site
    job: old-site.live-to-new-site.dev
    overwrite: true
  register: guard

- name: Record that the job owns the target (before writing into it)
  pantheon.platform.clone_target:
    site: new-site
    job: old-site.live-to-new-site.dev
    overwrite: true
    mark: true
'''

RETURN = r'''
owned:
  description: Whether the target carried the job's ownership tag before this call.
  returned: always
  type: bool
content:
  description:
    - What the target environment holds, C(tables) and C(files) (counts) and C(files_bytes) (the bytes of those
      files, from the same rsync listing). Null when it was not inspected (an owned target, or O(mark=true) with
      O(overwrite=true)).
  returned: always
  type: dict
  sample: {tables: 74, files: 1203, files_bytes: 48213377}
holds_content:
  description: Whether the inspected target holds content.
  returned: always
  type: bool
would_overwrite:
  description: Whether writing into the target replaces content that is not the job's own (allowed by O(overwrite)).
  returned: always
  type: bool
marker:
  description: The job's ownership tag in the target site's repository.
  returned: always
  type: str
  sample: refs/tags/pantheon-platform-clone-0d5c1e9a7b3f42c8e6a19b20
marked:
  description: Whether this call wrote the ownership tag (would write, in check mode).
  returned: always
  type: bool
'''

from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._overwrite import content_of, holds_content, refusal
from ansible_collections.pantheon.platform.plugins.module_utils._ownership import is_owned, mark_owned, marker_ref
from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._target import resolve, target_argspec

TIMEOUT = 300


class CloneTarget(Step):
    """Whether the job owns the target (its tag in the target site's repository); with O(mark), that it does."""

    supports_diff = True

    def current(self):
        params = self.params
        if not (params['job'] or '').strip():
            raise PantheonError('job must name the clone job, got an empty string')
        self.target = resolve(self.client, params['site'], params['env'],
                              write='a clone into it' if params['mark'] else None)
        within = params['within_site']
        self.content = None
        return dict(marker=marker_ref(params['job'], self.target.site_id, within),
                    owned=is_owned(params, self.target, params['job'], TIMEOUT, within))

    def desired(self, current):
        params = self.params
        if not current['owned'] and not (params['mark'] and params['overwrite']):
            self.content = content_of(self.client, params, self.target, TIMEOUT)
            if holds_content(self.content) and not params['overwrite']:
                raise PantheonError(refusal(self.target, self.content, params['job']))
        return dict(current, owned=current['owned'] or params['mark'])

    def result(self, current, desired):
        would_overwrite = self.content is not None and holds_content(self.content)
        return dict(owned=current['owned'], content=self.content, holds_content=would_overwrite,
                    would_overwrite=would_overwrite, marker=current['marker'], marked=desired != current)

    def apply(self, current, desired):
        mark_owned(self.params, self.target, self.params['job'], TIMEOUT, self.params['within_site'])


def main():
    spec = target_argspec()
    spec.update(job=dict(type='str', required=True), overwrite=dict(type='bool', default=False),
                mark=dict(type='bool', default=False), within_site=dict(type='bool', default=False))
    module = PantheonModule(argument_spec=spec, ssh=True, supports_check_mode=True)
    module.run_step(CloneTarget)


if __name__ == '__main__':
    main()
