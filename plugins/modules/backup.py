#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: backup
short_description: Create a backup of a Pantheon environment
version_added: 1.0.0
description:
  - Starts the C(do_export) workflow of an environment, waits for it, and returns the backup's folder and, for each
    element, the archive's file name, size and finish time as the backups catalog lists them.
  - With O(reuse_within) above 0, a finished backup of the requested elements that is younger than that is reused
    and nothing is created.
  - Every backup is a copy of the site's data (including its database) kept by the platform until it expires, so the
    default O(keep_for) is one day, enough for a clone that needs the backup for minutes.
  - With O(lock), the module takes that lock on the site before it reads the catalog for a backup to reuse, so that
    of runs that take the same lock and share O(reuse_within), the first makes the backup and the next ones, having
    waited their turn, reuse it.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  wait_timeout:
    default: 3600
  site:
    description:
      - Site machine name or UUID.
    type: str
    required: true
  env:
    description:
      - Environment to back up (dev, test, live or a multidev).
    type: str
    default: dev
  elements:
    description:
      - What to back up. The platform makes one archive per element.
    type: list
    elements: str
    choices: [code, database, files]
    default: [code, database, files]
  keep_for:
    description:
      - Days the platform keeps the new backup (sent as C(ttl) in seconds).
      - Terminus keeps backups for 365 days by default; this module keeps them for one day unless told otherwise.
    type: int
    default: 1
  reuse_within:
    description:
      - Minutes. When above 0, a finished backup holding every requested element, whose oldest archive finished at
        most this many minutes ago and has not expired, is returned instead of creating a new one (C(changed=false)).
      - A backup holding more elements than requested (for example a full backup when only the database is asked
        for) is reused too.
      - V(0) makes a new backup on every run.
    type: int
    default: 0
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.wait
  - pantheon.platform.lock
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - Reads the catalog; reports C(changed=false) with the backup that would be reused, or C(changed=true) without
        creating a backup. Takes no O(lock).
  diff_mode:
    support: none
  idempotent:
    description: Whether a second run with the same arguments reports no change.
    support: partial
    details:
      - Only with O(reuse_within) above 0; otherwise every run creates a backup, as asked.
