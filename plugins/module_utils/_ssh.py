# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""SSH plumbing for Pantheon appservers (drush/wp, rsync) and the codeserver (git).

Host keys are checked: unknown keys are recorded in the known_hosts file
(``StrictHostKeyChecking=accept-new``), changed keys are refused. No password prompts
(``BatchMode=yes``); with a private key only that key is offered (``IdentitiesOnly=yes``).
"""

from __future__ import annotations

import os
import re
import shlex

from ansible_collections.pantheon.platform.plugins.module_utils._errors import ProcessError
from ansible_collections.pantheon.platform.plugins.module_utils._stream import run

DEFAULT_SSH_PORT = 2222
# The API client's default too (_api.DEFAULT_CONNECT_TIMEOUT): an unreachable host fails within this.
DEFAULT_CONNECT_TIMEOUT = 30
SSH_EXIT_FAILURE = 255

_BARE_ARG_RE = re.compile(r'^[a-zA-Z0-9_-]*$')


def quote_remote_arg(arg):
    """Quote one argument as Terminus does: ``^[a-zA-Z0-9_-]*$`` bare, else single-quoted."""
    arg = str(arg)
    if arg and _BARE_ARG_RE.match(arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def remote_command(argv):
    """The remote command line for ``argv`` (a list), quoted as Terminus quotes it."""
    if isinstance(argv, str):
        return argv
    return ' '.join(quote_remote_arg(a) for a in argv)


class SSHTarget:
    """Where and how to reach one SSH endpoint of the platform."""

    def __init__(self, user, host, port=DEFAULT_SSH_PORT, private_key=None, known_hosts=None, extra_options=None,
                 connect_timeout=None):
        self.user = user
        # seconds ssh waits for the connection (and its handshake) before giving up: connect_timeout
        self.connect_timeout = int(connect_timeout or DEFAULT_CONNECT_TIMEOUT)
        self.host = host
        self.port = int(port or DEFAULT_SSH_PORT)
        self.private_key = private_key
        self.known_hosts = known_hosts
        self.extra_options = list(extra_options or [])

    @property
    def destination(self):
        return '%s@%s' % (self.user, self.host)

    def __repr__(self):
        return 'SSHTarget(%s:%s)' % (self.destination, self.port)

    def ssh_options(self):
        """Options shared by ssh, rsync -e and GIT_SSH_COMMAND (no program, no destination)."""
        opts = ['-p', str(self.port),
                '-o', 'BatchMode=yes',
                '-o', 'StrictHostKeyChecking=accept-new',
                '-o', 'ConnectTimeout=%d' % self.connect_timeout,
                '-o', 'ServerAliveInterval=30',
                '-o', 'ServerAliveCountMax=6',
                '-o', 'LogLevel=ERROR']
        if self.known_hosts:
            opts += ['-o', 'UserKnownHostsFile=%s' % self.known_hosts]
        if self.private_key:
            opts += ['-i', self.private_key, '-o', 'IdentitiesOnly=yes']
        for opt in self.extra_options:
            opts += ['-o', opt]
        return opts

    def ssh_argv(self):
        """``ssh`` argv up to and including ``user@host`` (append the remote command)."""
        return ['ssh', '-T'] + self.ssh_options() + [self.destination]

    def rsh(self):
        """The ssh command as one string, for ``rsync -e`` and ``GIT_SSH_COMMAND`` (no user@host)."""
        return ' '.join(shlex.quote(a) for a in ['ssh'] + self.ssh_options())

    def git_env(self):
        """Environment for git commands that talk to this target."""
        return {'GIT_SSH_COMMAND': self.rsh(), 'GIT_TERMINAL_PROMPT': '0'}

    def rsync_remote(self, path):
        """``user@host:path`` for rsync."""
        return '%s:%s' % (self.destination, path)

    def prepare(self):
        """Create the known_hosts file's directory (0700) so ssh can record new keys there."""
        if self.known_hosts:
            parent = os.path.dirname(os.path.abspath(self.known_hosts))
            if not os.path.isdir(parent):
                os.makedirs(parent, mode=0o700, exist_ok=True)


