# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r'''
options:
  machine_token:
    description:
      - Pantheon machine token used to log in.
      - The session it is exchanged for is cached in a private file under C(~/.ansible/pantheon/)
        (or E(PANTHEON_CACHE_DIR)) and reused by later tasks on the same controller until it expires.
      - If not set, the value of the E(PANTHEON_MACHINE_TOKEN) environment variable is used, then
        E(TERMINUS_MACHINE_TOKEN). One of them is required.
      - Set it once for every module with C(module_defaults) and C(group/pantheon.platform.pantheon).
    type: str
  api_url:
    description:
      - Base URL of the Pantheon API; every call goes to C({api_url}/{path}).
      - If not set, the value of the E(PANTHEON_API_URL) environment variable is used.
    type: str
    default: https://terminus.pantheon.io/api
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the API (and of the environments' health checks).
      - Only turn this off for a local test platform.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle (PEM) to trust instead of the system's CAs.
      - If not set, the value of the E(PANTHEON_CA_PATH) environment variable is used.
    type: path
  connect_timeout:
    description:
      - Seconds to keep trying to reach the Pantheon API, or an SSH host, that gives no answer at all (connection
        refused or timed out, name not resolved) before the task fails with one message.
      - Bounds each connection attempt and the retries between them; answers that come (HTTP 429 and 5xx) are
        retried on their own schedule, for at most 5 minutes.
      - If not set, the value of the E(PANTHEON_CONNECT_TIMEOUT) environment variable is used.
    type: int
    default: 30
    version_added: 1.1.0
requirements:
  - requests (Python library, on the host that runs the module)
notes:
  - The API client retries connection errors, timeouts, HTTP 429 (honouring C(Retry-After)) and 5xx answers with
    exponential backoff, at most 5 times; other errors fail at once with the HTTP status, method, path and body.
'''
