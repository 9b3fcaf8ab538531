"""pytest plugin: the ``emulator`` session fixture and helpers.

Loaded by ``tests/conftest.py`` (``pytest_plugins = ["pantheon_emulator.pytest_plugin"]``).

``emulator`` starts ``python -m pantheon_emulator serve`` as a subprocess with a fresh data
directory and free ports, trusts a new ed25519 key for SSH, and stops it at the end of the
session. See :class:`Emulator` for what tests can use.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

TESTS_DIR = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 120  # seeding (e.g. --fleet demo) runs MariaDB DDL; a loaded machine needs the margin


class EmulatorError(RuntimeError):
    pass


class Emulator:
    """A running emulator process.

    Attributes: api_url, admin_url, ca_path, ssh_host, ssh_port, machine_token, user_id,
    web_port, data_dir, ssh_private_key, known_hosts, env (PANTHEON_* variables), pid, info.
    """

    def __init__(self, data_dir, extra_args=(), ssh_private_key=None, known_hosts=None, api_port=0, ssh_port=0,
                 log_path=None):
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.ssh_private_key = str(ssh_private_key) if ssh_private_key else None
        self.known_hosts = str(known_hosts) if known_hosts else None
        self.log_path = Path(log_path or (self.data_dir.parent / (self.data_dir.name + ".log")))
        self.proc = None
        self.info = {}
        self._ports = (api_port, ssh_port)

    # ------------------------------------------------------------------ process
    def start(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = str(TESTS_DIR) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [sys.executable, "-m", "pantheon_emulator", "serve", "--data-dir", str(self.data_dir),
               "--api-port", str(self._ports[0]), "--ssh-port", str(self._ports[1])] + self.extra_args
        log = open(self.log_path, "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=str(TESTS_DIR.parent))
        log.close()
        line = self._read_line(STARTUP_TIMEOUT)
        try:
            self.info = json.loads(line)
        except ValueError:
            self.stop()
            raise EmulatorError(f"emulator printed {line!r} instead of its JSON line; log: {self.log_tail()}") from None
        for key in ("api_url", "admin_url", "ca_path", "ssh_host", "ssh_port", "machine_token", "user_id", "web_port"):
            setattr(self, key, self.info.get(key))
        self._ports = (self.web_port, self.ssh_port or 0)
        return self

    def _read_line(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise EmulatorError(f"emulator did not start (exit {self.proc.returncode}); log: {self.log_tail()}")
            if sel.select(min(left, 0.5)):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    continue
                buf += chunk
        sel.close()
        return buf.split(b"\n", 1)[0].decode()

    def log_tail(self, n=4000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def restart(self):
        """Stop and start again on the same data directory and ports."""
        self.stop()
        return self.start()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def rss_bytes(self):
        """Resident memory of the emulator process (from /proc)."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise EmulatorError("VmRSS not found")

    # ------------------------------------------------------------------ environment for clients
    @property
    def env(self):
        env = {"PANTHEON_API_URL": self.api_url, "PANTHEON_CA_PATH": self.ca_path,
               "PANTHEON_MACHINE_TOKEN": self.machine_token, "PANTHEON_SSH_HOST": self.ssh_host,
               "PANTHEON_SSH_PORT": "" if self.ssh_port is None else str(self.ssh_port),
               "PANTHEON_WEB_PORT": str(self.web_port)}
        if self.ssh_private_key:
            env["PANTHEON_SSH_KEY"] = self.ssh_private_key
        if self.known_hosts:
            env["PANTHEON_SSH_KNOWN_HOSTS"] = self.known_hosts
        # a lowered file size limit (limits(max_file_bytes=...), --scale): the collection's evidence of "too large"
        limit = self.config().get("max_file_bytes")
        if limit and int(limit) != 256 * 1024 * 1024:
            env["PANTHEON_FILE_SIZE_LIMIT"] = str(int(limit))
        return env

    # ------------------------------------------------------------------ HTTP helpers
    def http(self):
        """A requests.Session trusting the emulator CA (ignores REQUESTS_CA_BUNDLE)."""
        s = requests.Session()
        s.trust_env = False
        s.verify = self.ca_path
        return s

    def admin(self, method, path, **kwargs):
        resp = self.http().request(method, f"{self.admin_url}/{path.lstrip('/')}", timeout=600, **kwargs)
        if resp.status_code >= 400:
            raise EmulatorError(f"admin {method} {path}: HTTP {resp.status_code}: {resp.text}")
        return resp

    def api(self, login=True):
        """A requests.Session logged in to the API (Bearer session); use ``api_url`` + path."""
        s = self.http()
        if login:
            r = s.post(f"{self.api_url}/authorize/machine-token",
                       json={"machine_token": self.machine_token, "client": "terminus"}, timeout=30)
            r.raise_for_status()
            s.headers["Authorization"] = "Bearer " + r.json()["session"]
        return s

    # ------------------------------------------------------------------ MariaDB
    def db_credentials(self, site, env):
        """DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME of an environment (site id or name), as
        the API's ``variables`` endpoint gives them."""
        site_id = site if isinstance(site, str) and len(site) == 36 else self.state(site, env)["site"]["id"]
        r = self.api().get(f"{self.api_url}/sites/{site_id}/environments/{env}/variables", timeout=60)
        r.raise_for_status()
        return {k: v for k, v in r.json().items() if k.startswith("DB_")}

    def db(self, site, env):
        """A PyMySQL connection to an environment's database over TCP with its own credentials
        (bytes come back as MariaDB holds them). Close it when done."""
        import pymysql  # pylint: disable=import-outside-toplevel
        c = self.db_credentials(site, env)
        return pymysql.connect(host=c["DB_HOST"], port=int(c["DB_PORT"]), user=c["DB_USER"],
                               password=c["DB_PASSWORD"], database=c["DB_NAME"], charset="utf8mb4",
                               autocommit=True)

    def mysql_argv(self, program="mysql"):
        """argv of a MariaDB client program connected as root to the emulator's server (socket)."""
        run = json.loads((Path(self.data_dir) / "mariadb" / "run.json").read_text())
        return [program, "--no-defaults", f"--socket={run['socket']}", "--user=root",
                "--default-character-set=utf8mb4"]

    def seed(self, recipe):
        """Create sites from a recipe (see pantheon_emulator.seed); returns [{id, name, framework, envs, created}]."""
        return self.admin("POST", "seed", json=recipe).json()["sites"]

    def faults(self, rules):
        """Add fault rules (a rule or a list); returns their ids."""
        return self.admin("POST", "faults", json=rules).json()["ids"]

    def fault_profile(self, name, seed=0):
        """Add the rules of a named, seeded fault profile (pantheon_emulator.faults.PROFILES); returns their ids."""
        return self.admin("POST", "faults", json={"profile": name, "seed": seed}).json()["ids"]

    def list_faults(self):
        return self.admin("GET", "faults").json()

    def clear_faults(self):
        self.admin("DELETE", "faults")

    def wait_hold(self, name, count=1, timeout=120, until="reached"):
        """Block until ``count`` events reached the fault hold ``name`` (``until="finished"``: were
        handled after it was released); EmulatorError after ``timeout``."""
        return self.admin("POST", f"holds/{name}/wait",
                          params={"count": count, "timeout": timeout, "until": until}).json()

    def release(self, name):
        """Let the events held by ``name`` (and any later ones) go on."""
        return self.admin("POST", f"holds/{name}/release").json()

    def holds(self):
        return self.admin("GET", "holds").json()

    def requests(self, channel=None, since=0):
        params = {"since": since}
        if channel:
            params["channel"] = channel
        return self.admin("GET", "requests", params=params).json()

    def clear_requests(self):
        self.admin("DELETE", "requests")

    def state(self, site, env, digest=False):
        """Content summary of an environment (site name or id)."""
        return self.admin("GET", f"state/sites/{site}/envs/{env}", params={"digest": "1" if digest else "0"}).json()

    def web_url(self, site, env):
        """https://{env}-{site}.pantheonsite.localhost:{port} (site name, or id looked up)."""
        name = site
        if len(site) == 36 and site.count("-") == 4:
            for s in self.admin("GET", "state/sites").json():
                if s["id"] == site:
                    name = s["name"]
        return f"https://{env}-{name}.pantheonsite.localhost:{self.web_port}"

    def config(self):
        return self.admin("GET", "config").json()

    def set_limits(self, **values):
        """Change limits/settings (url_import_max_bytes, max_file_bytes, ssh_idle_timeout, ...)."""
        return self.admin("POST", "config", json=values).json()

    @contextlib.contextmanager
    def limits(self, **values):
        """Temporarily change limits; restored afterwards."""
        before = self.config()
        self.set_limits(**values)
        try:
            yield self
        finally:
            self.set_limits(**{k: before[k] for k in values})

    def expire_sessions(self, session=None):
        """Expire one API session token (or all of them: other sessions then get 401 too)."""
        self.admin("POST", "sessions/expire", json={"session": session} if session else None)

    def add_user(self, email, sites=()):
        """Another user with its own machine token (member of ``sites``)."""
        return self.admin("POST", "users", json={"email": email, "sites": list(sites)}).json()

    def trust_key(self, public_key_line):
        return self.admin("POST", "ssh-keys", json={"public_key": public_key_line}).json()


