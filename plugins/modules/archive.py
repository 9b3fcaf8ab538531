#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: archive
short_description: Make or remove a Drush site archive on a Pantheon Drupal environment
version_added: 1.0.0
description:
  - The archive step of Pantheon's documented clone procedure for Drupal. O(state=present) runs Drush over SSH on the
    environment's appserver to write a site archive (code, database and, unless O(exclude_files=true), files) to
    C(sites/default/files/<40 hex characters>.tgz) (C(.tar.gz) with Drush 11+, which insists on that suffix), where
    it is public on the web, so that
    M(pantheon.platform.site_import) can have the platform download it.
  - The name comes from the operating system's random generator (40 hex characters, 160 bits), never from anything
    guessable. The archive holds the site's database, so the name is a secret while the archive exists. See
    O(path) for how it is kept out of output.
  - Drush 8 runs C(drush archive-dump --destination=code/sites/default/files/...) (with
    C(--tar-options=--exclude=code/sites/default/files) when files are excluded), which makes the archive
    C(site_import kind=site) imports. Drush 8 resolves a relative destination from the directory it started in, the
    SSH home, whose C(code/) is the Drupal root; a destination without C(code/) would land outside the files
    directory, where the web does not serve it. Drush 11 and later run
    C(drush archive:dump --destination=... --code --db [--files]), whose layout (C(MANIFEST.yml), C(code/),
    C(database/), C(files/)) the platform's URL import does not take; it is for downloading and inspecting.
  - The Drush major version comes from the environment's settings (C(drush_version)) for Drupal 7 sites, and from
    C(drush version) on the appserver for Drupal 8 and later, which run the site's own Drush.
  - When the archive cannot be made because it is too large (Pantheon closes the connection when a file in
    C(sites/default/files) reaches 256MB), the module removes whatever partial file the run left and fails with
    RV(reason=too_large), so a role can fall back to moving elements one by one. A cut connection counts as too
    large only when the partial archive it left reached 90% of that limit (or the platform said C(File too large));
    any other cut fails with RV(reason=drush_failed). A stand-in platform with another limit names it in bytes in
    E(PANTHEON_FILE_SIZE_LIMIT).
  - With Drush 8 the module then checks that the archive holds the site directory. Drush 8 on Pantheon can fail
    to determine it (it warns C(Unable to determine sites directory for self), Terminus issue 2580) and then writes
    an archive without C(sites/default), so without C(settings.php) and the files, whose C(MANIFEST.ini) names no
    C(sitedir). Drush's warning settles it; otherwise the module reads the archive once from its public URL (a
    streamed download, nothing kept) up to C(MANIFEST.ini), which Drush 8 writes after the site directory. An
    archive without the site directory (a C(sitedir) and its C(settings.php)) is removed, proven gone, and the
    module fails with RV(reason=no_sitedir) so that nothing imports it.
  - O(state=absent) removes the archive and proves it is gone (its public URL must answer 404). It also removes
    stray archives that earlier versions of this module made Drush 8 write to C(sites/default/files/) of the SSH
    home, which the web does not serve. It removes the archive named by O(path) there and any other
    C(<40 lowercase hex characters>.tgz), a name of this module's form in a directory that only such a mistake
    creates.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  wait_timeout:
    default: 3600
  site:
    description:
      - Site machine name or UUID. Drupal sites only (frameworks C(drupal) and C(drupal8)).
    type: str
    required: true
  env:
    description:
      - Environment whose site is archived (dev, test, live or a multidev).
    type: str
    default: dev
  state:
    description:
      - V(present) makes an archive; V(absent) removes the one at O(path).
    type: str
    choices: [present, absent]
    default: present
  exclude_files:
    description:
      - Leave the files directory out of the archive (code and database only), the documented way to stay under
        the 256MB limit; move files separately, for example with a files backup and M(pantheon.platform.site_import).
    type: bool
    default: false
  fallback_without_files:
    description:
      - With O(state=present) and O(exclude_files=false), when the whole archive is too large for the platform
        (RV(reason=too_large)), make an archive without the files directory instead, the documented fallback, in the
        same task. RV(route) tells which archive was made and RV(failed_routes) which were too large.
      - When the archive without files is too large as well, the module fails with RV(reason=too_large) and
        RV(failed_routes) naming both.
    type: bool
    default: false
  journal:
    description:
      - A JSON file on the host that runs the module (the C(pantheon.platform.site_clone) role passes its state file)
        in which the module notes the archive before it makes it, as C(archive) (C(site), C(env), C(path), and C(pid),
        the module's process id, so that the callback C(pantheon.platform.progress) can wait for the removal of an
        interrupted run before it says what is left), and sets
        C(archive) to null once a removal is proven by a 404 (O(state=absent)). Other keys of the file are kept; the
        file is written atomically with mode C(0600), its directory created with mode C(0700).
      - So a run killed while the archive exists leaves its name where the next run finds it (and removes it).
        The file holds a secret while the archive exists; it is never printed. Nothing is written in check mode.
    type: path
  exclude_code_paths:
    description:
      - Drush 11 and later only (C(--exclude-code-paths)). Paths of the code, relative to the Drupal root, that
        C(archive:dump) leaves out; Drush reads each as an anchored regular expression.
      - Drush 11+ refuses to archive a C(settings.php) that holds database connection settings; add
        V(sites/default/settings.php) here to archive the rest of the code.
      - Refused with Drush 8, whose C(archive-dump) takes tar exclusions instead.
    type: list
    elements: str
    default: []
  import_site:
    description:
      - With O(state=present), import the archive into the dev environment of this site (name or UUID) with the
        platform's URL import (workflow C(do_migration), as M(pantheon.platform.site_import) does with O(pantheon.platform.site_import#module:kind=site)), then
        remove it and prove it gone (its public URL answers 404), all in this one task. No other task, of this host or
        of another one in the play, can run between the writing of the archive and its removal, so the archive is
        public only while it is written, imported and removed.
      - The archive is removed whatever happens once it exists, also when the import fails, and when the module
        receives C(SIGINT), C(SIGTERM) or C(SIGHUP) (Ctrl-C or a stopped job; ansible-playbook passes the signal on to
        the module). A removal that cannot be proven, or an interruption while Drush is still writing on the platform,
        leaves the archive named in O(journal), whose next run removes it.
      - Drush 8 (C(drush8) format) only, as the platform imports Drush 8 archives.
      - The import replaces the code, database and files of that dev environment, so a dev that holds content is
        refused (before the archive is made) unless O(overwrite=true).
      - The result then holds neither RV(path) nor RV(url) (the archive is gone) and is not hidden.
    type: str
  import_max_size_mb:
    description:
      - With O(import_site), the largest archive imported, in MB (Pantheon documents 500MB for URL imports). A larger
        archive is removed without being imported and the module fails with RV(reason=too_large).
    type: int
    default: 500
  path:
    description:
      - The archive, as C(sites/default/files/<40 lowercase hex characters>.tgz) or C(.tar.gz) (required with
        Drush 11+, which writes other destinations into a directory). Any other value is refused, so the
        module never removes anything else.
      - Required with O(state=absent); pass the RV(path) that O(state=present) returned.
      - With O(state=present), an archive that already exists at O(path) is returned unchanged; otherwise the new
        archive is written there. Without it the module picks a random name.
      - This value is hidden from the task's printed result (the action plugin replaces it in C(invocation)).
    type: str
