# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.clone_state through the real ansible-playbook: files written on the controller."""

from __future__ import annotations

import json
import os
import re

from helpers.ansible import run_playbook

PLAY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: note
      pantheon.platform.clone_state:
        path: "{{ state }}"
        update: {job: j, fixups_pending: true}
      register: note

    - name: note again
      pantheon.platform.clone_state:
        path: "{{ state }}"
        update: {fixups_pending: true}
      register: again

    - name: merge
      pantheon.platform.clone_state:
        path: "{{ state }}"
        update: {fixups_pending: false, archive: null}

    - name: would replace
      pantheon.platform.clone_state:
        path: "{{ report }}"
        content: {status: checked}
      check_mode: true
      register: would

    - name: replace
      pantheon.platform.clone_state:
        path: "{{ report }}"
        content: {status: succeeded, phases: [{name: preflight}]}

    - name: page
      pantheon.platform.clone_state:
        path: "{{ page }}"
        text: "<p>{{ '{{' }} not a template {{ '}}' }}</p>\\n"

    - name: page again
      pantheon.platform.clone_state:
        path: "{{ page }}"
        text: "<p>{{ '{{' }} not a template {{ '}}' }}</p>\\n"
      register: page_again
'''


def test_writes_merges_and_removes(tmp_path):
    state = tmp_path / 'reports' / '.state' / 'job.json'
    report = tmp_path / 'reports' / 'job.json'
    page = tmp_path / 'reports' / 'history' / 'run' / 'report.html'
    res = run_playbook(PLAY, extra_vars={'state': str(state), 'report': str(report), 'page': str(page)})
    assert res.rc == 0, res.output
    assert res.task('note')['changed'] is True and res.task('note')['path'] == str(state)
    assert res.task('note again')['changed'] is False
    assert json.loads(state.read_text()) == {'job': 'j', 'fixups_pending': False, 'archive': None}
    assert res.task('would replace')['changed'] is True
    assert json.loads(report.read_text()) == {'status': 'succeeded', 'phases': [{'name': 'preflight'}]}
    # a page is written as given, once
    assert page.read_text() == '<p>{{ not a template }}</p>\n'
    assert res.task('page')['changed'] is True and res.task('page again')['changed'] is False
    for path, mode in ((state, 0o600), (report, 0o600), (page, 0o600), (state.parent, 0o700), (report.parent, 0o700),
                       (page.parent, 0o700)):
        assert os.stat(path).st_mode & 0o777 == mode, path
    # no module process ran: nothing but the files themselves in the directories
    assert sorted(os.listdir(state.parent)) == ['job.json']

    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: would forget
      pantheon.platform.clone_state: {path: "{{ state }}", state: absent}
      check_mode: true
      register: would
    - name: forget
      pantheon.platform.clone_state: {path: "{{ state }}", state: absent}
    - name: forget again
      pantheon.platform.clone_state: {path: "{{ state }}", state: absent}
      register: again
''', extra_vars={'state': str(state)})
    assert res.rc == 0, res.output
    assert res.task('would forget')['changed'] is True and res.task('forget again')['changed'] is False
    assert not state.exists()


def test_bad_arguments_are_named(tmp_path):
    res = run_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: both
      pantheon.platform.clone_state: {path: "{{ p }}", update: {a: 1}, content: {b: 2}}
      ignore_errors: true
    - name: unknown
      pantheon.platform.clone_state: {path: "{{ p }}", update: {a: 1}, mode: "0644"}
      ignore_errors: true
    - name: not a dict
      pantheon.platform.clone_state: {path: "{{ p }}", content: [1, 2]}
      ignore_errors: true
    - name: text and content
      pantheon.platform.clone_state: {path: "{{ p }}", content: {a: 1}, text: x}
      ignore_errors: true
    - name: text not a string
      pantheon.platform.clone_state: {path: "{{ p }}", text: [1]}
      ignore_errors: true
    - name: report not a dict
      pantheon.platform.clone_state: {path: "{{ p }}", report: [1]}
      ignore_errors: true
    - name: history alone
      pantheon.platform.clone_state: {path: "{{ p }}", content: {a: 1}, history: {name: x}}
      ignore_errors: true
    - name: history without a name
      pantheon.platform.clone_state: {path: "{{ p }}", report: {job: j}, history: {kind: clone}}
      ignore_errors: true
    - name: fleet not a list
      pantheon.platform.clone_state: {path: "{{ p }}", fleet: {sites: 3}}
      ignore_errors: true
    - name: fleet report not json
      pantheon.platform.clone_state: {path: "{{ p }}.txt", fleet: {sites: []}}
      ignore_errors: true
    - name: fleet forgets nothing
      pantheon.platform.clone_state: {path: "{{ p }}", fleet: {sites: []}, forget: "{{ p }}"}
      ignore_errors: true