def make_ssh_key(directory):
    """An ed25519 key pair made with ssh-keygen; returns (private path, public line)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pantheon-emulator-tests", "-f", str(key)],
                       check=True, capture_output=True)
    return key, (directory / "id_ed25519.pub").read_text().strip()


def start_emulator(base_dir, extra_args=(), api_port=0, ssh_port=0):
    """Start an emulator in ``base_dir`` (data in base_dir/data) with a trusted SSH key."""
    base_dir = Path(base_dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    key, pub = make_ssh_key(base_dir / "ssh-client")
    known_hosts = base_dir / "ssh-client" / "known_hosts"
    known_hosts.touch()
    emu = Emulator(base_dir / "data", extra_args, ssh_private_key=key, known_hosts=known_hosts,
                   api_port=api_port, ssh_port=ssh_port, log_path=base_dir / "emulator.log")
    emu.start()
    try:
        emu.trust_key(pub)
    except Exception:
        emu.stop()
        raise
    return emu


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """A running emulator for the whole session (fresh data directory, free ports)."""
    extra = os.environ.get("PANTHEON_EMULATOR_ARGS", "").split()
    emu = start_emulator(tmp_path_factory.mktemp("pantheon-emulator"), extra)
    yield emu
    emu.stop()


@pytest.fixture
def site_prefix():
    """A fresh, valid site-name prefix (e.g. ``t3f9a1c-``) so tests never collide."""
    return f"t{uuid.uuid4().hex[:7]}-"
