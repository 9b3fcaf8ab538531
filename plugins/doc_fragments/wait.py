# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# The one wait_timeout fragment. Its default belongs to each module (PantheonModule(wait_timeout_default=N)),
# which states it in its own DOCUMENTATION: options: wait_timeout: default: N (ansible-doc merges the two).


class ModuleDocFragment:

    DOCUMENTATION = r'''
options:
  wait_timeout:
    description:
      - How many seconds to wait for each platform workflow this module starts or adopts (and, where the module
        says so, for the environment to answer its health check).
      - Workflows are polled no faster than once a second, every 1.5 seconds during the first minute of a wait and
        every 5 seconds after.
      - When the time is up the module fails, naming the workflow id, type and last reported state; the
        workflow itself keeps running on the platform, and the next run waits for it instead of starting another.
    type: int
'''
