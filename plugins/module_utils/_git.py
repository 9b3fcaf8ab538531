# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""Git against Pantheon codeservers, from a throw-away bare repository on the controller."""

from __future__ import annotations

import re
import shutil
import tempfile

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import codeserver_target, git_branch
from ansible_collections.pantheon.platform.plugins.module_utils._stream import ProcessError, Stream, run

# the id of the empty tree (git's well-known constant)
EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
_SHA_RE = re.compile(r'^[0-9a-f]{40}([0-9a-f]{24})?$')
_DEPLOY_TAG_RE = re.compile(r'^refs/tags/pantheon_(test|live)_([0-9]+)$')
# Keep git from reading the user's or the system's configuration (hooks, credential helpers,
# url rewrites) and from asking questions.
_GIT_ENV = {'GIT_CONFIG_NOSYSTEM': '1', 'GIT_TERMINAL_PROMPT': '0', 'GIT_ASKPASS': 'true',
            'GIT_AUTHOR_NAME': 'pantheon.platform', 'GIT_AUTHOR_EMAIL': 'ansible@localhost',
            'GIT_COMMITTER_NAME': 'pantheon.platform', 'GIT_COMMITTER_EMAIL': 'ansible@localhost'}


class GitError(PantheonError):
    """A git command failed; the message holds git's own explanation (reason ``git_failed``)."""

    def __init__(self, message, reason='git_failed', **extra):
        super().__init__(message, reason=reason, **extra)


class Codeserver(object):
    """One site's repository on the codeserver: its URL and how to reach it."""

    def __init__(self, params, site_id, site_name=None):
        self.site_id = site_id
        self.site_name = site_name or site_id
        self.target, self.url = codeserver_target(params, site_id)

    def env(self):
        return self.target.git_env()


