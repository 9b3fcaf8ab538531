#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: site_import
short_description: Import a site archive, a database or files into a Pantheon environment by URL
version_added: 1.0.0
description:
  - Has the platform download an archive from a URL and import it, as C(terminus import:site), C(import:database)
    and C(import:files) do, and waits for the import to finish.
  - O(kind=site) imports a Drush 8 C(archive-dump) archive (code, database and files) into the dev environment
    (workflow C(do_migration)); O(kind=database) and O(kind=files) replace the database or the files of any
    environment (workflow C(do_import)).
  - Before starting, the module asks the URL for its size with a ranged C(GET) (never C(HEAD), which signed URLs
    often refuse) and refuses, changing nothing, an archive above O(max_size_mb), a URL that does not answer, and a
    URL that is not HTTPS unless O(allow_insecure_url=true).
  - Idempotent. When the environment's workflow history shows that the latest import-like workflow for this
    O(kind) is a succeeded import of the same object (the URL without its query string), nothing is imported and
    the result is C(changed=false). When that workflow is still running, the module waits for it instead of
    starting a second one.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  wait_timeout:
    default: 3600
  kind:
    description:
      - What the archive holds and what it replaces.
      - V(site) - a Drush 8 site archive; replaces code, database and files of dev (O(env) must be V(dev), as the
        platform only imports site archives there).
      - V(database) - an SQL dump (C(.sql), C(.sql.gz), or a tarball with exactly one C(.sql)); replaces the database.
      - V(files) - a tarball of the files directory; replaces the files.
    type: str
    required: true
    choices: [site, database, files]
  url:
    description:
      - Publicly reachable URL of the archive, for example the RV(pantheon.platform.archive#module:url) of a site
        archive.
      - The platform downloads it, so it must be reachable from the platform, not only from the controller.
      - Its first bytes are read before anything is posted. An HTML page, a database dump that is not SQL (gzipped or
        not), or files or a site that are not an archive (tar, tar.gz, zip) are refused.
      - Treated as a secret (signed URLs carry credentials, archive names must not leak); it is never printed or
        returned. Messages name only its scheme and host.
      - Exactly one of O(url) and O(backup) is required.
    type: str
  backup:
    description:
      - Only with O(kind=database) or O(kind=files), in place of O(url). The O(kind) archive of this backup is
        imported (for example the source's backup made by M(pantheon.platform.backup)).
      - The module asks the platform for a signed link to it right before the import, so the link never leaves the
        module and has not expired; the checks of O(url) apply to it.
    version_added: 1.1.0
  max_size_mb:
    description:
      - Largest archive accepted, in MB of 1024 x 1024 bytes. Pantheon documents 500MB as the limit of URL imports.
      - V(0) turns the size check off; the URL must still answer.
      - When the server does not tell the size, the import is refused unless this is V(0).
    type: int
    default: 500
  allow_insecure_url:
    description:
      - Accept an C(http://) URL. The archive, which holds the site's data, then travels unencrypted.
    type: bool
    default: false
  force:
    description:
      - Import even when the workflow history shows that the same object was already imported, for example
        because the environment's content has changed since by other means (the history cannot see that).
      - An identical import that is still running is waited for, not started a second time, even with V(true).
    type: bool
    default: false
    version_added: 1.0.0
extends_documentation_fragment:
  - pantheon.platform.backup_ref
  - pantheon.platform.overwrite
  - pantheon.platform.ssh
  - pantheon.platform.site_env
  - pantheon.platform.auth
  - pantheon.platform.wait
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - Checks the URL (scheme, reachability, size, first bytes) and the workflow history, and reports whether an import would
        start; starts none.
  diff_mode:
    support: none
  idempotent:
    description: Whether a second run with the same arguments reports no change.
    support: full
    details:
      - Judged from the environment's workflow history, so a change made outside workflows (for example a database
        loaded over SSH) is not seen.
notes:
  - A frozen site (the API's C(frozen) field) is refused before anything is posted, with a message naming it, as
    Terminus refuses its commands on frozen sites (C(requireSiteIsNotFrozen)); its test and live environments are
    unavailable while it is frozen.
  - The import replaces the environment's content; back it up first with M(pantheon.platform.backup) if it matters.
requirements:
  - rsync on the host that runs the module (lists the target's files to tell whether it holds content, unless O(overwrite=true))
seealso:
  - module: pantheon.platform.backup_info
  - module: pantheon.platform.archive
'''

EXAMPLES = r'''
- name: Back up the source's database
  pantheon.platform.backup:
    site: old-site
    env: live
    elements: [database]
  register: source_backup

- name: Import that backup into the new site's dev environment (the module fetches a fresh signed link itself)
  pantheon.platform.site_import:
    site: new-site
    env: dev
    kind: database
    backup:
      site: old-site
      env: live
      folder: "{{ source_backup.backup.folder }}"
  register: db_import

- name: Import a Drush 8 site archive made by pantheon.platform.archive
  pantheon.platform.site_import:
    site: new-site
    kind: site
    url: "{{ site_archive.url }}"
    max_size_mb: 256
    wait_timeout: 3600
'''

RETURN = r'''
workflow:
  description:
    - The import workflow. When nothing was imported, the earlier workflow that imported the same object.
    - In check mode when an import would start, only C(type) is set.
  returned: success
  type: dict
  contains:
    id:
      description: Workflow id.
      type: str
      returned: success
    type:
      description: C(do_migration) or C(do_import).
      type: str
      returned: success
    result:
      description: Final result (C(succeeded)).
      type: str
      returned: success
    duration:
      description: Seconds from the workflow's creation to its end.
      type: float
      returned: success
    adopted:
      description: C(true) when the same import, started by an earlier run, was still running and this task waited
        for it.
      type: bool
      returned: when true
  sample: {id: 5b2e6f0c-1f1a-11ef-9b5a-0242ac120002, type: do_import, result: succeeded, duration: 42.7}
imported_size:
  description: Size in bytes of the archive as its URL reported it; null when it could not be asked again for an
    import that had already been done.
  returned: success
  type: int
  sample: 1048576
kind:
  description: The O(kind) imported.
  returned: success
  type: str
reason:
  description:
    - Why the module failed, machine-readable. Pre-checks that changed nothing - V(too_large) (above
      O(max_size_mb)), V(unknown_size), V(insecure_url), V(invalid_url), V(unreachable), V(expired_url) (an expired
      signed URL), V(no_backup) (O(backup) names no finished archive of O(kind)), V(invalid_content) (the first
      bytes are an HTML page, or not a SQL dump or an archive as O(kind) needs), V(invalid_option). The
      import itself - V(workflow_failed) (the message is the platform's reason).
  returned: failure
  type: str
  sample: too_large
'''

from urllib.parse import urlsplit

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._overwrite import overwrite_argspec, refuse_content
from ansible_collections.pantheon.platform.plugins.module_utils._target import resolve, target_argspec
from ansible_collections.pantheon.platform.plugins.module_utils._errors import shown_url
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import describe, planned
from ansible_collections.pantheon.platform.plugins.module_utils._transfer import (
    BACKUP_REF_OPTIONS,
    HEAD_BYTES,
    TransferError,
    backup_download,
    check_content,
    probe,
    probe_size,
)

MB = 1024 * 1024


class ImportRefused(PantheonError):
    """A pre-check failed; nothing was started. ``reason`` is machine-readable."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


def object_of(url):
    """The object a URL names: (scheme, host[:port], path) without query or fragment."""
    parts = urlsplit(url)
    return (parts.scheme.lower(), (parts.netloc.rsplit('@', 1)[-1]).lower(), parts.path or '/')


def shown(url):
    """How messages name the URL: scheme and host only (the path may be a secret archive name)."""
    return shown_url(url, hide_path=True)


def check_url(params):
    url = (params['url'] or '').strip()
    try:
        parts = urlsplit(url)
        parts.port  # pylint: disable=pointless-statement
    except ValueError:
        raise ImportRefused('url is not a valid URL', 'invalid_url')
    scheme = parts.scheme.lower()
    if scheme not in ('https', 'http') or not parts.hostname:
        raise ImportRefused('url must be an https:// URL the platform can download (got a %s URL)'
                            % (('%s:' % scheme) if scheme else 'relative'), 'invalid_url')
    if scheme == 'http' and not params['allow_insecure_url']:
        raise ImportRefused('url %s is not HTTPS: the archive holds the site\'s data and would travel unencrypted; '
                            'use an https:// URL or set allow_insecure_url: true' % shown(url), 'insecure_url')
    return url


def _is_same_import(workflow, kind, url):
    params = workflow.get('params') or {}
    if kind == 'site':
        if workflow.get('type') != 'do_migration':
            return False
    elif workflow.get('type') != 'do_import' or not params.get(kind):
        return False
    other = params.get('url')
    return isinstance(other, str) and object_of(other) == object_of(url)


def measure(params, url):
    """The archive's size from a ranged GET of its first bytes, which must be what ``kind`` needs
    (check_content: not an HTML page, a SQL dump, an archive); ImportRefused when the URL does
    not answer or its content is refused, before anything is posted."""
    try:
        size, head = probe(url, validate_certs=params['validate_certs'], ca_path=params['ca_path'], attempts=3,
                           head=HEAD_BYTES)
    except TransferError as e:
        if e.status == 403 and 'expired' in e.message.lower():
            raise ImportRefused('url %s is a signed URL that has expired (HTTP 403: the store says the token has '
                                'expired); ask for a new one (for example pantheon.platform.backup_info with urls: true)'
                                % shown(url), 'expired_url')
        if e.status:
            raise ImportRefused('url %s answered HTTP %s to a ranged GET; the platform could not download it'
                                % (shown(url), e.status), 'unreachable')
        raise ImportRefused('url %s could not be reached: %s' % (shown(url), e.message), 'unreachable')
    try:
        check_content(head, params['kind'], 'url %s' % shown(url))
    except TransferError as e:
        raise ImportRefused(e.message, 'invalid_content')
    return size


class Import(Step):
    """The import of the object O(url) names into the environment, as the workflow history shows it: the last
    workflow that replaced this kind of content there, when it imported the same object (None otherwise).

    ``plan``: 'done' (it succeeded, and no force), 'adopt' (it is still running: waited for) or 'start'.
    """

    def current(self):
        params = self.params
        kind = params['kind']
        if params['backup'] and kind == 'site':
            raise ImportRefused('backup names a backup of a database or of files: use kind=database or kind=files '
                                '(a site archive is imported by url)', 'invalid_option')
        if params['max_size_mb'] < 0:
            raise ImportRefused('max_size_mb must be 0 (no limit) or a positive number of MB, got %s'
                                % params['max_size_mb'], 'invalid_option')
        if kind == 'site' and params['env'] != 'dev':
            raise ImportRefused('kind=site imports into the dev environment only (the platform\'s do_migration), '
                                'got env=%s' % params['env'], 'invalid_option')
        self.target = resolve(self.client, params['site'], params['env'], write='an import')
        self.url = check_url(dict(params, url=self.backup_url()) if params['backup'] else params)
        previous = self.module.workflows.last_replacing(self.target.site_id, self.target.env, kind)
        return previous if previous is not None and _is_same_import(previous, kind, self.url) else None

    def backup_url(self):
        """A fresh signed link to the O(kind) archive of the O(backup), registered as a secret before it is used."""
        ref = self.params['backup']
        try:
            url_factory = backup_download(self.client, ref['site'], ref['env'], self.params['kind'], ref['folder'])[0]
        except TransferError as e:
            raise ImportRefused(e.message, 'no_backup')
        url = url_factory()
        self.module.add_secret(url)
        return url

    def desired(self, current):
        """The workflow that leaves the object imported: ``current`` when it succeeded (and not O(force)) or is
        still running (it is waited for), else the one this run would start, once the archive passed the checks."""
        params, url = self.params, self.url
        if current is not None and current.get('result') == 'succeeded' and not params['force']:
            try:
                self.size = probe_size(url, validate_certs=params['validate_certs'], ca_path=params['ca_path'],
                                       attempts=1)
            except TransferError:
                self.size = None
            self.plan = 'done'
            return current
        if current is not None and current.get('result') is None:
            # The same import is already running (for example after a timed-out run): wait for it.
            self.size = measure(params, url)
            self.plan = 'adopt'
            return dict(current, result='succeeded')
        self.size = size = measure(params, url)
        limit = params['max_size_mb'] * MB
        if limit:
            if size is None:
                raise ImportRefused('url %s does not tell its size, so it cannot be checked against max_size_mb=%s; '
                                    'set max_size_mb: 0 to import it anyway' % (shown(url), params['max_size_mb']),
                                    'unknown_size')
            if size > limit:
                raise ImportRefused('The archive at %s is %d bytes (%.1f MB), above max_size_mb=%s; URL imports of '
                                    'larger archives fail on Pantheon, so move this content another way (for example '
                                    'pantheon.platform.files_sync or pantheon.platform.database_stream)'
                                    % (shown(url), size, size / float(MB), params['max_size_mb']), 'too_large')
        refuse_content(self.module, self.target, 'a %s import' % params['kind'])
        self.plan = 'start'
        if params['kind'] == 'site':
            return dict(planned('do_migration'), params={'url': url})
        return dict(planned('do_import'), params={params['kind']: 1, 'url': url})

    def changed(self, current, desired):
        return self.plan != 'done'

    def result(self, current, desired):
        return dict(kind=self.params['kind'], imported_size=self.size,
                    workflow=describe(desired if self.plan == 'start' else current))

    def apply(self, current, desired):
        owner = ('env', self.target.site_id, self.target.env)
        if self.plan == 'adopt':
            return dict(workflow=describe(self.module.workflows.adopt(owner, current), adopted=True))
        return dict(workflow=describe(self.module.workflows.run(owner, desired['type'], desired['params'])))


def main():
    module = PantheonModule(
        argument_spec=dict(
            target_argspec(),
            kind=dict(type='str', required=True, choices=['site', 'database', 'files']),
            url=dict(type='str', no_log=True),
            backup=dict(type='dict', options=BACKUP_REF_OPTIONS),
            max_size_mb=dict(type='int', default=500),
            allow_insecure_url=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            **overwrite_argspec()
        ),
        ssh=True,
        wait_timeout_default=3600,
        supports_check_mode=True,
        mutually_exclusive=[('url', 'backup')],
        required_one_of=[('url', 'backup')],
    )
    # The URL (its path may be a secret archive name, its query a signature) never leaves the module; a link to the
    # O(backup) is registered when it is fetched.
    module.add_secret(module.params['url'])
    module.run_step(Import)


if __name__ == '__main__':
    main()
