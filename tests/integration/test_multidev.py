# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.multidev in-process against the emulator: a Multidev made from dev as
`terminus multidev:create` makes it (the create_cloud_development_environment workflow: a branch of
its name at dev's code, the environment running it, dev's database and files copied), idempotent,
check mode, bad names refused before anything is posted, and the platform's refusal on a site
without the Multidev feature reported."""

from __future__ import annotations

from transfer_helpers import run_module, seed


def _posted(emulator, since):
    return [r['path'] for r in emulator.requests(since=since) if r.get('method') == 'POST' and 'workflows' in r['path']]


def test_create_from_dev_then_idempotent(emulator, site_prefix, tmp_path):
    name = site_prefix + 'md'
    site = seed(emulator, [{'name': name, 'framework': 'drupal8', 'envs': ['dev', 'test', 'live'], 'plan': 'Elite',
                            'db': {'nodes': 4}, 'files': {'count': 3}}])[name]
    dev = emulator.state(name, 'dev', digest=True)

    res, out = run_module(emulator, tmp_path, 'multidev', {'site': name, 'name': 'review'}, check=True)
    assert res.rc == 0 and out['changed'] is True and out['created'] is False, res.output
    assert 'review' not in emulator.api().get('%s/sites/%s/environments' % (emulator.api_url, site['id'])).json()

    mark = emulator.requests()[-1]['id']
    res, out = run_module(emulator, tmp_path, 'multidev', {'site': name, 'name': 'review'})
    assert res.rc == 0 and out['changed'] is True and out['created'] is True, res.output
    assert out['workflow']['type'] == 'create_cloud_development_environment' and out['workflow']['result'] == 'succeeded'
    assert _posted(emulator, mark) == ['/api/sites/%s/workflows' % site['id']]
    review = emulator.state(name, 'review', digest=True)
    # dev's code (on a branch of the new env's name), database and files
    assert review['code']['ref'] == 'refs/heads/review' and review['code']['head'] == dev['code']['head'], review['code']
    assert review['db']['digest'] == dev['db']['digest'] and review['files']['digest'] == dev['files']['digest']
    assert emulator.http().get(emulator.web_url(name, 'review')).status_code == 200

    mark = emulator.requests()[-1]['id']
    res, out = run_module(emulator, tmp_path, 'multidev', {'site': name, 'name': 'review'})
    assert res.rc == 0 and out['changed'] is False and out['created'] is False, res.output
    assert _posted(emulator, mark) == []


def test_bad_names_and_sites_refused(emulator, site_prefix, tmp_path):
    sandbox, elite = site_prefix + 'sb', site_prefix + 'el'
    seed(emulator, [{'name': sandbox, 'framework': 'wordpress', 'envs': ['dev']},
                    {'name': elite, 'framework': 'wordpress', 'envs': ['dev'], 'plan': 'Elite'}])
    mark = emulator.requests()[-1]['id']
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
