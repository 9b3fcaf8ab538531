# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r'''
options:
  ssh_host:
    description:
      - Host to reach appservers (and the codeserver) through, instead of C(appserver.{env}.{site_id}.drush.in)
        and C(codeserver.dev.{site_id}.drush.in).
      - When set, the SSH user becomes C(appserver.{env}.{site_id}), as Terminus does with E(TERMINUS_SSH_HOST).
      - If not set, the value of the E(PANTHEON_SSH_HOST) environment variable is used.
    type: str
  ssh_port:
    description:
      - SSH port of the appserver and codeserver.
      - If not set, the value of the E(PANTHEON_SSH_PORT) environment variable is used.
    type: int
    default: 2222
  ssh_private_key:
    description:
      - Private key file whose public key is registered with the Pantheon account.
      - When set, only this key is offered (C(IdentitiesOnly=yes)); otherwise ssh's defaults and agent apply.
      - If not set, the value of the E(PANTHEON_SSH_KEY) environment variable is used.
    type: path
  ssh_known_hosts:
    description:
      - known_hosts file used to check host keys. Unknown host keys are recorded on first use
        (C(StrictHostKeyChecking=accept-new)); a changed host key is refused.
      - If not set, the value of the E(PANTHEON_SSH_KNOWN_HOSTS) environment variable is used, else ssh's default
        (C(~/.ssh/known_hosts)).
    type: path
requirements:
  - OpenSSH client 7.6 or later (C(ssh), for C(StrictHostKeyChecking=accept-new)) on the host that runs the module
'''
