"""The emulator's SSH server (asyncssh, same event loop as the HTTPS API).

One server answers for every appserver and codeserver: the SSH user name selects the target
(``{env}.{site_id}`` or ``appserver.{env}.{site_id}`` -> that environment, home = the env
directory; ``codeserver.dev.{site_id}`` -> git on the site's bare repository). Only public keys
the store trusts are accepted. Each exec request is one command (see ``dispatch``).
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor

import asyncssh

from pantheon_emulator import faults
from pantheon_emulator.ssh import drush, git, rsync, wp
from pantheon_emulator.ssh.channel import ChannelClosed, ChannelIO, CommandError, ForceDisconnect, SyncIO
from pantheon_emulator.ssh.envctx import EnvContext
from pantheon_emulator.ssh.sftp import ConfinedSFTPServer
from pantheon_emulator.ssh.shell import CommandLineError, parse_command_line

HOST_KEY_NAME = "ssh_host_ed25519_key"
NOT_FOUND = 127
WRITE_HIGH_WATER = 4 << 20
# AES-GCM first and no chacha20-poly1305: OpenSSH prefers chacha20, which asyncssh computes
# per packet in Python-level code at a third of the speed (192MB rsync: 9.6s vs 2.8s)
ENCRYPTION_ALGS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr")


def load_host_key(ssh_dir):
    """The persistent host key in ``ssh_dir`` (created on first start)."""
    path = os.path.join(str(ssh_dir), HOST_KEY_NAME)
    if not os.path.exists(path):
        os.makedirs(str(ssh_dir), exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519", comment="pantheon-emulator")
        tmp = path + ".tmp"
        key.write_private_key(tmp)
        os.chmod(tmp, 0o600)
        key.write_public_key(path + ".pub")
        os.replace(tmp, path)
    return asyncssh.read_private_key(path)


class Session:
    """State of one SSH connection: who it is for, activity times, open channels."""

    def __init__(self, owner, conn):
        self.owner = owner
        self.store = owner.store
        self.conn = conn
        self.username = None
        self.kind = None
        self.site = None
        self.env = None
        self.paths = None
        self.started = time.monotonic()
        self.last = self.started
        self.closing = False
        self.processes = set()
        self._watch_task = None

    # ------------------------------------------------------------------ identity
    @property
    def host_label(self):
        if self.kind == "codeserver":
            return f"codeserver.dev.{self.site['id']}.drush.in"
        if self.kind == "appserver":
            return f"appserver.{self.env}.{self.site['id']}.drush.in"
        return "the emulator"

    def env_context(self):
        return EnvContext(store=self.store, site=self.site, env=self.env, paths=self.paths, username=self.username)

    # ------------------------------------------------------------------ helpers for commands
    def touch(self):
        self.last = time.monotonic()

    def fault(self, path):
        return self.store.fault_for("ssh", method=self.username or "", path=path)

    def max_file_bytes(self):
        return int(self.store.limits().get("max_file_bytes") or 0)

    def log(self, method, path, status, duration):
        try:
            self.store.log_request(method, path, status, duration, channel="ssh")
            self.store.sweep_public_files(duration)
        except Exception:  # pylint: disable=broad-except
            pass  # logging must never break a session (store closed during shutdown)

    def abort_soon(self):
        asyncio.get_running_loop().create_task(self.force_close(None))

    # ------------------------------------------------------------------ limits
    def start_watch(self):
        if self._watch_task is None:
            self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self):
        limits = self.store.limits()
        idle = float(limits.get("ssh_idle_timeout") or 0)
        hard = float(limits.get("ssh_session_timeout") or 0)
        if not idle and not hard:
            return
        tick = min(1.0, max(0.05, min(x for x in (idle, hard) if x) / 10))
        while not self.closing:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if (idle and now - self.last >= idle) or (hard and now - self.started >= hard):
                await self.force_close(f"Connection to {self.host_label} closed by remote host.\n")
                return

    async def force_close(self, message):
        """Close the TCP connection without an SSH disconnect message (the client reports
        "closed by remote host"), after ``message`` reached the client's stderr."""
        if self.closing:
            return
        self.closing = True
        if message:
            data = message.encode()
            for process in list(self.processes):
                try:
                    process.stderr.write(data)
                except Exception:  # pylint: disable=broad-except
                    pass
            for process in list(self.processes):
                try:
                    await asyncio.wait_for(process.stderr.drain(), 2)
                except Exception:  # pylint: disable=broad-except
                    pass
        transport = getattr(self.conn, "_transport", None)
        deadline = time.monotonic() + 2
        while transport is not None and transport.get_write_buffer_size() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.conn.abort()

    def connection_lost(self):
        self.closing = True
        if self._watch_task is not None:
            self._watch_task.cancel()


