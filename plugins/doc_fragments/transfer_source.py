# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The download source of files_sync and database_stream (module_utils/_transfer.source_argspec); their O(backup)
    # is the pantheon.platform.backup_ref fragment.
    DOCUMENTATION = r'''
options:
  url:
    description:
      - URL of the archive to download, for example a signed backup link.
      - The download is streamed (never held in memory), and after a broken connection or a short body it
        resumes from the first missing byte with an HTTP C(Range) request, checking that the object did not
        change.
      - The value is secret (signed links carry their credentials); it never appears in the output.
      - Prefer O(backup), which keeps the link inside the module and renews it when it expires.
    type: str
'''
