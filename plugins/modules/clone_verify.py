#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: clone_verify
short_description: Check that a Pantheon environment is a complete copy of another one
version_added: 1.0.0
description:
  - Compares a source environment with a target environment, element by element, and reports for each element
    whether it matches and the first differences found.
  - V(code) compares the code the two environments run, read from their codeservers, the branch of dev or a
    multidev, and for test and live the newest deploy tag (C(pantheon_live_N), the environment's C(target_ref)),
    never C(master). The same commit matches, and different commits with the same tree also match. Otherwise
    the paths that differ are listed.
  - V(database) reads both databases with the site's own tool (C(drush sql-dump), C(drush sql:dump) or
    C(wp db export -)), streamed and summarized in constant memory. It compares the table lists and, per table,
    the schema, the row count and an order-independent checksum of the rows. For tables that differ, a second
    read lists the rows that differ, by the value of their first column (usually the id).
  - V(files) lists both C(files/) directories over rsync (a dry run, nothing transferred). The remote side
    computes the checksums. It compares the counts, the total bytes and a manifest of path, size and checksum
    (or modification time, or size only; see O(files_compare)).
  - V(home) requests the target's home page on its platform domain, which must answer 200 and not be an error
    page (a white screen, a PHP fatal error, a database connection error).
  - Never changes anything. The result is always C(changed=false).
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  elements:
    description:
      - What to compare.
    type: list
    elements: str
    choices: [code, database, files, home]
    default: [code, database, files, home]
  fail_on_mismatch:
    description:
      - Fail when any compared element differs. The result still carries every element's report.
    type: bool
    default: true
  files_compare:
    description:
      - How files are compared. V(checksum) compares the content, V(mtime) the size and modification time (only
        meaningful when the copy kept the times), and V(size) the size only.
    type: str
    choices: [checksum, mtime, size]
    default: checksum
  files_exclude:
    description:
      - Shell-style patterns of paths under C(files/) to leave out on both sides, for example C(css/*) or C(php/*).
      - Site archives of M(pantheon.platform.archive) (a 40 lowercase hex name with C(.tgz) or C(.tar.gz) at the top of
        C(files/)) are always left out. They exist only while a clone run imports them, and the one another run is
        importing from the same source is not the site's content.
    type: list
    elements: str
    default: []
  database_ignore_tables:
    description:
      - Shell-style patterns of table names to leave out on both sides, for example C(cache*) or C(watchdog).
    type: list
    elements: str
    default: []
  database_unreplaced:
    description:
      - When the database differs with O(database_replace) applied, compare it again as it is, without the
        replacements, and say in RV(database_unreplaced_match) whether it matches so. An import whose WordPress
        search-replace is still due (an interrupted clone) matches as it is; the C(pantheon.platform.site_clone)
        role then does not move the database again.
      - The element's report in RV(elements) and RV(match) stay those of the comparison with the replacements.
    type: bool
    default: false
    version_added: 1.1.0
  database_replace:
    description:
      - Replacements applied to the source's rows before they are compared. Use it when the target's URLs were
        rewritten after the import (WordPress C(wp search-replace)). Give the source URL as C(from) and the target
        URL as C(to).
      - When any replacement is given, the lengths of PHP serialized strings (C(s:12:")) are ignored on both sides,
        since a search-replace changes them.
    type: list
    elements: dict
    default: []
    suboptions:
      from:
        description: Text as it appears in the source.
        type: str
        required: true
      to:
        description: Text as it appears in the target.
        type: str
        required: true
  home_path:
    description:
      - Path of the page checked by V(home).
    type: str
    default: /
  max_differences:
    description:
      - How many differences of each kind (missing, extra, changed) are listed per element. All are counted.
    type: int
    default: 20
  wait_timeout:
    description:
      - Seconds each read (git, database dump, file listing) may take before it is stopped and the module fails.
      - The alias O(timeout) is deprecated and will be removed in pantheon.platform 2.0.0; use O(wait_timeout).
    aliases: [timeout]
    type: int
    default: 3600
extends_documentation_fragment:
  - pantheon.platform.site_env.pair
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
notes:
  - The database comparison relies on both environments producing dumps with the same tool. A source and a target
    of different frameworks never match.
  - Rows are identified by their first column in the report. Row contents are never returned.
  - File checksums are computed by the rsync on the platform side, with the algorithm rsync negotiates. Both sides
    are read through the same connection settings, so they use the same one.
requirements:
  - git on the host that runs the module (compares the code through the codeserver)
  - rsync on the host that runs the module (builds the files manifests over SSH)
seealso:
  - module: pantheon.platform.code_push
  - module: pantheon.platform.files_sync
  - module: pantheon.platform.database_stream
'''

EXAMPLES = r'''
- name: Prove that the new site is a complete copy of the old one
  pantheon.platform.clone_verify:
    site: old-site
    env: live
    target_site: new-site
    target_env: dev
    database_ignore_tables: ['cache*', 'sessions', 'watchdog']

- name: Compare a WordPress clone whose URLs were rewritten, without failing
  pantheon.platform.clone_verify:
    site: old-wp
    env: live
    target_site: new-wp
    database_replace:
      - from: live-old-wp.pantheonsite.io
        to: dev-new-wp.pantheonsite.io
    fail_on_mismatch: false
  register: report

- name: Show what differs
  ansible.builtin.debug:
    var: report.elements.database.differences
  when: not report.match
'''

RETURN = r'''
match:
  description: Whether every compared element matches.
  returned: always
  type: bool
mismatched:
  description: Names of the elements that differ.
  returned: always
  type: list
  elements: str
  sample: [database, files]
database_unreplaced_match:
  description:
    - Whether the database matches as it is, without the replacements (O(database_unreplaced)).
    - Null when it was not compared so (the option not set, no replacement given, or the database matched).
  returned: always
  type: bool
  sample: true
elements:
  description:
    - One report per compared element, each with C(match) (bool) and, for code, database and files, C(source) and
      C(target) summaries and C(differences) with C(missing) (only in the source), C(extra) (only in the target),
      C(changed) (in both, different) and C(count) (all differences).
    - "code: C(source)/C(target) hold C(commit) and C(ref) (the branch or deploy tag read), and C(tree) when the
      commits differ. C(same_tree_different_commit)
      is true when only the commits differ. The differences are paths."
    - "database: C(source)/C(target) hold C(tables) and C(rows). C(missing)/C(extra) are table names. Each
      C(changed) entry has C(table), C(source_rows), C(target_rows), C(schema_changed) and C(rows) with the first
      column of the C(changed), C(missing) and C(extra) rows."
    - "files: C(source)/C(target) hold C(files), C(dirs), C(links) and C(bytes). The differences are paths."
    - "home: C(url), C(status), C(title) and C(error) (why the page counts as broken, or null)."
  returned: always
  type: dict
  sample:
    code: {match: true, source: {commit: 3f2a9c1d, ref: refs/tags/pantheon_live_2},
           target: {commit: 3f2a9c1d, ref: refs/heads/master}, differences: {count: 0}}
    database:
      match: false
      differences:
        changed: [{table: node, source_rows: 10, target_rows: 10, schema_changed: false, rows: {changed: ['3']}}]
        count: 1
    home: {match: true, status: 200, title: My site, url: 'https://dev-new-site.pantheonsite.io/', error: null}
'''

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._module import Lookup, PantheonModule
from ansible_collections.pantheon.platform.plugins.module_utils._sitedb import drush_major
from ansible_collections.pantheon.platform.plugins.module_utils._target import pair_argspec, resolve, same_framework
from ansible_collections.pantheon.platform.plugins.module_utils._verify import (
    check_home,
    compare_code,
    compare_database,
    compare_files,
)

ELEMENTS = ['code', 'database', 'files', 'home']


def _summary(name, report):
    diff = report.get('differences') or {}
    if name == 'home':
        return 'home page (%s)' % (report.get('error') or 'broken')
    parts = []
    for kind in ('missing', 'extra', 'changed'):
        items = diff.get(kind) or []
        if items:
            shown = [item['table'] if isinstance(item, dict) else item for item in items[:3]]
            parts.append('%s: %s%s' % (kind, ', '.join(shown), ' ...' if len(items) > 3 else ''))
    if diff.get('reason'):
        parts.append(diff['reason'])
    return '%s (%d difference%s%s)' % (name, diff.get('count', 0), '' if diff.get('count') == 1 else 's',
                                       '; ' + '; '.join(parts) if parts else '')


class Comparison(Lookup):
    """The target compared with the source, element by element; reads both, writes neither."""

    def current(self):
        return verify(self.module, self.params, self.client)


def verify(module, params, client):
    limit = params['max_differences']
    if limit < 1:
        raise PantheonError('max_differences must be at least 1, got %d' % limit)
    source = resolve(client, params['site'], params['env'], initialized='a comparison')
    target = resolve(client, params['target_site'], params['target_env'], option='target_site',
                     initialized='a comparison')
    if source.site_id == target.site_id and source.env == target.env:
        raise PantheonError('The source and the target are the same environment (%s)' % source.label)
    if params['fail_on_mismatch']:
        # sites of different frameworks never match: say so rather than list every difference
        same_framework(source.framework, source.label, target, 'a comparison')
    elements = [name for name in ELEMENTS if name in params['elements']]
    timeout = params['wait_timeout']
    reports = {}
    unreplaced = None
    if 'code' in elements:
        reports['code'] = compare_code(params, source, target, limit, timeout=timeout)
    if 'database' in elements:
        if source.framework != target.framework:
            module.warn('%s is %s and %s is %s: their databases cannot match'
                        % (source.label, source.framework, target.label, target.framework))
        majors = (drush_major(client, source), drush_major(client, target))
        reports['database'] = compare_database(
            params, source, target, majors[0], majors[1], limit,
            ignore=params['database_ignore_tables'], replacements=params['database_replace'], timeout=timeout)
        if params['database_unreplaced'] and params['database_replace'] and not reports['database']['match']:
            unreplaced = compare_database(params, source, target, majors[0], majors[1], limit,
                                          ignore=params['database_ignore_tables'], timeout=timeout)['match']
    if 'files' in elements:
        reports['files'] = compare_files(params, source, target, limit, compare=params['files_compare'],
                                         exclude=params['files_exclude'], timeout=timeout)
    if 'home' in elements:
        reports['home'] = check_home(client, target, params, path=params['home_path'])
    mismatched = [name for name in elements if not reports[name]['match']]
    result = dict(match=not mismatched, mismatched=mismatched, elements=reports,
                  database_unreplaced_match=unreplaced,
                  source=dict(site=source.site_name, env=source.env), target=dict(site=target.site_name, env=target.env))
    if mismatched and params['fail_on_mismatch']:
        details = '; '.join(_summary(name, reports[name]) for name in mismatched)
        raise PantheonError('%s differs from %s in %s' % (target.label, source.label, details), **result)
    return result


def main():
    spec = pair_argspec()
    spec.update(
        elements=dict(type='list', elements='str', choices=ELEMENTS, default=list(ELEMENTS)),
        fail_on_mismatch=dict(type='bool', default=True),
        files_compare=dict(type='str', choices=['checksum', 'mtime', 'size'], default='checksum'),
        files_exclude=dict(type='list', elements='str', default=[]),
        database_ignore_tables=dict(type='list', elements='str', default=[]),
        database_unreplaced=dict(type='bool', default=False),
        database_replace=dict(type='list', elements='dict', default=[], options={
            'from': dict(type='str', required=True),
            'to': dict(type='str', required=True),
        }),
        home_path=dict(type='str', default='/'),
        max_differences=dict(type='int', default=20),
        wait_timeout=dict(type='int', default=3600, aliases=['timeout'],
                          deprecated_aliases=[dict(name='timeout', version='2.0.0', collection_name='pantheon.platform')]),
    )
    module = PantheonModule(argument_spec=spec, ssh=True, supports_check_mode=True)
    module.run_step(Comparison)


if __name__ == '__main__':
    main()
