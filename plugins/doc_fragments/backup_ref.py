# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # A backup named by reference, not by its signed link (module_utils/_transfer.BACKUP_REF_OPTIONS): the
    # O(backup) option of files_sync, database_stream and site_import.
    DOCUMENTATION = r'''
options:
  backup:
    description:
      - A backup in an environment's backups catalog, in place of a signed link. The module asks the platform for a
        signed link itself right before it is used, so the link never leaves the module, and a module that downloads
        asks for a fresh one when the store says it expired.
    type: dict
    suboptions:
      site:
        description: Site name or UUID whose backup is read.
        type: str
        required: true
      env:
        description: Environment of that site.
        type: str
        default: dev
      folder:
        description:
          - Backup folder (catalog C(folder), such as C(1700000000_backup)), as returned by
            M(pantheon.platform.backup) or M(pantheon.platform.backup_info).
          - Without it, the newest finished archive is used.
        type: str
'''
