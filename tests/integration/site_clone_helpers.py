# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the integration tests of the site_clone role, the clone playbooks and the demo.

Everything runs for real: ansible-playbook with playbooks/clone_site.yml or clone_fleet.yml
against the emulator (API, SSH, git, rsync). The helpers only seed sites, build inventories,
read the reports the role writes, and read the emulator's request log and state.
"""

from __future__ import annotations

import glob
import html.parser
import json
import os
import re

import yaml

from helpers.ansible import REPO, run_playbook
from pantheon_emulator.seed import demo_fleet
from transfer_helpers import play_env

__all__ = ['CLONE_SITE', 'CLONE_FLEET', 'ARCHIVE_NAME', 'archives_on_source', 'clone_site', 'content_state',
           'fleet_inventory', 'html_rows', 'last_request_id', 'limits_for', 'play_env', 'read_report',
           'requests_since', 'run_fleet', 'seed_demo_fleet', 'state_files', 'writes_since']

CLONE_SITE = os.path.join(REPO, 'playbooks', 'clone_site.yml')
CLONE_FLEET = os.path.join(REPO, 'playbooks', 'clone_fleet.yml')
ARCHIVE_NAME = re.compile(r'[0-9a-f]{40}\.tgz')
# Reads the role is allowed in check mode: API GETs, the login, and read-only SSH commands.
READ_ONLY_SSH = ('git-upload-pack', 'drush sql-dump', 'drush sql:dump', 'wp db export', 'rsync', 'drush version',
                 'drush status', 'wp core', 'wp cli version', 'wp db size')


def seed_demo_fleet(emulator, prefix, scale):
    """The emulator's demo fleet (5 sites, every strategy), shrunk by ``scale``, names prefixed.

    Returns {short name (d7-small, ...): seeded site}."""
    recipe = demo_fleet(scale)
    for site in recipe['sites']:
        site['name'] = prefix + site['name'][len('demo-'):]
    return dict((s['name'][len(prefix):], s) for s in emulator.seed(recipe))


def limits_for(scale):
    """The role's limits matching a demo fleet shrunk by ``scale`` (as hacking/demo.sh sets them)."""
    return {'site_clone_archive_limit_mb': max(1, int(256 * scale)),
            'site_clone_url_import_limit_mb': max(1, int(500 * scale))}


def fleet_inventory(jobs, common):
    """YAML inventory text: one host per job ({name: vars}), ``common`` as all:vars."""
    return yaml.safe_dump({'all': {'vars': common, 'hosts': jobs}}, default_flow_style=False, sort_keys=True)


def clone_site(emulator, tmp_path, source, target, report_dir, extra=None, check=False, verbosity=0, env=None,
               **kwargs):
    """Run playbooks/clone_site.yml for one clone; returns the PlaybookResult."""
    extra_vars = {'source_site': source, 'target_site': target, 'site_clone_report_dir': str(report_dir)}
    extra_vars.update(extra or {})
    full_env = play_env(emulator, tmp_path)
    full_env.update(env or {})
    return run_playbook(CLONE_SITE, extra_vars=extra_vars, env=full_env, check=check, verbosity=verbosity, **kwargs)


def read_report(report_dir, job, check=False):
    path = os.path.join(str(report_dir), '%s%s.json' % (job, '.check' if check else ''))
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def state_files(report_dir):
    """State files an unfinished job left (the role removes its own when the clone is done)."""
    return sorted(glob.glob(os.path.join(str(report_dir), '.state', '*.json')))


def archives_on_source(emulator, site, env='live'):
    """Site archives (and Drush 8 working tars) in an environment's files directory, read on disk."""
    files = emulator.state(site, env)['paths']['files']
    found = []
    for root, _dirs, names in os.walk(files):
        for name in names:
            if ARCHIVE_NAME.fullmatch(name) or re.fullmatch(r'pantheon\..*\.tar(\.gz)?', name):
                found.append(os.path.relpath(os.path.join(root, name), files))
    return found


def content_state(emulator, site, env):
    """What a clone could change in an environment: code head, table row counts, files digest."""
    state = emulator.state(site, env, digest=True)
    return {'code': state['code'].get('head'), 'tables': state['db'].get('tables'),
            'files': (state['files'].get('count'), state['files'].get('bytes'), state['files'].get('digest'))}


def last_request_id(emulator):
    rows = emulator.requests()
    return rows[-1]['id'] if rows else 0


def requests_since(emulator, since):
    return [r for r in emulator.requests(since=since) if r['id'] > since]


def writes_since(emulator, since):
    """Requests since ``since`` that could change something: API writes other than the login, and SSH
    commands other than reads."""
    writes = []
    for r in requests_since(emulator, since):
        if r['channel'] == 'api' and r['method'] not in ('GET', 'HEAD') and r['path'] != '/api/authorize/machine-token':
            writes.append('%s %s' % (r['method'], r['path']))
        elif r['channel'] == 'ssh' and not r['path'].startswith(READ_ONLY_SSH):
            writes.append('SSH %s' % r['path'])
    return writes


class _ReportRows(html.parser.HTMLParser):
    """Site rows of fleet-report.html: data-* attributes, texts by cell class, phase bars."""

    def __init__(self):
        super().__init__()
        self.rows = {}
        self._row = None
        self._cells = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'tr' and attrs.get('class') in ('site', 'detail'):
            self._row = self.rows.setdefault(attrs['data-job'], {'attrs': {}, 'cells': {}, 'phases': []})
            if attrs['class'] == 'site':
                self._row['attrs'] = attrs
        elif self._row is not None and tag in ('td', 'div') and attrs.get('class'):
            key = attrs.get('data-element') or attrs['class'].split()[-1]
            self._cells.append(key)
            self._row['cells'].setdefault(key, '')
        elif self._row is not None and tag == 'td':
            self._cells.append(None)
        elif self._row is not None and tag == 'rect' and attrs.get('class') == 'phase':
            self._row['phases'].append((attrs['data-phase'], attrs['data-outcome']))

    def handle_endtag(self, tag):
        if tag == 'tr':
            self._row = None
            self._cells = []
        elif tag in ('td', 'div') and self._cells:
            self._cells.pop()

    def handle_data(self, data):
        if self._row is not None and self._cells and self._cells[-1]:
            self._row['cells'][self._cells[-1]] += data


def html_rows(path):
    """{job: {'attrs', 'cells', 'phases'}} of a fleet HTML report."""
    parser = _ReportRows()
    with open(path, encoding='utf-8') as f:
        parser.feed(f.read())
    return parser.rows


def run_fleet(emulator, tmp_path, jobs, common, forks=3, check=False, verbosity=0, **kwargs):
    """Run playbooks/clone_fleet.yml over an inventory of ``jobs``."""
    return run_playbook(CLONE_FLEET, inventory=fleet_inventory(jobs, common), env=play_env(emulator, tmp_path),
                        check=check, verbosity=verbosity, args=['-f', str(forks)], **kwargs)
