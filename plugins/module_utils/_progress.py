# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""Progress of a running transfer, for the callback pantheon.platform.progress.

A module cannot print while it runs, so a transfer writes its progress (bytes so far, the total when
known, the rate) to a small JSON file in the directory named by ``PANTHEON_PROGRESS_DIR``, which the
callback creates and exports before any task runs (modules on the controller inherit it) and reads
during its heartbeat. One file per module process (``<pid>.json``), replaced atomically, at most
every ``interval`` seconds, and removed when the transfer ends. Without the variable nothing is written.
The record holds a label (what moves where, no URL) and numbers only: no secret can reach it.
"""

from __future__ import annotations

import json
import os
import time

ENV = 'PANTHEON_PROGRESS_DIR'


class Progress(object):
    """``update(done, total)`` as bytes move; ``close()`` at the end (also after a failure)."""

    def __init__(self, directory, label, interval=0.5, clock=time.monotonic):
        self.path = os.path.join(directory, '%d.json' % os.getpid())
        self.label = label
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.written = None
        self.base = 0  # bytes a phase started at (a resumed download counts only what moved now for the rate)

    @classmethod
    def from_env(cls, label, **kwargs):
        """A Progress writing into $PANTHEON_PROGRESS_DIR, or None when that is not set (or not a directory)."""
        directory = os.environ.get(ENV)
        if not directory or not os.path.isdir(directory):
            return None
        return cls(directory, label, **kwargs)

    def update(self, done, total=None, force=False, percent=None):
        now = self.clock()
        if not force and self.written is not None and now - self.written < self.interval:
            return
        self.written = now
        elapsed = max(now - self.started, 1e-6)
        record = {'label': self.label, 'done': int(done), 'total': int(total) if total else None,
                  'rate': (int(done) - self.base) / elapsed, 'elapsed': elapsed, 'time': time.time()}
        if percent is not None:
            record['percent'] = int(percent)  # the transfer's own figure (rsync counts files it skips too)
        tmp = self.path + '.tmp'
        try:
            with open(tmp, 'w') as handle:
                json.dump(record, handle)
            os.replace(tmp, self.path)
        except OSError:
            pass  # progress is a courtesy: a full or vanished directory never fails the transfer

    def close(self):
        for path in (self.path, self.path + '.tmp'):
            try:
                os.unlink(path)
            except OSError:
                pass


def describe(record):
    """One line for a progress record: ``label: 12.0 MB of 40.0 MB (30%), 3.1 MB/s``."""
    done, total, rate = record.get('done') or 0, record.get('total'), record.get('rate') or 0
    text = '%s: %s' % (record.get('label') or 'transfer', human(done))
    if record.get('percent') is not None:
        text += '%s (%d%%)' % (' of %s' % human(total) if total else '', record['percent'])
    elif total:
        text += ' of %s (%d%%)' % (human(total), min(100, int(done * 100 / total)))
    return text + ', %s/s' % human(rate)


def human(value):
    value = float(value)
    for unit, factor in (('GB', 1 << 30), ('MB', 1 << 20), ('KB', 1 << 10)):
        if value >= factor:
            return '%.1f %s' % (value / factor, unit)
    return '%d B' % value
