# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading the backups catalog of an environment.

Internal use only: this module is private to the pantheon.platform collection and may change
without notice.

The catalog (``GET sites/{id}/environments/{env}/backups/catalog``) is an object keyed
``<scheduled_ts>_<archive_type>_<element>``. Entries without ``filename`` (the ``_manifest``
ones) are not archives. An archive is finished when its size is not 0 and it has a
``finish_time`` or a ``timestamp``, which is how Terminus reads it.
"""

from __future__ import annotations

ELEMENTS = ('code', 'database', 'files')


def _number(value):
    """A float from a catalog field (numbers or numeric strings), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _size(value):
    number = _number(value)
    return int(number) if number is not None else 0


def _scheduled(key):
    head = key.split('_', 1)[0]
    return int(head) if head.isdigit() else 0


def parse_catalog(raw):
    """Finished archives of a raw catalog, newest first.

    Each entry: ``folder``, ``element``, ``filename``, ``size`` (bytes), ``finished_at`` and
    ``expires_at`` (Unix seconds; ``expires_at`` is None when the catalog gives no ``ttl``).
    """
    if not isinstance(raw, dict):
        return []
    entries = []
    for key, value in raw.items():
        if not isinstance(value, dict) or not value.get('filename'):
            continue
        parts = str(key).split('_')
        if len(parts) < 3 or parts[2] not in ELEMENTS:
            continue
        size = _size(value.get('size'))
        finished_at = _number(value.get('finish_time'))
        if finished_at is None:
            finished_at = _number(value.get('timestamp'))
        if size == 0 or finished_at is None:
            continue
        ttl = _number(value.get('ttl'))
        entries.append({
            'folder': value.get('folder') or '%s_%s' % (parts[0], parts[1]),
            'element': parts[2],
            'filename': value['filename'],
            'size': size,
            'finished_at': finished_at,
            'expires_at': finished_at + ttl if ttl else None,
            '_order': (_scheduled(str(key)), finished_at, str(key)),
        })
    entries.sort(key=lambda entry: entry['_order'], reverse=True)
    for entry in entries:
        del entry['_order']
    return entries


def latest_per_element(entries):
    """The newest entry of each element in ``entries`` (already newest first)."""
    latest = {}
    for entry in entries:
        latest.setdefault(entry['element'], entry)
    return latest


def folder_elements(entries, folder, elements=ELEMENTS):
    """The entries of one backup folder, keyed by element, limited to ``elements``."""
    found = {}
    for entry in entries:
        if entry['folder'] == folder and entry['element'] in elements:
            found.setdefault(entry['element'], entry)
    return found


def find_reusable(entries, elements, max_age, now):
    """The newest folder holding a finished archive of every one of ``elements`` whose
    oldest archive finished at most ``max_age`` seconds before ``now`` and has not expired.

    Returns ``(folder, {element: entry})`` or ``(None, None)``.
    """
    for folder in folders(entries):
        found = folder_elements(entries, folder, elements)
        if len(found) != len(elements):
            continue
        oldest = min(entry['finished_at'] for entry in found.values())
        if now - oldest > max_age:
            continue
        if any(entry['expires_at'] is not None and entry['expires_at'] <= now for entry in found.values()):
            continue
        return folder, found
    return None, None


def folders(entries):
    """Folder names in the order of ``entries`` (newest first), each once."""
    seen = []
    for entry in entries:
        if entry['folder'] not in seen:
            seen.append(entry['folder'])
    return seen


def describe_backup(folder, found):
    """The ``backup`` return value of the backup module."""
    return {
        'folder': folder,
        'elements': dict(
            (element, {
                'filename': entry['filename'],
                'size': entry['size'],
                'finished_at': entry['finished_at'],
                'expires_at': entry['expires_at'],
            }) for element, entry in found.items()),
    }