def _common(params):
    return dict(port=params.get('ssh_port') or DEFAULT_SSH_PORT,
                private_key=params.get('ssh_private_key'),
                known_hosts=params.get('ssh_known_hosts'),
                connect_timeout=params.get('connect_timeout'))


def appserver_target(params, site_id, env):
    """SSHTarget of an environment's appserver.

    Default: ``{env}.{site_id}@appserver.{env}.{site_id}.drush.in``; with ``ssh_host``:
    ``appserver.{env}.{site_id}@{ssh_host}`` (as Terminus does with TERMINUS_SSH_HOST).
    """
    if params.get('ssh_host'):
        target = SSHTarget('appserver.%s.%s' % (env, site_id), params['ssh_host'], **_common(params))
    else:
        target = SSHTarget('%s.%s' % (env, site_id), 'appserver.%s.%s.drush.in' % (env, site_id), **_common(params))
    target.prepare()
    return target


def codeserver_target(params, site_id):
    """(SSHTarget, git_url) of the site's codeserver.

    ``ssh://codeserver.dev.{site_id}@<host>:<port>/~/repository.git`` where host is
    ``codeserver.dev.{site_id}.drush.in`` or ``ssh_host`` (our decision: ssh_host applies to git too).
    """
    user = 'codeserver.dev.%s' % site_id
    host = params.get('ssh_host') or 'codeserver.dev.%s.drush.in' % site_id
    target = SSHTarget(user, host, **_common(params))
    target.prepare()
    host_part = '[%s]' % host if ':' in host else host
    return target, 'ssh://%s@%s:%d/~/repository.git' % (user, host_part, target.port)


def git_branch(env):
    """The git branch of an environment: master for dev/test/live, the env id for a multidev."""
    return 'master' if env in ('dev', 'test', 'live') else env


def describe_failure(target, rc, err, what='command'):
    """A message for a failed remote call; rc 255 is ssh's own failure (connection, auth, host key)."""
    if isinstance(err, bytes):
        err = err.decode('utf-8', 'replace')
    err = (err or '').strip()
    tail = err[-2000:]
    if rc == SSH_EXIT_FAILURE:
        hint = ''
        if 'REMOTE HOST IDENTIFICATION HAS CHANGED' in err or 'Host key verification failed' in err:
            hint = ' The host key differs from the one recorded in %s; refusing to connect.' % (
                target.known_hosts or '~/.ssh/known_hosts')
        elif 'Permission denied' in err:
            hint = ' The key was refused; check ssh_private_key and that its public key is on the Pantheon account.'
        elif 'timed out' in err and getattr(target, 'connect_timeout', None):
            hint = (' No answer within connect_timeout=%ss (PANTHEON_CONNECT_TIMEOUT); check ssh_host and ssh_port.'
                    % target.connect_timeout)
        return 'ssh to %s port %s failed (exit 255).%s %s' % (target.destination, target.port, hint, tail)
    return 'Remote %s on %s failed with exit code %s: %s' % (what, target.destination, rc, tail)


def remote_failure(target, rc, err, what='command'):
    """The ProcessError of a failed remote call (describe_failure's message): reason ``ssh_failed`` when
    ssh itself failed (exit 255: connection, key, host key), else ``command_failed``."""
    return ProcessError(describe_failure(target, rc, err, what=what), rc=rc, stderr=err,
                        reason='ssh_failed' if rc == SSH_EXIT_FAILURE else 'command_failed')


def run_remote(target, argv, data=None, check=False, timeout=None, what='command'):
    """Run ``argv`` on ``target`` over ssh (through the one process runner). Returns (rc, out, err) as text.

    ``data``: text/bytes for stdin. With ``check`` a non-zero exit raises :func:`remote_failure`.
    """
    rc, out, err = run(target.ssh_argv() + [remote_command(argv)], data=data, timeout=timeout, text=True)
    if check and rc != 0:
        raise remote_failure(target, rc, err, what)
    return rc, out, err
