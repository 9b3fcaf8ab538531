# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the reliability tests (issue 11, points 7-10): what the platform holds before and
after a case (emulator state + request log), and the result files hacking/reliability_report.py
turns into docs/reliability.md.
"""

from __future__ import annotations

import json
import os

from helpers.ansible import TMP
from site_clone_helpers import content_state, last_request_id, requests_since, writes_since

__all__ = ['RESULTS_DIR', 'PlatformSnapshot', 'record']

# One JSON file per result set; hacking/reliability_report.py reads every *.json here.
RESULTS_DIR = os.path.join(TMP, 'reliability')


def record(name, data):
    """Write one result set (``name``.json under RESULTS_DIR) for docs/reliability.md."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, '%s.json' % name)
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(path + '.tmp', path)
    return path


class PlatformSnapshot:
    """What the platform holds for some sites (every environment's code head, tables and files
    digest; the sites' workflows; the list of sites) and where the request log stood.

        snap = PlatformSnapshot(emulator, [site_a, site_b])
        ... run something ...
        assert snap.changes() == []      # no write logged, no content, workflow or site changed
    """

    def __init__(self, emulator, sites):
        self.emulator = emulator
        self.sites = list(sites)
        self.since = last_request_id(emulator)
        self.before = self._state()

    def _state(self):
        api = self.emulator.api()
        out = {'sites': sorted(s['name'] for s in self.emulator.admin('GET', 'state/sites').json())}
        for site in self.sites:
            for env in site['envs']:
                out['%s.%s' % (site['name'], env)] = content_state(self.emulator, site['name'], env)
            resp = api.get('%s/sites/%s/workflows' % (self.emulator.api_url, site['id']), timeout=60)
            # another user's site (seeded with an owner) answers 404 to this user; its content is compared above
            out['%s workflows' % site['name']] = (sorted(w['id'] for w in resp.json()) if resp.ok
                                                  else 'HTTP %s' % resp.status_code)
        return out

    def writes(self):
        """Requests since the snapshot that could have changed something (site_clone_helpers.writes_since)."""
        return writes_since(self.emulator, self.since)

    def requests(self):
        return requests_since(self.emulator, self.since)

    def changes(self):
        """[what changed]: logged writes, then every state entry that differs."""
        found = ['logged: %s' % w for w in self.writes()]
        after = self._state()
        for key in sorted(set(self.before) | set(after)):
            if self.before.get(key) != after.get(key):
                found.append('%s: %r -> %r' % (key, self.before.get(key), after.get(key)))
        return found

    def restart(self):
        """Start again from here (the next case)."""
        self.since = last_request_id(self.emulator)
