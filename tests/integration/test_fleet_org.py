# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every site of an organization cloned with a suffix: org_site_info and playbooks/clone_org.yml."""

from __future__ import annotations

import json
import os

from helpers.ansible import REPO, run_playbook
from site_clone_helpers import play_env, read_report
from transfer_helpers import run_module


def seed_org(emulator, prefix):
    org = prefix + 'agency'
    small = {'db': {'nodes': 3}, 'files': {'count': 2, 'size': 300}, 'envs': ['dev', 'test', 'live']}
    sites = [
        dict(small, name=prefix + 'alpha', framework='drupal', org=org, tags=['migrate']),
        dict(small, name=prefix + 'bravo', framework='drupal8', org=org, tags=['migrate', 'eu']),
        dict(small, name=prefix + 'cold', framework='drupal', org=org, tags=['migrate'], frozen=True),
        dict(small, name=prefix + 'delta', framework='wordpress', org=org),
        dict(small, name=prefix + 'alpha-copy', framework='drupal', org=org, tags=['migrate']),  # an earlier clone
        dict(small, name=prefix + 'outsider', framework='drupal', tags=['migrate']),
    ]
    emulator.seed({'seed': 6, 'orgs': [{'name': org.title(), 'machine_name': org}], 'sites': sites})
    return org


def test_org_site_info_lists_and_filters(emulator, tmp_path, site_prefix):
    org = seed_org(emulator, site_prefix)
    res, out = run_module(emulator, tmp_path, 'org_site_info', {'organization': org})
    assert res.rc == 0, res.output
    assert out['organization']['machine_name'] == org
    names = [s['name'][len(site_prefix):] for s in out['sites']]
    assert names == ['alpha', 'alpha-copy', 'bravo', 'cold', 'delta'], names
    bravo = [s for s in out['sites'] if s['name'].endswith('bravo')][0]
    assert bravo['framework'] == 'drupal8' and bravo['tags'] == ['eu', 'migrate'] and bravo['upstream']['id']
    assert [s['frozen'] for s in out['sites'] if s['name'].endswith('cold')] == [True]

    res, out = run_module(emulator, tmp_path, 'org_site_info',
                          {'organization': org, 'tags': ['migrate'], 'frameworks': ['drupal']})
    assert res.rc == 0, res.output
    assert [s['name'][len(site_prefix):] for s in out['sites']] == ['alpha', 'alpha-copy', 'cold']

    res, _out = run_module(emulator, tmp_path, 'org_site_info', {'organization': site_prefix + 'nobody'})
    assert res.rc != 0 and 'No organization' in res.output and 'Traceback' not in res.output


def test_clone_org_clones_each_site_with_the_suffix(emulator, tmp_path, site_prefix):
    org = seed_org(emulator, site_prefix)
    reports = tmp_path / 'reports'
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       extra_vars={'organization': org, 'suffix': '-copy', 'tags': ['migrate'],
                                   'frameworks': ['drupal'], 'site_clone_report_dir': str(reports),
                                   # alpha-copy holds an earlier clone this job cannot know it made: say so
                                   'site_clone_overwrite': True})
    assert res.rc == 0, res.output
    # alpha only: cold is frozen, alpha-copy is an earlier clone, bravo and delta are filtered out,
    # outsider is not in the organization
    with open(reports / 'fleet-report.json', encoding='utf-8') as f:
        fleet = json.load(f)
    assert [s['job'] for s in fleet['sites']] == [site_prefix + 'alpha']
    report = read_report(reports, site_prefix + 'alpha')
    assert report['target']['site'] == site_prefix + 'alpha-copy'
    assert report['status'] == 'succeeded' and report['verification']['status'] == 'match'
    assert report['target']['created'] is False  # alpha-copy existed already: finished, not recreated
    assert report['target']['overwrite']['overwritten'] is True and report['target']['overwrite']['backup_folder']

    # The same organization through the inventory plugin (what AWX syncs and slices): the same job, and since
    # alpha-copy now matches, it is re-verified without moving anything (and without site_clone_overwrite).
    inventory = tmp_path / 'agency.pantheon.yml'
    inventory.write_text('plugin: pantheon.platform.sites\norganization: %s\ntags: [migrate]\nframework: [drupal]\n'
                         'environments: false\n' % org, encoding='utf-8')
    again = tmp_path / 'reports-inventory'
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       inventory=str(inventory), extra_vars={'suffix': '-copy', 'site_clone_report_dir': str(again)})
    assert res.rc == 0, res.output
    with open(again / 'fleet-report.json', encoding='utf-8') as f:
        fleet = json.load(f)
    assert [s['job'] for s in fleet['sites']] == [site_prefix + 'alpha']  # cold (frozen) and alpha-copy left out
    report = fleet['sites'][0]
    assert report['target']['site'] == site_prefix + 'alpha-copy' and report['status'] == 'succeeded'
    assert report['changed'] is False and report['verification']['status'] == 'match'

    # exclude by name pattern: alpha, the one site the filters above leave, is left out; nothing is cloned
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       extra_vars={'organization': org, 'suffix': '-copy', 'tags': ['migrate'], 'frameworks': ['drupal'],
                                   'exclude': ['^%salpha$' % site_prefix], 'site_clone_report_dir': str(tmp_path / 'none')})
    assert res.rc == 0, res.output
    assert '0 site(s) to clone (frozen sites, earlier clones and names matching ^%salpha$ left out)' % site_prefix \
        in res.output, res.output
    assert not (tmp_path / 'none' / ('%salpha.json' % site_prefix)).exists()
    # a pattern list that is not one is refused, naming exclude
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       extra_vars={'organization': org, 'suffix': '-copy', 'exclude': {'a': 1}})
    assert res.rc != 0 and 'exclude, if given, is a list' in res.output and 'Traceback' not in res.output, res.output

    # an inventory and an organization at once is refused before anything runs
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       inventory=str(inventory), extra_vars={'suffix': '-copy', 'organization': org})
    assert res.rc != 0 and 'not both' in res.output and 'Traceback' not in res.output, res.output