notes:
  - A frozen site (the API's C(frozen) field) is refused before anything is posted, with a message naming it, as
    Terminus refuses its commands on frozen sites (C(requireSiteIsNotFrozen)); its test and live environments are
    unavailable while it is frozen.
  - Terminus has no command to delete a backup; the platform removes it when O(keep_for) has passed.
  - The SSH options are used only with O(lock).
requirements:
  - git on the host that runs the module (only with O(lock), which is a branch in the site's repository)
seealso:
  - module: pantheon.platform.backup_info
  - module: pantheon.platform.site_import
'''

EXAMPLES = r'''
- name: Back up the database and files of live, reusing one made in the last 30 minutes
  pantheon.platform.backup:
    site: old-site
    env: live
    elements: [database, files]
    reuse_within: 30
  register: source_backup

- name: Show the backup's sizes
  ansible.builtin.debug:
    msg: "database {{ source_backup.backup.elements.database.size }} bytes, files {{ source_backup.backup.elements.files.size }} bytes"

- name: Back up live one job at a time (other jobs that take this lock wait their turn, then reuse the backup)
  pantheon.platform.backup:
    site: old-site
    env: live
    reuse_within: 15
    lock:
      name: source-live
      job: old-site-to-new-site
      wait: 3600

- name: A full backup kept for a week
  pantheon.platform.backup:
    site: old-site
    env: dev
    keep_for: 7
'''

RETURN = r'''
backup:
  description:
    - The backup that was made or reused.
    - In check mode when a backup would be created, C(folder) is null and C(elements) empty.
  returned: success
  type: dict
  contains:
    folder:
      description: Catalog folder of the backup (C(<timestamp>_backup)).
      type: str
      returned: success
      sample: 1718000000_backup
    elements:
      description: One entry per requested element.
      type: dict
      returned: success
      contains:
        filename:
          description: Archive file name.
          type: str
          returned: success
        size:
          description: Archive size in bytes.
          type: int
          returned: success
        finished_at:
          description: When the archive was finished (Unix seconds).
          type: float
          returned: success
        expires_at:
          description: When the platform removes the archive (Unix seconds), null when the catalog gives no C(ttl).
          type: float
          returned: success
      sample:
        database: {filename: old-site_live_2024-06-10T06-13-20_UTC_database.sql.gz, size: 1048576,
                   finished_at: 1718000012.5, expires_at: 1718086412.5}
sizes:
  description:
    - The size in bytes of each requested element's archive, keyed by element; null in check mode when a backup would
      be created (nothing is measured then).
  returned: success
  type: dict
  sample: {code: 2097152, database: 1048576, files: 73400320}
reused:
  description: Whether an existing backup was returned instead of creating one.
  returned: success
  type: bool
workflow:
  description: The C(do_export) workflow that made the backup.
  returned: when a backup was created
  type: dict
  contains:
    id:
      description: Workflow id.
      type: str
      returned: success
    type:
      description: Workflow type (C(do_export)).
      type: str
      returned: success
    result:
      description: Final result (C(succeeded)).
      type: str
      returned: success
    duration:
      description: Seconds from the workflow's creation to its end.
      type: float
      returned: success
lock:
  description:
    - The lock O(lock) named, as the step held it - its holder (C(job), C(run_id), C(host), C(pid), C(created)), C(branch)
      and C(commit), as M(pantheon.platform.clone_lock) returns them - with C(waited) (seconds spent waiting for another
      run's lock), C(taken_over) (the stale holder taken over and why, when one was), C(released) (whether this task
      removed it) and C(held) (whether it is still held after the task).
    - Also in the failure result when the step failed after the lock was taken.
  returned: with O(lock), not in check mode
  type: dict
  sample: {branch: pantheon-platform-lock-source-live, held: false, released: true, waited: 12.5,
           commit: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c, job: old-site-to-new-site, run_id: 4c1f0a9e2b7d4e55,
           host: awx-task-1, pid: 4242, created: '2026-01-01T10:00:00Z'}
'''

import time

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._backups import (
    ELEMENTS,
    describe_backup,
    find_reusable,
    folder_elements,
    folders,
    parse_catalog,
)
from ansible_collections.pantheon.platform.plugins.module_utils._lock import LOCK_ARGSPEC, check_options, run_locked
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._target import resolve, target_argspec
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import describe

DAY = 86400
# The platform's catalog may list a finished export a moment after the workflow reports success.
CATALOG_SETTLE_SECONDS = 30


def _requested_elements(params):
    elements = [element for element in ELEMENTS if element in (params['elements'] or [])]
    if not elements:
        raise PantheonError('elements must name at least one of %s' % ', '.join(ELEMENTS))
    return elements


def _folder_of(workflow):
    """The backup folder a do_export workflow reports, if it reports one."""
    for holder in (workflow.get('waiting_for_task'), workflow.get('final_task'), workflow):
        if isinstance(holder, dict) and isinstance(holder.get('params'), dict) and holder['params'].get('folder'):
            return holder['params']['folder']
    return None


def _created_backup(client, target, elements, known_folders, workflow):
    """The folder the finished workflow added to the catalog, with its archives."""
    preferred = _folder_of(workflow)
    deadline = time.time() + CATALOG_SETTLE_SECONDS
    while True:
        entries = parse_catalog(client.backup_catalog(target.site_id, target.env))
        candidates = ([preferred] if preferred else []) + [
            f for f in folders(entries) if f not in known_folders and f != preferred]
        for folder in candidates:
            found = folder_elements(entries, folder, elements)
            if len(found) == len(elements):
                return folder, found
        if time.time() >= deadline:
            raise PantheonError('Workflow %s (do_export) succeeded but the backups catalog of %s lists no finished %s '
                                'archive of a new backup' % (workflow.get('id'), target.label, ', '.join(elements)))
        time.sleep(2)


def _sizes(elements, backup):
    """Sizes by element, as a playbook needs them to choose a transfer route (null while not measured)."""
    return dict((element, (backup['elements'].get(element) or {}).get('size')) for element in elements)


class Backup(Step):
    """A backup of the elements: the one the catalog has that may be reused (None when there is none to reuse),
    or a new one."""

    def within(self, sequence):
        params = self.params
        self.elements = _requested_elements(params)
        if params['keep_for'] < 1:
            raise PantheonError('keep_for must be at least 1 day, got %s' % params['keep_for'])
        if params['reuse_within'] < 0:
            raise PantheonError('reuse_within must be 0 (never reuse) or a number of minutes, got %s'
                                % params['reuse_within'])
        if params['lock']:
            check_options(params['lock']['name'], params['lock']['wait'], params['lock']['stale_after'], 'lock.')
        self.target = resolve(self.client, params['site'], params['env'], write='a backup (do_export)')
        # under the lock from the reuse check on: a run that waited for the lock finds the backup the holder made
        return run_locked(self.module, self.target.site_id, self.target.site_name, sequence)

    def current(self):
        self.entries = parse_catalog(self.client.backup_catalog(self.target.site_id, self.target.env))
        if self.params['reuse_within'] > 0:
            folder, found = find_reusable(self.entries, self.elements, self.params['reuse_within'] * 60, time.time())
            if folder:
                return describe_backup(folder, found)
        return None

    def desired(self, current):
        return current if current is not None else dict(folder=None, elements={})

    def result(self, current, desired):
        return dict(reused=current is not None, backup=desired, sizes=_sizes(self.elements, desired))

    def apply(self, current, desired):
        export = dict((element, element in self.elements) for element in ELEMENTS)
        export.update(entry_type='backup', ttl=self.params['keep_for'] * DAY)
        workflow = self.module.workflows.run(('env', self.target.site_id, self.target.env), 'do_export', export)
        folder, found = _created_backup(self.client, self.target, self.elements, set(folders(self.entries)), workflow)
        backup = describe_backup(folder, found)
        return dict(backup=backup, sizes=_sizes(self.elements, backup), workflow=describe(workflow))


def main():
    module = PantheonModule(
        argument_spec=dict(
            target_argspec(),
            elements=dict(type='list', elements='str', choices=list(ELEMENTS), default=list(ELEMENTS)),
            keep_for=dict(type='int', default=1),
            reuse_within=dict(type='int', default=0),
            **LOCK_ARGSPEC
        ),
        # the SSH options reach the codeserver, for the lock; the key is checked only when there is one
        ssh=True,
        check_key=False,
        wait_timeout_default=3600,
        supports_check_mode=True,
    )
    module.run_step(Backup)


if __name__ == '__main__':
    main()