class _ConnServer(asyncssh.SSHServer):
    """Per-connection callbacks: authentication."""

    def __init__(self, owner):
        self.owner = owner
        self.session = None

    def connection_made(self, conn):
        self.session = Session(self.owner, conn)

    def connection_lost(self, exc):
        if self.session is not None:
            self.session.connection_lost()
        self.owner.sessions.discard(self.session)

    async def begin_auth(self, username):
        session = self.session
        session.username = username
        target = await asyncio.to_thread(self.owner.store.site_for_ssh_user, username)
        if target is not None:
            session.kind, session.site, session.env = target
        return True

    def password_auth_supported(self):
        return False

    def kbdint_auth_supported(self):
        return False

    def host_based_auth_supported(self):
        return False

    def public_key_auth_supported(self):
        return True

    async def validate_public_key(self, username, key):
        if not self.owner.key_trusted(key):
            return False
        session = self.session
        if session.kind is not None and session.paths is None:
            env = session.env if session.kind == "appserver" else "dev"
            session.paths = await asyncio.to_thread(self.owner.store.env_paths, session.site["id"], env)
        return True

    def auth_completed(self):
        self.owner.sessions.add(self.session)
        self.session.start_watch()


class SSHServerHandle:
    """The running server: ``.port``, ``.host_key`` (public key line), ``close()``."""

    def __init__(self, store):
        self.store = store
        self.port = None
        self.host = None
        self.sessions = set()
        self._acceptors = []
        self._key_cache = {}
        self._executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="ssh-cmd")
        self.host_key = None

    # ------------------------------------------------------------------ keys
    def key_trusted(self, key):
        wanted = key.public_data
        for line in self.store.authorized_keys():
            data = self._key_cache.get(line)
            if data is None:
                try:
                    data = asyncssh.import_public_key(line).public_data
                except (asyncssh.KeyImportError, ValueError):
                    data = b""
                self._key_cache[line] = data
            if data and data == wanted:
                return True
        return False

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host, port):
        key = load_host_key(self.store.ssh_dir)
        self.host_key = key.export_public_key("openssh").decode().strip()
        hosts = ["127.0.0.1", "::1"] if host in (None, "", "localhost") else [host]
        for i, addr in enumerate(hosts):
            try:
                acceptor = await asyncssh.listen(
                    addr, self.port if i else port, server_factory=lambda: _ConnServer(self),
                    server_host_keys=[key], process_factory=self._handle_process,
                    sftp_factory=self._sftp_factory, allow_scp=False, encoding=None,
                    agent_forwarding=False, x11_forwarding=False, allow_pty=False,
                    keepalive_interval=0, login_timeout=60, encryption_algs=ENCRYPTION_ALGS)
            except OSError:
                if i == 0:
                    raise
                continue  # no IPv6 loopback here
            if i == 0:
                self.port = acceptor.sockets[0].getsockname()[1]
            self._acceptors.append(acceptor)
        self.host = hosts[0]
        self.store.runtime["ssh_port"] = self.port
        return self

    def close(self):
        """Stop accepting and drop open connections (call from the server's event loop)."""
        for session in list(self.sessions):
            if session.conn is not None:
                session.closing = True
                session.conn.abort()
        for acceptor in self._acceptors:
            acceptor.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def wait_closed(self):
        for acceptor in self._acceptors:
            await acceptor.wait_closed()

    # ------------------------------------------------------------------ channels
    def _sftp_factory(self, chan):
        session = chan.get_connection().get_owner().session
        return ConfinedSFTPServer(chan, session)

    async def _handle_process(self, process):
        session = process.get_extra_info("connection").get_owner().session
        session.processes.add(process)
        # the default 64KB high-water mark makes every 64KB write wait for a flush; bulk output
        # (rsync downloads, dumps) needs a deeper buffer to reach loopback speed
        process.channel.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        started = time.monotonic()
        label, status = "shell", 1
        try:
            if process.command is None:
                what = f"subsystem {process.subsystem!r}" if process.subsystem else "an interactive shell"
                process.stderr.write(f"{what} is not available here; run a command (drush, wp, rsync, git)\n".encode())
            else:
                label, status = await self.dispatch(session, process)
        except ChannelClosed:
            status = 255
        finally:
            session.processes.discard(process)
            session.log("SSH", label, status, time.monotonic() - started)
            if not session.closing:
                try:
                    process.exit(status)
                except Exception:  # pylint: disable=broad-except
                    pass

    async def dispatch(self, session, process):
        """Run one command line; returns (label for the request log, exit status)."""
        try:
            cmd = parse_command_line(process.command)
        except CommandLineError as exc:
            process.stderr.write(f"bash: {exc}\n".encode())
            return "invalid", exc.status
        label = self.label(session, cmd.argv)
        action = session.fault(process.command) or {}
        if not action.get("hold"):
            return await self._run_with(session, process, cmd, label, action)
        holds = faults.holds_of(self.store)
        await holds.ablock(action["hold"])
        try:
            return await self._run_with(session, process, cmd, label, action)
        finally:
            holds.finish(action["hold"])

    async def _run_with(self, session, process, cmd, label, action):
        """Run the parsed command under the fault ``action`` (delay, reset, disconnect)."""
        if action.get("delay"):
            await asyncio.sleep(float(action["delay"]))
        if action.get("reset"):
            await session.force_close(None)
            return label, 255
        aio = ChannelIO(session, process, disconnect_after=action.get("ssh_disconnect_after"))
        aio.fault = action
        try:
            status = await self.run_command(session, cmd, aio)
        except CommandError as exc:
            await aio.write_err(exc.message if exc.message.endswith("\n") else exc.message + "\n")
            status = exc.status
        except ForceDisconnect as exc:
            await session.force_close(exc.message)
            status = 255
        return label, status

    @staticmethod
    def label(session, argv):
        if not argv:
            return "empty"
        name = argv[0].rsplit("/", 1)[-1]
        if name == "drush":
            return drush.command_label(argv, session.env_context() if session.kind == "appserver" else None)
        if name == "wp":
            return wp.command_label(argv)
        if name in ("rsync", "git-upload-pack", "git-receive-pack", "git"):
            return name
        return "other"

    async def run_command(self, session, cmd, aio):
        if session.kind is None:
            raise CommandError(f"No Pantheon site or environment matches the SSH user {session.username!r}; use "
                               "{env}.{site_id}, appserver.{env}.{site_id} or codeserver.dev.{site_id} (site UUID).",
                               1)
        name = cmd.name
        if session.kind == "codeserver":
            return await self.run_git(session, cmd.argv, aio)
        if not cmd.argv:
            raise CommandError("command not allowed: empty command", NOT_FOUND)
        framework = session.site.get("framework") or "drupal"
        if name == "drush":
            if framework == "wordpress":
                raise CommandError("bash: drush: command not found", NOT_FOUND)
            return await self.in_thread(drush.run, session, cmd.argv, aio)
        if name == "wp":
            if framework != "wordpress":
                raise CommandError("bash: wp: command not found", NOT_FOUND)
            return await self.in_thread(wp.run, session, cmd.argv, aio)
        if name == "rsync":
            return await self.run_rsync(session, cmd.argv, aio)
        if name in git.SERVICES:
            raise CommandError(f"command not allowed: git is served by codeserver.dev.{session.site['id']}",
                               NOT_FOUND)
        raise CommandError(f"command not allowed: {name}", NOT_FOUND)

    async def in_thread(self, func, session, argv, aio):
        loop = asyncio.get_running_loop()
        ctx = session.env_context()
        ctx.fault = getattr(aio, "fault", None)
        return await loop.run_in_executor(self._executor, func, ctx, argv, SyncIO(aio, loop))

    # ------------------------------------------------------------------ subprocess commands
    async def run_rsync(self, session, argv, aio):
        try:
            plan = rsync.plan_rsync(argv, session.paths.root, max_file_bytes=session.max_file_bytes())
        except rsync.RsyncRefused as exc:
            raise CommandError(f"{exc}\nrsync error: syntax or usage error (code 1)", 1) from None
        return await run_subprocess(aio, plan.argv, cwd=str(session.paths.root),
                                    preexec=plan.preexec if plan.max_file_bytes else None)

    async def run_git(self, session, argv, aio):
        service, _repo = git.plan(argv)
        repo = session.paths.repo
        if not (repo / "HEAD").exists():
            raise CommandError(f"fatal: '{argv[-1]}' does not appear to be a git repository", 128)
        env = dict(os.environ)
        env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
        loop = asyncio.get_running_loop()
        before = await loop.run_in_executor(self._executor, git.branch_heads, repo) if service == "receive-pack" else None
        status = await run_subprocess(aio, [git.git_binary(), service, str(repo)], cwd=str(repo), env=env)
        if service == "receive-pack" and status == 0:
            after = await loop.run_in_executor(self._executor, git.branch_heads, repo)
            await loop.run_in_executor(self._executor, git.after_push, self.store, session.site["id"], before, after)
        return status


