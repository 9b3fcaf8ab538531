# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""A site's lock held on the platform: a branch in its repository on the codeserver, created and
removed by compare-and-swap pushes, whose one commit records its holder.

Used by the ``clone_lock`` module (take or release as a task of its own) and, through
:func:`run_locked`, by the modules whose step takes a lock itself (``backup`` and ``archive`` with
their ``lock`` option): taken before the step's first platform write, released in a ``finally``
(also after a failure and on SIGINT, SIGTERM and SIGHUP), only while it is still this run's.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import signal
import socket
import time
import uuid

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._git import Codeserver, GitError, GitWorkspace

NAME_RE = re.compile(r'^[a-z0-9][a-z0-9-]{0,29}$')
POLL = 5.0
HEADER = 'pantheon.platform lock'
STALE_AFTER = 21600
SIGNALS = tuple(getattr(signal, name) for name in ('SIGINT', 'SIGTERM', 'SIGHUP') if hasattr(signal, name))

# The ``lock`` option of a module whose step takes a lock itself (doc fragment pantheon.platform.lock).
LOCK_ARGSPEC = dict(lock=dict(type='dict', options=dict(
    name=dict(type='str', required=True),
    job=dict(type='str', default='ansible'),
    run_id=dict(type='str'),
    wait=dict(type='int', default=0),
    stale_after=dict(type='int', default=STALE_AFTER),
)))


class LockHeld(PantheonError):
    """Another run holds the lock."""


class Interrupted(BaseException):
    """A signal arrived. A BaseException, so that no ``except Exception`` on the way turns it into a
    failure before the step has cleaned up (a running ssh child is killed by its ``Stream``)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def signals_held_off():
    """SIGINT, SIGTERM and SIGHUP ignored inside the block (a clean-up that must not be cut short), and the
    handlers before it put back after it."""
    saved = [(s, signal.signal(s, signal.SIG_IGN)) for s in SIGNALS]
    try:
        yield
    finally:
        for s, handler in saved:
            signal.signal(s, handler)


def raise_interrupted(signum, frame):
    raise Interrupted(signum)


def _proc_start(pid):
    """The start time of process ``pid`` (clock ticks since boot), or None when it does not run."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return None if fields[0] == 'Z' else fields[19]


def _boot_id():
    try:
        with open('/proc/sys/kernel/random/boot_id', encoding='ascii') as f:
            return f.read().strip()
    except OSError:
        return None


def _playbook_process():
    """(pid, start) of the ansible-playbook process this module runs under, or (None, None): the
    topmost ancestor whose command line is ansible-playbook's (its workers, forked from it, have the
    same command line but end with each task)."""
    pid, found = os.getppid(), None
    for dummy in range(16):
        if pid <= 1:
            break
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                argv = f.read().split(b'\0')
            with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if any(os.path.basename(a.decode('utf-8', 'replace')) == 'ansible-playbook' for a in argv[:2]):
            found = pid
        elif found:
            break
        pid = ppid
    return (found, _proc_start(found)) if found else (None, None)


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def new_holder(job, run_id):
    pid, start = _playbook_process()
    now = time.time()
    return dict(job=job, run_id=run_id or uuid.uuid4().hex[:16], host=socket.gethostname(),
                boot_id=_boot_id(), pid=pid, pid_start=start, created_at=now, created=_iso(now))


def stale_reason(holder, stale_after, now=None):
    """Why a lock is abandoned, or None while it may still be in use."""
    now = time.time() if now is None else now
    try:
        age = now - float(holder.get('created_at'))
    except (TypeError, ValueError):
        return 'its holder cannot be read'
    if age > stale_after:
        return 'taken %d seconds ago, more than stale_after=%d' % (age, stale_after)
    pid = holder.get('pid')
    if (isinstance(pid, int) and holder.get('host') == socket.gethostname() and holder.get('boot_id')
            and holder.get('boot_id') == _boot_id() and _proc_start(pid) != holder.get('pid_start')):
        return 'its ansible-playbook (pid %d on this controller) no longer runs' % pid
    return None