''', extra_vars={'p': str(tmp_path / 'x.json')})
    assert res.rc == 0, res.output
    assert 'exactly one of update, content, text, report and fleet' in res.task('both')['msg']
    assert 'exactly one of update, content, text, report and fleet' in res.task('text and content')['msg']
    assert 'report must be a dict, a report of the clone_report filter' in res.task('report not a dict')['msg']
    assert 'history goes with report or fleet' in res.task('history alone')['msg']
    assert 'fleet must be a dict whose sites is a list of clone reports' in res.task('fleet not a list')['msg']
    assert 'path must name the .json report' in res.task('fleet report not json')['msg']
    assert 'forget goes with report' in res.task('fleet forgets nothing')['msg']
    assert 'history must be a dict with a name' in res.task('history without a name')['msg']
    assert 'text must be a string' in res.task('text not a string')['msg']
    assert 'unsupported option(s) mode' in res.task('unknown')['msg']
    assert 'content must be a dict' in res.task('not a dict')['msg']
    assert 'Traceback' not in res.output
    assert not (tmp_path / 'x.json').exists()


REPORT_PLAY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: report
      pantheon.platform.clone_state:
        path: "{{ dir }}/a.b-to-c.d.check.json"
        report: "{{ parts | pantheon.platform.clone_report }}"
        history: {name: 20261127T100000.000Z-a.b-to-c.d.check, kind: clone (check mode)}
        forget: "{{ dir }}/.state/a.b-to-c.d.json"
      vars:
        parts:
          job: a.b-to-c.d
          check_mode: true
          started_at: "2026-11-27T10:00:00.000000Z"
          source: {site: a, env: b}
          target: {site: c, env: d}
          plan: {strategy: archive, reason: small, steps: []}
          phases: [{name: preflight, start: "2026-11-27T10:00:00.000000Z", end: "2026-11-27T10:00:01.000000Z",
                    outcome: ok, detail: ""}]
      check_mode: true
      register: checked
    - name: check mode forgets nothing
      ansible.builtin.assert:
        that: (dir ~ '/.state/a.b-to-c.d.json') is file
    - name: report of a real run
      pantheon.platform.clone_state: &real
        path: "{{ dir }}/a.b-to-c.d.json"
        report: "{{ parts | combine({'started_at': '2026-11-27T11:00:00.000000Z', 'finished_at': '2026-11-27T11:00:05.000000Z',
                    'error': {'phase': 'verify', 'message': 'no match'}}) | pantheon.platform.clone_report }}"
        history: {name: 20261127T110000.000Z-a.b-to-c.d}
        forget: "{{ dir }}/.state/a.b-to-c.d.json"
      vars: &real_vars
        parts: {job: a.b-to-c.d, source: {site: a, env: b}, target: {site: c, env: d}, phases: []}
      register: real
    - name: a second later (a page made now would say another time)
      ansible.builtin.pause: {seconds: 1}
    - name: the same report again
      pantheon.platform.clone_state: *real
      vars: *real_vars
      register: again
'''


def test_a_report_is_written_kept_in_the_history_and_the_state_forgotten(tmp_path):
    state = tmp_path / '.state' / 'a.b-to-c.d.json'
    state.parent.mkdir()
    state.write_text('{"job": "a.b-to-c.d"}')
    res = run_playbook(REPORT_PLAY, extra_vars={'dir': str(tmp_path)})
    assert res.rc == 0, res.output
    assert 'DEPRECATION' not in res.output
    # written, then the same report again: nothing differs, nothing is written, no change reported
    assert res.task('report of a real run')['changed'] is True
    assert res.task('the same report again')['changed'] is False
    # whenever it is written: its page says when the clone finished, not when the page was made
    page = (tmp_path / 'history' / '20261127T110000.000Z-a.b-to-c.d' / 'report.html').read_text()
    assert 'Generated 2026-11-27T11:00:05Z' in page
    checked = json.loads((tmp_path / 'a.b-to-c.d.check.json').read_text())
    assert checked['status'] == 'checked' and checked['strategy']['name'] == 'archive'
    assert checked['phases'][0]['name'] == 'preflight'
    kept = tmp_path / 'history' / '20261127T100000.000Z-a.b-to-c.d.check'
    assert json.loads((kept / 'report.json').read_text()) == checked
    assert 'Clone a.b-to-c.d' in (kept / 'report.html').read_text()
    entry = json.loads((tmp_path / 'history' / '20261127T100000.000Z-a.b-to-c.d.check.json').read_text())
    assert entry['kind'] == 'clone (check mode)' and entry['status'] == 'checked'
    assert entry['href'] == 'history/20261127T100000.000Z-a.b-to-c.d.check/report.html'
    assert entry['summary'] == 'a.b -> c.d; archive; verification not run'
    # the second run is in the index too, newest first, failed, and its state file is gone (the first, in check
    # mode, left it)
    real = json.loads((tmp_path / 'a.b-to-c.d.json').read_text())
    assert real['status'] == 'failed' and real['error']['phase'] == 'verify'
    second = json.loads((tmp_path / 'history' / '20261127T110000.000Z-a.b-to-c.d.json').read_text())
    assert second['kind'] == 'clone' and second['summary'].endswith('; failed in verify')
    index = (tmp_path / 'index.html').read_text()
    assert index.index('20261127T110000.000Z-a.b-to-c.d') < index.index('20261127T100000.000Z-a.b-to-c.d.check')
    assert not state.exists()
    assert os.stat(tmp_path / 'index.html').st_mode & 0o777 == 0o600


