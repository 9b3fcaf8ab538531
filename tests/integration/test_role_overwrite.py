# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site_clone role and an existing target (issue 11.1): a target that holds content and is not
the job's own is refused before the first write (the source is not even backed up), in check mode
too; with site_clone_overwrite it is backed up first and the report names that backup, and check
mode says what would be overwritten and counts it as a change; the job's ownership tag on the
platform lets a later run from another controller (no state file) finish or repair its own target.
In the same run (issue 14.6): a target Multidev the role creates from the target's dev
(site_clone_target_env_create) and fills as its own, and a clone between two environments of one
site, copied by the platform's clone_files/clone_database (env:clone-content), guarded and backed up
like any target."""

from __future__ import annotations

import json

import pytest

from site_clone_helpers import content_state, last_request_id, requests_since, run_fleet, writes_since
from test_role import small_site
from transfer_helpers import latest_backup, sql, upload_file


def _fleet(emulator, tmp_path, jobs, reports, **kwargs):
    res = run_fleet(emulator, tmp_path, jobs, {'site_clone_report_dir': str(reports)}, forks=5, **kwargs)
    name = 'fleet-report%s.json' % ('.check' if kwargs.get('check') else '')
    with open(reports / name, encoding='utf-8') as f:
        return res, dict((site['job'], site) for site in json.load(f)['sites'])


def _workflows(emulator, since, site_id):
    return [r['path'] for r in requests_since(emulator, since)
            if r['channel'] == 'api' and r['method'] == 'POST' and site_id in r['path']]


def _refused_and_overwritten(emulator, tmp_path, site_prefix):
    src, foreign, allowed = site_prefix + 'ow-src', site_prefix + 'ow-foreign', site_prefix + 'ow-allowed'
    multi = site_prefix + 'ow-md'
    sites = dict((s['name'], s) for s in emulator.seed({'seed': 7, 'sites': [
        small_site(src, backups=True), small_site(foreign, envs=['dev']), small_site(allowed, envs=['dev']),
        small_site(multi, envs=['dev'], plan='Elite', db={'nodes': 3})]}))
    # the source's dev differs from its live in database and files (the environments-of-one-site job copies them)
    sql(emulator, sites[src], 'dev', "UPDATE node SET title = 'dev only' WHERE nid = 1")
    upload_file(emulator, sites[src]['id'], 'dev', 'dev-only.txt', b'dev')
    src_dev_before = content_state(emulator, src, 'dev')
    multi_dev_before = content_state(emulator, multi, 'dev')
    jobs = {'refused': {'site_clone_source_site': src, 'site_clone_target_site': foreign},
            'overwrite': {'site_clone_source_site': src, 'site_clone_target_site': allowed,
                          'site_clone_overwrite': True},
            # a new target whose creation fails after create_site made it: the failure says so, and how to finish
            'created': {'site_clone_source_site': src, 'site_clone_target_site': site_prefix + 'ow-new'},
            # a Multidev the role creates from the target's dev, then fills (its own: no site_clone_overwrite needed)
            'multidev': {'site_clone_source_site': src, 'site_clone_target_site': multi, 'site_clone_target_env': 'review',
                         'site_clone_target_env_create': True},
            # live into dev of the same site: the platform copies; dev holds content, so it is backed up first
            'same-site': {'site_clone_source_site': src, 'site_clone_target_site': src, 'site_clone_overwrite': True}}
    before = {name: content_state(emulator, name, 'dev') for name in (foreign, allowed)}
    source_before = content_state(emulator, src, 'live')
    emulator.faults({'match': {'channel': 'workflow', 'path': '^deploy_product$'},
                     'action': {'workflow_fail': 'upstream deploy failed'}, 'times': 1})

    # the real run: refused before the first write (no backup of the source either); the other is backed up first
    since = last_request_id(emulator)
    res, by_job = _fleet(emulator, tmp_path, jobs, tmp_path / 'reports')
    assert res.rc != 0, res.output
    assert by_job['refused']['status'] == 'failed' and 'site_clone_overwrite' in by_job['refused']['error']['message']
    assert content_state(emulator, foreign, 'dev') == before[foreign]
    assert _workflows(emulator, since, sites[foreign]['id']) == []
    done = by_job['overwrite']
    assert done['status'] == 'succeeded', done
    assert done['verification']['status'] == 'match'
    backup = done['target']['overwrite']['backup_folder']
    assert backup and done['target']['overwrite']['overwritten'] is True, done['target']
    record = [p for p in done['phases'] if p['name'] == 'overwrite'][0]
    assert 'overwriting ' + allowed + '.dev' in record['detail'] and backup in record['detail'], record
    # the backup is the target's newest, made before it was overwritten
    assert latest_backup(emulator, sites[allowed]['id'], 'dev', 'database')[0] == backup
    assert content_state(emulator, allowed, 'dev') != before[allowed]
    assert content_state(emulator, src, 'live') == source_before
    created = by_job['created']
    assert created['status'] == 'failed' and created['error']['phase'] == 'target', created['error']
    msg = created['error']['message']
    assert 'upstream deploy failed' in msg and 'The site %sow-new was created' % site_prefix in msg, msg
    assert 'run again to finish' in msg, msg
    assert 'this run already wrote: the target site %sow-new was created' % site_prefix in res.output

    made = by_job['multidev']
    assert made['status'] == 'succeeded' and made['verification']['status'] == 'match', made
    target_record = [p for p in made['phases'] if p['name'] == 'target'][0]
    assert target_record['outcome'] == 'changed' and 'created the review Multidev from dev' in target_record['detail']
    assert _workflows(emulator, since, sites[multi]['id']).count('/api/sites/%s/workflows' % sites[multi]['id']) == 1
    review = emulator.state(multi, 'review')
    assert review['code']['ref'] == 'refs/heads/review', review['code']
    assert content_state(emulator, multi, 'dev') == multi_dev_before  # dev was only the starting point
    assert content_state(emulator, multi, 'review')['files'] == content_state(emulator, src, 'live')['files']

    same = by_job['same-site']
    assert same['status'] == 'succeeded' and same['verification']['status'] == 'match', same
    assert [(s['step'], s['method']) for s in same['strategy']['steps']] == [
        ('files', 'clone_content'), ('database', 'clone_content')], same['strategy']
    measure = [p for p in same['phases'] if p['name'] == 'measure'][0]
    assert 'no backup needed' in measure['detail'], measure
    assert same['target']['overwrite']['overwritten'] is True and same['target']['overwrite']['backup_folder']
    dev_posts = [p.rsplit('/', 1)[0] for p in _workflows(emulator, since, sites[src]['id'])
                 if '/environments/dev/' in p]
    assert len(dev_posts) == 4, dev_posts  # backup of dev, clone_files, clone_database, cache rebuild
    after = content_state(emulator, src, 'dev')
    assert after != src_dev_before and after['files'] == content_state(emulator, src, 'live')['files']

    return src, allowed, sites


def test_existing_target_refused_unless_overwrite_and_backed_up(emulator, tmp_path, site_prefix):
    _refused_and_overwritten(emulator, tmp_path, site_prefix)


@pytest.mark.long
def test_own_target_repaired_from_another_controller(emulator, tmp_path, site_prefix):
    src, allowed, sites = _refused_and_overwritten(emulator, tmp_path, site_prefix)
    # a later run of the same job from another controller (no state file, no overwrite option) repairs its
    # own target: the ownership tag is on the platform
    sql(emulator, {'id': sites[allowed]['id'], 'framework': 'drupal'}, 'dev', "UPDATE node SET title = 'x' WHERE nid = 1")
    jobs = {'overwrite': {'site_clone_source_site': src, 'site_clone_target_site': allowed}}
    res, by_job = _fleet(emulator, tmp_path, jobs, tmp_path / 'other-controller')
    again = by_job['overwrite']
    assert res.rc == 0 and again['status'] == 'succeeded', res.output
    assert again['target']['overwrite']['owned'] is True and again['target']['overwrite']['overwritten'] is False
    assert again['pending'] == ['database'] and again['verification']['status'] == 'match'


@pytest.mark.long
def test_check_mode_says_what_would_be_overwritten(emulator, tmp_path, site_prefix):
    """clone_fleet.yml in check mode, one job per case: a refused target, an allowed overwrite (the plan from the
    backup a real run would reuse: one archive), and a new target from a WordPress source without a backup whose
    database cannot be measured (its command fails): undetermined, and why. Nothing is written."""
    src, foreign, allowed = site_prefix + 'ow-src', site_prefix + 'ow-foreign', site_prefix + 'ow-allowed'
    unmeasured = site_prefix + 'ow-wp'
    emulator.seed({'seed': 7, 'sites': [
        small_site(src, backups=True), small_site(foreign, envs=['dev']), small_site(allowed, envs=['dev']),
        small_site(unmeasured, 'wordpress')]})
    jobs = {'refused': {'site_clone_source_site': src, 'site_clone_target_site': foreign},
            'overwrite': {'site_clone_source_site': src, 'site_clone_target_site': allowed,
                          'site_clone_overwrite': True},
            'new': {'site_clone_source_site': unmeasured, 'site_clone_target_site': unmeasured + '-new'}}
    before = {name: content_state(emulator, name, 'dev') for name in (foreign, allowed)}
    source_before = content_state(emulator, unmeasured, 'live')

    # check mode: the refusal and what would be overwritten, nothing written
    since = last_request_id(emulator)
    emulator.faults({'match': {'channel': 'ssh', 'path': 'wp db size'}, 'action': {'reset': True}})
    try:
        res, by_job = _fleet(emulator, tmp_path, jobs, tmp_path / 'check', check=True)
    finally:
        emulator.clear_faults()
    assert by_job['refused']['status'] == 'failed', res.output
    msg = by_job['refused']['error']['message']
    assert by_job['refused']['error']['phase'] == 'overwrite', by_job['refused']['error']
    assert foreign + '.dev' in msg and 'environment dev' in msg and 'site_clone_overwrite' in msg, msg
    assert 'holds content' in msg and '6 files' in msg, msg
    checked = by_job['overwrite']
    assert checked['status'] == 'checked' and checked['changed'] is True, checked
    record = [p for p in checked['phases'] if p['name'] == 'overwrite'][0]
    assert record['outcome'] == 'changed' and 'would overwrite ' + allowed + '.dev' in record['detail'], record
    assert 'would back it up first' in record['detail'], record
    assert checked['target']['overwrite']['overwritten'] is True
    assert checked['target']['overwrite']['content']['files'] == 6
    files_bytes = emulator.state(allowed, 'dev')['files']['bytes']
    assert checked['target']['overwrite']['content']['files_bytes'] == files_bytes
    assert '6 files of %d bytes' % files_bytes in record['detail'], record
    # clone_fleet.yml in check mode carries the plan too: one planned record per step, with its method and size
    planned = [p for p in checked['phases'] if p['outcome'] == 'planned']
    assert [(p['name'], p['detail'].split(' (', 1)[0]) for p in planned] == \
        [(s['step'], ', '.join(s['elements']) + ' by ' + s['method']) for s in checked['strategy']['steps']]
    assert all(p['detail'].endswith(': ' + s['size']) for p, s in zip(planned, checked['strategy']['steps']))
    # the report's transfers: each element's planned method, nothing moved; the target existed; the run in check mode
    assert {e: (t['method'], t['status'], t['bytes']) for e, t in checked['transfers'].items()} == \
        {e: ('archive_import', 'planned', None) for e in ('code', 'database', 'files')}, checked['transfers']
    assert checked['run']['check_mode'] is True and checked['target']['created'] is False
    # the guard's only SSH commands are reads (SHOW TABLES through drush sql-query, rsync listings); the content
    # states prove the query changed nothing
    assert checked['sizes']['files'] > 0 and checked['strategy']['name'] == 'archive', checked['strategy']
    assert [p['detail'] for p in checked['phases'] if p['name'] == 'measure'][0].startswith('reused backup ')
    # sizes of a reused backup are the gzipped sizes the real run decides on: no uncompressed caveat, no alternative
    assert checked['strategy']['alternative'] is None and checked['strategy']['depends_on'] == []
    assert 'uncompressed' not in checked['strategy']['reason']

    # a new target: what would be created; the source measured without a backup, its database undetermined and why
    new = by_job['new']
    assert new['status'] == 'checked' and new['target']['created'] is True, new
    phases = dict((p['name'], p) for p in new['phases'])
    assert phases['target']['outcome'] == 'changed'
    assert phases['target']['detail'].startswith('would create %s-new (label %s-new, upstream ' % (unmeasured, unmeasured))
    assert 'organization' in phases['target']['detail']
    assert new['strategy']['name'] == 'undetermined' and new['strategy']['steps'] == []
    reason = new['strategy']['reason']
    assert 'check mode makes no backup, and the database of %s.live could not be measured' % unmeasured in reason
    assert 'Could not measure the database of %s.live (wp db size' % unmeasured in reason, reason
    state = emulator.state(unmeasured, 'live')
    assert new['sizes']['files'] == state['files']['bytes'] and new['sizes']['database'] is None
    measure = phases['measure']['detail']
    assert measure.startswith('measured without a backup: code ') and 'database undetermined (Could not' in measure
    assert 'files %d bytes' % state['files']['bytes'] in measure
    assert new['verification']['status'] == 'skipped'

    # the guard's only SSH commands are reads (SHOW TABLES through drush sql-query, rsync listings); the content
    # states prove the query changed nothing; no workflow, no target created, no state file
    assert [w for w in writes_since(emulator, since) if w != 'SSH drush sql-query'] == []
    assert set(r['path'] for r in requests_since(emulator, since) if r['method'] == 'POST') <= \
        {'/api/authorize/machine-token'}
    assert {name: content_state(emulator, name, 'dev') for name in (foreign, allowed)} == before
    assert content_state(emulator, unmeasured, 'live') == source_before
    assert not any(s['name'] == unmeasured + '-new' for s in emulator.admin('GET', 'state/sites').json())
    assert not list((tmp_path / 'check').glob('.state/*.json'))