async def run_subprocess(aio, argv, cwd, env=None, preexec=None):
    """Run a program with the channel as its stdin/stdout/stderr; returns its exit status."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=cwd, env=env, preexec_fn=preexec)

    async def feed():
        try:
            while True:
                data = await aio.read(1 << 16)
                if not data:
                    break
                proc.stdin.write(data)
                await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        except ChannelClosed:
            if proc.returncode is None:
                proc.kill()
        finally:
            try:
                proc.stdin.close()
            except Exception:  # pylint: disable=broad-except
                pass

    async def pump(reader, write):
        while True:
            data = await reader.read(1 << 16)
            if not data:
                return
            await write(data)

    feeder = asyncio.get_running_loop().create_task(feed())
    try:
        await asyncio.gather(pump(proc.stdout, aio.write), pump(proc.stderr, aio.write_err))
        status = await proc.wait()
        return status if status >= 0 else 128 - status  # killed by a signal: as a shell reports it
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    finally:
        feeder.cancel()


async def start_ssh_server(store, host="127.0.0.1", port=0):
    """Start the SSH server for ``store`` on ``host``:``port`` (0 = any free port).

    Returns a handle with ``.port``, ``.host_key`` (the server's public key line, for
    known_hosts), ``close()`` and ``wait_closed()``."""
    return await SSHServerHandle(store).start(host, port)
