"""The platform limits on the SSH side (256MB per file under files/, idle and total session
time) with small configured values, and fault injection on the "ssh" channel."""

from __future__ import annotations

import re
import secrets
import subprocess
import time

import pytest

from pantheon_emulator.ssh.testing import clients, env_dir, seed_site  # noqa: F401  # pylint: disable=unused-import

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def site(emulator):
    """A Drupal 7 site whose files (incompressible) exceed LIMIT together, none alone."""
    return seed_site(emulator, "lim", 31, files={"count": 4, "size": 30000, "compressible": False})


def closed_message(site_id, env="dev"):
    return f"Connection to appserver.{env}.{site_id}.drush.in closed by remote host."


def test_too_large_drush8_archive_closes_the_connection_and_leaves_the_partial_file(emulator, clients, site):
    files = env_dir(emulator, site["id"]) / "files"
    name = secrets.token_hex(20) + ".tgz"
    with emulator.limits(max_file_bytes=LIMIT):
        res = clients.ssh(clients.app_user(site["id"]), f"TRACE_ID=x drush ard '--destination=code/sites/default/files/{name}'")
    assert res.returncode == 255
    assert closed_message(site["id"]) in res.stderr.decode()
    assert not (files / name).exists()
    # Drush 8 writes the uncompressed tar next to the destination first; that is what hits the limit
    partial = list(files.glob("pantheon.*.tar"))
    assert len(partial) == 1
    assert partial[0].stat().st_size == LIMIT - 1
    partial[0].unlink()

    # the same archive without the files fits
    res = clients.ssh(clients.app_user(site["id"]), "drush ard --tar-options=--exclude=code/sites/default/files "
                      f"--destination=code/sites/default/files/{name}")
    assert res.returncode == 0, res.stderr
    (files / name).unlink()


def test_too_large_drush12_archive_and_dump_into_files(emulator, clients):
    d10 = seed_site(emulator, "lim12", 32, "drupal8", files={"count": 3, "size": 30000, "compressible": False})
    files = env_dir(emulator, d10["id"]) / "files"
    user = clients.app_user(d10["id"])
    with emulator.limits(max_file_bytes=LIMIT):
        res = clients.ssh(user, "drush ard --files --destination=sites/default/files/big.tar.gz")
        assert res.returncode == 255
        assert closed_message(d10["id"]) in res.stderr.decode()
        assert (files / "big.tar.gz").stat().st_size == LIMIT - 1
        small = clients.ssh(user, "drush ard --db --destination=sites/default/files/db.tar.gz")
        assert small.returncode == 0, small.stderr
        # outside files/ the limit does not apply
        tmp = clients.ssh(user, "drush ard --files --destination=/tmp/big.tar.gz")
        assert tmp.returncode == 0, tmp.stderr
    assert (env_dir(emulator, d10["id"]) / "tmp" / "big.tar.gz").stat().st_size > LIMIT


def test_sql_dump_into_files_at_the_limit(emulator, clients, site):
    files = env_dir(emulator, site["id"]) / "files"
    user = clients.app_user(site["id"])
    with emulator.limits(max_file_bytes=2000):
        res = clients.ssh(user, "drush sql-dump --result-file=sites/default/files/dump.sql")
        assert res.returncode == 255 and closed_message(site["id"]) in res.stderr.decode()
        assert (files / "dump.sql").stat().st_size == 1999
        res = clients.ssh(user, "drush sql-dump --result-file=/tmp/dump.sql")
        assert res.returncode == 0, res.stderr
    assert (env_dir(emulator, site["id"]) / "tmp" / "dump.sql").stat().st_size > 2000
    (files / "dump.sql").unlink()