FLEET_PLAY = '''
- hosts: localhost
  gather_facts: false
  vars:
    ok: {job: a.b-to-c.d, started_at: "2026-11-27T12:00:02.000000Z", finished_at: "2026-11-27T12:00:09.000000Z",
         source: {site: a, env: b}, target: {site: c, env: d}, phases: [],
         verification: {status: match, elements: {}}, plan: {strategy: archive, reason: small, steps: []}}
    bad: {job: e.f-to-g.h, started_at: "2026-11-27T12:00:01.000000Z", source: {site: e, env: f},
          target: {site: g, env: h}, phases: [], error: {phase: measure, message: too big}}
  tasks:
    - name: a clone's report, kept in the history
      pantheon.platform.clone_state:
        path: "{{ dir }}/a.b-to-c.d.json"
        report: "{{ ok | combine({'started_at': '2026-11-27T11:00:00.000000Z'}) | pantheon.platform.clone_report }}"
        history: {name: 20261127T110000.000Z-a.b-to-c.d}
    - name: a fleet's report
      pantheon.platform.clone_state:
        path: "{{ dir }}/fleet-report.json"
        fleet: {sites: "{{ [ok, bad] | map('pantheon.platform.clone_report') | list }}"}
        history: {name: 20261127T120001.000Z-fleet, kind: fleet}
    - name: a fleet in check mode
      pantheon.platform.clone_state:
        path: "{{ dir }}/fleet-report.check.json"
        fleet: {sites: "{{ [ok | combine({'check_mode': true, 'started_at': '2026-11-27T13:00:00.000000Z'})]
                | map('pantheon.platform.clone_report') | list }}",
                check_mode: true}
        history: {name: 20261127T130000.000Z-fleet.check, kind: fleet (check mode)}
      check_mode: false
'''


def test_a_fleet_report_is_written_beside_its_summary_and_page_and_kept_in_the_history(tmp_path):
    res = run_playbook(FLEET_PLAY, extra_vars={'dir': str(tmp_path)})
    assert res.rc == 0, res.output
    fleet = json.loads((tmp_path / 'fleet-report.json').read_text())
    assert fleet['schema_version'] == 1 and fleet['check_mode'] is False
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', fleet['generated_at'])
    assert fleet['totals']['sites'] == 2 and fleet['totals']['failed'] == 1 and fleet['totals']['succeeded'] == 1
    assert [site['job'] for site in fleet['sites']] == ['a.b-to-c.d', 'e.f-to-g.h']
    text = (tmp_path / 'fleet-report.txt').read_text()
    assert text.startswith('JOB ') and 'e.f-to-g.h' in text
    assert 'e.f-to-g.h' in (tmp_path / 'fleet-report.html').read_text()
    kept = tmp_path / 'history' / '20261127T120001.000Z-fleet'
    assert sorted(os.listdir(kept)) == ['fleet-report.html', 'fleet-report.json', 'fleet-report.txt']
    assert (kept / 'fleet-report.txt').read_text() == text
    entry = json.loads((tmp_path / 'history' / '20261127T120001.000Z-fleet.json').read_text())
    # started when its first job started; failed, since one job failed
    assert entry['started_at'] == '2026-11-27T12:00:01.000000Z' and entry['status'] == 'failed'
    assert entry['kind'] == 'fleet' and entry['href'] == 'history/20261127T120001.000Z-fleet/fleet-report.html'
    assert 'failed' in entry['summary'], entry['summary']
    check = json.loads((tmp_path / 'history' / '20261127T130000.000Z-fleet.check.json').read_text())
    assert check['status'] == 'checked' and check['href'].endswith('/fleet-report.check.html')
    assert json.loads((tmp_path / 'fleet-report.check.json').read_text())['check_mode'] is True
    # one index of every kept run, the clone's and the fleets', newest first
    index = (tmp_path / 'index.html').read_text()
    runs = re.findall(r'data-run="([^"]+)" data-status="([^"]+)"', index)
    assert runs == [('20261127T130000.000Z-fleet.check', 'checked'), ('20261127T120001.000Z-fleet', 'failed'),
                    ('20261127T110000.000Z-a.b-to-c.d', 'succeeded')], runs
    assert os.stat(kept / 'fleet-report.json').st_mode & 0o777 == 0o600
