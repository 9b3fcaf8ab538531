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

import datetime
import json
import os
import re
import socket
import time
import uuid

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._git import Codeserver, GitError, GitWorkspace
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule

NAME_RE = re.compile(r'^[a-z0-9][a-z0-9-]{0,29}$')
POLL = 5.0
HEADER = 'pantheon.platform lock'


class LockHeld(PantheonError):
    """Another run holds the lock."""


def _proc_start(pid):
    """The start time of process ``pid`` (clock ticks since boot), or None when it does not run."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return None if fields[0] == 'Z' else fields[19]


def _boot_id():
    try:
        with open('/proc/sys/kernel/random/boot_id', encoding='ascii') as f:
            return f.read().strip()
    except OSError:
        return None


def _playbook_process():
    """(pid, start) of the ansible-playbook process this module runs under, or (None, None): the
    topmost ancestor whose command line is ansible-playbook's (its workers, forked from it, have the
    same command line but end with each task)."""
    pid, found = os.getppid(), None
    for dummy in range(16):
        if pid <= 1:
            break
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                argv = f.read().split(b'\0')
            with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if any(os.path.basename(a.decode('utf-8', 'replace')) == 'ansible-playbook' for a in argv[:2]):
            found = pid
        elif found:
            break
        pid = ppid
    return (found, _proc_start(found)) if found else (None, None)


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def new_holder(params):
    pid, start = _playbook_process()
    now = time.time()
    return dict(job=params['job'], run_id=params['run_id'] or uuid.uuid4().hex[:16], host=socket.gethostname(),
                boot_id=_boot_id(), pid=pid, pid_start=start, created_at=now, created=_iso(now))


def stale_reason(holder, stale_after, now=None):
    """Why a lock is abandoned, or None while it may still be in use."""
    now = time.time() if now is None else now
    try:
        age = now - float(holder.get('created_at'))
    except (TypeError, ValueError):
        return 'its holder cannot be read'
    if age > stale_after:
        return 'taken %d seconds ago, more than stale_after=%d' % (age, stale_after)
    pid = holder.get('pid')
    if (isinstance(pid, int) and holder.get('host') == socket.gethostname() and holder.get('boot_id')
            and holder.get('boot_id') == _boot_id() and _proc_start(pid) != holder.get('pid_start')):
        return 'its ansible-playbook (pid %d on this controller) no longer runs' % pid
    return None


def describe_holder(holder, now=None):
    now = time.time() if now is None else now
    try:
        ago = ' (%d min ago)' % ((now - float(holder['created_at'])) // 60)
    except (KeyError, TypeError, ValueError):
        ago = ''
    return 'job %s (run %s) on controller %s%s since %s%s' % (
        holder.get('job', '?'), holder.get('run_id', '?'), holder.get('host', '?'),
        (', pid %s' % holder['pid']) if holder.get('pid') else '', holder.get('created', '?'), ago)


class Lock(object):
    """The lock branch of one site's repository."""

    def __init__(self, module, workspace, site_id, site_name):
        self.module = module
        self.ws = workspace
        self.site_name = site_name
        self.remote = Codeserver(module.params, site_id, site_name)
        self.branch = 'pantheon-platform-lock-%s' % module.params['name']
        self.ref = 'refs/heads/' + self.branch

    def read(self):
        """(commit, holder) of the lock, or (None, None) when nobody holds it."""
        commit = self.ws.ls_remote(self.remote, self.ref)
        if not commit:
            return None, None
        try:
            self.ws.fetch(self.remote, self.ref, 'refs/lock/seen')
            text = self.ws.git(['cat-file', 'commit', commit])
            holder = json.loads(text.split('\n\n', 1)[1].split('\n\n', 1)[1])
        except (GitError, ValueError, IndexError):
            # deleted meanwhile (the fetch failed) or not ours to read: the caller looks again
            if self.ws.ls_remote(self.remote, self.ref) != commit:
                return self.read()
            holder = {}
        return commit, holder if isinstance(holder, dict) else {}

    def make_commit(self, holder):
        message = '%s: %s\n\n%s' % (HEADER, holder['job'], json.dumps(holder, sort_keys=True))
        return self.ws.empty_commit(message)

    def swap(self, expected, new):
        """Move the lock branch from ``expected`` (None: must not exist) to ``new`` (None: delete), atomically.
        True when done, False when the branch was not ``expected`` any more."""
        lease = '--force-with-lease=%s:%s' % (self.ref, expected or '')
        try:
            self.ws.git(['push', '--porcelain', '--no-verify', lease, self.remote.url,
                         '%s:%s' % (new or '', self.ref)], remote=self.remote)
            return True
        except GitError:
            now = self.ws.ls_remote(self.remote, self.ref)
            if now == new:
                return True
            if now != expected:
                return False
            raise


