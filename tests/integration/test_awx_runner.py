# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet run the way AWX runs a sliced job template, with ansible-runner.

1. Inventory sync: ``ansible-inventory --list --export`` on the project's pantheon.platform.sites
   file, run by ansible-runner (awx/main/tasks/jobs.py RunInventoryUpdate.build_args).
2. Job slicing into 2: hosts ordered by name, slice N gets hosts[N-1::2], written as an inventory
   script in the slice's private data directory (awx/main/models/inventory.py get_sliced_hosts and
   get_script_data; awx/main/tasks/jobs.py write_inventory_file).
3. The collection's credential type (extensions/awx/credential_type.yml) rendered as AWX renders
   custom injectors: files into <private data dir>/env with mode 0600, env templates in an
   ImmutableSandboxedEnvironment with ``tower.filename`` (awx/main/models/credential.py inject_credential).
4. Each slice a separate ansible-runner job of clone_fleet.yml with the AWX meta variables
   (awx_job_id, awx_workflow_job_id); its set_stats artifacts read back from its job events
   (the playbook_on_stats event's artifact_data, which AWX stores as the job's artifacts).
"""

from __future__ import annotations

import json
import os
import resource
import stat
import tempfile
import time

import ansible_runner
import pytest
import yaml
from jinja2 import sandbox

from helpers.ansible import REPO, ansible_env
from helpers.secrets import assert_no_secrets
from site_clone_helpers import last_request_id, requests_since
from test_inventory_sites import unsafe_free
from transfer_helpers import play_env

# two slices of three sites: one slice runs two clones, the other one (the fewest clones that still show both;
# make test's budget)
SLICES = 2
SITES = ['alpha', 'bravo', 'charlie']  # slices by name: [alpha, charlie], [bravo]


def render_credential(private_data_dir, inputs):
    """Environment variables the collection's credential type injects (AWX's custom injector rules)."""
    with open(os.path.join(REPO, 'extensions', 'awx', 'credential_type.yml'), encoding='utf-8') as f:
        ctype = yaml.safe_load(f)
    fields = dict((field['id'], field) for field in ctype['inputs']['fields'])
    assert set(ctype['inputs']['required']) <= set(fields) and set(inputs) <= set(fields)
    namespace = dict((k, v) for k, v in inputs.items() if v)
    for name, field in fields.items():
        if field.get('format') == 'ssh_private_key' and name in namespace and not namespace[name].endswith('\n'):
            namespace[name] += '\n'

    class Tower:
        pass

    namespace['tower'] = Tower()
    env_dir = os.path.join(private_data_dir, 'env')
    os.makedirs(env_dir, exist_ok=True)
    jinja = sandbox.ImmutableSandboxedEnvironment()
    for label, template in ctype['injectors'].get('file', {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, 'w') as f:
            f.write(jinja.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        assert '.' not in label  # one file: tower.filename
        namespace['tower'].filename = path
    return dict((k, jinja.from_string(v).render(**namespace)) for k, v in ctype['injectors']['env'].items())


def job_env(emulator, tmp_path, volume):
    """What the execution environment has besides the credential: the platform endpoints (job
    settings' extra environment variables) and the kept volume for reports, state and cache."""
    env = play_env(emulator, tmp_path)
    for key in ('PANTHEON_MACHINE_TOKEN', 'PANTHEON_SSH_KEY'):
        env[key] = None  # only the credential brings these
    env['PANTHEON_CLONE_REPORT_DIR'] = str(volume / 'clone-reports')
    env['PANTHEON_CACHE_DIR'] = str(volume / 'pantheon-cache')
    full = ansible_env(env)
    full.pop('ANSIBLE_CALLBACK_PLUGINS', None)
    return full


def artifact_dir(private_data_dir, ident):
    return os.path.join(str(private_data_dir), 'artifacts', ident)


def artifact_data(private_data_dir, ident):
    """set_stats data of a job: the playbook_on_stats event's artifact_data (what AWX stores)."""
    events_dir = os.path.join(artifact_dir(private_data_dir, ident), 'job_events')
    found = []
    for name in os.listdir(events_dir):
        with open(os.path.join(events_dir, name), encoding='utf-8') as f:
            event = json.load(f)
        if event.get('event') == 'playbook_on_stats':
            found.append(event['event_data'].get('artifact_data'))
    assert len(found) == 1, found
    return found[0]


def output_text(*dirs):
    """Every file under ``dirs`` but ansible-runner's ``command`` record (the environment runner was given,
    credential included: AWX deletes the private data directory and keeps only a masked copy)."""
    chunks = []
    for top in dirs:
        for root, _dirs, files in os.walk(str(top)):
            for name in files:
                if name == 'command' and os.path.basename(os.path.dirname(os.path.join(root, name))).startswith('job'):
                    continue
                with open(os.path.join(root, name), encoding='utf-8', errors='replace') as f:
                    chunks.append(f.read())
    return '\n'.join(chunks)


def slice_script_data(export, number, count):
    """The inventory a slice gets: AWX's get_script_data(hostvars=True, slice_number, slice_count) over the
    hosts and groups the sync imported (variables stored as plain data)."""
    hostvars = unsafe_free(export['_meta']['hostvars'])
    hosts = sorted(hostvars)[number - 1::count]
    data = {'all': {'hosts': [], 'children': []}, '_meta': {'hostvars': {}}}
    grouped = set()
    for group, body in sorted(export.items()):
        if group in ('_meta', 'all', 'ungrouped') or not isinstance(body, dict):
            continue
        data['all']['children'].append(group)
        members = [h for h in body.get('hosts', []) if h in hosts]
        grouped.update(members)
        if members:
            data[group] = {'hosts': members}
    data['all']['hosts'] = [h for h in hosts if h not in grouped]
    for host in hosts:
        data['_meta']['hostvars'][host] = hostvars[host]
    return data


# ansible-runner runs ansible-playbook under a pty (pexpect), as AWX does; Python warns about forkpty in a
# process with threads, which is harmless here since the child execs at once.
@pytest.mark.filterwarnings('ignore:This process .* is multi-threaded:DeprecationWarning')
def test_sliced_fleet_through_ansible_runner(emulator, tmp_path, site_prefix):
    org = site_prefix + 'awx'
    small = {'db': {'nodes': 2}, 'files': {'count': 2, 'size': 200}, 'envs': ['dev', 'test', 'live']}
    sites = [dict(small, name=site_prefix + n, framework='drupal', org=org, tags=['awx']) for n in SITES]
    sites.append(dict(small, name=site_prefix + 'untagged', framework='drupal', org=org, lazy=True))
    emulator.seed({'seed': 15, 'orgs': [{'name': org, 'machine_name': org}], 'sites': sites})
    volume = tmp_path / 'volume'  # a persistent volume mounted into every job container
    with open(emulator.ssh_private_key, encoding='utf-8') as f:
        credential = {'machine_token': emulator.machine_token, 'ssh_key': f.read().strip()}
    secrets = {'machine token': emulator.machine_token}
    first_request = last_request_id(emulator)
    children_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.time()

    # 1. inventory sync (the project holds the inventory file)
    sync_dir = tmp_path / 'sync'
    (sync_dir / 'project').mkdir(parents=True)
    source = sync_dir / 'project' / 'fleet.pantheon.yml'
    source.write_text('''
plugin: pantheon.platform.sites
organization: %s
tags: [awx]
name_pattern: '^(?!.*-copy$)'
environments: false
compose:
  site_clone_source_site: pantheon_site_name
  site_clone_target_site: pantheon_site_name ~ '-copy'
keyed_groups:
  - key: pantheon_framework
    prefix: framework
''' % org, encoding='utf-8')
    env = job_env(emulator, tmp_path, volume)
    env.update(render_credential(str(sync_dir), credential))
    output = sync_dir / 'artifacts' / 'output.json'
    output.parent.mkdir(parents=True)
    out, err, rc = ansible_runner.run_command(
        executable_cmd='ansible-inventory', cmdline_args=['--list', '--export', '-i', str(source), '--output', str(output)],
        private_data_dir=str(sync_dir), envvars=env, quiet=True)
    assert rc == 0, (out, err)
    with open(output, encoding='utf-8') as f:
        export = json.load(f)
    expected = sorted(site_prefix + n for n in SITES)
    assert sorted(export['_meta']['hostvars']) == expected

    # 2.-4. two slices, each its own ansible-runner job with its own private data directory, run at the
    # same time as AWX runs the slices of a sliced job (on the nodes of its cluster)
    jobs = []
    for number in range(1, SLICES + 1):
        pdd = tmp_path / ('slice%d' % number)
        (pdd / 'project').mkdir(parents=True)
        (pdd / 'project' / 'fleet.yml').write_text(
            '- name: Clone the fleet\n  ansible.builtin.import_playbook: pantheon.platform.clone_fleet\n', encoding='utf-8')
        (pdd / 'inventory').mkdir()
        script = pdd / 'inventory' / 'hosts'
        script.write_text('#! /usr/bin/env python3\nprint(%r)\n' % json.dumps(slice_script_data(export, number, SLICES)),
                          encoding='utf-8')
        script.chmod(0o700)
        env = job_env(emulator, tmp_path, volume)
        env.update(render_credential(str(pdd), credential))
        ident = 'job%d' % (100 + number)
        thread, runner = ansible_runner.run_async(
            private_data_dir=str(pdd), ident=ident, envvars=env, quiet=True, playbook='fleet.yml', forks=2,
            extravars={'awx_job_id': 100 + number, 'awx_workflow_job_id': 100})
        jobs.append((number, pdd, ident, thread, runner))

    summaries = []
    for number, pdd, ident, thread, runner in jobs:
        thread.join()
        assert runner.status == 'successful', (number, runner.stdout.read())
        summary = artifact_data(pdd, ident)['clone_fleet']
        # AWX's slice N: every SLICES-th host by name, from the N-th
        assert sorted(s['source'] for s in summary['sites']) == expected[number - 1::SLICES]
        summaries.append(summary)
        # job events, stdout, set_stats artifacts: what AWX shows and keeps
        assert_no_secrets(output_text(pdd / 'artifacts'), secrets, where='slice %d artifacts' % number)
        # the slice's own fleet report next to the others' on the kept volume
        assert (volume / 'clone-reports' / ('fleet-report-job%d.json' % (100 + number))).is_file()

    merged = [site for summary in summaries for site in summary['sites']]
    assert sorted(s['job'] for s in merged) == expected  # every site exactly once
    for site in merged:
        assert site['status'] == 'succeeded' and site['verification'] == 'match', site
        assert site['target'] == site['source'] + '-copy' and site['error'] is None
    assert sum(s['totals']['sites'] for s in summaries) == len(SITES)
    assert sum(s['totals']['succeeded'] for s in summaries) == len(SITES)
    # the per-site reports and no state left behind (every clone verified) on the volume
    for name in expected:
        assert (volume / 'clone-reports' / ('%s.json' % name)).is_file()
    assert list((volume / 'clone-reports' / '.state').iterdir()) == []
    assert_no_secrets(output_text(volume / 'clone-reports'), secrets, where='the reports')
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    api = [r for r in requests_since(emulator, first_request) if r['path'].startswith('/api/')]
    print('\nansible-runner sliced fleet: %d sites in %d slices: %.1f s wall, %.1f s CPU (ansible processes), '
          '%d API requests (%.0f per site)'
          % (len(SITES), SLICES, time.time() - wall,
             after.ru_utime + after.ru_stime - children_cpu.ru_utime - children_cpu.ru_stime,
             len(api), len(api) / len(SITES)))
