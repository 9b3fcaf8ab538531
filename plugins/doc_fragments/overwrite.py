# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The guard of the modules that write into a target environment (module_utils/_overwrite.py).
    DOCUMENTATION = r'''
options:
  overwrite:
    description:
      - Allow writing into a target environment that already holds content, that is a database with at least one
        table or at least one file in its files area. Without it, such a target is refused before anything is
        written, with a message naming the site, the environment and this option.
      - Checked only when the module has something to write (a second run that finds the target already as wanted
        changes nothing and is not refused).
      - Checking costs two SSH calls to the target (C(SHOW TABLES) and an rsync listing of C(files/)); V(true)
        skips them.
      - The P(pantheon.platform.clone_target#module) module and the C(site_clone) role make this decision once per
        clone and pass V(true).
    type: bool
    default: false
'''
