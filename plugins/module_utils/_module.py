# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""PantheonModule: AnsibleModule with the shared options, the API client and clean failures."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.pantheon.platform.plugins.module_utils._api import (
    DEFAULT_API_URL,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    ApiError,
    PantheonClient,
    PantheonError,
)

AUTH_ARGSPEC = dict(
    machine_token=dict(type='str', no_log=True,
                       fallback=(env_fallback, ['PANTHEON_MACHINE_TOKEN', 'TERMINUS_MACHINE_TOKEN'])),
    api_url=dict(type='str', default=DEFAULT_API_URL, fallback=(env_fallback, ['PANTHEON_API_URL'])),
    validate_certs=dict(type='bool', default=True),
    ca_path=dict(type='path', fallback=(env_fallback, ['PANTHEON_CA_PATH'])),
)

SSH_ARGSPEC = dict(
    ssh_host=dict(type='str', fallback=(env_fallback, ['PANTHEON_SSH_HOST'])),
    ssh_port=dict(type='int', default=2222, fallback=(env_fallback, ['PANTHEON_SSH_PORT'])),
    ssh_private_key=dict(type='path', fallback=(env_fallback, ['PANTHEON_SSH_KEY'])),
    ssh_known_hosts=dict(type='path', fallback=(env_fallback, ['PANTHEON_SSH_KNOWN_HOSTS'])),
)


def pantheon_argument_spec(argument_spec=None, ssh=False, wait_timeout_default=None):
    """The module's own spec merged with the shared ones (the module's entries win)."""
    spec = dict(AUTH_ARGSPEC)
    if ssh:
        spec.update(SSH_ARGSPEC)
    if wait_timeout_default is not None:
        spec['wait_timeout'] = dict(type='int', default=wait_timeout_default)
    spec.update(argument_spec or {})
    return spec


class PantheonModule(AnsibleModule):
    """AnsibleModule with the shared Pantheon options, a lazily built client and no tracebacks."""

    def __init__(self, argument_spec, ssh=False, wait_timeout_default=None, **kwargs):
        super().__init__(argument_spec=pantheon_argument_spec(argument_spec, ssh, wait_timeout_default), **kwargs)
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        if not self.params.get('machine_token'):
            self.fail_json(msg='No Pantheon machine token: set the machine_token option (for example through '
                               'module_defaults for group/pantheon.platform.pantheon) or the PANTHEON_MACHINE_TOKEN '
                               '(or TERMINUS_MACHINE_TOKEN) environment variable.')
        if self.params.get('wait_timeout') is not None and self.params['wait_timeout'] <= 0:
            self.fail_json(msg='wait_timeout must be a positive number of seconds, got %s' % self.params['wait_timeout'])
        if ssh and not 0 < (self.params.get('ssh_port') or 0) < 65536:
            self.fail_json(msg='ssh_port must be between 1 and 65535, got %s' % self.params.get('ssh_port'))
        self._client = None

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = PantheonClient(
                    self.params['machine_token'],
                    api_url=self.params.get('api_url') or DEFAULT_API_URL,
                    validate_certs=self.params.get('validate_certs', True),
                    ca_path=self.params.get('ca_path'),
                    warn=self.warn,
                    debug=self.debug,
                )
            except PantheonError as e:
                self.fail_from_exception(e)
        return self._client

    def fail_from_exception(self, exc, **result):
        """Fail with the error's message (and HTTP status when there is one); never a traceback."""
        if isinstance(exc, PantheonError):
            extra = exc.result()
            if isinstance(exc, ApiError):
                extra['status'] = exc.status
            for key, value in extra.items():
                if value is not None:
                    result.setdefault(key, value)
            msg = exc.message
        else:
            msg = str(exc)
        if self._client is not None:
            msg = self._client.redact(msg)
        self.fail_json(msg=msg, **result)

    def run(self, func):
        """Call ``func(self)``; a PantheonError becomes a clean failure."""
        try:
            return func(self)
        except PantheonError as e:
            self.fail_from_exception(e)