extends_documentation_fragment:
  - pantheon.platform.overwrite
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.wait
  - pantheon.platform.lock
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - O(state=present) finds the Drush version (and, with O(import_site), looks that site up) and reports
        C(changed=true) without making an archive (nor returning a name, nor checking its site directory);
        O(state=absent) checks the public URL and reports whether a removal would happen. Takes no O(lock).
  diff_mode:
    support: none
  idempotent:
    description: Whether a second run with the same arguments reports no change.
    support: partial
    details:
      - O(state=absent) and O(state=present) with O(path) are idempotent; O(state=present) without O(path) makes a
        new archive on every run, as asked.
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - The action plugin marks the result of O(state=present) C(no_log) and hides O(path) in the printed result.
notes:
  - A frozen site (the API's C(frozen) field) is refused before anything is posted, with a message naming it, as
    Terminus refuses its commands on frozen sites (C(requireSiteIsNotFrozen)); its test and live environments are
    unavailable while it is frozen.
  - B(Secrecy.) While the archive exists its name is a secret. The successful result of O(state=present) holds
    RV(path) and RV(url), so the module's action plugin marks that result C(no_log); it is not printed at any
    verbosity, but the registered variable holds everything. Failure messages and the result of O(state=absent)
    never hold the name. Do not print RV(path) or RV(url) yourself, do not pass them through C(loop) (Ansible prints
    each C(item) at C(-vvv)), and remove the archive (O(state=absent)) in an C(always) section as soon as the import
    is done.
  - With Drush 8 the archive leaves out earlier archives named the way this module names them, so a stale archive
    never ends up inside a new one. Drush 11+ offers no way to exclude files; remove stale archives first.
  - Pantheon has no C(rm) over SSH; the module removes files with C(rsync --delete) from an empty directory, limited
    to the archive's name (and, after a failed Drush 8 run, to the working C(.tar) file that run left).
  - Needs an SSH key registered with the account.
requirements:
  - rsync on the host that runs the module (lists and removes the archive over SSH)
  - git on the host that runs the module (only with O(lock), which is a branch in the site's repository)
seealso:
  - module: pantheon.platform.site_import
  - module: pantheon.platform.backup
'''

EXAMPLES = r'''
- name: Archive a Drupal 7 site, import it into a new site and remove the archive, in one step
  pantheon.platform.archive:
    site: old-d7-site
    env: live
    exclude_files: true
    import_site: new-d7-site
    journal: /var/tmp/clone-state/old-d7-site.json

- name: Archive the source site, import it, and always remove the archive
  block:
    - name: Make a Drush 8 archive without the files directory
      pantheon.platform.archive:
        site: old-d7-site
        env: live
        exclude_files: true
      register: site_archive

    - name: Import it into the new site
      pantheon.platform.site_import:
        site: new-d7-site
        kind: site
        url: "{{ site_archive.url }}"
  rescue:
    - name: Too large even without files? Fall back to element-wise transfer
      ansible.builtin.debug:
        msg: "Archive not possible ({{ site_archive.reason | default('failed') }}); moving elements instead"
  always:
    - name: Remove the archive
      pantheon.platform.archive:
        site: old-d7-site
        env: live
        state: absent
        path: "{{ site_archive.path }}"
      when: site_archive.path is defined
'''

RETURN = r'''
path:
  description: The archive, relative to the Drupal root. A secret while the archive exists.
  returned: O(state=present) without O(import_site), not in check mode
  type: str
  sample: sites/default/files/0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c.tgz
url:
  description: Public URL of the archive under the environment's platform domain. A secret while the archive exists.
  returned: O(state=present) without O(import_site), not in check mode
  type: str
  sample: https://live-old-d7-site.pantheonsite.io/sites/default/files/0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c.tgz
size:
  description: Size of the archive in bytes, as its public URL reports it.
  returned: O(state=present), not in check mode
  type: int
  sample: 73400320
drush_version:
  description: The Drush version that made (or would make) the archive, as reported by the settings or by Drush.
  returned: O(state=present)
  type: str
  sample: 8.4.12
route:
  description: Which archive was made. V(archive) (code, database and files) or V(archive_without_files).
  returned: O(state=present)
  type: str
  sample: archive_without_files
failed_routes:
  description: The archives that were too large for the platform before one was made (see O(fallback_without_files)),
    in the order they were tried; on a V(too_large) failure, every one that was tried; on a V(no_sitedir) failure,
    also V(archive_sitedir) (no archive route can work for this site).
  returned: O(state=present)
  type: list
  elements: str
  sample: [archive]
format:
  description: C(drush8) (Drush 8 C(archive-dump) layout, importable with C(site_import kind=site)) or C(drush11)
    (Drush 11+ C(archive:dump) layout).
  returned: O(state=present)
  type: str
  sample: drush8
sitedir:
  description: The site directory named by the Drush 8 archive's C(MANIFEST.ini), checked to be in the archive with
    its C(settings.php).
  returned: O(state=present) with Drush 8, not in check mode
  type: str
  sample: sites/default
imported:
  description: With O(import_site), the import of the archive (the removal that followed is RV(url_status)).
  returned: O(state=present) with O(import_site), not in check mode
  type: dict
  contains:
    site:
      description: UUID of the site whose dev environment imported the archive.
      type: str
    workflow:
      description: The C(do_migration) workflow (C(id), C(type), C(result), C(duration) in seconds).
      type: dict
  sample: {site: 6f8e1a2b-0000-4000-8000-000000000000, workflow: {id: 1234abcd, type: do_migration, result: succeeded,
           duration: 41.2}}
url_status:
  description: HTTP status the archive's public URL answered after the removal (always 404 on success).
  returned: O(state=absent); O(state=present) with O(import_site), not in check mode
  type: int
  sample: 404
strays_removed:
  description: Number of stray archives removed (or, in check mode, to remove) from C(sites/default/files/) of the
    SSH home, where earlier versions of this module made Drush 8 write them.
  returned: O(state=absent)
  type: int
  sample: 0
reason:
  description:
    - Why the module failed, machine-readable. V(too_large) - the archive hit the platform's file size limit (any
      partial file was removed); V(drush_failed) - Drush failed for another reason (any partial file was removed);
      V(unsupported) - not a Drupal site, or a Drush version without an archive command; V(invalid_path) - O(path)
      is not an archive path this module makes; V(not_removed) - the archive still answered after removal;
      V(no_sitedir) - Drush 8 left the site directory out of the archive, which was removed without being imported;
      V(damaged) - the Drush 8 archive is not a gzipped tar with a C(MANIFEST.ini) (it was removed);
      V(import_failed) - with O(import_site), the import failed (the archive was removed);
      V(interrupted) - the module received a signal (the archive was removed, unless the message says otherwise).
  returned: failure
  type: str
  sample: too_large
partial_removed:
  description: Number of partial files removed after a failed run.
  returned: when Drush failed
  type: int
lock:
  description:
    - The lock O(lock) named, as the step held it, in the shape of RV(pantheon.platform.backup#module:lock) (holder,
      branch, commit, C(waited), C(taken_over), C(released), C(held)).
    - Also in the failure result when the step failed after the lock was taken. The archive this run made is removed
      before the lock is given back.
  returned: with O(lock), not in check mode
  type: dict
  sample: {branch: pantheon-platform-lock-source-live, held: false, released: true, waited: 0.0,
           commit: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c, job: old-site-to-new-site, run_id: 4c1f0a9e2b7d4e55,
           host: awx-task-1, pid: 4242, created: '2026-01-01T10:00:00Z'}
'''

import os
import signal

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError, web_origin
from ansible_collections.pantheon.platform.plugins.module_utils._workflows import WorkflowFailed, describe
from ansible_collections.pantheon.platform.plugins.module_utils._archive import (
    ARCHIVE_PATH_RE,
    DRUSH_WORK_FILE_RE,
    STRAY_DIR,
    SITEDIR_WARNING,
    STRAY_NAME_RE,
    ARCHIVE_SHOWN,
    ArchiveError,
    drush_command,
    drush_format,
    file_name,
    inspect_drush8,
    list_files,
    looks_too_large,
    new_archive_path,
    public_state,
    remove_files,
)
from ansible_collections.pantheon.platform.plugins.module_utils import _journal
from ansible_collections.pantheon.platform.plugins.module_utils._drush import parse_drush_version
from ansible_collections.pantheon.platform.plugins.module_utils._lock import (
    LOCK_ARGSPEC,
    SIGNALS,
    Interrupted,
    check_options,
    raise_interrupted,
    run_locked,
    signals_held_off,
)
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._overwrite import overwrite_argspec, refuse_content
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target, run_remote
from ansible_collections.pantheon.platform.plugins.module_utils._target import resolve, target_argspec


def detect_drush(module, target, ssh):
    """(major, version text) of the Drush that runs on the environment."""
    settings = module.client.env_settings(target.site_id, target.env)
    configured = parse_drush_version(settings.get('drush_version'))
    if target.framework == 'drupal' and configured[0]:
        return configured
    rc, out, err = run_remote(ssh, ['drush', 'version'])
    reported = parse_drush_version(out) if rc == 0 else (None, None)
    if reported[0]:
        return reported
    if configured[0]:
        return configured
    raise ArchiveError('Could not find the Drush version of %s: the settings give none and "drush version" failed '
                       '(exit %s): %s' % (target.label, rc, (err or out).strip()[-500:]), 'drush_failed')


def make_archive(module, target, ssh, path, url, fmt, exclude_files):
    name = file_name(path)
    before = list_files(ssh)
    if module.params['journal']:
        _journal.update(module.params['journal'], archive=dict(site=target.site_id, env=target.env, path=path,
                                                               pid=os.getpid()))
    # From here on a signal removes what Drush wrote (remove_after_signal); while Drush runs on the
    # platform, what it writes after that removal stays named in the journal.
    LIVE.update(target=target, ssh=ssh, path=path, url=url, drush_done=False)
    rc, out, err = run_remote(ssh, drush_command(fmt, path, exclude_files, module.params['exclude_code_paths']))
    LIVE['drush_done'] = True
    if rc == 0:
        exists, size = public_state(url, module.params)
        if exists:
            return size, '%s\n%s' % (out or '', err or '')
        out = 'Drush reported success but the archive is not on the web'
    try:
        listed = list_files(ssh, sizes=True)
        after = set(listed)
    except PantheonError:
        listed, after = {}, before | set([name])
    leftovers = set(n for n in after - before if n == name or DRUSH_WORK_FILE_RE.match(n))
    if name in after:
        leftovers.add(name)
    # The evidence of size: the largest partial file this run left, as the platform lists it.
    measured = [listed[n] for n in leftovers if listed.get(n) is not None]
    too_large = looks_too_large(rc, out, err, partial_size=max(measured) if measured else None)
    remove_files(ssh, leftovers)
    gone = not public_state(url, module.params)[0]
    detail = module.redact(('%s\n%s' % (err or '', out or '')).strip())[-1500:]
    if too_large:
        message = ('The archive of %s is too large to be written to sites/default/files (Pantheon refuses files of '
                   '256MB or more; Drush exit %s). %s' % (target.label, rc,
                                                          'Try exclude_files: true, or move the elements separately.'
                                                          if not exclude_files else
                                                          'Move the elements separately.'))
    else:
        message = 'Drush could not make the archive of %s (exit %s).' % (target.label, rc)
        if 'exclude-code-paths' in detail:
            message += ' Drush names files to leave out; pass them in exclude_code_paths.'
    message += ' Partial files removed: %d%s. Drush said: %s' % (
        len(leftovers), '' if gone else ' (but the archive URL still answers)', detail or '(nothing)')
    raise ArchiveError(message, 'too_large' if too_large else 'drush_failed', partial_removed=len(leftovers))


def check_site_dir(module, target, ssh, path, url, size, drush_output=''):
    """Refuse a Drush 8 archive that leaves out the site directory, before anything imports it.

    Drush 8 on Pantheon can fail to determine the sites directory (it warns "Unable to determine
    sites directory for self", Terminus issue #2580): its archive then has no settings.php and no
    files, and its MANIFEST.ini no sitedir. Drush's warning settles it at once; otherwise the
    archive is read once from its public URL up to MANIFEST.ini. Such an archive is removed (and
    proven gone) and the module fails with reason no_sitedir."""
    if SITEDIR_WARNING in (drush_output or ''):
        why = 'Drush warned "Unable to determine sites directory for self"'
    else:
        try:
            found = inspect_drush8(url, module.params, expected_size=size)
        except ArchiveError as e:
            remove_archive(module, target, ssh, path, url)
            raise ArchiveError('The archive of %s was removed without being imported: %s' % (target.label, e.message),
                               e.reason)
        if found['sitedir'] and found['settings']:
            return found['sitedir']
        why = ('its MANIFEST.ini names no site directory (sitedir)' if not found['sitedir'] else
               'it holds no %s/%s/settings.php' % (found['docroot'], found['sitedir']))
    remove_archive(module, target, ssh, path, url)
    raise ArchiveError('Drush 8 made an archive of %s without the site directory (sites/default, with settings.php '
                       'and the files): %s. A site import of it would leave the site without settings.php and files '
                       '(Terminus issue #2580), so the archive was removed (its URL answers 404) without being '
                       'imported. Move the elements separately.' % (target.label, why), 'no_sitedir')


def remove_archive(module, target, ssh, path, url):
    remove_files(ssh, [file_name(path)])
    if public_state(url, module.params)[0]:
        raise ArchiveError('The archive of %s was removed over rsync but its public URL still answers' % target.label,
                           'not_removed')


class _State(object):
    """What one O(state) declares for the Archive step, on the target the step resolved."""

    def __init__(self, step):
        self.module, self.params = step.module, step.params
        self.target, self.ssh, self.domain = step.target, step.ssh, step.domain


class Present(_State):
    """O(state=present): the archive at O(path) (or a new one), made, and imported when O(import_site) names a site."""

    def current(self):
        """Whether the archive O(path) names is served (None without O(path)), after every refusal that needs no write."""
        module, params, target, ssh = self.module, self.params, self.target, self.ssh
        major, version = detect_drush(module, target, ssh)
        fmt = drush_format(major)
        into = None
        if params['import_site']:
            # Checked before the archive is made: the site that imports it, and the format the platform imports.
            if fmt != 'drush8':
                raise ArchiveError('import_site needs a Drush 8 archive (the platform\'s site import takes the Drush 8 '
                                   'archive-dump layout); %s runs Drush %s' % (target.label, version), 'unsupported')
            into = resolve(module.client, params['import_site'], 'dev', option='import_site', write='an import')
            if into.site_id == target.site_id:
                raise ArchiveError('import_site names the archived site itself (%s); a site archive is imported into '
                                   'another site' % target.label, 'unsupported')
            # do_migration replaces its dev whole: refused before anything is written on either site
            refuse_content(module, into, 'a site archive import')
        if fmt == 'drush8' and params['exclude_code_paths']:
            raise ArchiveError('exclude_code_paths applies to Drush 11+ archive:dump only; %s runs Drush %s'
                               % (target.label, version), 'unsupported')
        self.base = dict(drush_version=version, format=fmt, failed_routes=[],
                         route='archive_without_files' if params['exclude_files'] else 'archive')
        if params['path'] and fmt == 'drush11' and not params['path'].endswith('.tar.gz'):
            raise ArchiveError('path must end in .tar.gz on Drush 11+, which otherwise writes into a directory of '
                               'that name', 'invalid_path')
        self.fmt, self.into = fmt, into
        self.path = path = params['path'] or new_archive_path(fmt)
        self.url = url = '%s/%s' % (web_origin(self.domain), path)
        for secret in (url, path, file_name(path)):
            module.add_secret(secret, ARCHIVE_SHOWN)
        if not params['path']:
            return None
        exists, size = public_state(url, params)
        if not exists:
            return None
        LIVE.update(target=target, ssh=ssh, path=path, url=url, drush_done=True)
        found = dict(size=size)
        if fmt == 'drush8':
            found['sitedir'] = check_site_dir(module, target, ssh, path, url, size)
        return found

    def desired(self, current):
        """The archive served; or, with O(import_site), imported into that site and removed."""
        if self.into is not None:
            return dict(imported=self.into.site_id)
        return current if current is not None else dict(size=None)

    def result(self, current, desired):
        result = dict(self.base, **(current or {}))
        if current is not None and self.into is None:
            result.update(path=self.path, url=self.url)
        return result

    def apply(self, current, desired):
        module, params, target, ssh = self.module, self.params, self.target, self.ssh
        path, url, into = self.path, self.url, self.into
        if current is not None:
            # the archive an earlier run made: imported and removed
            check_import_size(module, target, ssh, path, url, current['size'])
            return import_and_remove(module, target, ssh, path, url, into)
        result = dict(failed_routes=[])
        exclude_files, route = params['exclude_files'], self.base['route']
        while True:
            try:
                size, drush_output = make_archive(module, target, ssh, path, url, self.fmt, exclude_files)
                if self.fmt == 'drush8':
                    result['sitedir'] = check_site_dir(module, target, ssh, path, url, size, drush_output)
                if into is not None:
                    check_import_size(module, target, ssh, path, url, size)
                break
            except ArchiveError as e:
                if e.reason == 'too_large':
                    result['failed_routes'].append(route)
                elif e.reason == 'no_sitedir':
                    # No archive route can work: an archive without files would lack settings.php just the same.
                    result['failed_routes'].append('archive_sitedir')
                    # Said as a warning too, so that a playbook that moves on to the elements still shows why.
                    module.warn(e.message)
                e.extra['failed_routes'] = result['failed_routes']
                if e.reason != 'too_large' or exclude_files or not params['fallback_without_files']:
                    raise
                # The documented fallback: the same archive without the files directory (partial files are gone).
                exclude_files, route = True, 'archive_without_files'
                module.warn('The whole archive of %s was too large for the platform; making one without files'
                            % target.label)
        result.update(size=size, route=route)
        if into is None:
            result.update(path=path, url=url)
        else:
            result.update(import_and_remove(module, target, ssh, path, url, into))
        return result


# The archive this run made, while it may exist (a signal handler removes it): target, ssh, path,
# url, and whether the Drush run that writes it has ended.
LIVE = {}
MB = 1024 * 1024


def check_import_size(module, target, ssh, path, url, size):
    """An archive above import_max_size_mb is removed before anything imports it (too_large, so that
    fallback_without_files tries the archive without files)."""
    limit = module.params['import_max_size_mb'] * MB
    if limit and (size is None or size > limit):
        remove_archive(module, target, ssh, path, url)
        raise ArchiveError('The archive of %s is %s, above import_max_size_mb=%s (URL imports of larger archives '
                           'fail on Pantheon); it was removed (its URL answers 404) without being imported'
                           % (target.label, '%d bytes' % size if size is not None else 'of unknown size',
                              module.params['import_max_size_mb']), 'too_large')


def import_and_remove(module, target, ssh, path, url, into):
    """Import the archive into ``into``'s dev (do_migration), then remove it and prove it gone,
    whatever the import did. Returns {'imported': ..., 'url_status': 404}."""
    failure = None
    workflow = None
    try:
        workflow = module.workflows.run(('env', into.site_id, 'dev'), 'do_migration', {'url': url})
    except WorkflowFailed as e:
        failure = ArchiveError('The import of the archive of %s into %s failed: %s' % (target.label, into.label, e.message),
                               'import_failed', workflow=describe(e.workflow))
    except PantheonError as e:
        failure = ArchiveError('The import of the archive of %s into %s could not be followed: %s'
                               % (target.label, into.label, e.message), 'import_failed')
    finally:
        # Also on the way out of an interruption (Interrupted passes through here first).
        with signals_held_off():
            remove_archive(module, target, ssh, path, url)
            forget(module, path)
    if failure is not None:
        failure.message += ' The archive was removed (its URL answers 404).'
        raise failure
    return dict(url_status=404, imported=dict(site=into.site_id, workflow=describe(workflow)))


def remove_after_signal(module):
    """After a signal: remove the archive this run made, if any, and say what is left. Returns the message."""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    if not LIVE.get('path'):
        return 'The archive was removed (its URL answers 404).' if LIVE.get('gone') else 'No archive had been made.'
    target = LIVE['target']
    try:
        remove_files(LIVE['ssh'], [file_name(LIVE['path'])])
        gone = not public_state(LIVE['url'], module.params)[0]
    except PantheonError:
        gone = False
    left = ('a rerun of this job removes it' if module.params['journal'] else
            'run pantheon.platform.archive state=absent with the same path to remove it')
    if gone and LIVE['drush_done']:
        forget(module, LIVE['path'])
        return 'The archive of %s was removed (its URL answers 404).' % target.label
    if gone:
        return ('Drush was still writing the archive of %s on the platform when the signal came: what it had written '
                'was removed, but it may still finish writing; an archive may still be on the source, and %s.'
                % (target.label, left))
    return 'An archive is still on the source %s: its removal failed; %s.' % (target.label, left)


def find_strays(module, ssh, name, target):
    """Archives Drush 8 wrote to the SSH home's sites/default/files/ (not served) when earlier
    versions of this module gave it a Drupal-root-relative destination: the archive named by
    ``path`` and any other name of this module's form there. A failed look is a warning: it
    must not stand in the way of removing the served archive."""
    try:
        names = list_files(ssh, STRAY_DIR, missing_ok=True)
    except PantheonError as e:
        module.warn('Could not look for stray archives in %s of the SSH home of %s: %s'
                    % (STRAY_DIR, target.label, e.message))
        return set()
    return set(n for n in names if n == name or STRAY_NAME_RE.match(n))


class Absent(_State):
    """O(state=absent): the archive O(path) names, and the strays of earlier versions, removed."""

    def current(self):
        self.url = '%s/%s' % (web_origin(self.domain), self.params['path'])
        served = public_state(self.url, self.params)[0]
        self.strays = find_strays(self.module, self.ssh, file_name(self.params['path']), self.target)
        return dict(served=served, strays=len(self.strays))

    def desired(self, current):
        return dict(served=False, strays=0)

    def result(self, current, desired):
        result = dict(strays_removed=current['strays'])
        if not current['served']:
            result['url_status'] = 404
        return result

    def apply(self, current, desired):
        module, target, ssh, strays = self.module, self.target, self.ssh, self.strays
        if current['served']:
            remove_archive(module, target, ssh, self.params['path'], self.url)
        if strays:
            remove_files(ssh, strays, STRAY_DIR)
            if set(list_files(ssh, STRAY_DIR, missing_ok=True)) & strays:
                raise ArchiveError('Stray archives in %s of the SSH home of %s are still there after their removal'
                                   % (STRAY_DIR, target.label), 'not_removed')
        return dict(url_status=404)


def forget(module, path=None):
    """Once the archive is proven gone, the journal no longer names it."""
    path = path or module.params['path']
    journal = module.params['journal']
    if journal and not module.check_mode and (_journal.read(journal).get('archive') or {}).get('path') == path:
        _journal.update(journal, archive=None)
    LIVE.clear()
    LIVE['gone'] = True


class Archive(Step):
    """The archive, as O(state) asks; the state's own class (Present, Absent) declares it."""

    def within(self, sequence):
        """The checks that need no read, the target, the signals (a signal removes the archive this run made) and
        the O(lock) (taken before the first read that decides anything, given back once that archive is removed)."""
        module, params = self.module, self.params
        if params['import_max_size_mb'] < 0:
            raise ArchiveError('import_max_size_mb must be 0 (no limit) or a positive number of MB, got %s'
                               % params['import_max_size_mb'], 'invalid_option')
        if params['state'] == 'present' and not module.check_mode:
            for s in SIGNALS:
                signal.signal(s, raise_interrupted)
        try:
            if params['path'] is not None and not ARCHIVE_PATH_RE.match(params['path']):
                raise ArchiveError('path must be sites/default/files/ followed by 40 lowercase hex characters and '
                                   '.tgz (or .tar.gz), as this module names archives; refusing to touch anything else',
                                   'invalid_path')
            if params['lock']:
                check_options(params['lock']['name'], params['lock']['wait'], params['lock']['stale_after'], 'lock.')
            target = self.target = resolve(module.client, params['site'], params['env'], write='a site archive')
            if target.framework not in ('drupal', 'drupal8'):
                raise ArchiveError('%s is a %s site; Drush site archives exist for Drupal sites only'
                                   % (target.label, target.framework or 'unknown framework'), 'unsupported')
            self.domain = module.client.platform_domain(target.site_id, target.env)
            self.ssh = appserver_target(params, target.site_id, target.env)
            self.state = (Present if params['state'] == 'present' else Absent)(self)
            return run_locked(module, target.site_id, target.site_name, lambda: self.step(sequence))
        except Interrupted as e:
            raise interrupted(module, e)

    def step(self, sequence):
        if self.params['state'] == 'absent':
            result = sequence()
            forget(self.module)
            return result
        try:
            return sequence()
        except Interrupted as e:
            # the archive is removed before the lock is given back
            raise interrupted(self.module, e)

    def current(self):
        return self.state.current()

    def desired(self, current):
        return self.state.desired(current)

    def result(self, current, desired):
        return self.state.result(current, desired)

    def apply(self, current, desired):
        return self.state.apply(current, desired)


def interrupted(module, e):
    """The failure after a signal, once the archive this run made (if any) is removed."""
    return ArchiveError('Interrupted by %s. %s' % (signal.Signals(e.signum).name, remove_after_signal(module)),
                        'interrupted')


def main():
    module = PantheonModule(
        argument_spec=dict(
            target_argspec(),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            exclude_files=dict(type='bool', default=False),
            fallback_without_files=dict(type='bool', default=False),
            journal=dict(type='path'),
            exclude_code_paths=dict(type='list', elements='str', default=[]),
            path=dict(type='str'),
            import_site=dict(type='str'),
            import_max_size_mb=dict(type='int', default=500),
            **dict(overwrite_argspec(), **LOCK_ARGSPEC)
        ),
        ssh=True,
        wait_timeout_default=3600,
        required_if=[('state', 'absent', ['path'])],
        supports_check_mode=True,
    )
    # Every name the archive has or may have: no failure message or warning may show one.
    if module.params['path']:
        module.add_secret(module.params['path'], ARCHIVE_SHOWN)
        module.add_secret(file_name(module.params['path']), ARCHIVE_SHOWN)
    module.run_step(Archive)


if __name__ == '__main__':
    main()
