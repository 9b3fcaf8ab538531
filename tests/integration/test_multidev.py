# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.multidev in-process against the emulator: a Multidev made from dev as
`terminus multidev:create` makes it (the create_cloud_development_environment workflow: a branch of
its name at dev's code, the environment running it, dev's database and files copied), idempotent,
check mode, bad names refused before anything is posted, and the platform's refusal on a site
without the Multidev feature reported."""

from __future__ import annotations

from site_clone_helpers import last_request_id
from transfer_helpers import run_module, seed, sql, upload_file


def _posted(emulator, since):
    return [r['path'] for r in emulator.requests(since=since) if r.get('method') == 'POST' and 'workflows' in r['path']]


def test_create_from_dev_then_idempotent(emulator, site_prefix, tmp_path):
    name = site_prefix + 'md'
    site = seed(emulator, [{'name': name, 'framework': 'drupal8', 'envs': ['dev', 'test', 'live'], 'plan': 'Elite',
                            'db': {'nodes': 4}, 'files': {'count': 3}}])[name]
    dev = emulator.state(name, 'dev', digest=True)

    res, out = run_module(emulator, tmp_path, 'multidev', {'site': name, 'name': 'review'}, check=True, diff=True)
    assert res.rc == 0 and out['changed'] is True and out['created'] is False and 'site' not in out, res.output
    assert out['diff'] == {'before': None, 'after': {'site_id': site['id'], 'name': 'review', 'from_env': 'dev'}}
    assert 'review' not in emulator.api().get('%s/sites/%s/environments' % (emulator.api_url, site['id'])).json()

    mark = last_request_id(emulator)
    res, out = run_module(emulator, tmp_path, 'multidev', {'site': name, 'name': 'review', 'describe_site': True})
    assert res.rc == 0 and out['changed'] is True and out['created'] is True, res.output
    # the site as it is after the creation, the new environment described as site_info describes it
    assert out['site']['id'] == site['id'] and 'review' in out['site']['environment_ids']
    assert list(out['site']['environments']) == ['review']
    assert out['site']['environments']['review']['platform_domain'].startswith('review-%s.' % name)
    assert out['site']['environments']['review']['initialized'] is True
    assert out['workflow']['type'] == 'create_cloud_development_environment' and out['workflow']['result'] == 'succeeded'
    assert _posted(emulator, mark) == ['/api/sites/%s/workflows' % site['id']]
    review = emulator.state(name, 'review', digest=True)
    # dev's code (on a branch of the new env's name), database and files
    assert review['code']['ref'] == 'refs/heads/review' and review['code']['head'] == dev['code']['head'], review['code']
    assert review['db']['digest'] == dev['db']['digest'] and review['files']['digest'] == dev['files']['digest']
    assert emulator.http().get(emulator.web_url(name, 'review')).status_code == 200

    mark = last_request_id(emulator)
    res, out = run_module(emulator, tmp_path, 'multidev', {'site': name, 'name': 'review'}, diff=True)
    assert res.rc == 0 and out['changed'] is False and out['created'] is False and 'diff' not in out, res.output
    assert _posted(emulator, mark) == []


def test_bad_names_and_sites_refused(emulator, site_prefix, tmp_path):
    sandbox, elite = site_prefix + 'sb', site_prefix + 'el'
    seed(emulator, [{'name': sandbox, 'framework': 'wordpress', 'envs': ['dev']},
                    {'name': elite, 'framework': 'wordpress', 'envs': ['dev'], 'plan': 'Elite'}])
    mark = last_request_id(emulator)
    for bad, words in (('Review', 'lowercase'), ('waytoolongname', 'at most 11'), ('settings', 'reserved'),
                       ('live', 'standard'), ('-x', 'starting with')):
        res, out = run_module(emulator, tmp_path, 'multidev', {'site': elite, 'name': bad})
        assert res.rc == 1 and words in out['msg'] and repr(bad) in out['msg'], res.output
    res, out = run_module(emulator, tmp_path, 'multidev', {'site': elite, 'name': 'ok', 'from_env': 'test'})
    assert res.rc == 1 and 'no test environment' in out['msg'], res.output
    assert _posted(emulator, mark) == []

    # the platform's refusal on a plan without Multidev is reported as its answer, no traceback
    res, out = run_module(emulator, tmp_path, 'multidev', {'site': sandbox, 'name': 'ok'})
    assert res.rc == 1 and 'Multidev is not available' in out['msg'] and out.get('status') == 403, res.output


def test_clone_content_between_environments(emulator, site_prefix, tmp_path):
    """clone_content copies files then the database with the platform's workflows (as env:clone-content),
    guarded like every module that writes; the same environment twice is refused before anything is posted."""
    name = site_prefix + 'cc'
    site = seed(emulator, [{'name': name, 'framework': 'drupal', 'envs': ['dev', 'test', 'live'],
                            'db': {'nodes': 5}, 'files': {'count': 4}}])[name]
    upload_file(emulator, site['id'], 'dev', 'only-on-dev.txt', b'dev')
    sql(emulator, site, 'dev', 'DELETE FROM node')
    before = emulator.state(name, 'dev', digest=True)
    mark = last_request_id(emulator)
    res, out = run_module(emulator, tmp_path, 'clone_content', {'site': name, 'env': 'live', 'target_env': 'live'})
    assert res.rc == 1 and 'both live' in out['msg'], res.output
    # dev holds content: refused without overwrite, naming the option
    res, out = run_module(emulator, tmp_path, 'clone_content', {'site': name, 'env': 'live', 'target_env': 'dev'})
    assert res.rc == 1 and 'overwrite' in out['msg'] and name + '.dev' in out['msg'], res.output
    assert _posted(emulator, mark) == []

    res, out = run_module(emulator, tmp_path, 'clone_content',
                          {'site': name, 'env': 'live', 'target_env': 'dev', 'overwrite': True, 'clear_cache': True})
    assert res.rc == 0 and out['changed'] is True, res.output
    assert [w['type'] for w in out['workflows']] == ['clone_files', 'clone_database']
    posted = [r for r in emulator.requests(since=mark) if r.get('method') == 'POST' and 'workflows' in r['path']]
    assert [r['path'] for r in posted] == ['/api/sites/%s/environments/dev/workflows' % site['id']] * 2
    live, dev = emulator.state(name, 'live', digest=True), emulator.state(name, 'dev', digest=True)
    assert before['files']['digest'] != live['files']['digest'] and before['db']['tables']['node'] == 0
    assert dev['files']['digest'] == live['files']['digest'] and dev['db']['tables']['node'] == 5
    assert {t: n for t, n in dev['db']['tables'].items() if not t.startswith('cache')} == \
        {t: n for t, n in live['db']['tables'].items() if not t.startswith('cache')}
