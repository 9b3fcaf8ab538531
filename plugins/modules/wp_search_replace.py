#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: wp_search_replace
short_description: Replace a string in a Pantheon WordPress environment's database with WP-CLI
version_added: 1.0.0
description:
  - Runs C(wp search-replace) on the environment's appserver over SSH (port 2222), as
    C(terminus wp <site>.<env> -- search-replace) does. WP-CLI handles PHP-serialized values.
  - Typical use after a clone, whose database still names the source's address, to replace the source
    environment's domain with the target's. The P(pantheon.platform.site_clone#role) role does that.
  - Idempotent. A dry run counts the replacements first; when there are none nothing is written and the
    result is C(changed=false).
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  search:
    description:
      - The text to find, for example the source's domain V(live-old-site.pantheonsite.io).
    type: str
    required: true
  replace:
    description:
      - The text to put in its place. Must differ from O(search).
    type: str
    required: true
  skip_columns:
    description:
      - Columns never changed. C(guid) by default, because WordPress treats post GUIDs as permanent identifiers.
    type: list
    elements: str
    default: [guid]
extends_documentation_fragment:
  - pantheon.platform.site_env
  - pantheon.platform.auth
  - pantheon.platform.ssh
  - pantheon.platform.attributes
  - pantheon.platform.attributes.actiongroup_ssh
attributes:
  check_mode:
    support: full
    details:
      - Runs only the dry run and reports how many replacements would be made.
  diff_mode:
    support: none
notes:
  - A frozen site (the API's C(frozen) field) is refused before anything is posted, with a message naming it, as
    Terminus refuses its commands on frozen sites (C(requireSiteIsNotFrozen)); its test and live environments are
    unavailable while it is frozen.
  - The SSH key given by O(ssh_private_key) must be registered with the account.
seealso:
  - module: pantheon.platform.clone_verify
'''

EXAMPLES = r'''
- name: Point the cloned WordPress database at the clone's own address
  pantheon.platform.wp_search_replace:
    site: new-site
    env: dev
    search: live-old-site.pantheonsite.io
    replace: dev-new-site.pantheonsite.io
  register: replaced

- name: How many values changed
  ansible.builtin.debug:
    msg: "{{ replaced.replacements }} replacements"
'''

RETURN = r'''
replacements:
  description: Number of replacements made (in check mode, the number that would be made).
  returned: success
  type: int
  sample: 12
'''

import re

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._module import PantheonModule, Step
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import appserver_target, describe_failure, run_remote
from ansible_collections.pantheon.platform.plugins.module_utils._target import framework_of, resolve, target_argspec

_COUNT_RE = re.compile(r'^\s*(\d+)\s*$', re.MULTILINE)


def _count(module, ssh_target, argv):
    rc, out, err = run_remote(ssh_target, argv)
    if rc != 0:
        raise PantheonError(describe_failure(ssh_target, rc, err or out, what='wp search-replace'))
    found = _COUNT_RE.findall(out or '')
    if not found:
        raise PantheonError('wp search-replace on %s did not print a replacement count: %s'
                            % (ssh_target.destination, (out or err or '').strip()[-500:]))
    return int(found[-1])


class SearchReplace(Step):
    """The replacements pending (a dry run counts them); none is the state asked for."""

    def current(self):
        params = self.params
        if not params['search']:
            raise PantheonError('search must not be empty')
        if params['search'] == params['replace']:
            raise PantheonError('search and replace are the same (%r); nothing to replace' % params['search'])
        target = resolve(self.client, params['site'], params['env'], write='a search-replace')
        framework = framework_of(target)
        if framework not in ('wordpress', 'wordpress_network'):
            raise PantheonError('Site %s runs %s, not WordPress; wp search-replace needs a WordPress site'
                                % (target.site_name, framework))
        self.ssh_target = appserver_target(params, target.site_id, target.env)
        self.argv = ['wp', 'search-replace', params['search'], params['replace'], '--format=count']
        if params['skip_columns']:
            self.argv.append('--skip-columns=%s' % ','.join(params['skip_columns']))
        if framework == 'wordpress_network':
            self.argv.append('--network')
        return dict(replacements=_count(self.module, self.ssh_target, self.argv + ['--dry-run']))

    def desired(self, current):
        return dict(replacements=0)

    def result(self, current, desired):
        return dict(replacements=current['replacements'])

    def apply(self, current, desired):
        return dict(replacements=_count(self.module, self.ssh_target, self.argv))


def main():
    module = PantheonModule(
        argument_spec=dict(
            target_argspec(),
            search=dict(type='str', required=True),
            replace=dict(type='str', required=True),
            skip_columns=dict(type='list', elements='str', default=['guid']),
        ),
        ssh=True,
        supports_check_mode=True,
    )
    module.run_step(SearchReplace)


if __name__ == '__main__':
    main()
