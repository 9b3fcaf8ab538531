# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of pantheon.platform.files_sync: runs the module in-process on the controller (plugin_utils/_module_action.py)."""

from __future__ import annotations

from ansible_collections.pantheon.platform.plugins.plugin_utils._module_action import ModuleAction as ActionModule

__all__ = ['ActionModule']
