"""The SSH server started in-process on its own store (``start_ssh_server``): a persistent host
key that keeps known_hosts valid across restarts, keys trusted at run time, and the rsync
argument checks that do not need a transfer to show."""

from __future__ import annotations

import asyncio
import subprocess
import threading

import pytest

from pantheon_emulator import seed
from pantheon_emulator.ssh import start_ssh_server
from pantheon_emulator.ssh.rsync import RsyncRefused, plan_rsync
from pantheon_emulator.ssh.shell import CommandLineError, parse_command_line
from pantheon_emulator.store import Store


class LoopThread:
    """An asyncio loop in a background thread (the emulator runs the server in its loop)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close_server(self, server):
        """Close a server from inside its loop (asyncio servers are not thread-safe)."""
        async def close():
            server.close()
            await server.wait_closed()
        self.run(close())

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def local(tmp_path):
    store = Store(tmp_path / "data")
    created = seed.seed_recipe(store, {"seed": 3, "sites": [{"name": "local-d7", "framework": "drupal",
                                                             "envs": ["dev"]}]})
    site_id = created[0]["id"]
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    loop = LoopThread()
    yield store, loop, key, site_id
    loop.stop()
    store.close()


def _ssh(port, key, known_hosts, user, command, strict="yes"):
    argv = ["ssh", "-T", "-p", str(port), "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"StrictHostKeyChecking={strict}", "-o", f"UserKnownHostsFile={known_hosts}",
            f"{user}@127.0.0.1", command]
    return subprocess.run(argv, capture_output=True, timeout=60, check=False)


def test_host_key_survives_restart_and_keys_are_trusted_at_run_time(local, tmp_path):
    store, loop, key, site_id = local
    server = loop.run(start_ssh_server(store, "127.0.0.1", 0))
    first_key = server.host_key
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{server.port} {first_key}\n")
    user = f"dev.{site_id}"
    refused = _ssh(server.port, key, known_hosts, user, "drush status")
    assert refused.returncode == 255 and b"Permission denied (publickey)" in refused.stderr
    store.add_authorized_key((tmp_path / "id_ed25519.pub").read_text())
    ok = _ssh(server.port, key, known_hosts, user, "drush status")
    assert ok.returncode == 0, ok.stderr
    loop.close_server(server)
    assert (store.ssh_dir / "ssh_host_ed25519_key").exists()

    again = loop.run(start_ssh_server(store, "127.0.0.1", 0))
    try:
        assert again.host_key == first_key
        known_hosts.write_text(f"[127.0.0.1]:{again.port} {first_key}\n")
        res = _ssh(again.port, key, known_hosts, user, "drush status")
        assert res.returncode == 0, res.stderr
        store.remove_authorized_keys()
        assert _ssh(again.port, key, known_hosts, user, "drush status").returncode == 255
    finally:
        loop.close_server(again)


def test_command_line_parsing():
    cmd = parse_command_line("TRACE_ID=8f3a_c1 drush ard '--destination=code/sites/default/files/a b.tgz' "
                             "'--tar-options=--exclude=code/sites/default/files'")
    assert cmd.env == {"TRACE_ID": "8f3a_c1"}
    assert cmd.argv == ["drush", "ard", "--destination=code/sites/default/files/a b.tgz",
                        "--tar-options=--exclude=code/sites/default/files"]
    assert parse_command_line("wp db query 'SELECT '\\''x'\\'''").argv == ["wp", "db", "query", "SELECT 'x'"]
    assert parse_command_line("drush sqlq 'a;b | c'").argv == ["drush", "sqlq", "a;b | c"]
    for bad, status in (("drush st; id", 127), ("drush st | id", 127), ("drush `id`", 127), ("drush $(id)", 127),
                        ("drush 'unterminated", 2)):
        with pytest.raises(CommandLineError) as info:
            parse_command_line(bad)
        assert info.value.status == status, bad


@pytest.mark.parametrize("argv, message", [
    (["rsync", "--daemon"], "only 'rsync --server'"),
    (["rsync", "--server", "--daemon", ".", "files/"], "--daemon"),
    (["rsync", "--server", "-slre.iLsfxCIvu", ".", "files/"], "-s"),
    (["rsync", "--server", "-re.iLsfxCIvu", "--files-from=/etc/passwd", ".", "files/"], "--files-from"),
    (["rsync", "--server", "-re.iLsfxCIvu", "--log-file=/tmp/x", ".", "files/"], "--log-file"),
    (["rsync", "--server", "-re.iLsfxCIvu", "--temp-dir", "/tmp", ".", "files/"], "outside"),
    (["rsync", "--server", "-re.iLsfxCIvu", "--backup-dir", "../../x", ".", "files/"], "'..'"),
    (["rsync", "--server", "-re.iLsfxCIvu", ".", "files/", "code/"], "exactly one destination"),
    (["rsync", "--server", "--sender", "-re.iLsfxCIvu", ".", "tmp/"], "outside"),
    (["rsync", "--server", "-re.iLsfxCIvu", "--no-such-option", ".", "files/"], "--no-such-option"),
])
def test_rsync_arguments_refused(tmp_path, argv, message):
    for sub in ("files", "code", "tmp"):
        (tmp_path / sub).mkdir()
    with pytest.raises(RsyncRefused) as info:
        plan_rsync(argv, tmp_path)
    assert message in str(info.value)


def test_rsync_arguments_rewritten(tmp_path):
    for sub in ("files", "code", "tmp"):
        (tmp_path / sub).mkdir()
    plan = plan_rsync(["rsync", "--server", "-lprIze.iLsfxCIvu", "--delay-updates", "--temp-dir", "~/tmp/",
                       ".", "~/files/a b/"], tmp_path, max_file_bytes=1000)
    assert plan.argv[1:] == ["--server", "-lprIze.iLsfxCIvu", "--delay-updates", "--temp-dir", f"{tmp_path}/tmp/",
                             ".", "files/a b/"]
    assert not plan.sender and plan.max_file_bytes == 1000
    down = plan_rsync(["rsync", "--server", "--sender", "-logDtprze.iLsfxCIvu", ".", "files/", "code/x"], tmp_path,
                      max_file_bytes=1000)
    assert down.sender and down.max_file_bytes == 0
    assert plan_rsync(["rsync", "--server", "-re.i", ".", "code/"], tmp_path, max_file_bytes=1000).max_file_bytes == 0
