# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How long each site archive was public, from the emulator's request log.

    .venv/bin/python hacking/exposure.py --data-dir DIR --label NAME [--out .tmp/reliability/exposure.json]

DIR is an emulator's data directory (its request log is the ``requests`` table of
``DIR/state.sqlite``). The emulator logs, on channel ``archive``, ``CREATED <url path>`` when
Drush's archive appears in an environment's files directory (public from then on), ``IMPORT``
when a ``do_migration`` of it ended (duration: the import's run) and ``REMOVED`` when the SSH
command that removed it ended (duration: that command's run). Per archive:

- ``window_s``: REMOVED - CREATED, how long the archive was downloadable;
- ``import_s``, ``removal_s``: the import's and the removal's own durations;
- ``overhead_s``: window - import - removal, the time the archive was public for nothing (the
  bound of issue 11 point 4: at most ``bound_s`` = 5 s).

The figures are merged into the JSON file under ``scenarios.<label>`` (other labels are kept):

    {"schema_version": 1, "bound_s": 5, "scenarios": {"<label>": {
        "generated_at": "2026-01-01T00:00:00Z", "archives": 3, "unremoved": 0,
        "max_window_s": 4.1, "max_overhead_s": 1.2, "within_bound": true,
        "per_archive": [{"id": "<12 hex: sha256 of the URL path>", "window_s": 4.1, "import_s": 2.5,
                         "removal_s": 0.4, "overhead_s": 1.2}]}}}

Archive names never appear in the output (they are secrets while the archive exists).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sqlite3
import sys

BOUND_S = 5.0
DEFAULT_OUT = os.path.join('.tmp', 'reliability', 'exposure.json')


def read_log(data_dir, since_id=0):
    """The emulator's request log rows (dicts) from ``data_dir/state.sqlite``."""
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(data_dir, 'state.sqlite'), uri=True, timeout=30)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute('SELECT * FROM requests WHERE id > ? ORDER BY id', (since_id,))]
    finally:
        db.close()


def exposure(rows, bound=BOUND_S):
    """The figures of every archive the log shows created (see the module docstring)."""
    archives = {}
    for row in rows:
        if row.get('channel') != 'archive':
            continue
        entry = archives.setdefault(row['path'], {'created': None, 'removed': None, 'import_s': 0.0,
                                                  'removal_s': 0.0})
        if row['method'] == 'CREATED':
            entry.update(created=row['time'], removed=None, import_s=0.0, removal_s=0.0)
        elif row['method'] == 'IMPORT' and entry['created'] is not None:
            entry['import_s'] += row['duration']
        elif row['method'] == 'REMOVED' and entry['created'] is not None:
            entry.update(removed=row['time'], removal_s=row['duration'])
    per_archive = []
    for path, entry in archives.items():
        if entry['created'] is None:
            continue
        item = {'id': hashlib.sha256(path.encode()).hexdigest()[:12], 'import_s': round(entry['import_s'], 3),
                'removal_s': round(entry['removal_s'], 3), 'window_s': None, 'overhead_s': None}
        if entry['removed'] is not None:
            window = entry['removed'] - entry['created']
            item.update(window_s=round(window, 3),
                        overhead_s=round(max(0.0, window - entry['import_s'] - entry['removal_s']), 3))
        per_archive.append(item)
    removed = [a for a in per_archive if a['window_s'] is not None]
    return {
        'generated_at': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'archives': len(per_archive),
        'unremoved': len(per_archive) - len(removed),
        'max_window_s': max([a['window_s'] for a in removed], default=None),
        'max_overhead_s': max([a['overhead_s'] for a in removed], default=None),
        'within_bound': bool(per_archive) and len(removed) == len(per_archive)
        and all(a['overhead_s'] <= bound for a in removed),
        'per_archive': per_archive,
    }


def write(out, label, figures, bound=BOUND_S):
    """Merge ``figures`` into ``out`` under scenarios.<label>."""
    data = {'schema_version': 1, 'bound_s': bound, 'scenarios': {}}
    if os.path.exists(out):
        with open(out, encoding='utf-8') as f:
            old = json.load(f)
        if old.get('schema_version') == 1:
            data['scenarios'].update(old.get('scenarios') or {})
    data['scenarios'][label] = figures
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--data-dir', required=True, help="the emulator's data directory")
    parser.add_argument('--label', required=True, help='the scenario these figures belong to')
    parser.add_argument('--out', default=DEFAULT_OUT, help='JSON file to merge into (default %(default)s)')
    parser.add_argument('--since-id', type=int, default=0, help='only log rows after this id')
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.data_dir, 'state.sqlite')):
        parser.error('%s is not an emulator data directory (no state.sqlite)' % args.data_dir)
    figures = exposure(read_log(args.data_dir, args.since_id))
    write(args.out, args.label, figures)
    print('%s: %d archive(s), %d not removed, longest window %s s, longest overhead %s s (bound %s s): %s'
          % (args.label, figures['archives'], figures['unremoved'], figures['max_window_s'],
             figures['max_overhead_s'], BOUND_S, 'within' if figures['within_bound'] else 'NOT within'))
    print('written to %s' % args.out)
    return 0 if figures['within_bound'] else 1


if __name__ == '__main__':
    sys.exit(main())
