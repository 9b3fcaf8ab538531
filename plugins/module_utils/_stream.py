# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""The one process runner: every child process of the collection (ssh, rsync, git) starts here.

:class:`Stream` feeds stdin from an iterator and reads stdout line by line or in chunks, keeping
only a bounded tail of stderr, so memory stays flat whatever the size of a dump or a file tree;
:func:`run` is the short-command form (whole output). A child that cannot start or outlives its
timeout raises :class:`ProcessError`; a non-zero exit is the caller's to judge (``_ssh`` turns it into
a ``ProcessError`` with a reason). No helper uses ``AnsibleModule.run_command`` or calls ``fail_json``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from ansible_collections.pantheon.platform.plugins.module_utils._errors import ProcessError  # noqa: F401 (re-exported)

TAIL_BYTES = 16384


class _Tail(object):
    """Drain a pipe in a thread, keeping its last ``limit`` bytes."""

    def __init__(self, pipe, limit=TAIL_BYTES):
        self.data = b''
        self._pipe = pipe
        self._limit = limit
        self._thread = threading.Thread(target=self._run)
        self._thread.daemon = True
        self._thread.start()

    def _run(self):
        try:
            for chunk in iter(lambda: self._pipe.read(8192), b''):
                self.data = (self.data + chunk)[-self._limit:]
        except (OSError, ValueError):
            pass

    def text(self):
        self._thread.join(5)
        return self.data.decode('utf-8', 'replace')


def _merged_env(env):
    merged = dict(os.environ)
    merged.update(env or {})
    merged.setdefault('LC_ALL', 'C')
    return merged


def _kill(proc):
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGKILL)
        except OSError:
            pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


class Stream(object):
    """A running child; use as a context manager so it never outlives the caller.

    ``lines()`` yields stdout lines (bytes, newline kept); ``chunks()`` yields raw stdout.
    ``feed(iterable)`` writes every chunk to stdin then closes it (EOF); if the iterable raises,
    the child is killed first, so the remote side sees a dropped connection and never a clean
    end of input. ``finish()`` waits and returns the exit code.
    """

    def __init__(self, argv, env=None, stdin=False, stdout=True, cwd=None, timeout=None):
        self.argv = list(argv)
        self.timeout = timeout
        self._deadline = time.time() + timeout if timeout else None
        try:
            # Popen, not run_command: the input and output are streamed, never held in memory.
            self.proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
                self.argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout else subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=_merged_env(env), cwd=cwd, close_fds=True)
        except OSError as exc:
            raise ProcessError('Could not run %s: %s' % (self.argv[0], exc))
        self._stderr = _Tail(self.proc.stderr)
        self._stdout_tail = None
        self._timer = None
        self.timed_out = False
        if timeout:
            self._timer = threading.Timer(timeout, self._on_timeout)
            self._timer.daemon = True
            self._timer.start()

    def _on_timeout(self):
        self.timed_out = True
        _kill(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self._timer is not None:
            self._timer.cancel()
        if self.proc.poll() is None:
            _kill(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except (OSError, ValueError):
                    pass

    def kill(self):
        _kill(self.proc)

    @property
    def stderr(self):
        return self._stderr.text()

    def lines(self):
        yield from iter(self.proc.stdout.readline, b'')

    def chunks(self, size=1 << 20):
        read = getattr(self.proc.stdout, 'read1', self.proc.stdout.read)
        yield from iter(lambda: read(size), b'')

    def drain_stdout(self):
        """Keep only a tail of stdout (for children whose output nobody reads)."""
        self._stdout_tail = _Tail(self.proc.stdout)

    @property
    def stdout_tail(self):
        return self._stdout_tail.text() if self._stdout_tail is not None else ''

    def feed(self, chunks):
        """Write ``chunks`` to stdin, then close it. Returns the number of bytes written.

        Raises ProcessError when the child stops reading (it exited early); any exception from
        ``chunks`` kills the child before it propagates.
        """
        written = 0
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                try:
                    self.proc.stdin.write(chunk)
                except (BrokenPipeError, ValueError, OSError):
                    raise ProcessError('%s stopped reading its input after %d bytes' % (self.argv[0], written))
                written += len(chunk)
        except BaseException:
            self.kill()
            raise
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        return written

    def finish(self):
        """Wait for the child; returns its exit code (a timeout raises ProcessError)."""
        remaining = None
        if self._deadline is not None:
            remaining = max(self._deadline - time.time(), 0.1)
        try:
            rc = self.proc.wait(remaining)
        except subprocess.TimeoutExpired:
            _kill(self.proc)
            self.timed_out = True
            rc = self.proc.returncode
        if self._timer is not None:
            self._timer.cancel()
        if self.timed_out:
            raise ProcessError('%s did not finish within %s seconds and was stopped' % (self.argv[0], self.timeout),
                               rc=rc, stderr=self.stderr)
        return rc


def run(argv, env=None, cwd=None, timeout=None, data=None, text=False):
    """Run a short command; returns (rc, stdout, stderr text), stdout as bytes (``text``: as text).
    ``data``: bytes (or text, sent as UTF-8) for stdin. For small outputs only."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    with Stream(argv, env=env, stdin=data is not None, cwd=cwd, timeout=timeout) as child:
        out = []
        if data is not None:
            writer = threading.Thread(target=child.feed, args=([data],))
            writer.daemon = True
            writer.start()
        for chunk in child.chunks():
            out.append(chunk)
        rc = child.finish()
        out = b''.join(out)
        return rc, (out.decode('utf-8', 'replace') if text else out), child.stderr
