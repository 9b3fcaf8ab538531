# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""A job's journal: a JSON object in a file (mode 0600, parents 0700) updated atomically.

The site_clone role keeps what a killed run must finish there (its state file); the archive module
notes the archive it is about to make, and forgets it once it is proven gone.
"""

from __future__ import annotations

import json
import os
import tempfile


def read(path):
    """The journal's object; {} when the file is missing or holds no object."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _make_dirs(directory):
    """Create the missing directories of ``directory``, each with mode 0700."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)


def write(path, data):
    """Replace the file with ``data`` as JSON (written to a temporary file, then renamed)."""
    write_text(path, json.dumps(data, indent=4, sort_keys=True) + '\n')


def write_text(path, text):
    """Replace the file with ``text`` (written to a temporary file, mode 0600, then renamed)."""
    directory = os.path.dirname(os.path.abspath(path))
    _make_dirs(directory)
    fd, tmp = tempfile.mkstemp(prefix='.journal-', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def update(path, **changes):
    """Merge ``changes`` into the journal (a None value is kept as null). Returns the new object."""
    data = read(path)
    data.update(changes)
    write(path, data)
    return data
