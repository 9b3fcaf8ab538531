# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error edge (issue 12 point 3, issue 11 point 6): every exception a module meets leaves it
through ``PantheonModule.run`` as a clean failure, with registered secrets redacted once.

The modules run in-process (helpers.modules.call_module raises any exception that escapes
``main()`` into the test, as a traceback would reach a user)."""

from __future__ import annotations

import os
import re

from helpers.kill import hold
from helpers.modules import run_module_main
from transfer_helpers import play_env, run_module, seed


def test_a_process_timeout_in_a_helper_is_a_clean_failure(emulator, site_prefix, tmp_path):
    """clone_verify's database dump (``_sitedb.read_database`` over ``_stream``) is held by the
    emulator until its 1 s timeout stops it: the ProcessError that raises is the module's failure
    message, not an exception out of main()."""
    sites = seed(emulator, [
        {'name': site_prefix + 'src', 'framework': 'drupal8', 'envs': ['dev'], 'db': {'nodes': 2}},
        {'name': site_prefix + 'dst', 'framework': 'drupal8', 'envs': ['dev'], 'db': {'nodes': 2}},
    ])
    name = site_prefix + 'dump'
    emulator.faults(hold(name, 'ssh', r'sql[-:]dump', times=1))
    try:
        res, out = run_module(emulator, tmp_path, 'clone_verify', {
            'site': sites[site_prefix + 'src']['name'], 'env': 'dev',
            'target_site': sites[site_prefix + 'dst']['name'], 'target_env': 'dev',
            'elements': ['database'], 'timeout': 1})
    finally:
        emulator.release(name)
        emulator.clear_faults()
    assert res.rc == 1, res.output
    assert 'did not finish within 1 seconds and was stopped' in out['msg'], out
    assert 'Traceback' not in res.output


def test_an_unexpected_exception_is_a_clean_failure_naming_its_type(emulator, tmp_path, monkeypatch):
    """Not a PantheonError (a bug): still no traceback, and the message names the exception's type
    with the secrets redacted."""
    from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonClient

    def broken(self, name_or_uuid):
        raise KeyError('lookup of %s with %s' % (name_or_uuid, emulator.machine_token))

    monkeypatch.setattr(PantheonClient, 'find_site', broken)
    res, out = run_module(emulator, tmp_path, 'site_info', {'name': 'anything'})
    assert res.rc == 1, res.output
    assert out['msg'].startswith('Unexpected error (KeyError): '), out
    assert emulator.machine_token not in res.output
    assert 'Traceback' not in res.output


def test_secrets_registered_with_add_secret_are_redacted_on_the_way_out(emulator, site_prefix, tmp_path):
    """site_import registers its URL: a failure that echoes the URL, its path or its signature
    shows none of them (scheme and host only)."""
    site = seed(emulator, [{'name': site_prefix + 'imp', 'framework': 'drupal8', 'envs': ['dev']}])[site_prefix + 'imp']
    url = 'https://127.0.0.1:9/sites/default/files/%s.tgz?Signature=SECRETSIGNATURE1234' % ('ab' * 20)
    res, out = run_module(emulator, tmp_path, 'site_import', {
        'site': site['name'], 'env': 'dev', 'kind': 'database', 'url': url})
    assert res.rc == 1, res.output
    assert 'https://127.0.0.1:9/...' in out['msg'], out
    for secret in ('SECRETSIGNATURE1234', 'ab' * 20, '/sites/default/files'):
        assert secret not in res.output, (secret, res.output)


def test_an_unreachable_api_url_fails_once_within_the_configured_bound(tmp_path):
    """Issue 11.6: site_info against an api_url nobody listens on fails with one message that names
    the bound it gave up at (connect_timeout, here 2 s through PANTHEON_CONNECT_TIMEOUT)."""
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    out, stdout, stderr = run_module_main('site_info', {'name': 'anything'}, env={
        'PANTHEON_MACHINE_TOKEN': 'unreachable-token-0123456789', 'PANTHEON_API_URL': 'http://127.0.0.1:%d/api' % port,
        'PANTHEON_CONNECT_TIMEOUT': '2', 'PANTHEON_CACHE_DIR': str(tmp_path / 'cache')})
    assert out.get('failed'), out
    assert out['msg'].count('could not connect to 127.0.0.1:%d' % port) == 1, out['msg']
    assert out['msg'].count('gave up after') == 1 and 'connect_timeout=2s' in out['msg'], out['msg']
    assert 'Traceback' not in stdout + stderr


def test_a_failed_fleet_job_prints_its_error_once_and_is_failed_in_the_recap(emulator, tmp_path, site_prefix):
    """Issue 11.6: two jobs whose source does not exist (they fail in preflight, before any write). Each
    job's error is printed once by the role (before: by the failing task, by failed.yml's stop and by
    the report's final assert), the fleet summary lists it, and each job is failed in the recap
    (before: failed=0 rescued=3, only localhost failed)."""
    from helpers.ansible import REPO, run_playbook
    from site_clone_helpers import play_env
    jobs = [site_prefix + 'one', site_prefix + 'two']
    inventory = 'all:\n  hosts:\n' + ''.join(
        '    %s:\n      site_clone_source_site: %s\n      site_clone_target_site: %s\n'
        % (job, job + '-missing', job + '-copy') for job in jobs)
    res = run_playbook(os.path.join(REPO, 'playbooks', 'clone_fleet.yml'), env=play_env(emulator, tmp_path),
                       inventory=inventory, extra_vars={'site_clone_report_dir': str(tmp_path / 'reports')},
                       args=['-f', '2'],
                       # what a user sees is the default verbosity (-vvvv prints every set_fact that records
                       # the error); the same preflight refusal is scanned for secrets at -vvvv in test_bad_input
                       scan=False)
    assert res.rc != 0, res.output
    roles_part = res.stdout.split('PLAY [Summarise the fleet]', 1)[0].splitlines()
    for job in jobs:
        message = 'The source site %s-missing does not exist' % job
        # one failed task shows it (ansible-core prints a failure as its "[ERROR]: Task failed" line and
        # its "fatal:" result); no later task of the role repeats it
        assert [line for line in roles_part if message in line and line.startswith('fatal:')], res.output
        assert len([line for line in roles_part if message in line and line.startswith('fatal:')]) == 1, res.output
        assert [line for line in roles_part if message in line and not line.startswith(('fatal:', '[ERROR]:'))] == []
        assert res.stats[job]['failures'] >= 1, res.stats
    assert 'Errors:' in res.stdout.split('PLAY [Summarise the fleet]', 1)[1]
    assert 'Traceback' not in res.output


def test_an_ssh_host_that_never_answers_fails_once_naming_the_bound(emulator, tmp_path, site_prefix):
    """Issue 11.6, the SSH half: an SSH host that accepts the connection and then says nothing (no banner) would
    keep ssh waiting for ever; the connect_timeout bound (here 2 s through PANTHEON_CONNECT_TIMEOUT; ssh's
    ConnectTimeout also bounds the banner exchange) ends it with one message naming site.env and the bound."""
    import socket
    import threading
    site = seed(emulator, [{'name': site_prefix + 'mute', 'framework': 'drupal8', 'envs': ['dev']}])[site_prefix + 'mute']
    silent = socket.socket()
    silent.bind(('127.0.0.1', 0))
    silent.listen(8)
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(silent.accept()[0])  # held open, never written to
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    try:
        env = dict(play_env(emulator, tmp_path), PANTHEON_SSH_HOST='127.0.0.1',
                   PANTHEON_SSH_PORT=str(silent.getsockname()[1]), PANTHEON_CONNECT_TIMEOUT='2')
        out, stdout, stderr = run_module_main('site_info', {'name': site['name'], 'ssh_check': ['dev']}, env=env)
    finally:
        silent.close()
        for conn in accepted:
            conn.close()
    assert accepted, 'ssh never connected to the silent host'
    assert out.get('failed'), out
    assert out['msg'].count('%s.dev' % site['name']) == 1 and 'over SSH' in out['msg'], out['msg']
    assert re.search(r'(?i)timed out', out['msg']) and out['msg'].count('connect_timeout=2s') == 1, out['msg']
    assert 'Traceback' not in stdout + stderr
