# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one process runner (_stream.run) and the ssh/rsync calls over it (_ssh.run_remote, _archive.rsync):
real child processes; a failure is a ProcessError with a reason, never a module exit."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.pantheon.platform.plugins.module_utils._errors import ProcessError
from ansible_collections.pantheon.platform.plugins.module_utils._archive import rsync
from ansible_collections.pantheon.platform.plugins.module_utils._ssh import SSHTarget, remote_failure, run_remote
from ansible_collections.pantheon.platform.plugins.module_utils._stream import run


def test_run_returns_text_or_bytes_and_feeds_stdin():
    rc, out, err = run(['sh', '-c', 'cat; echo oops >&2; exit 3'], data='héllo', text=True)
    assert (rc, out, err.strip()) == (3, 'héllo', 'oops')
    assert run(['printf', 'x'])[1] == b'x'


def test_a_program_that_cannot_start_or_outlives_its_timeout_is_a_process_error():
    with pytest.raises(ProcessError, match='Could not run no-such-program-here'):
        run(['no-such-program-here'])
    with pytest.raises(ProcessError, match='did not finish within 1 seconds'):
        run(['sleep', '30'], timeout=1)


@pytest.mark.parametrize('rc, reason', [(255, 'ssh_failed'), (1, 'command_failed')])
def test_remote_failures_carry_a_reason(rc, reason):
    error = remote_failure(SSHTarget('dev.site', 'appserver.example'), rc, 'Permission denied (publickey)')
    assert error.reason == reason and error.rc == rc
    assert ('The key was refused' in error.message) is (rc == 255)


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    """An ``ssh`` first on PATH that runs the remote command locally (what the real one does remotely)."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    script = bindir / 'ssh'
    # the last argument is the remote command line (ssh -T <options> user@host 'command')
    script.write_text('#!/bin/sh\nfor last; do :; done\nexec sh -c "$last"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', '%s%s%s' % (bindir, os.pathsep, os.environ['PATH']))
    return SSHTarget('dev.site', 'appserver.example')


def test_run_remote_quotes_the_command_and_raises_only_when_asked(fake_ssh):
    rc, out, dummy = run_remote(fake_ssh, ['echo', "it's here"])
    assert (rc, out) == (0, "it's here\n")
    assert run_remote(fake_ssh, ['false'])[0] == 1
    with pytest.raises(ProcessError) as info:
        run_remote(fake_ssh, ['sh', '-c', 'echo broken >&2; exit 4'], check=True, what='probe')
    assert info.value.reason == 'command_failed' and 'Remote probe on dev.site@appserver.example failed with exit code 4' \
        in info.value.message


def test_rsync_listing_of_a_missing_directory_is_none_only_when_allowed(tmp_path):
    target = SSHTarget('dev.site', 'appserver.example')
    (tmp_path / 'here').mkdir()
    assert 'here' in rsync(target, ['--list-only', str(tmp_path) + '/'], 'listing')
    assert rsync(target, ['--list-only', str(tmp_path / 'gone') + '/'], 'listing', missing_ok=True) is None
    with pytest.raises(ProcessError) as info:
        rsync(target, ['--list-only', str(tmp_path / 'gone') + '/'], 'listing of gone')
    assert info.value.reason == 'command_failed' and info.value.rc == 23
