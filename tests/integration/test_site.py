# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.site and site_info through the real ansible-playbook against the emulator.

Each ansible-playbook start costs seconds, so one playbook covers several steps; the emulator's
request log tells which API calls each step made.
"""

from __future__ import annotations

import glob
import json
import os
import threading
import time

import pytest

from helpers.ansible import run_playbook
from helpers.secrets import assert_no_secrets
from site_clone_helpers import last_request_id
from transfer_helpers import run_module

DRUPAL = 'drupal10'
WORDPRESS = 'wordpress'


def play(*tasks):
    """A localhost playbook (JSON is YAML) from (name, module, args[, ignore_errors]) tuples."""
    body = []
    for task in tasks:
        name, module, args = task[:3]
        entry = {'name': name, 'pantheon.platform.' + module: args}
        if len(task) > 3 and task[3]:
            entry['ignore_errors'] = True
        body.append(entry)
    return json.dumps([{'hosts': 'localhost', 'gather_facts': False, 'tasks': body}], indent=1)


@pytest.fixture
def env(emulator, tmp_path):
    values = dict(emulator.env)
    values['PANTHEON_CACHE_DIR'] = str(tmp_path / 'session-cache')
    return values


def api_calls(emulator, since, method=None, contains=''):
    return [r for r in emulator.requests(channel='api', since=since)
            if (method is None or r['method'] == method) and contains in r['path']]


def workflow_posts(emulator, since):
    return [r for r in api_calls(emulator, since, 'POST') if r['path'].endswith('/workflows')]


def test_create_is_idempotent_and_check_mode_changes_nothing(emulator, env, site_prefix):
    name = site_prefix + 'new'
    create = {'name': name, 'label': 'New site', 'upstream': DRUPAL, 'wait_timeout': 120}

    # check mode: tells what would happen, posts no workflow
    since = last_request_id(emulator)
    res = run_playbook(play(('create', 'site', create), ('info', 'site_info', {'name': name})), env=env,
                       check=True, diff=True)
    assert res.rc == 0, res.output
    out = res.task('create')
    assert out['changed'] is True
    assert out['diff'] == {'before': {}, 'after': {'name': name, 'label': 'New site', 'upstream': DRUPAL,
                                                   'organization': None, 'region': None}}
    assert res.task('info')['exists'] is False
    assert workflow_posts(emulator, since) == []

    # real run: create_site, deploy_product, dev answers its health check; then the same again
    since = last_request_id(emulator)
    res = run_playbook(play(('create', 'site', create),
                            ('info', 'site_info', {'name': name}),
                            ('again', 'site', dict(create, environments=['dev'])),
                            ('relabel', 'site', dict(create, label='Another label')),
                            ('info after', 'site_info', {'name': name})), env=env, diff=True)
    assert res.rc == 0, res.output
    out = res.task('create')
    assert out['changed'] is True
    assert [w['type'] for w in out['workflows']] == ['create_site', 'deploy_product']
    site = out['site']
    assert site['name'] == name and site['label'] == 'New site' and site['framework'] == 'drupal8'
    assert site['upstream']['machine_name'] == DRUPAL
    assert out['diff']['before'] == {} and out['diff']['after']['upstream'] == DRUPAL
    # only the first task posted workflows
    posts = workflow_posts(emulator, since)
    assert [p['path'] for p in posts] == ['/api/users/%s/workflows' % emulator.user_id,
                                          '/api/sites/%s/workflows' % site['id']]

    looked = res.task('info')
    assert looked['exists'] is True and looked['site']['id'] == site['id']
    dev = looked['site']['environments']['dev']
    assert dev['initialized'] is True and dev['platform_domain'].startswith('dev-%s.' % name)
    # A bare host, as the platform's API answers; the emulator's web is on its loopback port.
    assert ':' not in dev['platform_domain']
    health = emulator.http().get('https://%s:%s/pantheon_healthcheck' % (dev['platform_domain'], emulator.web_port),
                                 timeout=30)
    assert health.status_code == 200

    again = res.task('again')
    assert again['changed'] is False and again['workflows'] == []
    assert again['diff']['before'] == again['diff']['after']
    assert again['site']['id'] == site['id']
    # environments: the site described as site_info describes it, only the environments asked for
    assert 'environments' not in site and 'environment_ids' not in site
    assert again['site']['environments'] == {'dev': dev}
    assert again['site']['environment_ids'] == looked['site']['environment_ids']

    # a different label is reported, not changed
    relabel = res.task('relabel')
    assert relabel['changed'] is False
    assert any("label 'New site', not 'Another label'" in w for w in relabel.get('warnings', [])), relabel
    assert res.task('info after')['site']['label'] == 'New site'


def test_existing_site_with_other_upstream_or_org_fails_without_change(emulator, env, site_prefix):
    name = site_prefix + 'taken'
    agency, other = site_prefix + 'agency', site_prefix + 'other'
    emulator.seed({'orgs': [{'name': 'Agency', 'machine_name': agency, 'role': 'admin'},
                            {'name': 'Other', 'machine_name': other, 'role': 'admin'}],
                   'sites': [{'name': name, 'framework': 'drupal8', 'upstream': DRUPAL, 'org': agency,
                              'envs': ['dev']}]})
    since = last_request_id(emulator)
    res = run_playbook(play(('before', 'site_info', {'name': name}),
                            ('other upstream', 'site', {'name': name, 'upstream': WORDPRESS}, True),
                            ('other org', 'site', {'name': name, 'upstream': DRUPAL, 'organization': other}, True),
                            ('same', 'site', {'name': name, 'upstream': DRUPAL, 'organization': agency}),
                            ('after', 'site_info', {'name': name})), env=env)
    assert res.rc == 0, res.output
    before = res.task('before')['site']
    assert before['organization']

    failed = res.task('other upstream')
    assert failed['failed'] is True and failed['changed'] is False
    assert failed['msg'].startswith('Site %s already exists, but its upstream is %s' % (name, DRUPAL)), failed['msg']
    assert "not 'wordpress'" in failed['msg'] and 'never changes' in failed['msg']

    failed = res.task('other org')
    assert failed['failed'] is True
    assert 'it belongs to organization %s, not to organization %r' % (before['organization'], other) in failed['msg']

    assert res.task('same')['changed'] is False
    assert workflow_posts(emulator, since) == []
    assert res.task('after')['site'] == before


def test_bad_input_fails_clearly_and_changes_nothing(emulator, env, site_prefix):
    name = site_prefix + 'x'
    since = last_request_id(emulator)
    res = run_playbook(play(
        ('unknown upstream', 'site', {'name': name, 'upstream': 'no-such-upstream'}, True),
        ('no upstream', 'site', {'name': name}, True),
        ('bad name', 'site', {'name': 'Bad_Name', 'upstream': DRUPAL}, True),
        ('unknown org', 'site', {'name': name, 'upstream': DRUPAL, 'organization': 'nobody-knows-this-org'}, True),
        ('bad state', 'site', {'name': name, 'upstream': DRUPAL, 'state': 'gone'}, True),
        ('zero wait', 'site', {'name': name, 'upstream': DRUPAL, 'wait_timeout': 0}, True),
    ), env=env)
    assert res.rc == 0, res.output
    expected = {
        'unknown upstream': "Upstream 'no-such-upstream' is not one of the upstreams this user may use (",
        'no upstream': 'Site %s does not exist; the upstream option is required to create it' % name,
        'bad name': "'Bad_Name' is not a valid Pantheon site name",
        'unknown org': "Organization 'nobody-knows-this-org' is not one of the organizations this user belongs to",
        'bad state': 'value of state must be one of: present, absent, got: gone',
        'zero wait': 'wait_timeout must be a positive number of seconds, got 0',
    }
    for task, text in expected.items():
        out = res.task(task)
        assert out['failed'] is True and text in out['msg'], (task, out['msg'])
    assert workflow_posts(emulator, since) == []
    assert 'Traceback' not in res.stdout + res.stderr


def test_absent_deletes_and_check_mode_keeps(emulator, env, site_prefix):
    name = site_prefix + 'doomed'
    emulator.seed({'sites': [{'name': name, 'framework': 'wordpress', 'upstream': WORDPRESS, 'envs': ['dev']}]})

    since = last_request_id(emulator)
    res = run_playbook(play(('delete', 'site', {'name': name, 'state': 'absent'}),
                            ('info', 'site_info', {'name': name})), env=env, check=True, diff=True)
    assert res.rc == 0, res.output
    out = res.task('delete')
    assert out['changed'] is True
    assert out['diff']['before']['name'] == name and out['diff']['after'] == {}
    assert workflow_posts(emulator, since) == []
    assert res.task('info')['exists'] is True

    since = last_request_id(emulator)
    res = run_playbook(play(('delete', 'site', {'name': name, 'state': 'absent'}),
                            ('info', 'site_info', {'name': name}),
                            ('delete again', 'site', {'name': name, 'state': 'absent'})), env=env)
    assert res.rc == 0, res.output
    out = res.task('delete')
    assert out['changed'] is True and [w['type'] for w in out['workflows']] == ['delete_site']
    assert res.task('info')['exists'] is False
    assert res.task('delete again')['changed'] is False
    # the deletion was watched through the user's workflows (the site endpoint disappears)
    assert api_calls(emulator, since, 'GET', '/users/%s/workflows/' % emulator.user_id)
    assert len(workflow_posts(emulator, since)) == 1


def test_one_login_for_many_module_runs(emulator, env, site_prefix):
    name = site_prefix + 'login'
    emulator.seed({'sites': [{'name': name, 'framework': 'drupal8', 'upstream': DRUPAL, 'envs': ['dev']}]})
    looks = play(*[('look %d' % i, 'site_info', {'name': n}) for i, n in enumerate([name, name, 'absent-' + name])])
    since = last_request_id(emulator)
    for dummy in range(2):
        res = run_playbook(looks, env=env)
        assert res.rc == 0, res.output
    # six module runs in two ansible-playbook processes, one login
    assert len(api_calls(emulator, since, 'GET', '/site-names/')) == 6
    assert len(api_calls(emulator, since, 'POST', '/authorize/machine-token')) == 1

    # an expired session: one new login, and the run still succeeds (only this test's sessions expire: other tests
    # on this worker, the emulator tests' session-scoped client among them, share the emulator)
    cached = glob.glob(os.path.join(env['PANTHEON_CACHE_DIR'], '*.json'))
    assert cached, 'the session cache should hold the session used'
    for path in cached:
        with open(path, encoding='utf-8') as f:
            emulator.expire_sessions(json.load(f)['session'])
    since = last_request_id(emulator)
    res = run_playbook(looks, env=env)
    assert res.rc == 0, res.output
    assert len(api_calls(emulator, since, 'POST', '/authorize/machine-token')) == 1
    assert api_calls(emulator, since, 'GET', '/site-names/')[0]['status'] == 401


def test_no_token_or_session_in_output_at_vvvv(emulator, env, site_prefix):
    name = site_prefix + 'secret'
    playbook = play(('create', 'site', {'name': name, 'upstream': DRUPAL}),
                    # the token as a module option, as well as through the environment
                    ('info', 'site_info', {'name': name, 'machine_token': '{{ token }}'}),
                    ('fails', 'site', {'name': name, 'upstream': WORDPRESS}, True),
                    ('delete', 'site', {'name': name, 'state': 'absent'}))
    res = run_playbook(playbook, extra_vars={'token': emulator.machine_token}, env=env, verbosity=4, diff=True)
    assert res.rc == 0, res.output
    assert 'changed: [localhost]' in res.stdout and 'never changes' in res.stdout
    sessions = []
    for path in glob.glob(os.path.join(env['PANTHEON_CACHE_DIR'], '*.json')):
        with open(path, encoding='utf-8') as f:
            sessions.append(json.load(f)['session'])
    assert sessions, 'the session cache should hold the session used'
    secrets = {'machine token': emulator.machine_token}
    secrets.update(('session %d' % i, s) for i, s in enumerate(sessions))
    assert_no_secrets(res.stdout + res.stderr, secrets, where='ansible-playbook -vvvv output')


def test_flaky_api_is_retried_and_a_lost_answer_creates_no_duplicate(emulator, env, site_prefix):
    name = site_prefix + 'flaky'
    env = dict(env, PANTHEON_RETRY_BASE_DELAY='0.05')
    users_workflows = '^/api/users/[^/]+/workflows$'
    emulator.faults([
        # the create_site POST is carried out, but its answer breaks off
        {'match': {'channel': 'http', 'method': 'POST', 'path': users_workflows}, 'action': {'truncate_after': 0},
         'times': 1},
        # rate limited twice, with Retry-After
        {'match': {'channel': 'http', 'method': 'GET', 'path': '^/api/site-names/'},
         'action': {'status': 429, 'retry_after': 1}, 'times': 2},
        # the deploy_product POST is refused with 503 twice (nothing created)
        {'match': {'channel': 'http', 'method': 'POST', 'path': '^/api/sites/[^/]+/workflows$'},
         'action': {'status': 503}, 'times': 2},
    ])
    try:
        since = last_request_id(emulator)
        res = run_playbook(play(('create', 'site', {'name': name, 'upstream': DRUPAL})), env=env)
    finally:
        emulator.clear_faults()
    assert res.rc == 0, res.output
    out = res.task('create')
    assert out['changed'] is True and out['site']['name'] == name
    assert len(out['warnings']) == 5, out['warnings']  # 2 x 429, 1 broken answer, 2 x 503

    calls = api_calls(emulator, since)
    lookups = [c for c in calls if c['path'].startswith('/api/site-names/')]
    assert [c['status'] for c in lookups[:3]] == [429, 429, 404]
    assert lookups[1]['time'] - lookups[0]['time'] >= 0.95 and lookups[2]['time'] - lookups[1]['time'] >= 0.95
    # exactly one create_site POST: the lost answer was found in the user's workflow list
    creates = [c for c in calls if c['method'] == 'POST' and c['path'] == '/api/users/%s/workflows' % emulator.user_id]
    assert len(creates) == 1
    assert [c for c in calls if c['method'] == 'GET' and c['path'] == '/api/users/%s/workflows' % emulator.user_id]
    deploys = [c for c in calls if c['method'] == 'POST' and c['path'] == '/api/sites/%s/workflows' % out['site']['id']]
    assert [c['status'] for c in deploys] == [503, 503, 202]


def run_while(run, reached, emulator, hold, timeout=300):
    """``run()`` in a thread; release the emulator's ``hold`` once ``reached()`` is true (the run got
    as far as waiting for the held workflow); returns what ``run()`` returned."""
    done = {}
    thread = threading.Thread(target=lambda: done.update(result=run()))
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not reached():
            assert thread.is_alive(), 'the run ended before it waited for the held workflow'
            assert time.monotonic() < deadline, 'the run never waited for the held workflow'
            time.sleep(0.1)
    finally:
        emulator.release(hold)
        thread.join(900)
    return done['result']


def test_a_creation_left_running_is_waited_for_not_started_again(emulator, env, site_prefix):
    """An earlier run was interrupted after it started create_site (and, for the second site,
    deploy_product): the module waits for those workflows instead of starting them again, then
    finishes what is left."""
    uid = emulator.user_id
    api = emulator.api()

    def post(path, wf_type, params):
        r = api.post('%s/%s/workflows' % (emulator.api_url, path), json={'type': wf_type, 'params': params}, timeout=30)
        assert r.status_code == 202, r.text
        return r.json()

    # 1. create_site still running (slowed down), no deploy_product yet
    name = site_prefix + 'left-creating'
    create = {'name': name, 'upstream': DRUPAL, 'wait_timeout': 120}
    # held until the real run below has been refused its own create_site (then it waits for this one)
    hold = site_prefix + 'creating'
    emulator.faults([{'match': {'channel': 'workflow', 'path': '^create_site$'}, 'action': {'hold': hold}, 'times': 1}])
    try:
        started = post('users/%s' % uid, 'create_site', {'label': name, 'site_name': name})
        emulator.wait_hold(hold)
        # check mode tells what a real run would do and posts nothing
        since = last_request_id(emulator)
        res = run_playbook(play(('create', 'site', create)), env=env, check=True)
        assert res.rc == 0, res.output
        out = res.task('create')
        assert out['changed'] is True and out['workflows'] == []
        assert workflow_posts(emulator, since) == []

        since = last_request_id(emulator)
        res = run_while(lambda: run_playbook(play(('create', 'site', create), ('info', 'site_info', {'name': name})),
                                             env=env),
                        # released once the run, refused its own create_site (409), polls this one
                        lambda: api_calls(emulator, since, 'GET', '/api/users/%s/workflows/%s' % (uid, started['id'])),
                        emulator, hold)
    finally:
        emulator.clear_faults()
    assert res.rc == 0, res.output
    out = res.task('create')
    assert out['changed'] is True
    assert [(w['type'], w.get('adopted', False)) for w in out['workflows']] == [('create_site', True),
                                                                                ('deploy_product', False)]
    assert out['workflows'][0]['id'] == started['id']
    assert out['site']['id'] == started['waiting_for_task']['site_id']
    # its create_site was refused (the name is taken); only the missing deploy_product was started
    assert [(r['path'], r['status']) for r in workflow_posts(emulator, since)] == [
        ('/api/users/%s/workflows' % uid, 409), ('/api/sites/%s/workflows' % out['site']['id'], 202)]
    info = res.task('info')
    assert info['site']['upstream']['machine_name'] == DRUPAL and info['site']['framework'] == 'drupal8'
    assert emulator.state(name, 'dev')['code']['head']

    # 2. the site was created and its deploy_product is still running
    name = site_prefix + 'left-deploying'
    create = {'name': name, 'upstream': DRUPAL, 'wait_timeout': 120}
    done = post('users/%s' % uid, 'create_site', {'label': name, 'site_name': name})
    deadline = time.monotonic() + 60
    while api.get('%s/users/%s/workflows/%s' % (emulator.api_url, uid, done['id']), timeout=30).json()['result'] is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    site_id = done['waiting_for_task']['site_id']
    product = next(u for u in api.get('%s/users/%s/upstreams' % (emulator.api_url, uid), timeout=30).json()
                   if u['machine_name'] == DRUPAL)
    hold = site_prefix + 'deploying'
    emulator.faults([{'match': {'channel': 'workflow', 'path': '^deploy_product$'}, 'action': {'hold': hold},
                      'times': 1}])
    try:
        deploying = post('sites/%s' % site_id, 'deploy_product', {'product_id': product['id']})
        emulator.wait_hold(hold)
        since = last_request_id(emulator)
        # released once the module polls the deploy_product it found running
        res = run_while(lambda: run_playbook(play(('create', 'site', create)), env=env),
                        lambda: api_calls(emulator, since, 'GET', '/workflows/%s' % deploying['id']), emulator, hold)
    finally:
        emulator.clear_faults()
    assert res.rc == 0, res.output
    out = res.task('create')
    assert out['changed'] is False, 'it only waited for a workflow it did not start'
    assert [dict(w, duration=None) for w in out['workflows']] == [
        {'id': deploying['id'], 'type': 'deploy_product', 'result': 'succeeded', 'duration': None, 'adopted': True}]
    assert out['site']['upstream']['machine_name'] == DRUPAL
    assert workflow_posts(emulator, since) == []
    # it waited for the dev environment to answer, as after a creation of its own
    assert api_calls(emulator, since, 'GET', '/environments/dev/domains')


def test_a_creation_that_finished_after_the_lookup_is_taken_as_the_existing_site(emulator, tmp_path, site_prefix):
    """The site did not exist when the module looked it up, and its create_site is refused (409) because a
    creation (an earlier run's) finished in between: the module goes on with the site that now exists instead
    of calling the name another user's. The lookup that saw no site is simulated by a 404 on the first one."""
    name = site_prefix + 'raced'
    made = emulator.seed({'sites': [{'name': name, 'framework': 'drupal8', 'upstream': DRUPAL, 'envs': ['dev']}]})[0]
    emulator.faults([{'match': {'channel': 'http', 'method': 'GET', 'path': '^/api/site-names/%s$' % name},
                      'action': {'status': 404}, 'times': 1}])
    try:
        since = last_request_id(emulator)
        res, out = run_module(emulator, tmp_path, 'site', {'name': name, 'upstream': DRUPAL})
    finally:
        emulator.clear_faults()
    assert out and not out.get('failed'), res.output
    assert out['changed'] is False and out['site']['id'] == made['id'] and out['workflows'] == []
    # one create_site tried and refused; nothing else started
    assert [(r['path'], r['status']) for r in workflow_posts(emulator, since)] == [
        ('/api/users/%s/workflows' % emulator.user_id, 409)]