class GitWorkspace(object):
    """A temporary bare repository; ``cleanup()`` (or the context manager) removes it."""

    def __init__(self, parent_dir=None, timeout=3600):
        self.path = tempfile.mkdtemp(prefix='pantheon-git-', dir=parent_dir)
        self.timeout = timeout
        try:
            self.git(['init', '--bare', '-q', self.path], in_repo=False)
        except GitError:
            self.cleanup()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def git(self, args, remote=None, in_repo=True):
        """Run git; returns stdout as text, raises GitError with git's stderr."""
        env = dict(_GIT_ENV)
        if remote is not None:
            env.update(remote.env())
        argv = ['git']
        if in_repo:
            argv += ['--git-dir', self.path]
        argv += list(args)
        try:
            rc, out, err = run(argv, env=env, timeout=self.timeout)
        except ProcessError as exc:
            raise GitError('git %s: %s' % (args[0], exc))
        if rc != 0:
            where = ' (%s)' % remote.target.destination if remote is not None else ''
            raise GitError('git %s failed%s with exit code %d: %s' % (args[0], where, rc, err.strip()[-2000:]))
        return out.decode('utf-8', 'replace')

    def empty_commit(self, message):
        """A root commit with the empty tree (git knows that tree in every repository) and ``message``;
        returns its id. What the collection records on the platform (ownership tags, lock branches) is such a
        commit: it carries no files, so content moves and comparisons never see it."""
        return self.git(['commit-tree', EMPTY_TREE, '-m', message]).strip()

    def ls_remote(self, remote, ref):
        """The object id ``ref`` points at on ``remote``, or None when it does not exist."""
        return self.ls_remote_refs(remote, ref).get(ref)

    def ls_remote_refs(self, remote, *patterns):
        """{ref name: object id} of the refs matching ``patterns`` on ``remote`` (annotated tags also
        appear peeled, as ``<tag>^{}``)."""
        out = self.git(['ls-remote', remote.url] + list(patterns), remote=remote)
        found = {}
        for line in out.splitlines():
            sha, dummy, name = line.partition('\t')
            if _SHA_RE.match(sha):
                found[name] = sha
        return found

    def deployed_code(self, remote, site_env):
        """(ref, commit) of the code ``site_env`` runs.

        Dev and multidevs run their branch. Test and live run their newest deploy tag
        (``pantheon_test_N`` / ``pantheon_live_N``), which is often behind master: the environment
        object's ``target_ref`` names it (``refs/tags/pantheon_test_2`` in Terminus's env-deploy
        cassette); without it the highest-numbered tag is taken. The commit is the tag peeled.
        ``(ref, None)`` when the branch does not exist; a test/live without any deploy tag raises."""
        env = site_env.env
        if env not in ('test', 'live'):
            ref = branch_ref(env)
            return ref, self.ls_remote(remote, ref)
        tags = self.ls_remote_refs(remote, 'refs/tags/pantheon_%s_*' % env)
        ref = site_env.info.get('target_ref')
        if not (isinstance(ref, str) and ref.startswith('refs/tags/') and ref in tags):
            numbered = []
            for name in tags:
                match = _DEPLOY_TAG_RE.match(name)
                if match and match.group(1) == env:
                    numbered.append((int(match.group(2)), name))
            if not numbered:
                raise PantheonError('%s has no deployed code on the codeserver (no pantheon_%s_N tag): deploy to %s '
                                    'first, or clone from dev' % (site_env.label, env, env))
            ref = max(numbered)[1]
        return ref, tags.get(ref + '^{}') or tags[ref]

    def fetch(self, remote, ref, local_ref, depth=None):
        """Fetch ``ref`` of ``remote`` into ``local_ref``; returns the commit id."""
        args = ['fetch', '-q', '--no-tags', '--no-write-fetch-head']
        if depth:
            args += ['--depth', str(depth)]
        args += [remote.url, '+%s:%s' % (ref, local_ref)]
        self.git(args, remote=remote)
        return self.rev_parse(local_ref)

    def rev_parse(self, rev):
        return self.git(['rev-parse', '--verify', '-q', rev]).strip()

    def is_ancestor(self, ancestor, descendant):
        """Whether commit ``ancestor`` is in the history of ``descendant``."""
        rc, dummy, err = run(['git', '--git-dir', self.path, 'merge-base', '--is-ancestor', ancestor, descendant],
                             env=_GIT_ENV, timeout=self.timeout)
        if rc not in (0, 1):
            raise GitError('git merge-base failed with exit code %d: %s' % (rc, err.strip()[-2000:]))
        return rc == 0

    def tree_of(self, rev):
        return self.rev_parse('%s^{tree}' % rev)

    def push(self, remote, sha, branch, force=True):
        refspec = '%s%s:refs/heads/%s' % ('+' if force else '', sha, branch)
        return self.git(['push', '-q', '--no-verify', remote.url, refspec], remote=remote)

    def diff_trees(self, old, new, limit=20):
        """Paths that differ between two trees: ``missing`` (only in old), ``extra`` (only in
        new), ``changed`` (in both); each list holds at most ``limit`` paths. Also the total count."""
        result = {'missing': [], 'extra': [], 'changed': [], 'count': 0}
        with Stream(['git', '--git-dir', self.path, 'diff-tree', '-r', '--no-renames', '--name-status', '-z', old, new],
                    env=_GIT_ENV, timeout=self.timeout) as child:
            data = b''.join(child.chunks())
            rc = child.finish()
            if rc != 0:
                raise GitError('git diff-tree failed with exit code %d: %s' % (rc, child.stderr.strip()[-2000:]))
        fields = data.decode('utf-8', 'surrogateescape').split('\0')
        kinds = {'D': 'missing', 'A': 'extra'}
        for index in range(0, len(fields) - 1, 2):
            status, path = fields[index], fields[index + 1]
            if not status:
                continue
            result['count'] += 1
            bucket = result[kinds.get(status[0], 'changed')]
            if len(bucket) < limit:
                bucket.append(path)
        return result


def branch_ref(env):
    """``refs/heads/<branch>`` of an environment."""
    return 'refs/heads/%s' % git_branch(env)
