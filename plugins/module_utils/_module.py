# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""PantheonModule: AnsibleModule with the shared options, the API client and clean failures; and the
step engine (:class:`Step`, :meth:`PantheonModule.run_step`) that does check mode, diff and the result."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.pantheon.platform.plugins.module_utils._api import (
    DEFAULT_API_URL,
    DEFAULT_CONNECT_TIMEOUT,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    ApiError,
    PantheonClient,
)
from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError, redact
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import Workflows

AUTH_ARGSPEC = dict(
    machine_token=dict(type='str', no_log=True,
                       fallback=(env_fallback, ['PANTHEON_MACHINE_TOKEN', 'TERMINUS_MACHINE_TOKEN'])),
    api_url=dict(type='str', default=DEFAULT_API_URL, fallback=(env_fallback, ['PANTHEON_API_URL'])),
    validate_certs=dict(type='bool', default=True),
    ca_path=dict(type='path', fallback=(env_fallback, ['PANTHEON_CA_PATH'])),
    connect_timeout=dict(type='int', default=DEFAULT_CONNECT_TIMEOUT, fallback=(env_fallback, ['PANTHEON_CONNECT_TIMEOUT'])),
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


class Step:
    """One module's change, declared; :meth:`PantheonModule.run_step` runs it.

    A module subclasses this and declares:

    - :meth:`current`: reads the platform (never writes) and returns the state that matters (a dict, or
      None when the thing is absent). Option checks that need no read go first here.
    - :meth:`desired`: the state asked for, given the current one. Every refusal (a
      :class:`PantheonError`) is raised here or in :meth:`current`, so before anything is written.
    - :meth:`apply`: makes the change; returns what the result gains from it (the workflow record, ...).
      Never called in check mode, nor when :meth:`changed` says nothing differs.
    - optionally :meth:`changed` (default ``current != desired``; an action that is not a state says True),
      :meth:`result` (the keys every run returns, check mode included), :meth:`preview` (what check mode
      returns in place of what ``apply`` would have), :meth:`diff_view` (what ``--diff`` shows of a state)
      and :meth:`within` (a context the whole sequence runs in: a lock, a workspace).

    ``supports_diff``: True when the module documents ``diff_mode`` support; the engine then returns
    ``diff: {before, after}`` (from :meth:`diff_view` of current and desired, with the module's secrets
    redacted) when the run changes, or would change, something and Ansible asked for a diff.
    """

    supports_diff = False

    def __init__(self, module):
        self.module = module
        self.params = module.params

    @property
    def client(self):
        return self.module.client

    def current(self):
        return None

    def desired(self, current):
        raise NotImplementedError

    def changed(self, current, desired):
        return current != desired

    def apply(self, current, desired):
        raise NotImplementedError

    def result(self, current, desired):
        return {}

    def preview(self, current, desired):
        """Check mode's stand-in for :meth:`apply` (reads only): what the result says would be done."""
        return {}

    def diff_view(self, state):
        return state

    def within(self, sequence):
        """Run ``sequence()`` (current, desired, apply and the result) and return what it returns."""
        return sequence()


class Lookup(Step):
    """A read-only step (the info modules, a comparison): :meth:`current` reads and is the whole result.

    Nothing differs and nothing is applied, so check mode returns exactly what a normal run returns.
    """

    def desired(self, current):
        return current

    def changed(self, current, desired):
        return False

    def result(self, current, desired):
        return current


def _redact_value(value, redact):
    """``value`` (a diff's before/after: text, or dicts and lists of them) with ``redact`` applied to every string."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return dict((key, _redact_value(item, redact)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_redact_value(item, redact) for item in value]
    return value


class PantheonModule(AnsibleModule):
    """AnsibleModule with the shared Pantheon options, a lazily built client and one exit.

    A module's code returns its result from the function it passes to :meth:`run` and raises a
    :class:`PantheonError` for every failure; no helper calls ``fail_json``/``exit_json``. Values
    that must never be shown (signed URLs, archive names, passwords) are registered with
    :meth:`add_secret` and redacted once, on the way out (the failure message and warnings; a result
    that must carry one is hidden by the module's action plugin).
    """

    def __init__(self, argument_spec, ssh=False, wait_timeout_default=None, check_key=True, **kwargs):
        self._client = None
        self._workflows = None
        self._secrets = []
        super().__init__(argument_spec=pantheon_argument_spec(argument_spec, ssh, wait_timeout_default), **kwargs)
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        if not self.params.get('machine_token'):
            self.fail_json(msg='No Pantheon machine token: set the machine_token option (for example through '
                               'module_defaults for group/pantheon.platform.pantheon) or the PANTHEON_MACHINE_TOKEN '
                               '(or TERMINUS_MACHINE_TOKEN) environment variable.')
        if self.params.get('wait_timeout') is not None and self.params['wait_timeout'] <= 0:
            self.fail_json(msg='wait_timeout must be a positive number of seconds, got %s' % self.params['wait_timeout'])
        if (self.params.get('connect_timeout') or 0) < 1:
            self.fail_json(msg='connect_timeout must be a positive number of seconds, got %s' % self.params.get('connect_timeout'))
        if ssh and not 0 < (self.params.get('ssh_port') or 0) < 65536:
            self.fail_json(msg='ssh_port must be between 1 and 65535, got %s' % self.params.get('ssh_port'))
        if ssh and check_key:
            self.check_ssh_key()

    def check_ssh_key(self):
        """Fail when ssh_private_key is set but cannot be read (check_key=False: the module calls this itself
        when it is about to use SSH)."""
        key = self.params.get('ssh_private_key')
        if key and not (os.path.isfile(key) and os.access(key, os.R_OK)):
            # said before anything is written, rather than as a refused login halfway through
            self.fail_json(msg='ssh_private_key %s %s' % (key, 'cannot be read' if os.path.exists(key)
                                                          else 'does not exist'))

    @property
    def client(self):
        if self._client is None:
            self._client = PantheonClient(
                self.params['machine_token'],
                api_url=self.params.get('api_url') or DEFAULT_API_URL,
                validate_certs=self.params.get('validate_certs', True),
                ca_path=self.params.get('ca_path'),
                connect_timeout=self.params.get('connect_timeout'),
                warn=self.warn,
                debug=self.debug,
            )
        return self._client

    @property
    def workflows(self):
        """The run's workflow engine (``_workflows.Workflows``): start/adopt/wait/record, bounded by wait_timeout."""
        if self._workflows is None:
            self._workflows = Workflows(self.client, self.params.get('wait_timeout'))
        return self._workflows

    def add_secret(self, value, shown=None):
        """Register ``value`` (a URL, archive name, password) to be redacted from what leaves the module.

        ``shown``: what replaces it (default ``********``; a URL becomes ``scheme://host/...``).
        """
        if value:
            self._secrets.append((value, shown) if shown else value)

    def redact(self, text):
        """``text`` without the machine token, the session, registered secrets or query strings."""
        secrets = [getattr(self, 'params', {}).get('machine_token')] + list(self._secrets)
        if self._client is not None:
            secrets.append((self._client._session_data or {}).get('session'))
        return redact(text, secrets)

    def warn(self, warning):
        super().warn(self.redact(warning))

    def fail_from_exception(self, exc, **result):
        """Fail with the error's message, reason and extra keys (HTTP status when there is one); never a traceback."""
        if isinstance(exc, PantheonError):
            extra = exc.result()
            if isinstance(exc, ApiError):
                extra['status'] = exc.status
            for key, value in extra.items():
                if value is not None:
                    result.setdefault(key, value)
            msg = exc.message
        else:
            msg = 'Unexpected error (%s): %s' % (type(exc).__name__, exc)
        self.fail_json(msg=self.redact(msg), **result)

    def run(self, func):
        """The one exit: call ``func(self)`` and exit with the dict it returns.

        A PantheonError becomes a clean failure; any other exception too (its type is named, no
        traceback reaches the user).
        """
        try:
            result = func(self)
        except PantheonError as e:
            self.fail_from_exception(e)
        except Exception as e:  # pylint: disable=broad-except
            self.fail_from_exception(e)
        self.exit_json(**(result or dict(changed=False)))

    def run_step(self, step_class):
        """The step engine: run ``step_class(self)`` (a :class:`Step`) through :meth:`run`.

        Calls ``current()``, ``desired(current)`` and ``changed``; in check mode, or when nothing differs,
        never ``apply``. The result is ``changed``, the step's ``result(current, desired)``, what ``apply``
        returned (in check mode, what ``preview`` returned; it wins) and, with ``--diff``, ``diff``.
        """
        def sequence(step):
            current = step.current()
            desired = step.desired(current)
            changed = bool(step.changed(current, desired))
            result = dict(step.result(current, desired) or {}, changed=changed)
            if changed and step.supports_diff and self._diff:
                result['diff'] = dict(before=_redact_value(step.diff_view(current), self.redact),
                                      after=_redact_value(step.diff_view(desired), self.redact))
            if changed:
                result.update((step.preview if self.check_mode else step.apply)(current, desired) or {})
            return result

        def go(module):
            step = step_class(module)
            return step.within(lambda: sequence(step))

        self.run(go)
