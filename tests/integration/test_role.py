# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site_clone role through playbooks/clone_site.yml and clone_fleet.yml against the emulator:
check mode compared with the real run that follows, the fallback when the platform cannot hold the archive,
and secrets at -vvvv (check mode's refusals, overwrites and undetermined sizes: test_role_overwrite.py).

Every strategy and framework, verification and the second run are in test_fleet.py; interrupted runs
in test_role_interrupt.py; bad input in test_bad_input.py.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from helpers.secrets import assert_no_secrets
from site_clone_helpers import (
    ARCHIVE_NAME,
    archives_on_source,
    clone_site,
    content_state,
    last_request_id,
    read_report,
    requests_since,
    state_files,
    writes_since,
)

MB = 1024 * 1024


def small_site(name, framework='drupal', files=None, backups=False, **extra):
    spec = {'name': name, 'framework': framework, 'envs': ['dev', 'test', 'live'],
            'db': {'nodes': 8} if framework != 'wordpress' else {'posts': 8},
            'files': files or {'count': 6, 'size': [200, 4000], 'compressible': True, 'depth': 1, 'folders': 2}}
    if backups:
        spec['backups'] = [{'env': 'live', 'elements': ['code', 'database', 'files']}]
    spec.update(extra)
    return spec


# make test-long: the fallback itself is tested at module level (test_archive.py's fallback without files)
@pytest.mark.long
def test_archive_too_large_for_the_platform_falls_back_and_leaks_nothing(emulator, tmp_path, site_prefix):
    name = site_prefix + 'big'
    # three incompressible files of 600 KB: each fits the platform's (lowered) 1 MB file limit, the archive does not
    files = {'count': 4, 'size': 2000, 'compressible': True,
             'big': [{'name': 'media/part-%d.bin' % i, 'size': 600 * 1024, 'compressible': False} for i in range(3)]}
    emulator.seed({'seed': 5, 'sites': [small_site(name, files=files)]})
    reports = tmp_path / 'reports'
    since = last_request_id(emulator)
    # The platform refuses files of 1 MB or more; the role's own archive limit stays at 256 MB, so it
    # tries the whole archive, which the platform cannot hold, and must fall back.
    with emulator.limits(max_file_bytes=MB):
        res = clone_site(emulator, tmp_path, name, name + '-clone', reports, verbosity=4)
    assert res.rc == 0, res.output[-6000:]
    # nothing the role reads is deprecated (a fact a module returned, read as a variable, is: INJECT_FACTS_AS_VARS)
    assert 'DEPRECATION' not in res.output
    report = read_report(reports, '%s.live-to-%s-clone.dev' % (name, name))
    assert report['strategy']['fallbacks'] == ['archive']
    assert report['strategy']['name'] == 'archive_without_files'
    assert 'too large' in report['strategy']['reason']
    assert [s['method'] for s in report['strategy']['steps']] == ['archive_import', 'url_import']
    assert [p['outcome'] for p in report['phases'] if p['name'] == 'archive'] == ['changed']
    assert report['verification']['status'] == 'match'
    assert archives_on_source(emulator, name) == []
    assert state_files(reports) == []

    # Secrets never reach the output at -vvvv: the token, the session, signed URL queries, archive names.
    seen = set()
    for row in requests_since(emulator, since):
        seen.update(ARCHIVE_NAME.findall(row['path']))
    assert seen, 'the archive was fetched from the source by the import, so its name is in the web log'
    secrets = {'machine token': emulator.machine_token}
    for i, archive in enumerate(sorted(seen)):
        secrets['archive name %d' % i] = archive[:-len('.tgz')]
    cache = tmp_path / 'pantheon-cache'
    for i, path in enumerate(sorted(cache.glob('session-*.json')) if cache.exists() else []):
        secrets['session %d' % i] = json.loads(path.read_text())['session']
    output = res.stdout + res.stderr
    assert_no_secrets(output, secrets)
    assert 'Signature=' not in output and 'signature=' not in output.lower().replace('"signature": null', '')
    with open(reports / ('%s.live-to-%s-clone.dev.json' % (name, name)), encoding='utf-8') as f:
        assert_no_secrets(f.read(), secrets, where='report')


def test_archive_without_the_site_directory_goes_element_by_element(emulator, tmp_path, site_prefix):
    """Drush 8 leaves sites/default out of the archive (Terminus #2580): the role never imports it,
    says why, and moves the elements one by one."""
    name = site_prefix + 'nositedir'
    emulator.seed({'seed': 6, 'sites': [small_site(name)]})
    reports = tmp_path / 'reports'
    since = last_request_id(emulator)
    emulator.faults({'match': {'channel': 'ssh', 'path': r'drush.* (ard|archive-dump) '},
                     'action': {'drush_sitedir_unknown': True}})
    try:
        res = clone_site(emulator, tmp_path, name, name + '-clone', reports)
    finally:
        emulator.clear_faults()
    assert res.rc == 0, res.output[-6000:]
    report = read_report(reports, '%s.live-to-%s-clone.dev' % (name, name))
    assert report['strategy']['fallbacks'] == ['archive_sitedir']
    assert report['strategy']['name'] == 'elements'
    assert 'Unable to determine sites directory for self' in report['strategy']['reason']
    archive_phase = [p for p in report['phases'] if p['name'] == 'archive']
    assert [p['outcome'] for p in archive_phase] == ['fallback']
    assert 'sites/default' in archive_phase[0]['detail'] and 'without import' in archive_phase[0]['detail']
    assert 'without the site directory' in res.output and 'without being imported' in res.output
    assert report['verification']['status'] == 'match'
    # each element moved by its own step after the archive fell back, with the bytes it moved
    transfers = report['transfers']
    assert 'archive' not in transfers
    assert [(transfers[e]['method'], transfers[e]['status']) for e in ('code', 'database', 'files')] == \
        [(s['method'], 'moved') for s in report['strategy']['steps']], transfers
    assert all(transfers[e]['bytes'] for e in ('database', 'files') if transfers[e]['method'] != 'code_push')
    assert report['target']['created'] is True and report['target']['links']['web'].startswith('https://dev-')
    assert archives_on_source(emulator, name) == []
    assert state_files(reports) == []
    kept = [k for k in os.listdir(reports / 'history') if not k.endswith('.json')]
    page = (reports / 'history' / kept[0] / 'report.html').read_text(encoding='utf-8')
    assert 'target created by this run' in page and 'data-status="succeeded"' in page
    # the run is kept in the history (its report, page and index entry) and listed in index.html
    assert sorted(os.listdir(reports / 'history')) == [kept[0], kept[0] + '.json']
    assert kept[0].endswith('Z-%s.live-to-%s-clone.dev' % (name, name))
    index = (reports / 'index.html').read_text(encoding='utf-8')
    assert re.findall(r'data-run="([^"]+)" data-status="([^"]+)"', index) == [(kept[0], 'succeeded')]
    posted = [r['path'] for r in requests_since(emulator, since) if r['method'] == 'POST']
    assert not [p for p in posted if p.endswith('/workflows') and 'do_migration' in p]
    migrations = [w for w in emulator.api().get('%s/sites/%s/workflows' % (
        emulator.api_url, report['target']['id']), timeout=30).json() if w.get('type') == 'do_migration']
    assert migrations == []


@pytest.mark.parametrize('env', [{'PANTHEON_MACHINE_TOKEN': None, 'TERMINUS_MACHINE_TOKEN': None}])
def test_missing_credentials_are_named(emulator, tmp_path, site_prefix, env):
    res = clone_site(emulator, tmp_path, site_prefix + 'any', site_prefix + 'other', tmp_path / 'reports', env=env)
    assert res.rc != 0
    assert 'machine token' in res.output.lower()
    assert 'Traceback' not in res.output


# make test-long (a full clone, a drift, and a repairing rerun: the suite's budget)
@pytest.mark.long
def test_target_drift_is_repaired_with_the_reused_backup(emulator, tmp_path, site_prefix):
    """A target changed behind the role's back is cloned again on the next run, even though the role
    reuses the backup it measured (whose import the workflow history already shows as done)."""
    name = site_prefix + 'drift'
    emulator.seed({'seed': 9, 'sites': [small_site(name, framework='drupal8')]})
    reports = tmp_path / 'reports'
    target = name + '-clone'
    job = '%s.live-to-%s.dev' % (name, target)
    first = clone_site(emulator, tmp_path, name, target, reports)
    assert first.rc == 0, first.output[-6000:]
    assert [s['method'] for s in read_report(reports, job)['strategy']['steps'] if s['step'] == 'database'] == \
        ['url_import']

    conn = emulator.db(target, 'dev')
    with conn.cursor() as cur:
        assert cur.execute("UPDATE node_field_data SET title = 'changed behind the role' WHERE nid = 1") == 1
    # Same row counts: only a value differs, which the checkpoint must still find.
    assert content_state(emulator, target, 'dev')['tables']['node_field_data'] == \
        content_state(emulator, name, 'live')['tables']['node_field_data']

    second = clone_site(emulator, tmp_path, name, target, reports)
    assert second.rc == 0, second.output[-6000:]
    report = read_report(reports, job)
    outcomes = dict((p['name'], p['outcome']) for p in report['phases'])
    assert outcomes['database'] == 'changed'
    assert report['verification']['status'] == 'match'
    with conn.cursor() as cur:
        cur.execute('SELECT title FROM node_field_data WHERE nid = 1')
        assert cur.fetchone()[0] != 'changed behind the role'
    conn.close()


def test_a_clone_that_does_not_match_fails_in_verify_naming_the_difference(emulator, tmp_path, site_prefix):
    """The target's home page answers HTTP 500 after the clone: the verification fails the clone, the failure names
    the difference, and the report keeps the comparison."""
    name = site_prefix + 'mismatch'
    emulator.seed({'seed': 7, 'sites': [small_site(name)]})
    reports = tmp_path / 'reports'
    emulator.faults({'match': {'channel': 'http', 'method': 'GET', 'path': '^/$'}, 'action': {'status': 500}})
    try:
        res = clone_site(emulator, tmp_path, name, name + '-clone', reports)
    finally:
        emulator.clear_faults()
    assert res.rc != 0
    report = read_report(reports, '%s.live-to-%s-clone.dev' % (name, name))
    assert report['status'] == 'failed' and report['error']['phase'] == 'verify', report['error']
    assert 'home page' in report['error']['message'] and 'differs from' in report['error']['message']
    assert report['verification']['status'] == 'mismatch'
    assert report['verification']['elements']['home']['match'] is False
    assert [e['match'] for n, e in report['verification']['elements'].items() if n != 'home'] == [True] * 3
    assert [(p['name'], p['outcome']) for p in report['phases']][-1] == ('verify', 'failed')
    # the failure is printed once, by the verification itself, then the outcome names the phase
    errors = [line for line in res.output.splitlines() if line.startswith('[ERROR]')]
    assert len(errors) == 2 and 'differs from' in errors[0] and 'home page (HTTP 500)' in errors[0], errors
    assert 'failed in verify (its error is shown above' in errors[1], errors


def test_a_target_left_half_created_is_finished_then_cloned(emulator, tmp_path, site_prefix):
    """The target exists but has no upstream (an earlier run was stopped between create_site and
    deploy_product): nothing on it to compare, so the role deploys the source's upstream and clones."""
    name = site_prefix + 'half'
    target = name + '-clone'
    emulator.seed({'seed': 4, 'sites': [small_site(name, 'wordpress')]})
    api = emulator.api()
    user_workflows = '%s/users/%s/workflows' % (emulator.api_url, emulator.user_id)
    created = api.post(user_workflows, json={'type': 'create_site', 'params': {'label': target, 'site_name': target}},
                       timeout=30).json()
    deadline = time.monotonic() + 60
    while api.get('%s/%s' % (user_workflows, created['id']), timeout=30).json()['result'] is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    reports = tmp_path / 'reports'
    job = '%s.live-to-%s.dev' % (name, target)

    # check mode first: its plan must be what the real run then does, and it writes nothing
    since = last_request_id(emulator)
    res = clone_site(emulator, tmp_path, name, target, reports, check=True)
    assert res.rc == 0, res.output
    assert writes_since(emulator, since) == []
    assert set(r['path'] for r in requests_since(emulator, since) if r['method'] == 'POST') <= \
        {'/api/authorize/machine-token'}
    plan = read_report(reports, job, check=True)
    assert plan['status'] == 'checked'
    assert 'check mode measured the source without a backup: these sizes are uncompressed' in plan['strategy']['reason']
    # the measured sizes are far below every limit, so the route is certain: no alternative in the plan or its steps
    assert 'it takes this route too: no size that decides it is above a limit' in plan['strategy']['reason']
    assert plan['strategy']['alternative'] is None and plan['strategy']['depends_on'] == []
    assert [s['alternative'] for s in plan['strategy']['steps']] == [None] * len(plan['strategy']['steps'])
    assert [p['alternative'] for p in plan['phases'] if p['outcome'] == 'planned' or p['name'] == 'strategy'] == \
        [None] * (len(plan['strategy']['steps']) + 1)
    planned = dict((p['name'], p['detail']) for p in plan['phases'] if p['outcome'] == 'planned')
    assert sorted(planned) == sorted(s['step'] for s in plan['strategy']['steps']), plan['phases']
    assert planned['code'].startswith('code by code_push (git push from the source repository): ')
    target_detail = [p['detail'] for p in plan['phases'] if p['name'] == 'target']
    assert target_detail[0].startswith('would finish creating %s (label %s, upstream ' % (target, target)), target_detail

    res = clone_site(emulator, tmp_path, name, target, reports)
    assert res.rc == 0, res.output
    report = read_report(reports, job)
    assert report['status'] == 'succeeded' and report['verification']['status'] == 'match'
    # the same strategy and, per step, the same elements and method; the real run's sizes are its backup's (gzipped),
    # at most what check mode measured uncompressed (plus tar/gzip framing)
    assert report['strategy']['name'] == plan['strategy']['name'] == 'elements'
    assert [(s['step'], s['elements'], s['method']) for s in report['strategy']['steps']] == \
        [(s['step'], s['elements'], s['method']) for s in plan['strategy']['steps']]
    for element in ('code', 'database', 'files'):
        assert 0 < report['sizes'][element] <= plan['sizes'][element] * 1.05 + 65536, (element, report['sizes'],
                                                                                       plan['sizes'])
    phases = dict((p['name'], p) for p in report['phases'])
    # WordPress has no archive route: no archive phase is recorded (a skipped archive task once recorded a fallback)
    assert [p['name'] for p in report['phases']] == ['preflight', 'checkpoint', 'overwrite', 'target', 'measure',
                                                     'strategy', 'code', 'database', 'files', 'cleanup', 'fixups',
                                                     'verify'], report['phases']
    assert [(p['method'], p['bytes']) for p in report['phases'] if p['name'] in ('database', 'files')] == \
        [('url_import', report['sizes']['database']), ('url_import', report['sizes']['files'])]
    assert phases['checkpoint']['outcome'] == 'skipped'
    assert 'creation is not finished' in phases['checkpoint']['detail']
    assert phases['target']['outcome'] == 'changed' and phases['target']['detail'] == 'finished creating ' + target
    assert report['target']['created'] is True
    site = api.get('%s/sites/%s' % (emulator.api_url, created['waiting_for_task']['site_id']), timeout=30).json()
    assert site['framework'] == 'wordpress'