def take(module, lock):
    params = module.params
    holder = new_holder(params)
    started = time.monotonic()
    result = dict(changed=False, waited=0.0)
    while True:
        commit, current = lock.read()
        taken_over = None
        if commit and current.get('run_id') == holder['run_id'] and params['run_id']:
            result['lock'] = dict(current, branch=lock.branch, held=True, commit=commit)
            break
        if commit:
            why = stale_reason(current, params['stale_after'])
            if why is None:
                waited = time.monotonic() - started
                if waited + POLL > params['wait']:
                    raise LockHeld('The site %s is locked by another clone run: %s (branch %s of its repository). '
                                   'Wait for that run to finish%s; if it is gone, its lock is taken over once it is '
                                   'stale (after stale_after=%d seconds), or remove it with pantheon.platform.clone_lock '
                                   'state=absent force=true.'
                                   % (lock.site_name, describe_holder(current), lock.branch,
                                      (' (waited %d seconds)' % waited) if params['wait'] else ' (or give it time: wait)',
                                      params['stale_after']))
                time.sleep(POLL)
                continue
            taken_over = dict(current, commit=commit, reason=why)
        result['changed'] = True
        if module.check_mode:
            result['lock'] = dict(holder, branch=lock.branch, held=True, commit=None)
        else:
            new = lock.make_commit(holder)
            if not lock.swap(commit, new):
                continue  # another run moved it first: look again
            result['lock'] = dict(holder, branch=lock.branch, held=True, commit=new)
        if taken_over:
            result['taken_over'] = taken_over
            module.warn('Took over the stale lock of %s on %s: %s' % (describe_holder(taken_over), lock.site_name, why))
        break
    result['waited'] = round(time.monotonic() - started, 1)
    return result


def release(module, lock):
    params = module.params
    while True:
        commit, current = lock.read()
        if not commit:
            return dict(changed=False, lock=dict(branch=lock.branch, held=False, commit=None))
        if not params['force'] and current.get('run_id') != params['run_id']:
            # not this run's: leave it
            return dict(changed=False, lock=dict(current, branch=lock.branch, held=True, commit=commit))
        if module.check_mode or lock.swap(commit, None):
            return dict(changed=True, lock=dict(current, branch=lock.branch, held=module.check_mode,
                                                commit=commit if module.check_mode else None))


def run(module):
    params = module.params
    if not NAME_RE.match(params['name']):
        raise PantheonError('name must be lowercase letters, digits and hyphens (at most 30, starting with a letter '
                            'or digit), got %r' % params['name'])
    for option in ('wait', 'stale_after'):
        if params[option] < 0:
            raise PantheonError('%s must be 0 or more seconds, got %s' % (option, params[option]))
    if params['state'] == 'absent' and not params['run_id'] and not params['force']:
        raise PantheonError('state=absent needs the run_id that took the lock (or force=true to remove any holder\'s)')
    site = module.client.get_site(params['site'])
    with GitWorkspace() as workspace:
        lock = Lock(module, workspace, site['id'], site.get('name') or params['site'])
        if params['state'] == 'present':
            return take(module, lock)
        return release(module, lock)


def main():
    module = PantheonModule(
        argument_spec=dict(
            site=dict(type='str', required=True),
            name=dict(type='str', default='clone'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            job=dict(type='str', default='ansible'),
            run_id=dict(type='str'),
            wait=dict(type='int', default=0),
            stale_after=dict(type='int', default=21600),
            force=dict(type='bool', default=False),
        ),
        ssh=True,
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == '__main__':
    main()
