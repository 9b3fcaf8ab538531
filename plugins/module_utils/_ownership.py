# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""Ownership of a clone target, recorded on the platform (docs/overwrite.md).

A clone job that created (or was allowed to fill) a target leaves a marker in the target's own git
repository: the tag ``refs/tags/pantheon-platform-clone-<hash>`` on a one-commit, empty-tree history
of its own, where the hash binds the job's name and the target site's id. It survives losing the
controller, is not part of any environment's code (no branch points at it), and the database,
files and branch pushes leave it alone. A job that copies between two environments of one site tags it
``refs/tags/pantheon-platform-clone-env-<hash>``: that site is not the target of a clone of another site, so
:func:`clone_marks` leaves those tags out.
"""

from __future__ import annotations

import hashlib

from ansible_collections.pantheon.platform.plugins.module_utils._git import Codeserver, GitWorkspace

MARKER_PREFIX = 'refs/tags/pantheon-platform-clone-'
WITHIN_SITE_PREFIX = MARKER_PREFIX + 'env-'


def marker_ref(job, site_id, within_site=False):
    """The ownership tag of clone job ``job`` in site ``site_id``'s repository (``within_site``: a job that copies
    between two environments of that site)."""
    digest = hashlib.sha256(('%s\n%s' % (site_id, job)).encode('utf-8')).hexdigest()[:24]
    return (WITHIN_SITE_PREFIX if within_site else MARKER_PREFIX) + digest


def is_owned(params, site_env, job, timeout=300, within_site=False):
    """Whether the target site's repository carries clone job ``job``'s ownership tag."""
    with GitWorkspace(timeout=timeout) as workspace:
        remote = Codeserver(params, site_env.site_id, site_env.site_name)
        return workspace.ls_remote(remote, marker_ref(job, site_env.site_id, within_site)) is not None


def clone_marks(params, site_id, site_name=None, timeout=300):
    """The ownership tags of any clone job of another site in a site's repository, sorted: a site holding one is
    the target of a clone (clone_org.yml leaves such sites out unless asked). The tags of jobs between two of its
    own environments are left out."""
    with GitWorkspace(timeout=timeout) as workspace:
        remote = Codeserver(params, site_id, site_name)
        return sorted(ref for ref in workspace.ls_remote_refs(remote, MARKER_PREFIX + '*')
                      if not ref.endswith('^{}') and not ref.startswith(WITHIN_SITE_PREFIX))


def mark_owned(params, site_env, job, timeout=300, within_site=False):
    """Write the ownership tag (a one-commit history with an empty tree); returns the tag name."""
    ref = marker_ref(job, site_env.site_id, within_site)
    with GitWorkspace(timeout=timeout) as workspace:
        remote = Codeserver(params, site_env.site_id, site_env.site_name)
        commit = workspace.empty_commit('pantheon.platform: target of clone job %s (site %s); do not delete while the '
                                        'job may run again' % (job, site_env.site_id))
        workspace.git(['push', '-q', '--no-verify', remote.url, '%s:%s' % (commit, ref)], remote=remote)
    return ref
