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
        # live never initialized (never deployed): skipped, not failed
        dict(small, name=prefix + 'echo', framework='drupal', org=org, tags=['migrate'],
             envs={'dev': {}, 'test': {'initialized': False}, 'live': {'initialized': False}}),
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
    assert names == ['alpha', 'alpha-copy', 'bravo', 'cold', 'delta', 'echo'], names
    bravo = [s for s in out['sites'] if s['name'].endswith('bravo')][0]
    assert bravo['framework'] == 'drupal8' and bravo['tags'] == ['eu', 'migrate'] and bravo['upstream']['id']
    assert [s['frozen'] for s in out['sites'] if s['name'].endswith('cold')] == [True]

    res, out = run_module(emulator, tmp_path, 'org_site_info',
                          {'organization': org, 'tags': ['migrate'], 'frameworks': ['drupal']})
    assert res.rc == 0, res.output
    assert [s['name'][len(site_prefix):] for s in out['sites']] == ['alpha', 'alpha-copy', 'cold', 'echo']

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
    # alpha cloned, echo skipped (its live is not initialized): cold is frozen, alpha-copy is an earlier clone,
    # bravo and delta are filtered out, outsider is not in the organization
    with open(reports / 'fleet-report.json', encoding='utf-8') as f:
        fleet = json.load(f)
    assert sorted((s['job'], s['status']) for s in fleet['sites']) == [(site_prefix + 'alpha', 'succeeded'),
                                                                       (site_prefix + 'echo', 'skipped')]
    assert fleet['totals']['skipped'] == 1 and fleet['totals']['failed'] == 0
    assert [s for s in fleet['sites'] if s['status'] == 'skipped'][0]['skipped'] == 'the source environment %secho.live is not initialized' % site_prefix
    # skipped in the recap too, not failed; nothing made for it
    assert res.stats[site_prefix + 'echo']['failures'] == 0 and res.stats[site_prefix + 'echo']['skipped'] >= 1
    assert '1 site(s) to clone, 1 skipped' in res.output
    assert not (reports / ('%secho.json' % site_prefix)).exists()
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
    # cold (frozen) and alpha-copy left out, echo skipped
    assert sorted((s['job'], s['status']) for s in fleet['sites']) == [(site_prefix + 'alpha', 'succeeded'),
                                                                       (site_prefix + 'echo', 'skipped')]
    report = [s for s in fleet['sites'] if s['status'] != 'skipped'][0]
    assert report['target']['site'] == site_prefix + 'alpha-copy' and report['status'] == 'succeeded'
    assert report['changed'] is False and report['verification']['status'] == 'match'

    # another suffix, alpha and echo excluded by name pattern: alpha-copy's name no longer gives it away, but its
    # repository holds the ownership tag the first run wrote, so it is skipped as a clone; nothing is cloned
    none = tmp_path / 'none'
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       extra_vars={'organization': org, 'suffix': '-again', 'tags': ['migrate'], 'frameworks': ['drupal'],
                                   'exclude': ['^%salpha$' % site_prefix, 'echo'], 'site_clone_report_dir': str(none)})
    assert res.rc == 0, res.output
    assert ('0 site(s) to clone, 1 skipped (frozen sites, earlier clones and names matching ^%salpha$, echo left out); '
            '%salpha-copy skipped: it is the target of an earlier clone (its repository holds '
            'refs/tags/pantheon-platform-clone-' % (site_prefix, site_prefix)) in res.output, res.output
    with open(none / 'fleet-report.json', encoding='utf-8') as f:
        fleet = json.load(f)
    assert [(s['job'], s['status']) for s in fleet['sites']] == [(site_prefix + 'alpha-copy', 'skipped')]
    assert 'include_clones=true' in fleet['sites'][0]['skipped']
    assert not (none / ('%salpha.json' % site_prefix)).exists()
    assert not [s for s in emulator.admin('GET', 'state/sites').json() if s['name'].endswith('-again')]
    # asked to (include_clones), the same selection takes alpha-copy; --limit localhost stops at the selection
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       extra_vars={'organization': org, 'suffix': '-again', 'tags': ['migrate'], 'frameworks': ['drupal'],
                                   'exclude': ['^%salpha$' % site_prefix, 'echo'], 'include_clones': True,
                                   'site_clone_report_dir': str(none)}, args=['--limit', 'localhost'])
    assert res.rc == 0, res.output
    assert '1 site(s) to clone, 0 skipped' in res.output, res.output
    added = res.task('Add a clone job for each site (a site left out is a job reported as skipped, with the reason)')
    assert [(r['add_host']['host_name'], r['add_host']['host_vars'].get('clone_fleet_skip'),
             r['add_host']['host_vars']['site_clone_target_site']) for r in added['results']] == \
        [(site_prefix + 'alpha-copy', None, site_prefix + 'alpha-copy-again')]
    assert not [s for s in emulator.admin('GET', 'state/sites').json() if s['name'].endswith('-again')]
    # a pattern list that is not one is refused, naming exclude
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       extra_vars={'organization': org, 'suffix': '-copy', 'exclude': {'a': 1}})
    assert res.rc != 0 and 'exclude, if given, is a list' in res.output and 'Traceback' not in res.output, res.output

    # an inventory and an organization at once is refused before anything runs
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_org.yml'), env=play_env(emulator, tmp_path),
                       inventory=str(inventory), extra_vars={'suffix': '-copy', 'organization': org})
    assert res.rc != 0 and 'not both' in res.output and 'Traceback' not in res.output, res.output
