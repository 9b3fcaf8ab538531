# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.clone_target in-process against the emulator: a target that holds content is
refused (naming the site, the environment and the option) before anything is written, allowed with
overwrite (check mode says what would be replaced), and a job's ownership tag, written into the
target's repository on the platform, makes a later run of the same job (from any controller) find
the target as its own; another job does not."""

from __future__ import annotations

import subprocess

from site_clone_helpers import content_state, last_request_id
from transfer_helpers import git_env, latest_backup, remote, rsh, run_module, seed


def _ls_remote(emulator, site_id):
    url = 'ssh://codeserver.dev.%s@%s:%s/~/repository.git' % (site_id, emulator.ssh_host, emulator.ssh_port)
    out = subprocess.run(['git', 'ls-remote', url], env=git_env(emulator), capture_output=True, check=True).stdout
    return dict(reversed(line.split('\t', 1)) for line in out.decode().splitlines())


def _empty_files(emulator, site_id, env, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir(exist_ok=True)
    subprocess.run(['rsync', '-r', '--delete', '-e', rsh(emulator), str(empty) + '/',
                    'appserver.%s.%s@%s:files/' % (env, site_id, emulator.ssh_host)], check=True, capture_output=True)


def _writes(emulator, since):
    """API workflows posted and SSH commands other than the read-only ones, since the mark."""
    log = emulator.requests(since=since)
    posted = [r['path'] for r in log if r.get('channel') != 'ssh' and r.get('method') == 'POST'
              and 'workflows' in r['path']]
    ssh = [r['path'] for r in log if r.get('channel') == 'ssh']
    return posted, ssh


def test_content_refused_unless_overwrite_and_ownership_on_the_platform(emulator, site_prefix, tmp_path):
    dst = seed(emulator, [{'name': site_prefix + 'dst', 'framework': 'drupal', 'envs': ['dev'],
                           'db': {'nodes': 3}, 'files': {'count': 4}}])[site_prefix + 'dst']
    job = 'src.live-to-%s.dev' % dst['name']
    refs_before = _ls_remote(emulator, dst['id'])
    mark = last_request_id(emulator)

    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': dst['name'], 'job': job})
    assert res.rc == 1, res.output
    msg = out['msg']
    assert dst['name'] + '.dev' in msg and 'environment dev' in msg, msg
    assert 'holds content' in msg and '4 files' in msg and 'overwrite: true' in msg and 'site_clone_overwrite' in msg
    assert job in msg
    posted, ssh = _writes(emulator, mark)
    assert posted == [], posted
    assert ssh and all(('sql-query' in cmd or 'rsync' in cmd or 'git-upload-pack' in cmd) for cmd in ssh), ssh
    assert _ls_remote(emulator, dst['id']) == refs_before

    # check mode with overwrite: says what would be replaced, and that the tag would be written (a change)
    res, out = run_module(emulator, tmp_path, 'clone_target',
                          {'site': dst['name'], 'job': job, 'overwrite': True}, check=True)
    assert res.rc == 0, res.output
    assert out['would_overwrite'] is True and out['holds_content'] is True and out['changed'] is False
    assert out['content']['files'] == 4 and out['content']['tables'] > 0
    res, out = run_module(emulator, tmp_path, 'clone_target',
                          {'site': dst['name'], 'job': job, 'overwrite': True, 'mark': True}, check=True, diff=True)
    assert res.rc == 0 and out['changed'] is True and out['marked'] is True, res.output
    assert out['diff'] == {'before': {'marker': out['marker'], 'owned': False},
                           'after': {'marker': out['marker'], 'owned': True}}, out
    assert _ls_remote(emulator, dst['id']) == refs_before

    # allowed and marked: the tag is in the target's repository, the branches are untouched
    res, out = run_module(emulator, tmp_path, 'clone_target',
                          {'site': dst['name'], 'job': job, 'overwrite': True, 'mark': True})
    assert res.rc == 0 and out['changed'] is True and out['marked'] is True and out['owned'] is False, res.output
    refs = _ls_remote(emulator, dst['id'])
    assert refs[out['marker']] and out['marker'].startswith('refs/tags/pantheon-platform-clone-')
    assert dict((k, v) for k, v in refs.items() if k != out['marker']) == refs_before

    # a later run of the same job (any controller: nothing local is read) finds its own target
    res, again = run_module(emulator, tmp_path / 'other-controller', 'clone_target', {'site': dst['id'], 'job': job})
    assert res.rc == 0, res.output
    assert again['owned'] is True and again['would_overwrite'] is False and again['changed'] is False
    res, again = run_module(emulator, tmp_path, 'clone_target', {'site': dst['name'], 'job': job, 'mark': True},
                            diff=True)
    assert res.rc == 0 and again['changed'] is False and again['marked'] is False and 'diff' not in again, res.output

    # another job's target is not this job's own
    res, other = run_module(emulator, tmp_path, 'clone_target', {'site': dst['name'], 'job': job + '-other'})
    assert res.rc == 1 and 'holds content' in other['msg'], res.output


def test_empty_target_is_allowed_wordpress(emulator, site_prefix, tmp_path):
    dst = seed(emulator, [{'name': site_prefix + 'wp', 'framework': 'wordpress', 'envs': ['dev'],
                           'files': {'count': 2}}])[site_prefix + 'wp']
    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': dst['name'], 'job': 'j'})
    assert res.rc == 1 and 'holds content' in out['msg'] and '2 files' in out['msg'], res.output
    # as the platform leaves a new site: no table, no file
    remote(emulator, dst['id'], 'dev', ['wp', 'db', 'reset', '--yes'])
    _empty_files(emulator, dst['id'], 'dev', tmp_path)
    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': dst['name'], 'job': 'j'})
    assert res.rc == 0, res.output
    assert out['content'] == {'tables': 0, 'files': 0, 'files_bytes': 0} and out['holds_content'] is False
    assert out['would_overwrite'] is False and out['changed'] is False


def test_bad_input_names_the_problem(emulator, site_prefix, tmp_path):
    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': site_prefix + 'nope', 'job': 'j'})
    assert res.rc == 1 and site_prefix + 'nope' in out['msg'], res.output
    assert 'Traceback' not in res.output
    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': site_prefix + 'nope', 'job': ' '})
    assert res.rc == 1 and 'job must name' in out['msg'], res.output


def test_site_created_then_failing_says_it_was_created_and_a_rerun_finishes(emulator, site_prefix, tmp_path):
    """After-write messages: a failure once create_site has made the site names the site and how to finish."""
    name = site_prefix + 'half'
    emulator.faults({'match': {'channel': 'workflow', 'path': '^deploy_product$'},
                     'action': {'workflow_fail': 'upstream deploy failed'}, 'times': 1})
    args = {'name': name, 'upstream': 'drupal10', 'state': 'present', 'wait_timeout': 120}
    res, out = run_module(emulator, tmp_path, 'site', args)
    assert res.rc == 1, res.output
    assert 'upstream deploy failed' in out['msg'] and 'The site %s was created' % name in out['msg'], out['msg']
    assert 'run again to finish' in out['msg'] and 'Traceback' not in res.output
    res, out = run_module(emulator, tmp_path, 'site', args)
    assert res.rc == 0 and out['changed'] is True, res.output
    assert out['site']['upstream'], out['site']


def test_writing_modules_refuse_a_target_with_content_unless_overwrite(emulator, site_prefix, tmp_path):
    """code_push, database_stream, files_sync and site_import (database, files, site) refuse a target environment
    that holds content, before writing, naming the site, the environment and the option; with overwrite they write;
    a second run that finds nothing to do is not refused."""
    sites = seed(emulator, [
        {'name': site_prefix + 'src', 'framework': 'drupal', 'envs': ['dev', 'live'], 'db': {'nodes': 5},
         'files': {'count': 3}, 'code': {'files': {'sites/all/modules/custom/x/x.module': '<?php\\n'}},
         'backups': [{'env': 'live', 'elements': ['code', 'database', 'files']}]},
        {'name': site_prefix + 'dst', 'framework': 'drupal', 'envs': ['dev'], 'db': {'nodes': 2}, 'files': {'count': 2}},
    ])
    src, dst = sites[site_prefix + 'src'], sites[site_prefix + 'dst']
    before = content_state(emulator, dst['name'], 'dev')
    backup = {'site': src['name'], 'env': 'live'}
    dummy, db_url = latest_backup(emulator, src['id'], 'live', 'database')
    calls = [
        ('code_push', {'site': src['name'], 'env': 'dev', 'target_site': dst['name']}, 'a code push'),
        ('database_stream', {'site': dst['name'], 'backup': backup}, 'a database import'),
        ('files_sync', {'site': dst['name'], 'backup': backup, 'delete': True}, 'a files sync'),
        ('site_import', {'site': dst['name'], 'kind': 'database', 'url': db_url, 'max_size_mb': 0},
         'a database import'),
    ]
    for module, args, what in calls:
        res, out = run_module(emulator, tmp_path, module, args)
        assert res.rc == 1, (module, res.output)
        msg = out['msg']
        assert dst['name'] + '.dev' in msg and 'environment dev' in msg and 'holds content' in msg, (module, msg)
        assert 'overwrite: true' in msg and '(%s refused)' % what in msg, (module, msg)
        assert 'Traceback' not in res.output
    assert content_state(emulator, dst['name'], 'dev') == before

    # check mode says it would be refused too (reads only)
    res, out = run_module(emulator, tmp_path, 'files_sync', calls[2][1], check=True)
    assert res.rc == 1 and 'holds content' in out['msg'], res.output

    res, out = run_module(emulator, tmp_path, 'database_stream', dict(calls[1][1], overwrite=True))
    assert res.rc == 0 and out['changed'] is True, res.output
    res, out = run_module(emulator, tmp_path, 'files_sync', dict(calls[2][1], overwrite=True))
    assert res.rc == 0 and out['changed'] is True, res.output
    # nothing left to write: not refused, no change
    for module, args, dummy in calls[1:3]:
        res, out = run_module(emulator, tmp_path, module, args)
        assert res.rc == 0 and out['changed'] is False, (module, res.output)


def test_a_clone_between_environments_of_one_site_is_not_a_clone_mark(emulator, site_prefix, tmp_path):
    """A job that copies between two environments of one site tags the site with the within-site tag: the job
    finds its own target again by it, and site_info's clone_marks (what clone_org.yml skips sites by) leaves it
    out. The tag of a job from another site is listed."""
    site = seed(emulator, [{'name': site_prefix + 'one', 'framework': 'drupal8', 'envs': ['dev', 'live']}])[site_prefix + 'one']
    inner = '%s.live-to-%s.dev' % (site['name'], site['name'])
    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': site['name'], 'job': inner, 'overwrite': True,
                                                               'mark': True, 'within_site': True})
    assert res.rc == 0 and out['marked'] is True, res.output
    assert out['marker'].startswith('refs/tags/pantheon-platform-clone-env-'), out['marker']
    assert out['marker'] in _ls_remote(emulator, site['id'])
    # the job's own target, by the same tag; the other kind of tag is another one
    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': site['name'], 'job': inner, 'within_site': True})
    assert res.rc == 0 and out['owned'] is True, res.output
    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': site['name'], 'job': inner, 'overwrite': True})
    assert res.rc == 0 and out['owned'] is False, res.output
    res, info = run_module(emulator, tmp_path, 'site_info', {'name': site['name'], 'clone_marks': True})
    assert res.rc == 0 and info['clone_marks'] == [], res.output
    # a clone of another site into it is a mark
    res, out = run_module(emulator, tmp_path, 'clone_target', {'site': site['name'], 'job': 'other.live-to-one.dev',
                                                               'overwrite': True, 'mark': True})
    assert res.rc == 0 and not out['marker'].startswith('refs/tags/pantheon-platform-clone-env-'), res.output
    res, info = run_module(emulator, tmp_path, 'site_info', {'name': site['name'], 'clone_marks': True})
    assert info['clone_marks'] == [out['marker']], info['clone_marks']
