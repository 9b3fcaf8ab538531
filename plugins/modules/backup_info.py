#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: backup_info
short_description: Read the backups catalog of a Pantheon environment
version_added: 1.0.0
description:
  - Lists the finished backup archives of an environment, newest first, and the latest archive of each element.
  - An archive is finished when its size is not 0 and it has a finish time, as Terminus reads the catalog.
  - With O(urls=true) each entry of RV(latest) carries a fresh signed download URL. Signed URLs are credentials, so
    the task result is then marked C(no_log) by the module's action plugin and is not printed at any verbosity;
    use the registered variable.
author:
  - pantheon.platform developers (@pantheon-platform)
options:
  site:
    description:
      - Site machine name or UUID.
    type: str
    required: true
  env:
    description:
      - Environment whose catalog is read (dev, test, live or a multidev).
    type: str
    default: dev
  element:
    description:
      - Only list archives of this element.
    type: str
    choices: [code, database, files]
  folder:
    description:
      - Only list archives of this backup folder (the RV(pantheon.platform.backup#module:backup.folder) a backup
        returned).
    type: str
  urls:
    description:
      - Add a signed download URL (from the platform's C(s3token) endpoint) to each entry of RV(latest).
      - The URLs expire; fetch them right before they are used.
    type: bool
    default: false
extends_documentation_fragment:
  - pantheon.platform.auth
  - pantheon.platform.attributes
  - pantheon.platform.attributes.info_module
  - pantheon.platform.attributes.actiongroup
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - The action plugin runs the module and marks its result C(no_log) when O(urls=true).
notes:
  - Asking for a signed URL is a C(POST) to the catalog, but it changes nothing, so it is also done in check mode.
seealso:
  - module: pantheon.platform.backup
  - module: pantheon.platform.site_import
'''

EXAMPLES = r'''
- name: List the finished backups of live
  pantheon.platform.backup_info:
    site: old-site
    env: live
  register: catalog

- name: Signed URL of the newest database backup, for an import
  pantheon.platform.backup_info:
    site: old-site
    env: live
    element: database
    urls: true
  register: db_backup

- name: Import it into the new site (the URL is not printed, the url option of site_import is no_log)
  pantheon.platform.site_import:
    site: new-site
    env: dev
    kind: database
    url: "{{ db_backup.latest.database.url }}"
'''

RETURN = r'''
backups:
  description: Finished archives, newest first.
  returned: success
  type: list
  elements: dict
  contains:
    folder:
      description: Backup folder (C(<timestamp>_backup), or C(..._automated) for scheduled backups).
      type: str
      returned: success
    element:
      description: C(code), C(database) or C(files).
      type: str
      returned: success
    filename:
      description: Archive file name.
      type: str
      returned: success
    size:
      description: Size in bytes.
      type: int
      returned: success
    finished_at:
      description: When the archive was finished (Unix seconds).
      type: float
      returned: success
    expires_at:
      description: When the platform removes it (Unix seconds); null when the catalog gives no C(ttl).
      type: float
      returned: success
  sample:
    - {folder: 1718000000_backup, element: database, filename: old-site_live_2024-06-10T06-13-20_UTC_database.sql.gz,
       size: 1048576, finished_at: 1718000012.5, expires_at: 1718086412.5}
sizes:
  description: The size in bytes of the newest finished archive of each element (C(code), C(database), C(files)), null
    for an element without one.
  returned: success
  type: dict
  sample: {code: 2097152, database: 1048576, files: null}
latest:
  description:
    - The newest finished archive of each element, keyed by element; elements without one are left out.
    - Entries have the keys of RV(backups) and, with O(urls=true), C(url).
  returned: success
  type: dict
  contains:
    url:
      description: Signed download URL (a credential while it is valid).
      type: str
      returned: when O(urls=true)
  sample:
    database: {folder: 1718000000_backup, element: database, filename: old-site_live_2024-06-10T06-13-20_UTC_database.sql.gz,
               size: 1048576, finished_at: 1718000012.5, expires_at: 1718086412.5}
'''

from ansible_collections.pantheon.platform.plugins.module_utils._backups import ELEMENTS, latest_per_element, parse_catalog
from ansible_collections.pantheon.platform.plugins.module_utils._module import Lookup, PantheonModule
from ansible_collections.pantheon.platform.plugins.module_utils._target import resolve, target_argspec


class Catalog(Lookup):
    """The environment's finished backups, newest first, and the latest of each element."""

    def current(self):
        return read_catalog(self.params, self.client)


def read_catalog(params, client):
    target = resolve(client, params['site'], params['env'])
    entries = parse_catalog(client.backup_catalog(target.site_id, target.env))
    if params['element']:
        entries = [entry for entry in entries if entry['element'] == params['element']]
    if params['folder']:
        entries = [entry for entry in entries if entry['folder'] == params['folder']]
    latest = dict((element, dict(entry)) for element, entry in latest_per_element(entries).items())
    if params['urls']:
        for element, entry in latest.items():
            entry['url'] = client.backup_url(target.site_id, target.env, entry['folder'], element)
    sizes = dict((element, (latest.get(element) or {}).get('size')) for element in ELEMENTS)
    return dict(backups=entries, latest=latest, sizes=sizes)


def main():
    module = PantheonModule(
        argument_spec=dict(
            target_argspec(),
            element=dict(type='str', choices=list(ELEMENTS)),
            folder=dict(type='str'),
            urls=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.run_step(Catalog)


if __name__ == '__main__':
    main()
