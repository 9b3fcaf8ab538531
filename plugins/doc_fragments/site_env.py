# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The environment a transfer module writes to (module_utils/_target.target_argspec).
    DOCUMENTATION = r'''
options:
  site:
    description:
      - Target site name or UUID.
    type: str
    required: true
  env:
    description:
      - Target environment (dev, test, live or a multidev).
    type: str
    default: dev
'''

    # A source and a target environment (module_utils/_target.pair_argspec).
    PAIR = r'''
options:
  site:
    description:
      - Source site name or UUID.
    type: str
    required: true
  env:
    description:
      - Source environment (dev, test, live or a multidev).
    type: str
    default: dev
  target_site:
    description:
      - Target site name or UUID. It may be the source site.
    type: str
    required: true
  target_env:
    description:
      - Target environment.
    type: str
    default: dev
'''
