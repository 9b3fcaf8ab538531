#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: clone_lock
short_description: Take or release a lock on a Pantheon site, held on the platform, that keeps clone runs apart
version_added: 1.1.0
description:
  - A lock that lives on the platform, so that it holds across controllers (AWX containers, several machines) as well
    as between runs on one machine. The C(pantheon.platform.site_clone) role takes it on the target site before it
    writes anything into it, so that two runs of one job, or two jobs with the same target, never write into one
    target at the same time.
  - The lock is a branch, C(pantheon-platform-lock-<name>), in the site's Git repository on the codeserver. It is
    created with a compare-and-swap push (C(git push --force-with-lease=<ref>:), "the ref must not exist"), which the
    Git server checks and applies atomically under its ref lock, so of two runs that push at the same moment exactly
    one gets it. It is removed the same way, only while it still is this run's (C(--force-with-lease=<ref>:<commit>)).
  - The branch holds one commit with an empty tree whose message records the holder - O(job), O(run_id), the
    controller's host name and boot id, the process id of C(ansible-playbook) (when the module finds it), and the
    creation time - so a refused run names who holds the lock and since when.
  - The branch name is longer than the 11 characters of a Multidev name, so no environment can be made from it, and
    pushing it starts no deployment (only C(master) and Multidev branches are deployed).
  - B(Stale locks.) A lock is stale, and taken over, when it is older than O(stale_after), or when it was taken on
    this same controller (same host name and boot) by an C(ansible-playbook) process that no longer runs (a run
    interrupted with Ctrl-C or killed). A lock of a lost controller (an AWX container that is gone) is stale only
    after O(stale_after); remove it sooner with O(state=absent) and O(force=true).
  - M(pantheon.platform.backup) and M(pantheon.platform.archive) take the same lock for the length of their step with
    their O(pantheon.platform.backup#module:lock) option (one task instead of three); the role takes the source's turn
    lock that way.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  site:
    description:
      - Site machine name or UUID whose repository holds the lock.
    type: str
    required: true
  name:
    description:
      - Which lock of the site (lowercase letters, digits and hyphens, at most 30). The role uses V(clone) on the target.
    type: str
    default: clone
  state:
    description:
      - V(present) takes the lock (or finds it already held by O(run_id)); V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  job:
    description:
      - Who takes the lock, as other runs are told (the role passes its job name).
    type: str
    default: ansible
  run_id:
    description:
      - Identifies this run. With O(state=present), a lock held under the same O(run_id) is this run's (no change);
        without it the module makes one up and returns it (RV(lock.run_id)).
      - With O(state=absent), only a lock held under this O(run_id) is released; required unless O(force=true).
    type: str
  wait:
    description:
      - Seconds to wait for a lock held by another run before failing; V(0) fails at once. The module looks again
        every 5 seconds.
    type: int
    default: 0
  stale_after:
    description:
      - Seconds after which a lock is taken for abandoned and taken over (see B(Stale locks) above). Make it longer
        than a clone can take.
    type: int
    default: 21600
  force:
    description:
      - With O(state=absent), release the lock whoever holds it. Only for a lock whose run is known to be gone.
    type: bool
    default: false
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - Reads the lock and reports whether it would be taken, taken over or released; pushes nothing. With
        O(state=present), a lock another run holds fails the task in check mode as well.
  diff_mode:
    support: none
  idempotent:
    description: Whether a second run with the same arguments reports no change.
    support: full
    details:
      - Taking a lock this O(run_id) holds, or releasing one that is not held, changes nothing.
notes:
  - Needs an SSH key registered with the account (git over SSH to the codeserver), and git on the host that runs the
    module.
  - The lock keeps apart runs that take it. Anything else that writes into the site (a person on the dashboard,
    another tool) is not held back by it.
  - The times compared are the controllers' clocks; clocks that differ by minutes do not matter against O(stale_after)
    in hours.
requirements:
  - git on the host that runs the module
seealso:
  - module: pantheon.platform.code_push
  - module: pantheon.platform.backup
  - module: pantheon.platform.archive
'''

EXAMPLES = r'''
- name: Keep other clone runs out of the target while this one writes into it
  pantheon.platform.clone_lock:
    site: new-site
    job: old-site-to-new-site
    run_id: "{{ clone_run_id }}"
    wait: 600
  register: target_lock

- name: Release it
  pantheon.platform.clone_lock:
    site: new-site
    state: absent
    run_id: "{{ clone_run_id }}"

- name: Remove the lock of a run whose controller is gone
  pantheon.platform.clone_lock:
    site: new-site
    state: absent
    force: true
'''

RETURN = r'''
lock:
  description: The lock as it is after the task (with O(state=absent), the one released, if any).
  returned: always
  type: dict
  contains:
    branch:
      description: The branch that is the lock.
      type: str
      sample: pantheon-platform-lock-clone
    held:
      description: Whether the lock is held after the task.
      type: bool
    commit:
      description: The lock's commit (none when it is not held).
      type: str
    job:
      description: The holder's O(job).
      type: str
    run_id:
      description: The holder's O(run_id).
      type: str
    host:
      description: Host name of the holder's controller.
      type: str
    pid:
      description: Process id of the holder's C(ansible-playbook), when it was found.
      type: int
    created:
      description: When the lock was taken (UTC, ISO 8601).
      type: str
  sample: {branch: pantheon-platform-lock-clone, held: true, commit: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c,
           job: old-site-to-new-site, run_id: 4c1f0a9e2b7d4e55, host: awx-task-1, pid: 4242,
           created: '2026-01-01T10:00:00Z'}
taken_over:
  description: The stale lock this task took over (its holder, as in RV(lock)), and why (C(reason)).
  returned: when a stale lock was taken over
  type: dict
waited:
  description: Seconds spent waiting for another run's lock.
  returned: O(state=present)
  type: float
'''

import time

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._git import GitWorkspace
from ansible_collections.pantheon.platform.plugins.module_utils._lock import (
    STALE_AFTER,
    Lock,
    check_options,
    look,
    new_holder,
    release,
    take,
    taken,
)
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step


class CloneLock(Step):
    """The lock branch of the site: its holder (``held``, ``commit``) or free; this run's holder with
    O(state=present), free with O(state=absent) (while it is this run's, or any holder's with O(force))."""

    def within(self, sequence):
        params = self.params
        check_options(params['name'], params['wait'], params['stale_after'])
        if params['state'] == 'absent' and not params['run_id'] and not params['force']:
            raise PantheonError('state=absent needs the run_id that took the lock (or force=true to remove any holder\'s)')
        site = self.client.get_site(params['site'])
        with GitWorkspace() as workspace:
            self.lock = Lock(params, workspace, site['id'], site.get('name') or params['site'], params['name'])
            return sequence()

    def current(self):
        params, lock = self.params, self.lock
        if params['state'] == 'present':
            # waits while another run holds it (LockHeld when it still does after wait seconds)
            self.started = time.monotonic()
            self.holder = new_holder(params['job'], params['run_id'])
            self.seen = look(lock, params['run_id'], params['wait'], params['stale_after'], self.started)
            commit, holder = self.seen[:2]
        else:
            commit, holder = lock.read()
        if not commit:
            return dict(branch=lock.branch, held=False, commit=None)
        return dict(holder, branch=lock.branch, held=True, commit=commit)

    def desired(self, current):
        params = self.params
        if params['state'] == 'present':
            mine = self.seen[2]
            return current if mine else dict(self.holder, branch=self.lock.branch, held=True, commit=None)
        if current['held'] and (params['force'] or current.get('run_id') == params['run_id']):
            return dict(current, held=False, commit=None)
        return current  # free, or another run's: left as it is

    def result(self, current, desired):
        if self.params['state'] == 'absent':
            # in check mode, the lock that would be released, as it is
            return dict(lock=current)
        return dict(lock=desired, waited=round(time.monotonic() - self.started, 1))

    def preview(self, current, desired):
        if self.params['state'] == 'absent':
            return {}
        # the stale holder it would take over, with the warning a real run gives once it took it over
        result = taken(self.lock, self.holder, None, self.seen[3], self.module.warn)
        result['waited'] = round(time.monotonic() - self.started, 1)
        return result

    def apply(self, current, desired):
        params, lock = self.params, self.lock
        if params['state'] == 'absent':
            if lock.swap(current['commit'], None):
                return dict(lock=desired)
            # it moved since it was read: look again
            return release(lock, params['run_id'], force=params['force'])
        new = lock.make_commit(self.holder)
        if lock.swap(current['commit'], new):
            result = taken(lock, self.holder, new, self.seen[3], self.module.warn)
        else:
            # another run moved it first: look again (and wait for it, as a first look does)
            result = take(lock, params['job'], params['run_id'], params['wait'], params['stale_after'],
                          warn=self.module.warn)
        result['waited'] = round(time.monotonic() - self.started, 1)
        return result


def main():
    module = PantheonModule(
        argument_spec=dict(
            site=dict(type='str', required=True),
            name=dict(type='str', default='clone'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            job=dict(type='str', default='ansible'),
            run_id=dict(type='str'),
            wait=dict(type='int', default=0),
            stale_after=dict(type='int', default=STALE_AFTER),
            force=dict(type='bool', default=False),
        ),
        ssh=True,
        supports_check_mode=True,
    )
    module.run_step(CloneLock)


if __name__ == '__main__':
    main()
