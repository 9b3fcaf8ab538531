# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Standard attributes. Modules add their own C(support) and C(details) to each attribute
    # (the module's entries replace these per attribute, so restate the description if you
    # override it).
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
'''

    # Read-only modules (*_info): full check mode support, no diff.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
'''

    ACTIONGROUP = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/pantheon.platform.pantheon) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - pantheon.platform.pantheon
'''

    # for the modules that take the SSH options too (pantheon.platform.ssh): both groups
    ACTIONGROUP_SSH = r'''
options: {}
attributes:
  action_group:
    description:
      - Use C(group/pantheon.platform.pantheon) in C(module_defaults) to set the API options for this module,
        and C(group/pantheon.platform.ssh) to set its SSH options.
    support: full
    membership:
      - pantheon.platform.pantheon
      - pantheon.platform.ssh
'''
