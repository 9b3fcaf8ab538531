# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of pantheon.platform.backup_info: the result is no_log when it holds signed URLs."""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.pantheon.platform.plugins.plugin_utils._secret_result import SecretResultAction


class ActionModule(SecretResultAction):

    MODULE = 'pantheon.platform.backup_info'

    def result_is_secret(self, args, result):
        # A failure never holds a URL (messages are redacted), so it stays readable.
        latest = result.get('latest')
        has_urls = isinstance(latest, dict) and any(isinstance(v, dict) and 'url' in v for v in latest.values())
        return has_urls or (boolean(args.get('urls', False), strict=False) and not result.get('failed'))
