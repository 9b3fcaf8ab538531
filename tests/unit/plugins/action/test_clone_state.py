# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.clone_state through the real ansible-playbook: files written on the controller."""

from __future__ import annotations

import json
import os

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
''', extra_vars={'p': str(tmp_path / 'x.json')})
    assert res.rc == 0, res.output
    assert 'exactly one of update, content, text and report' in res.task('both')['msg']
    assert 'exactly one of update, content, text and report' in res.task('text and content')['msg']
    assert 'report must be a dict, a report of the clone_report filter' in res.task('report not a dict')['msg']
    assert 'history goes with report' in res.task('history alone')['msg']
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
