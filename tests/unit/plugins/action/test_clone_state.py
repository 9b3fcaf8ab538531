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
''', extra_vars={'p': str(tmp_path / 'x.json')})
    assert res.rc == 0, res.output
    assert 'exactly one of update, content and text' in res.task('both')['msg']
    assert 'exactly one of update, content and text' in res.task('text and content')['msg']
    assert 'text must be a string' in res.task('text not a string')['msg']
    assert 'unsupported option(s) mode' in res.task('unknown')['msg']
    assert 'content must be a dict' in res.task('not a dict')['msg']
    assert 'Traceback' not in res.output
    assert not (tmp_path / 'x.json').exists()
