# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo` (hacking/demo.sh) end to end: its own emulator, the demo fleet, clone_fleet.yml, the
summary, an HTML report with a row per site, and the emulator stopped afterwards."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from helpers.ansible import REPO
from site_clone_helpers import html_rows

EXPECTED = {
    'demo-d7-small': 'archive',
    'demo-d7-large': 'archive_without_files',
    'demo-d7-huge': 'archive_without_files',
    'demo-d10': 'elements',
    'demo-wp': 'elements',
}


@pytest.mark.slow
def test_make_demo(tmp_path):
    out = tmp_path / 'demo-output'
    env = dict(os.environ, DEMO_OUTPUT=str(out), DEMO_SCALE='0.01', DEMO_FORKS='3', TMPDIR=str(tmp_path))
    proc = subprocess.run(['bash', os.path.join(REPO, 'hacking', 'demo.sh')], env=env, capture_output=True, text=True,
                          timeout=1200, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]

    # the summary table and the report's path are printed
    assert re.search(r'^JOB\s+SOURCE\s+TARGET\s+FRAMEWORK\s+STRATEGY', proc.stdout, re.M), proc.stdout
    assert '5 site(s): 5 succeeded, 0 failed; 5 verified' in proc.stdout
    html_path = out / 'reports' / 'fleet-report.html'
    assert 'HTML report:      %s' % html_path in proc.stdout

    rows = html_rows(html_path)
    assert sorted(rows) == sorted(EXPECTED)
    for job, strategy in EXPECTED.items():
        row = rows[job]
        assert row['attrs']['data-strategy'] == strategy, job
        assert row['attrs']['data-status'] == 'succeeded', (job, row['cells'].get('error'))
        assert row['attrs']['data-verification'] == 'match', job
        assert row['cells']['error'] == ''
        assert '%s-clone.dev' % job in row['cells']['job']
        assert len(row['phases']) >= 8
    with open(out / 'reports' / 'fleet-report.json', encoding='utf-8') as f:
        fleet = json.load(f)
    methods = dict((s['job'], [st['method'] for st in s['strategy']['steps']]) for s in fleet['sites'])
    assert methods['demo-d7-large'] == ['archive_import', 'url_import']
    assert methods['demo-d7-huge'] == ['archive_import', 'files_sync']

    # the emulator it started is stopped, and its temporary data directory is gone
    pid = re.search(r'stopping the emulator \(pid (\d+)\)', proc.stderr)
    assert pid, proc.stderr
    assert not os.path.exists('/proc/%s' % pid.group(1)) or 'zombie' in open('/proc/%s/status' % pid.group(1)).read()
    assert not [p for p in os.listdir(tmp_path) if p.startswith('pantheon-demo.')]
