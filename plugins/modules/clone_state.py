#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: clone_state
short_description: Write, merge or remove a JSON state file, or write a clone's or a fleet's report, on the controller
version_added: 1.0.0
description:
  - The bookkeeping of the C(pantheon.platform.site_clone) role, done on the controller by an action plugin
    without starting a module process. It keeps a job's state file (what an interrupted run leaves for the
    next one) and writes its report; C(clone_fleet.yml) writes the fleet's report with it.
  - The file is written atomically (a temporary file renamed over it) with mode C(0600); missing parent directories
    are created with mode C(0700).
  - This module talks to no API; it is not part of the C(group/pantheon.platform.pantheon) action group.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  path:
    description:
      - The JSON file (the page with O(text)), on the controller.
    type: path
    required: true
  state:
    description:
      - V(present) writes the file (O(update), O(content) or O(text)); V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  update:
    description:
      - Keys merged into the JSON object the file holds (a missing or unreadable file counts as an empty object).
        A null value is kept as null.
      - Exactly one of O(update), O(content) and O(text) with O(state=present).
    type: dict
  content:
    description:
      - The whole JSON object the file holds afterwards.
    type: dict
  text:
    description:
      - The whole text the file holds afterwards, written as given (a report page, for example the HTML of
        P(pantheon.platform.clone_report_html#filter)).
    type: str
    version_added: 1.1.0
  report:
    description:
      - A clone's report, as the P(pantheon.platform.clone_report#filter) filter builds it, written to O(path) as
        JSON, in check mode too (it is the run's output).
      - Exactly one of O(update), O(content), O(text), O(report) and O(fleet) with O(state=present).
    type: dict
    version_added: 1.1.0
  fleet:
    description:
      - A fleet's report, written in check mode too. O(path) names its JSON file (C(.json)), which holds
        C(schema_version), C(generated_at), C(check_mode), C(totals) and C(sites) (the clones' reports); beside it, the
        same name ending in C(.txt) holds the summary table and in C(.html) the page
        (P(pantheon.platform.clone_fleet_summary#filter), P(pantheon.platform.clone_report_html#filter)).
    type: dict
    version_added: 1.1.0
    suboptions:
      sites:
        description: The clones' reports, as the P(pantheon.platform.clone_report#filter) filter builds them.
        type: list
        elements: dict
        required: true
      check_mode:
        description: Whether the run was in check mode (the report says so, and the history calls it checked).
        type: bool
        default: false
  history:
    description:
      - With O(report) or O(fleet), keep this run in the history beside O(path) as well, for the index of the kept
        runs.
      - Writes C(history/<name>/report.json) and C(history/<name>/report.html) (with O(fleet), the three files of the
        fleet's report under their own names), the run's entry of the index C(history/<name>.json), and rewrites
        C(index.html) (newest first) from every C(history/*.json).
    type: dict
    version_added: 1.1.0
    suboptions:
      name:
        description:
          - The run's name in the history (a file name; the role uses its start time and the job,
            C(clone_fleet.yml) its start time and C(fleet)).
        type: str
        required: true
      kind:
        description:
          - What the index says the run was.
        type: str
        default: clone
  forget:
    description:
      - With O(report), a file (the job's state file) removed once the report is written. Not removed in check mode.
    type: path
    version_added: 1.1.0
extends_documentation_fragment:
  - pantheon.platform.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports whether the file would change, and writes nothing (set C(check_mode=false) on the task to write anyway).
  diff_mode:
    support: none
  idempotent:
    description: Whether a second run with the same arguments reports no change.
    support: full
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - Everything runs in the action plugin, on the controller; the module itself is never executed.
notes:
  - The result never holds the file's content, so a state file that names a secret can be written without
    printing it. Use C(no_log) on the task anyway when O(update) or O(content) holds one (arguments are printed on
    failure).
seealso:
  - module: pantheon.platform.archive
    description: Notes the archive it makes in the same state file (its C(journal) option).
'''

EXAMPLES = r'''
- name: Note a clone in progress in its state file
  pantheon.platform.clone_state:
    path: clone-reports/.state/old-site.live-to-new-site.dev.json
    update:
      fixups_pending: true

- name: Write a clone's report, keep it in the history (with its page and the index), and forget its state
  pantheon.platform.clone_state:
    path: clone-reports/old-site.live-to-new-site.dev.json
    report: "{{ site_clone_report }}"
    history:
      name: 20261127T100000.000Z-old-site.live-to-new-site.dev
    forget: clone-reports/.state/old-site.live-to-new-site.dev.json
  check_mode: false

- name: Write a fleet's report (its .json, .txt and .html) and keep it in the history
  pantheon.platform.clone_state:
    path: clone-reports/fleet-report.json
    fleet:
      sites: "{{ groups['all'] | map('extract', hostvars) | selectattr('site_clone_report', 'defined')
        | map(attribute='site_clone_report') | list }}"
      check_mode: "{{ ansible_check_mode }}"
    history:
      name: 20261127T100000.000Z-fleet
      kind: fleet
  check_mode: false
  run_once: true

- name: Forget the state of a finished clone
  pantheon.platform.clone_state:
    path: clone-reports/.state/old-site.live-to-new-site.dev.json
    state: absent
'''

RETURN = r'''
path:
  description: The file, as an absolute path.
  returned: success
  type: str
  sample: /home/me/clone-reports/.state/old-site.live-to-new-site.dev.json
'''

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        path=dict(type='path', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        update=dict(type='dict'),
        content=dict(type='dict'),
        text=dict(type='str'),
        report=dict(type='dict'),
        fleet=dict(type='dict', options=dict(sites=dict(type='list', elements='dict', required=True),
                                             check_mode=dict(type='bool', default=False))),
        history=dict(type='dict', options=dict(name=dict(type='str', required=True),
                                               kind=dict(type='str', default='clone'))),
        forget=dict(type='path'),
    ), supports_check_mode=True)
    module.fail_json(msg='pantheon.platform.clone_state runs on the controller through its action plugin; '
                         'it cannot be executed as a module')


if __name__ == '__main__':
    main()