def test_rsync_and_sftp_cannot_write_a_file_at_the_limit(emulator, clients, site, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a-small.bin").write_bytes(secrets.token_bytes(LIMIT - 1))
    (src / "z-exact.bin").write_bytes(secrets.token_bytes(LIMIT))
    user = clients.app_user(site["id"])
    files = env_dir(emulator, site["id"]) / "files"
    with emulator.limits(max_file_bytes=LIMIT):
        res = clients.rsync("-rt", "--temp-dir=~/tmp/", f"{src}/", clients.remote(user, "files/lim/"))
        # rsync's "error in file IO" (its "write failed ... File too large (27)" line can be lost in
        # rsync's own race between the dying receiver and the generator)
        assert res.returncode in (11, 23), res.stderr
        assert (files / "lim" / "a-small.bin").read_bytes() == (src / "a-small.bin").read_bytes()
        assert not (files / "lim" / "z-exact.bin").exists()
        # code/ is not on the files filesystem
        res = clients.rsync("-rt", f"{src}/z-exact.bin", clients.remote(user, "code/z-exact.bin"))
        assert res.returncode == 0, res.stderr

        sftp = clients.sftp(user, f"put {src}/a-small.bin /files/sftp-small.bin\n-put {src}/z-exact.bin /files/sftp-exact.bin\n")
        assert sftp.returncode == 0, sftp.stderr
        assert 'write remote "/files/sftp-exact.bin": Failure' in sftp.stderr  # OpenSSH's text for the error
        assert (files / "sftp-small.bin").stat().st_size == LIMIT - 1
        assert not (files / "sftp-exact.bin").exists() or (files / "sftp-exact.bin").stat().st_size < LIMIT
    (env_dir(emulator, site["id"]) / "code" / "z-exact.bin").unlink()


def _session_until_closed(clients, site, busy_for=0.0):
    """Run ``drush sql-cli`` with stdin kept open: a statement every 0.1s for ``busy_for`` seconds (then
    True if the session was still open), then silent until the server closes it; returns
    (exit status, stderr, open after the busy part). Nothing is asserted on how long it took: each test
    leaves only one of the emulator's two timers on (0 turns a timer off)."""
    started = time.monotonic()
    proc = clients.popen(clients.app_user(site["id"]), "drush sql-cli", stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while proc.poll() is None and time.monotonic() - started < busy_for:
            try:
                proc.stdin.write(b"SELECT 1;\n")
                proc.stdin.flush()
            except BrokenPipeError:
                break
            time.sleep(0.1)
        open_after_busy = proc.poll() is None
        proc.wait(timeout=60)
        stderr = proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.communicate()
    return proc.returncode, stderr, open_after_busy


def test_idle_session_is_closed(emulator, clients, site):
    # the idle timer alone: a silent session is closed by it
    with emulator.limits(ssh_idle_timeout=1, ssh_session_timeout=0):
        status, stderr, _open = _session_until_closed(clients, site)
    assert status == 255
    assert closed_message(site["id"]) in stderr


def test_input_keeps_an_idle_timer_from_firing(emulator, clients, site):
    # the idle timer alone: 2.5 s of input (a statement every 0.1 s) keep a 1.5 s idle timer from firing;
    # once the input stops, it fires
    with emulator.limits(ssh_idle_timeout=1.5, ssh_session_timeout=0):
        status, stderr, open_after_busy = _session_until_closed(clients, site, busy_for=2.5)
    assert open_after_busy
    assert status == 255
    assert closed_message(site["id"]) in stderr


def test_long_session_is_closed_even_when_busy(emulator, clients, site):
    # the session timer alone: a session kept busy all along is closed by it
    with emulator.limits(ssh_session_timeout=1, ssh_idle_timeout=0):
        status, stderr, open_after_busy = _session_until_closed(clients, site, busy_for=60)
    assert not open_after_busy
    assert status == 255
    assert closed_message(site["id"]) in stderr


def test_fault_disconnects_after_output_bytes_then_clears(emulator, clients, site):
    user = clients.app_user(site["id"])
    full = clients.ssh(user, "drush sql-dump")
    assert full.returncode == 0 and len(full.stdout) > 2000
    emulator.faults({"match": {"channel": "ssh", "method": user, "path": r"\bsql-dump\b"},
                     "action": {"ssh_disconnect_after": 1500}, "times": 1})
    try:
        cut = clients.ssh(user, "drush sql-dump")
        assert cut.returncode == 255
        assert cut.stdout == full.stdout[:1500]
        again = clients.ssh(user, "drush sql-dump")

        def undated(dump):  # mysqldump's last line carries the time of the dump
            return re.sub(rb"\n-- Dump completed on [^\n]*\n", b"\n", dump)
        assert again.returncode == 0 and undated(again.stdout) == undated(full.stdout)

        emulator.faults({"match": {"channel": "ssh", "path": "^drush status"}, "sequence": [{"reset": True}, None]})
        first = clients.ssh(user, "drush status")
        second = clients.ssh(user, "drush status")
        assert first.returncode == 255 and first.stdout == b""
        assert second.returncode == 0
    finally:
        emulator.clear_faults()


def test_fault_on_rsync_and_sftp(emulator, clients, site, tmp_path):
    user = clients.app_user(site["id"])
    emulator.faults({"match": {"channel": "ssh", "path": "^rsync --server --sender"},
                     "action": {"ssh_disconnect_after": 4096}, "times": 1})
    try:
        res = clients.rsync("-r", clients.remote(user, "files/"), f"{tmp_path}/down/")
        assert res.returncode != 0
        res = clients.rsync("-r", clients.remote(user, "files/"), f"{tmp_path}/down/")
        assert res.returncode == 0, res.stderr
        emulator.faults({"match": {"channel": "ssh", "path": "^sftp$"}, "action": {"reset": True}, "times": 1})
        sftp = clients.sftp(user, "ls\n")
        assert sftp.returncode != 0
        assert clients.sftp(user, "ls\n").returncode == 0
    finally:
        emulator.clear_faults()
