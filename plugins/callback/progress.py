# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: progress
type: aggregate
short_description: One line per clone phase with its duration, and a sign of life during long tasks
version_added: 1.1.0
description:
  - Prints, beside the output of the stdout callback in use (the default one, or the one of AWX and Automation
    Platform, whose job output shows the lines), one line per phase of each clone of the
    C(pantheon.platform.site_clone) role as the phase ends, with its outcome, its duration, the time since the
    clone started, and what it did (the phase's record in the report, for a transfer its route and size).
  - While a task of any play runs longer than O(heartbeat) seconds, prints a line naming the task and how long it
    has been running, then again every O(heartbeat) seconds, so a long backup, import or workflow wait shows that it
    is alive.
  - At the same pace, for each transfer running in a module on the controller (the download of a backup by
    P(pantheon.platform.files_sync#module) and P(pantheon.platform.database_stream#module), which streams it into the
    target's import, and the rsync upload of P(pantheon.platform.files_sync#module)),
    a line with the bytes moved so far, the total and percentage when known, and the rate. A module
    cannot print while it runs, so it writes these numbers to a file in a private directory that this callback makes
    and names in the environment variable C(PANTHEON_PROGRESS_DIR) before any task starts (modules run on the
    controller inherit it), and removes at the end.
  - For short output, hide what the stdout callback shows for tasks that went well (see the example).
requirements:
  - Enabled in C(callbacks_enabled) (environment variable C(ANSIBLE_CALLBACKS_ENABLED)).
options:
  heartbeat:
    description:
      - Seconds a task runs before a line says that it is still running, and between such lines. V(0) prints none.
    type: float
    default: 30
    env:
      - name: PANTHEON_PROGRESS_HEARTBEAT
    ini:
      - section: pantheon_progress
        key: heartbeat
  archive_wait:
    description:
      - When ansible-playbook ends while a clone's archive module was removing the archive it made (Ctrl-C or
        C(SIGTERM) during the archive step, whose module removes its archive before it exits), seconds to wait for that
        removal to end before saying what is left.
    type: float
    default: 60
    env:
      - name: PANTHEON_PROGRESS_ARCHIVE_WAIT
    ini:
      - section: pantheon_progress
        key: archive_wait
notes:
  - When ansible-playbook ends, however it ends (the play finished or failed, Ctrl-C, C(SIGTERM)), and a clone of
    this run had an archive step whose archive is still on the source (its state file still names it, because the
    removal failed or could not run), the last line printed says so, without the archive's name (it is a secret while the
    archive exists), and that a rerun of the job removes it. The role's next run of that job removes it first.
  - With this callback enabled, C(SIGTERM) stops ansible-playbook as Ctrl-C does (the running tasks' modules receive
    C(SIGINT), the exit code is 99), so that it can print that line; a second C(SIGTERM) stops it at once. A run killed
    with C(SIGKILL) prints nothing; its next run says, in its C(resume) phase, that it removed the archive.
  - The lines are written through Ansible's display, as the stdout callback writes its own, so they land in the
    same output (a terminal, a log, an AWX job's output).
'''

EXAMPLES = r'''
# ansible.cfg: phase lines, and only what changed or failed from the default callback
#
# [defaults]
# callbacks_enabled = pantheon.platform.progress
# display_ok_hosts = false
# display_skipped_hosts = false
#
# or for one run:
#   ANSIBLE_CALLBACKS_ENABLED=pantheon.platform.progress ANSIBLE_DISPLAY_OK_HOSTS=false \
#   ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ansible-playbook pantheon.platform.clone_site -e ...
'''

import atexit
import glob
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime

from ansible.plugins.callback import CallbackBase

from ansible_collections.pantheon.platform.plugins.module_utils._progress import ENV as PROGRESS_ENV, describe

PHASES = '__site_clone_phases'
JOB = '__site_clone_progress_job'
STATE = '__site_clone_progress_state'
ARCHIVE_ACTIONS = ('pantheon.platform.archive', 'archive')


def _seconds(text):
    """Seconds since the epoch of a record's ISO 8601 time (``2026-11-27T09:08:46.920474Z``), or None."""
    try:
        return datetime.fromisoformat(str(text).replace('Z', '+00:00')).timestamp()
    except ValueError:
        return None


def _duration(seconds):
    if seconds < 60:
        return '%.1fs' % seconds
    minutes, seconds = divmod(int(seconds), 60)
    return '%dm%02ds' % (minutes, seconds) if minutes < 60 else '%dh%02dm' % divmod(minutes, 60)


def phase_line(job, number, record, started):
    """The line of one phase record (name, outcome, start, end, detail) of the clone ``job``."""
    start, end = _seconds(record.get('start')), _seconds(record.get('end'))
    took = ' in %s' % _duration(max(0.0, end - start)) if start is not None and end is not None else ''
    since = ' (at %s)' % _duration(max(0.0, end - started)) if started is not None and end is not None else ''
    outcome = record.get('outcome') or 'ok'
    detail = ' '.join(str(record.get('detail') or '').split())
    # a failure's message is what the stdout callback already showed for the failed task: say so, once
    if outcome == 'failed':
        detail = 'the error is shown above'
    return '%s: %d %s %s%s%s%s' % (job, number, record.get('name'), outcome, took, since,
                                   ' - %s' % detail if detail else '')


class Heartbeat:
    """Which running tasks are due a line: each task gets one after ``interval`` seconds, then every ``interval``."""

    def __init__(self, interval, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.running = {}  # host -> [task name, started, lines printed]
        self.lock = threading.Lock()

    def start(self, host, task):
        with self.lock:
            self.running[host] = [task, self.clock(), 0]

    def end(self, host):
        with self.lock:
            self.running.pop(host, None)

    def due(self):
        lines = []
        now = self.clock()
        with self.lock:
            for host, entry in sorted(self.running.items()):
                task, started, printed = entry
                if self.interval > 0 and now - started >= self.interval * (printed + 1):
                    entry[2] = int((now - started) // self.interval)
                    lines.append('%s: still running: %s (%s)' % (host, task, _duration(now - started)))
        return lines


def _alive(pid):
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return True


def _noted_archive(path):
    """The archive a state file names (the archive module's note: site, env, path, pid), or None."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    archive = data.get('archive') if isinstance(data, dict) else None
    return archive if isinstance(archive, dict) and archive.get('path') else None


def _busy(archive, alive=_alive):
    """Whether the archive module that noted ``archive`` still runs (it may be removing it)."""
    pid = archive.get('pid')
    return isinstance(pid, int) and pid != os.getpid() and alive(pid)


def archives_left(states, wait=0.0, alive=_alive, clock=time.monotonic, sleep=time.sleep):
    """The jobs of ``states`` (job -> state file) whose state file still names an archive, as a list of
    (job, archive note), once no archive module that noted one (its ``pid``) still runs, or after ``wait``
    seconds. An archive module removes its archive before it exits on a signal, then forgets it."""
    deadline = clock() + wait
    while True:
        left, busy = [], False
        for job, path in sorted(states.items()):
            archive = _noted_archive(path)
            if archive is None:
                continue
            busy = busy or _busy(archive, alive)
            left.append((job, archive))
        if not busy or clock() >= deadline:
            return left
        sleep(0.2)


def archive_left_line(job, archive):
    """The line that says an archive is still on the source (never its name) and how it goes."""
    return ('%s: an archive is still on the source (%s environment of site %s) and can be downloaded until it is '
            'removed: run this job again, its next run removes it first' % (job, archive.get('env'), archive.get('site')))


class Transfers:
    """The transfers running in module processes (their progress files in ``directory``): ``lines()`` gives one line
    per transfer that moved since it was last shown."""

    def __init__(self, directory):
        self.directory = directory
        self.shown = {}  # file -> the record time last shown

    def lines(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.directory, '*.json'))):
            try:
                with open(path) as handle:
                    record = json.load(handle)
            except (OSError, ValueError):
                continue  # replaced or removed while read: the next tick sees it
            if not isinstance(record, dict) or record.get('time') == self.shown.get(path):
                continue
            self.shown[path] = record.get('time')
            out.append('progress: %s' % describe(record))
        return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'pantheon.platform.progress'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._seen = {}  # host -> phase records printed
        self._jobs = {}  # host -> clone job name
        self._started = {}  # host -> clone start (epoch seconds)
        self._beat = None
        self._stop = threading.Event()
        self._thread = None
        self._states = {}  # host -> the clone's state file
        self._archive_jobs = {}  # clone job -> state file, for the jobs whose archive step ran in this run
        self._wait = 60.0
        self._signals = False
        self._transfers = None
        self._made_dir = None
        atexit.register(self._at_exit)

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._beat = Heartbeat(float(self.get_option('heartbeat') or 0))
        self._wait = max(0.0, float(self.get_option('archive_wait') or 0))
        self._catch_sigterm()
        if self._beat.interval > 0 and self._transfers is None:
            # before any worker forks: every module process on the controller inherits the directory
            directory = os.environ.get(PROGRESS_ENV)
            if not directory or not os.path.isdir(directory):
                directory = self._made_dir = tempfile.mkdtemp(prefix='pantheon-progress-')
                os.environ[PROGRESS_ENV] = directory
            self._transfers = Transfers(directory)
        if self._beat.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name='pantheon-progress', daemon=True)
            self._thread.start()

    def _catch_sigterm(self):
        """SIGTERM as Ctrl-C: ansible-playbook's SIGINT handler passes SIGINT on to the running tasks (an archive
        module removes its archive) and ends the run, so that the exit can say what is left (_at_exit); its own
        SIGTERM handler would end this process at once. A second SIGTERM ends it at once."""
        if self._signals or threading.current_thread() is not threading.main_thread():
            return
        self._signals = True

        def on_sigterm(signum, frame):
            signal.signal(signum, signal.SIG_DFL)
            handler = signal.getsignal(signal.SIGINT)
            if callable(handler):
                handler(signal.SIGINT, frame)
            raise KeyboardInterrupt()

        signal.signal(signal.SIGTERM, on_sigterm)

    def _at_exit(self):
        """Last, however the run ended: say which clones left an archive on the source (a rerun removes it)."""
        self._stop.set()
        if self._made_dir:
            shutil.rmtree(self._made_dir, ignore_errors=True)
            self._made_dir = None
        if not self._archive_jobs:
            return
        states = dict(self._archive_jobs)
        self._archive_jobs = {}
        try:
            if [job for job, archive in archives_left(states) if _busy(archive)]:
                self._display.display('Waiting up to %s for the archive step to remove its archive'
                                      % _duration(self._wait))
            for job, archive in archives_left(states, self._wait):
                self._display.display(archive_left_line(job, archive), color='bright red')
        except Exception:  # pylint: disable=broad-except
            # at exit, a callback must not end in a traceback
            return
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass

    def _run(self):
        tick = min(1.0, self._beat.interval / 4)
        next_transfers = time.monotonic() + self._beat.interval
        while not self._stop.wait(tick):
            for line in self._beat.due():
                self._display.display(line)
            if self._transfers is not None and time.monotonic() >= next_transfers:
                next_transfers = time.monotonic() + self._beat.interval
                for line in self._transfers.lines():
                    self._display.display(line)

    def _host(self, result):
        host = result._host.get_name()
        return self._jobs.get(host, host)

    # the running task of each host, for the heartbeat
    def v2_runner_on_start(self, host, task):
        action = getattr(task, 'resolved_action', None) or task.action
        state = self._states.get(host.get_name())
        if state and (action in ARCHIVE_ACTIONS or task.action in ARCHIVE_ACTIONS):
            # this run may make or remove the job's archive: say at the end if one is left
            self._archive_jobs[self._jobs.get(host.get_name(), host.get_name())] = state
        if self._beat is not None:
            self._beat.start(self._jobs.get(host.get_name(), host.get_name()), task.get_name().strip())

    def _ended(self, result):
        if self._beat is not None:
            self._beat.end(self._host(result))

    def v2_runner_on_ok(self, result):
        self._ended(result)
        facts = result._result.get('ansible_facts') or {}
        host = result._host.get_name()
        if JOB in facts:
            self._jobs[host] = str(facts[JOB])
            self._started[host] = _seconds(facts.get('__site_clone_started'))
            self._seen[host] = 0
            if facts.get(STATE):
                self._states[host] = str(facts[STATE])
        phases = facts.get(PHASES)
        if not isinstance(phases, list):
            return
        seen = self._seen.get(host, 0)
        for number, record in enumerate(phases[seen:], seen + 1):
            if isinstance(record, dict):
                self._display.display(phase_line(self._host(result), number, record, self._started.get(host)))
        self._seen[host] = max(seen, len(phases))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._ended(result)

    def v2_runner_on_skipped(self, result):
        self._ended(result)

    def v2_runner_on_unreachable(self, result):
        self._ended(result)

    def v2_playbook_on_stats(self, stats):
        self._stop.set()
        if self._made_dir:
            shutil.rmtree(self._made_dir, ignore_errors=True)
