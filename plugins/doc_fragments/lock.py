# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The lock option of the modules whose step takes a site lock itself (backup, archive).
    DOCUMENTATION = r'''
options:
  lock:
    description:
      - Take this lock on the site the module works on for the length of its step, so that runs which take the same
        lock take turns. It is the lock M(pantheon.platform.clone_lock) takes (a branch
        C(pantheon-platform-lock-<name>) in the site's repository, created and removed by compare-and-swap pushes,
        naming its holder, so it holds across controllers), taken and released by this one task instead of two more.
      - Taken before the module reads anything that decides what it does and before its first write on the platform.
        Another run's lock makes the module wait up to O(lock.wait) seconds, then fail with a message naming that run
        (its job, run id, controller and start time), having written nothing. A stale lock (see
        M(pantheon.platform.clone_lock)) is taken over, with a warning.
      - Released when the step is done, also when it failed and when the module receives C(SIGINT), C(SIGTERM) or
        C(SIGHUP), only while it is still this run's (a lock another run took over is left alone). A lock that
        O(lock.run_id) already held before the task stays held. A release that fails is a warning; the lock is then
        taken over once stale.
      - Not taken in check mode. Not set (the default), no lock is taken.
      - Needs the SSH options (git over SSH to the codeserver, with an SSH key registered with the account) and git on
        the host that runs the module.
    type: dict
    suboptions:
      name:
        description:
          - Which lock of the site (lowercase letters, digits and hyphens, at most 30). The
            C(pantheon.platform.site_clone) role uses V(source-<env>) on the source site.
        type: str
        required: true
      job:
        description:
          - Who takes the lock, as other runs are told.
        type: str
        default: ansible
      run_id:
        description:
          - Identifies this run in the lock. Without it the module makes one up for the task.
        type: str
      wait:
        description:
          - Seconds to wait for a lock another run holds before failing; V(0) fails at once. The module looks again
            every 5 seconds.
        type: int
        default: 0
      stale_after:
        description:
          - Seconds after which a lock is taken for abandoned and taken over, as
            M(pantheon.platform.clone_lock)'s O(pantheon.platform.clone_lock#module:stale_after).
        type: int
        default: 21600
'''
