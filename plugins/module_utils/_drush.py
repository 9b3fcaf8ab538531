# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""The one parser of Drush versions (settings values such as ``8`` or ``8.4.12``, ``drush version`` output)."""

from __future__ import annotations

import re

_VERSION_RE = (re.compile(r'(?i)drush\s+version\s*:?\s*v?((\d+)\.[0-9A-Za-z.+-]*)'),
               re.compile(r'(?<![\d.])v?((\d+)\.\d+(?:\.\d+)?(?:-[0-9A-Za-z.]+)?)'))


def parse_drush_version(text):
    """(major, version) from ``drush version`` output or a settings value; (None, None) if there is none."""
    text = str(text if text is not None else '').strip()
    if re.match(r'^\d+$', text):
        return int(text), text
    for pattern in _VERSION_RE:
        match = pattern.search(text)
        if match:
            return int(match.group(2)), match.group(1)
    return None, None
