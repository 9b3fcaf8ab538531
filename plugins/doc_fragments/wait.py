# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# The wait_timeout default belongs to each module (PantheonModule(wait_timeout_default=N)).
# Pick the variable whose default matches: pantheon.platform.wait (600),
# pantheon.platform.wait.short (300), pantheon.platform.wait.long (3600),
# pantheon.platform.wait.very_long (7200).


class ModuleDocFragment:

    DOCUMENTATION = r'''
options:
  wait_timeout:
    description:
      - How many seconds to wait for each platform workflow this module starts (and, where the module says so,
        for the environment to answer its health check).
      - Workflows are polled no faster than once a second, with an interval that grows to a few seconds.
      - When the time is up the module fails, naming the workflow id, type and last reported state; the
        workflow itself keeps running on the platform.
    type: int
    default: 600
'''

    SHORT = r'''
options:
  wait_timeout:
    description:
      - How many seconds to wait for each platform workflow this module starts (and, where the module says so,
        for the environment to answer its health check).
      - Workflows are polled no faster than once a second, with an interval that grows to a few seconds.
      - When the time is up the module fails, naming the workflow id, type and last reported state; the
        workflow itself keeps running on the platform.
    type: int
    default: 300
'''

    LONG = r'''
options:
  wait_timeout:
    description:
      - How many seconds to wait for each platform workflow this module starts (and, where the module says so,
        for the environment to answer its health check).
      - Workflows are polled no faster than once a second, with an interval that grows to a few seconds.
      - When the time is up the module fails, naming the workflow id, type and last reported state; the
        workflow itself keeps running on the platform.
    type: int
    default: 3600
'''

    VERY_LONG = r'''
options:
  wait_timeout:
    description:
      - How many seconds to wait for each platform workflow this module starts (and, where the module says so,
        for the environment to answer its health check).
      - Workflows are polled no faster than once a second, with an interval that grows to a few seconds.
      - When the time is up the module fails, naming the workflow id, type and last reported state; the
        workflow itself keeps running on the platform.
    type: int
    default: 7200
'''