def describe_holder(holder, now=None):
    now = time.time() if now is None else now
    try:
        ago = ' (%d min ago)' % ((now - float(holder['created_at'])) // 60)
    except (KeyError, TypeError, ValueError):
        ago = ''
    return 'job %s (run %s) on controller %s%s since %s%s' % (
        holder.get('job', '?'), holder.get('run_id', '?'), holder.get('host', '?'),
        (', pid %s' % holder['pid']) if holder.get('pid') else '', holder.get('created', '?'), ago)


def check_options(name, wait, stale_after, prefix=''):
    """Refuse a bad lock name or time before anything is read or written."""
    if not NAME_RE.match(name or ''):
        raise PantheonError('%sname must be lowercase letters, digits and hyphens (at most 30, starting with a letter '
                            'or digit), got %r' % (prefix, name))
    for option, value in (('wait', wait), ('stale_after', stale_after)):
        if value < 0:
            raise PantheonError('%s%s must be 0 or more seconds, got %s' % (prefix, option, value))


class Lock(object):
    """The lock branch ``pantheon-platform-lock-<name>`` of one site's repository. ``params``: the module's
    SSH options (the codeserver is reached with them)."""

    def __init__(self, params, workspace, site_id, site_name, name):
        self.ws = workspace
        self.site_name = site_name
        self.remote = Codeserver(params, site_id, site_name)
        self.branch = 'pantheon-platform-lock-%s' % name
        self.ref = 'refs/heads/' + self.branch
        # set once a push that may have created the lock was started (an interrupted take releases it)
        self.pushed = False

    def read(self):
        """(commit, holder) of the lock, or (None, None) when nobody holds it."""
        commit = self.ws.ls_remote(self.remote, self.ref)
        if not commit:
            return None, None
        try:
            self.ws.fetch(self.remote, self.ref, 'refs/lock/seen')
            text = self.ws.git(['cat-file', 'commit', commit])
            holder = json.loads(text.split('\n\n', 1)[1].split('\n\n', 1)[1])
        except (GitError, ValueError, IndexError):
            # deleted meanwhile (the fetch failed) or not ours to read: the caller looks again
            if self.ws.ls_remote(self.remote, self.ref) != commit:
                return self.read()
            holder = {}
        return commit, holder if isinstance(holder, dict) else {}

    def make_commit(self, holder):
        message = '%s: %s\n\n%s' % (HEADER, holder['job'], json.dumps(holder, sort_keys=True))
        return self.ws.empty_commit(message)

    def swap(self, expected, new):
        """Move the lock branch from ``expected`` (None: must not exist) to ``new`` (None: delete), atomically.
        True when done, False when the branch was not ``expected`` any more."""
        lease = '--force-with-lease=%s:%s' % (self.ref, expected or '')
        if new:
            self.pushed = True
        try:
            self.ws.git(['push', '--porcelain', '--no-verify', lease, self.remote.url,
                         '%s:%s' % (new or '', self.ref)], remote=self.remote)
            return True
        except GitError:
            now = self.ws.ls_remote(self.remote, self.ref)
            if now == new:
                return True
            if now != expected:
                return False
            raise


def look(lock, run_id, wait, stale_after, started):
    """Read the lock, waiting (up to ``wait`` seconds from ``started``, a ``time.monotonic()``) while another run
    holds it and it is not stale. Writes nothing. Returns ``(commit, holder, mine, taken_over)``: ``commit`` and
    ``holder`` as read (None when free), ``mine`` when ``run_id`` holds it, ``taken_over`` the stale holder a
    swap from ``commit`` replaces (with its ``commit`` and ``reason``). Raises LockHeld."""
    while True:
        commit, current = lock.read()
        if not commit:
            return None, None, False, None
        if run_id and current.get('run_id') == run_id:
            return commit, current, True, None
        why = stale_reason(current, stale_after)
        if why is not None:
            return commit, current, False, dict(current, commit=commit, reason=why)
        waited = time.monotonic() - started
        if waited + POLL > wait:
            raise LockHeld('The site %s is locked by another clone run: %s (branch %s of its repository). '
                           'Wait for that run to finish%s; if it is gone, its lock is taken over once it is '
                           'stale (after stale_after=%d seconds), or remove it with pantheon.platform.clone_lock '
                           'state=absent force=true.'
                           % (lock.site_name, describe_holder(current), lock.branch,
                              (' (waited %d seconds)' % waited) if wait else ' (or give it time: wait)',
                              stale_after))
        time.sleep(POLL)


def taken(lock, holder, commit, taken_over, warn=None):
    """The result of taking the lock for ``holder`` (``commit`` None in check mode), replacing ``taken_over``."""
    result = dict(changed=True, lock=dict(holder, branch=lock.branch, held=True, commit=commit))
    if taken_over:
        result['taken_over'] = taken_over
        if warn:
            warn('Took over the stale lock of %s on %s: %s'
                 % (describe_holder(taken_over), lock.site_name, taken_over['reason']))
    return result


def take(lock, job, run_id, wait, stale_after, check_mode=False, warn=None):
    """Take the lock for ``run_id`` (one is made up when None), waiting up to ``wait`` seconds for another
    run's; a stale one is taken over. Returns ``changed``, ``lock`` (the holder, ``branch``, ``held``,
    ``commit``), ``waited`` and, when a stale lock was taken over, ``taken_over``. Raises LockHeld."""
    holder = new_holder(job, run_id)
    started = time.monotonic()
    while True:
        commit, current, mine, taken_over = look(lock, run_id, wait, stale_after, started)
        if mine:
            result = dict(changed=False, lock=dict(current, branch=lock.branch, held=True, commit=commit))
            break
        new = None
        if not check_mode:
            new = lock.make_commit(holder)
            if not lock.swap(commit, new):
                continue  # another run moved it first: look again
        result = taken(lock, holder, new, taken_over, warn)
        break
    result['waited'] = round(time.monotonic() - started, 1)
    return result


def release(lock, run_id, force=False, check_mode=False):
    """Remove the lock while it is ``run_id``'s (any holder's with ``force``). Returns ``changed`` and
    ``lock`` (the lock as it is after, or the one released)."""
    while True:
        commit, current = lock.read()
        if not commit:
            return dict(changed=False, lock=dict(branch=lock.branch, held=False, commit=None))
        if not force and current.get('run_id') != run_id:
            # not this run's: leave it
            return dict(changed=False, lock=dict(current, branch=lock.branch, held=True, commit=commit))
        if check_mode or lock.swap(commit, None):
            return dict(changed=True, lock=dict(current, branch=lock.branch, held=check_mode,
                                                commit=commit if check_mode else None))


def _release_step_lock(module, lock, run_id, report):
    """Release the step's lock with the signals held off; a release that fails is a warning (the lock goes
    stale), never the step's outcome."""
    with signals_held_off():
        try:
            done = release(lock, run_id)
        except PantheonError as e:
            module.warn('Could not release the lock %s on %s (it is taken over once stale): %s'
                        % (lock.branch, lock.site_name, e.message))
            return
        if done['changed']:
            report.update(held=False, released=True)
        elif done['lock']['held']:
            report.update(held=False, released=False)
            module.warn('The lock %s on %s was no longer this run\'s when the step ended (%s took it over); '
                        'left as it is' % (lock.branch, lock.site_name, describe_holder(done['lock'])))
        else:
            report.update(held=False, released=False)


def run_locked(module, site_id, site_name, step):
    """``step()``, under the lock ``module.params['lock']`` names on the site (none when the option is not set,
    nor in check mode), and its result with ``lock`` added: the holder as clone_lock returns it, with
    ``waited``, ``taken_over`` (when a stale lock was taken over) and ``released``.

    The lock is taken before ``step`` runs (so before its first read that decides anything) and released in a
    ``finally``: after success, after a failure (the failure's result gets ``lock`` too) and on SIGINT,
    SIGTERM and SIGHUP, which raise :class:`Interrupted` while the lock may be held (a handler a caller
    installed first is kept). A lock this ``run_id`` held before the step is left held."""
    spec = module.params.get('lock')
    if not spec or module.check_mode:
        return step()
    module.check_ssh_key()
    installed = [(s, signal.signal(s, raise_interrupted)) for s in SIGNALS
                 if signal.getsignal(s) is not raise_interrupted]
    run_id = spec['run_id'] or uuid.uuid4().hex[:16]
    report = {}
    try:
        with GitWorkspace() as workspace:
            lock = Lock(module.params, workspace, site_id, site_name, spec['name'])
            # True once this step took the lock, or may have (a signal came while its push ran)
            took = False
            try:
                taken = take(lock, spec['job'], run_id, spec['wait'], spec['stale_after'], warn=module.warn)
                took = taken['changed']
                report.update(taken['lock'], waited=taken['waited'], released=False)
                if 'taken_over' in taken:
                    report['taken_over'] = taken['taken_over']
                result = step()
            except PantheonError as e:
                if report:
                    e.extra.setdefault('lock', report)
                raise
            except Interrupted as e:
                took = took or lock.pushed
                raise PantheonError('Interrupted by %s.%s' % (
                    signal.Signals(e.signum).name, (' The lock %s on %s is given back as the module ends.'
                                                    % (lock.branch, site_name)) if took else ''),
                    'interrupted', **({'lock': report} if report else {}))
            finally:
                if took or lock.pushed and not report:
                    _release_step_lock(module, lock, run_id, report)
        result['lock'] = report
        return result
    finally:
        for s, handler in installed:
            signal.signal(s, handler)
