"""Persistent state of the emulator: SQLite rows in ``DATA/state.sqlite`` plus the on-disk
content layout of docs/ARCHITECTURE.md.

One :class:`Store` per data directory. Every public method is thread-safe (one connection,
guarded by a re-entrant lock), because workflows run in background threads and the SSH
server calls in from the event loop.

The SSH side (``pantheon_emulator.ssh``) relies on these methods; keep them stable:
``env_paths``, ``get_site``, ``find_site_by_name``, ``get_env``, ``authorized_keys``,
``log_request``, ``create_and_run_workflow``, ``fault_for``, ``check_file_size_limit``,
``limits``, ``site_for_ssh_user``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import secrets
import shutil
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pantheon_emulator import mariadb

MIB = 1024 * 1024

DEFAULT_CONFIG = {
    # URL imports (do_import / do_migration) larger than this fail their workflow.
    "url_import_max_bytes": 500 * MIB,
    # A single file of this size or more cannot be written under an environment's files/.
    "max_file_bytes": 256 * MIB,
    # SSH limits (applied by the SSH side): seconds without output, and total seconds.
    "ssh_idle_timeout": 600,
    "ssh_session_timeout": 3600,
    # Lifetime of signed backup download URLs, seconds.
    "signed_url_ttl": 3600,
    # Lifetime of API sessions, seconds.
    "session_ttl": 86400,
    # Extra seconds every workflow spends "running" before it does its work.
    "workflow_delay": 0.0,
    # Timing profile (workflows.PROFILE) scale factor; 0 = off (workflows run at once, in parallel).
    "workflow_scale": 0.0,
    # Signed-URL downloads are sent at most this many bytes per second; 0 = as fast as possible (a test hook: a
    # transfer that lasts long enough to be watched, e.g. the progress callback's lines).
    "download_rate": 0,
    # Host name used in API/storage URLs.
    "public_host": "localhost",
    # Domain suffix of environment web addresses.
    "dns_zone": "pantheonsite.localhost",
}

LIMIT_KEYS = ("url_import_max_bytes", "max_file_bytes", "ssh_idle_timeout", "ssh_session_timeout",
              "signed_url_ttl", "session_ttl", "workflow_delay", "workflow_scale", "download_rate")

# a site archive's name (Drush writes <40 hex>.tgz, Drush 11+ <40 hex>.tar.gz; _archive.py)
ARCHIVE_NAME = re.compile(r"([0-9a-f]{40})\.(?:tgz|tar\.gz)")
SITE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,51}$")
ENV_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,10}$")
SSH_USER_RE = re.compile(
    r"^(?:(?P<codeserver>codeserver)\.dev|(?:appserver\.)?(?P<env>[a-z0-9-]+))\.(?P<site>[0-9a-f-]{36})$")

# Pantheon's public upstreams (ids as published), and the framework each one deploys.
DEFAULT_UPSTREAMS = [
    {"id": "21e1fada-199c-492b-97bd-0b36b53a9da0", "label": "Drupal 7", "machine_name": "drupal7",
     "framework": "drupal", "type": "core"},
    {"id": "bde48795-b16d-443f-af01-8b1790caa1af", "label": "Drupal (Composer Managed)",
     "machine_name": "drupal-composer-managed", "framework": "drupal8", "type": "core"},
    {"id": "c76c0e51-ad85-41d7-b095-a98a75869760", "label": "Drupal 10", "machine_name": "drupal10",
     "framework": "drupal8", "type": "core"},
    {"id": "e8fe8550-1ab9-4964-8838-2b9abdccf4bf", "label": "WordPress", "machine_name": "wordpress",
     "framework": "wordpress", "type": "core"},
    {"id": "4c7176de-e079-eed1-154d-44d5a9945b65", "label": "Empty Upstream", "machine_name": "empty",
     "framework": "drupal8", "type": "core"},
]

FRAMEWORKS = ("drupal", "drupal8", "wordpress")


class StoreError(Exception):
    """A request the store refuses (bad name, unknown site...)."""


class FileSizeLimitExceeded(OSError):
    """Writing a file of this size under files/ is not allowed (Pantheon's 256MB rule)."""


@dataclass(frozen=True)
class EnvPaths:
    """Where an environment's content lives. ``root`` is the SSH user's home."""

    site_root: Path
    repo: Path
    root: Path
    code: Path
    files: Path
    db: object      # mariadb.Database: the environment's own database on the emulator's MariaDB
    tmp: Path


def new_id(rng=None):
    """A UUID4 string; deterministic when ``rng`` (random.Random) is given."""
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def framework_settings(framework):
    """Default env settings (drush/php) for a framework."""
    if framework == "drupal":
        return {"drush_version": 8, "php_version": "74"}
    if framework == "drupal8":
        return {"drush_version": 12, "php_version": "83"}
    return {"drush_version": 8, "php_version": "83"}


def branch_for_env(env):
    return "master" if env in ("dev", "test", "live") else env


_SCHEMA = """
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, firstname TEXT, lastname TEXT, created REAL);
CREATE TABLE IF NOT EXISTS machine_tokens (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created REAL);
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (id TEXT PRIMARY KEY, machine_name TEXT UNIQUE, name TEXT, created REAL);
CREATE TABLE IF NOT EXISTS org_members (
    org_id TEXT, user_id TEXT, role TEXT, PRIMARY KEY (org_id, user_id));
CREATE TABLE IF NOT EXISTS upstreams (
    id TEXT PRIMARY KEY, label TEXT, machine_name TEXT, framework TEXT, type TEXT, org_id TEXT);
CREATE TABLE IF NOT EXISTS sites (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, label TEXT, framework TEXT, upstream_id TEXT,
    org_id TEXT, owner_id TEXT, created REAL, preferred_zone TEXT, frozen INTEGER DEFAULT 0,
    plan_name TEXT, pending TEXT);
CREATE TABLE IF NOT EXISTS site_members (
    site_id TEXT, user_id TEXT, role TEXT, PRIMARY KEY (site_id, user_id));
CREATE TABLE IF NOT EXISTS site_tags (site_id TEXT, tag TEXT, PRIMARY KEY (site_id, tag));
CREATE TABLE IF NOT EXISTS envs (
    site_id TEXT, env TEXT, created REAL, settings TEXT, target_commit TEXT, db_password TEXT,
    PRIMARY KEY (site_id, env));
CREATE TABLE IF NOT EXISTS workflows (
    id TEXT PRIMARY KEY, seq INTEGER, owner TEXT, site_id TEXT, env TEXT, user_id TEXT, type TEXT,
    params TEXT, data TEXT, created_at REAL);
CREATE INDEX IF NOT EXISTS workflows_site ON workflows (site_id, seq);
CREATE TABLE IF NOT EXISTS backups (
    site_id TEXT, env TEXT, key TEXT, folder TEXT, element TEXT, filename TEXT, data TEXT,
    PRIMARY KEY (site_id, env, key));
CREATE TABLE IF NOT EXISTS ssh_keys (key TEXT PRIMARY KEY, comment TEXT, added REAL);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, matches INTEGER DEFAULT 0,
    fired INTEGER DEFAULT 0, done INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL, channel TEXT, method TEXT, path TEXT,
    status INTEGER, duration REAL);
"""


class Store:
    """State of one emulator data directory."""

    def __init__(self, data_dir):
        # files Drush wrote into an environment's public files directory (archives), until removed
        self._public_files = {}
        self._public_files_lock = threading.Lock()
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("ca", "ssh", "sites", "backups"):
            (self.data_dir / sub).mkdir(exist_ok=True)
        self.ca_dir = self.data_dir / "ca"
        self.ssh_dir = self.data_dir / "ssh"
        self._lock = threading.RLock()
        self._materialize_locks = {}
        self._db = sqlite3.connect(str(self.data_dir / "state.sqlite"), check_same_thread=False,
                                   isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # queued workflows (timing profile) wait in their thread, so allow many
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="workflow")
        # The MariaDB server of this data directory, started on first use (``serve`` starts it at once)
        self.mariadb = mariadb.Server(self.data_dir)
        # Runtime values (not persisted): ports the servers listen on.
        self.runtime = {"web_port": None, "ssh_port": None}
        # Secrets this emulator handed out or accepted, with the last time each was issued or used
        # (memory only): GET /_emulator/secrets lets a test scan a run's output for them.
        self._secrets_seen = {}
        with self._lock:
            for key, value in DEFAULT_CONFIG.items():
                self._db.execute("INSERT OR IGNORE INTO config (key, value) VALUES (?, ?)",
                                 (key, json.dumps(value)))
            if self._config_get("signing_key") is None:
                self._config_set("signing_key", secrets.token_hex(32))
            self.ensure_default_upstreams()

    # ------------------------------------------------------------------ basics
    def _q(self, sql, args=()):
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def _one(self, sql, args=()):
        rows = self._q(sql, args)
        return rows[0] if rows else None

    def _x(self, sql, args=()):
        with self._lock:
            return self._db.execute(sql, args)

    def close(self):
        """Finish running workflows (queued ones stay queued for the next start), then close."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._db.close()
        self.mariadb.stop()

    # ------------------------------------------------------------------ config / limits
    def _config_get(self, key):
        row = self._one("SELECT value FROM config WHERE key = ?", (key,))
        return None if row is None else json.loads(row["value"])

    def _config_set(self, key, value):
        self._x("INSERT OR REPLACE INTO config (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def config(self):
        """All configuration values (limits, hosts, signing key) as a dict."""
        return {r["key"]: json.loads(r["value"]) for r in self._q("SELECT key, value FROM config")}

    def get_config(self, key, default=None):
        value = self._config_get(key)
        return default if value is None else value

    def set_config(self, **values):
        """Set configuration values; unknown keys are refused."""
        for key, value in values.items():
            if key not in DEFAULT_CONFIG:
                raise StoreError(f"unknown setting {key!r}; known: {', '.join(sorted(DEFAULT_CONFIG))}")
            if key in LIMIT_KEYS and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
                raise StoreError(f"setting {key!r} must be a non-negative number, got {value!r}")
        with self._lock:
            for key, value in values.items():
                self._config_set(key, value)
        return self.limits()

    def limits(self):
        """The limits (url_import_max_bytes, max_file_bytes, ssh_idle_timeout, ssh_session_timeout,
        signed_url_ttl, session_ttl, workflow_delay, workflow_scale)."""
        conf = self.config()
        return {k: conf[k] for k in LIMIT_KEYS}

    def check_file_size_limit(self, size):
        """Raise FileSizeLimitExceeded when a file of ``size`` bytes may not exist under files/."""
        limit = self.get_config("max_file_bytes")
        if limit and size >= limit:
            raise FileSizeLimitExceeded(
                27, f"File too large: {size} bytes; files of {limit} bytes or more cannot be written "
                    "to the Pantheon filesystem")

    def file_size_allowed(self, size):
        limit = self.get_config("max_file_bytes")
        return not limit or size < limit

    @property
    def signing_key(self):
        return self.get_config("signing_key").encode()

    # ------------------------------------------------------------------ users, tokens, sessions
    def create_user(self, email, firstname="Emu", lastname="Lator", user_id=None):
        user_id = user_id or new_id()
        self._x("INSERT INTO users (id, email, firstname, lastname, created) VALUES (?, ?, ?, ?, ?)",
                (user_id, email, firstname, lastname, time.time()))
        if self.get_config("default_user_id") is None:
            self._config_set("default_user_id", user_id)
        return self.get_user(user_id)

    def get_user(self, user_id):
        return self._one("SELECT * FROM users WHERE id = ?", (user_id,))

    def find_user_by_email(self, email):
        return self._one("SELECT * FROM users WHERE email = ?", (email,))

    def default_user(self):
        """The user the emulator was started for (created on first use)."""
        with self._lock:
            uid = self.get_config("default_user_id")
            if uid and self.get_user(uid):
                return self.get_user(uid)
            return self.create_user("emulator@example.com", "Emu", "Lator")

    @staticmethod
    def _hash_token(token):
        return hashlib.sha256(token.encode()).hexdigest()

    def note_secret(self, kind, value):
        """Remember a secret (machine token, session, signature) and when it was last issued or used."""
        if value:
            self._secrets_seen[(kind, value)] = time.time()

    def secrets_since(self, since=0.0):
        """{kind: [values]}: machine tokens (all), sessions and URL signatures issued or used since
        ``since``, every environment's DB password, and the archive names (40 hex) that appear in
        the request log since ``since`` (web downloads, SSH command lines)."""
        out = {"machine_token": [], "session": [], "signature": [], "db_password": [], "archive": []}
        for (kind, value), seen in list(self._secrets_seen.items()):
            if kind == "machine_token" or seen >= since:
                out[kind].append(value)
        out["db_password"] = [r["db_password"] for r in self._q("SELECT db_password FROM envs") if r["db_password"]]
        names = set()
        for row in self._q("SELECT path FROM requests WHERE time >= ?", (since,)):
            names.update(ARCHIVE_NAME.findall(row["path"] or ""))
        out["archive"] = sorted(names)
        return out

    def create_machine_token(self, user_id, token=None):
        token = token or secrets.token_urlsafe(36)
        self.note_secret("machine_token", token)
        self._x("INSERT OR REPLACE INTO machine_tokens (token_hash, user_id, created) VALUES (?, ?, ?)",
                (self._hash_token(token), user_id, time.time()))
        return token

    def default_machine_token(self):
        """The default user's machine token (kept in config so it survives restarts)."""
        with self._lock:
            token = self.get_config("default_machine_token")
            if token is None:
                token = self.create_machine_token(self.default_user()["id"])
                self._config_set("default_machine_token", token)
            self.note_secret("machine_token", token)
            return token

    def user_for_machine_token(self, token):
        if not isinstance(token, str) or not token:
            return None
        row = self._one("SELECT user_id FROM machine_tokens WHERE token_hash = ?", (self._hash_token(token),))
        if row:
            self.note_secret("machine_token", token)
        return row["user_id"] if row else None

    def create_session(self, user_id):
        token = f"{user_id}:{uuid.uuid4()}:{secrets.token_urlsafe(24)}"
        expires = int(time.time() + float(self.get_config("session_ttl")))
        self._x("INSERT INTO sessions (token, user_id, expires_at) VALUES (?, ?, ?)", (token, user_id, expires))
        self.note_secret("session", token)
        return {"session": token, "expires_at": expires, "user_id": user_id}

    def session_user(self, token):
        """User id of a live session, else None."""
        if not token:
            return None
        row = self._one("SELECT user_id, expires_at FROM sessions WHERE token = ?", (token,))
        if not row or row["expires_at"] < time.time():
            return None
        self.note_secret("session", token)
        return row["user_id"]

    def expire_sessions(self, token=None):
        """Make one session (or every session) expire now (tests of re-login)."""
        if token:
            self._x("UPDATE sessions SET expires_at = 0 WHERE token = ?", (token,))
        else:
            self._x("UPDATE sessions SET expires_at = 0")

    # ------------------------------------------------------------------ organizations
    def create_org(self, name, machine_name=None, org_id=None, members=None):
        org_id = org_id or new_id()
        machine_name = machine_name or re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        self._x("INSERT INTO orgs (id, machine_name, name, created) VALUES (?, ?, ?, ?)",
                (org_id, machine_name, name, time.time()))
        for user_id, role in (members or {}).items():
            self.add_org_member(org_id, user_id, role)
        return self.get_org(org_id)

    def add_org_member(self, org_id, user_id, role="admin"):
        self._x("INSERT OR REPLACE INTO org_members (org_id, user_id, role) VALUES (?, ?, ?)",
                (org_id, user_id, role))

    def get_org(self, org_id):
        return self._one("SELECT * FROM orgs WHERE id = ?", (org_id,))

    def find_org(self, ref):
        return self._one("SELECT * FROM orgs WHERE id = ? OR machine_name = ? OR name = ?", (ref, ref, ref))

    def org_memberships(self, user_id):
        return self._q("SELECT m.*, o.machine_name, o.name FROM org_members m JOIN orgs o ON o.id = m.org_id "
                       "WHERE m.user_id = ? ORDER BY m.org_id", (user_id,))

    def org_role(self, org_id, user_id):
        row = self._one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", (org_id, user_id))
        return row["role"] if row else None

    # ------------------------------------------------------------------ upstreams
    def ensure_default_upstreams(self):
        for up in DEFAULT_UPSTREAMS:
            self._x("INSERT OR IGNORE INTO upstreams (id, label, machine_name, framework, type, org_id) "
                    "VALUES (?, ?, ?, ?, ?, NULL)",
                    (up["id"], up["label"], up["machine_name"], up["framework"], up["type"]))

    def list_upstreams(self):
        return self._q("SELECT * FROM upstreams ORDER BY label")

    def get_upstream(self, ref):
        """Upstream by id or machine name (or label)."""
        return self._one("SELECT * FROM upstreams WHERE id = ? OR machine_name = ? OR label = ?", (ref, ref, ref))

    def upstream_for_framework(self, framework):
        preferred = {"drupal": "drupal7", "drupal8": "drupal-composer-managed", "wordpress": "wordpress"}
        return self.get_upstream(preferred.get(framework, framework))

    # ------------------------------------------------------------------ sites
    def create_site(self, name, label=None, framework=None, upstream_id=None, org_id=None, owner_id=None,
                    site_id=None, preferred_zone="us-central1", plan_name="Sandbox", pending=None,
                    envs=("dev", "test", "live")):
        """Create a site row, its membership, its environments and its directories.

        ``framework``/``upstream_id`` may be None (a site before deploy_product). ``pending``
        (a JSON-able recipe) is materialized by :meth:`ensure_materialized` on first use.
        """
        if not isinstance(name, str) or not SITE_NAME_RE.match(name) or name.endswith("-"):
            raise StoreError(f"invalid site name {name!r}: use lowercase letters, digits and hyphens "
                             "(at most 52 characters), starting with a letter or digit")
        if framework is not None and framework not in FRAMEWORKS:
            raise StoreError(f"invalid framework {framework!r}; use one of {', '.join(FRAMEWORKS)}")
        owner_id = owner_id or self.default_user()["id"]
        site_id = site_id or new_id()
        with self._lock:
            if self.find_site_by_name(name):
                raise StoreError(f"The site name {name} is already taken.")
            self._x("INSERT INTO sites (id, name, label, framework, upstream_id, org_id, owner_id, created, "
                    "preferred_zone, plan_name, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (site_id, name, label or name, framework, upstream_id, org_id, owner_id, time.time(),
                     preferred_zone, plan_name, json.dumps(pending) if pending is not None else None))
            self._x("INSERT OR REPLACE INTO site_members (site_id, user_id, role) VALUES (?, ?, 'owner')",
                    (site_id, owner_id))
            for env in envs:
                self.create_env(site_id, env, initialized=(env == "dev") or env not in ("test", "live"))
        (self.data_dir / "sites" / site_id).mkdir(parents=True, exist_ok=True)
        return self.get_site(site_id)

    def get_site(self, site_id):
        """The site row as a dict (id, name, label, framework, upstream_id, org_id, owner_id, created,
        preferred_zone, frozen, plan_name), or None."""
        if not site_id:
            return None
        row = self._one("SELECT * FROM sites WHERE id = ?", (site_id,))
        if row:
            row["pending"] = json.loads(row["pending"]) if row["pending"] else None
        return row

    def find_site_by_name(self, name):
        row = self._one("SELECT id FROM sites WHERE name = ?", (name,))
        return self.get_site(row["id"]) if row else None

    def find_site(self, ref):
        """Site by UUID or name."""
        return self.get_site(ref) or self.find_site_by_name(ref)

    def list_sites(self):
        return [self.get_site(r["id"]) for r in self._q("SELECT id FROM sites ORDER BY id")]

    def update_site(self, site_id, **fields):
        allowed = {"label", "framework", "upstream_id", "org_id", "frozen", "plan_name", "preferred_zone"}
        bad = set(fields) - allowed
        if bad:
            raise StoreError(f"cannot update site fields {sorted(bad)}")
        with self._lock:
            for key, value in fields.items():
                self._x(f"UPDATE sites SET {key} = ? WHERE id = ?", (value, site_id))
        return self.get_site(site_id)

    def add_site_member(self, site_id, user_id, role="team_member"):
        self._x("INSERT OR REPLACE INTO site_members (site_id, user_id, role) VALUES (?, ?, ?)",
                (site_id, user_id, role))

    def set_site_tags(self, site_id, tags):
        with self._lock:
            self._x("DELETE FROM site_tags WHERE site_id = ?", (site_id,))
            for tag in tags:
                self._x("INSERT OR IGNORE INTO site_tags (site_id, tag) VALUES (?, ?)", (site_id, tag))

    def site_tags(self, site_id):
        return [r["tag"] for r in self._q("SELECT tag FROM site_tags WHERE site_id = ? ORDER BY tag", (site_id,))]

    def site_memberships(self, user_id):
        """Direct site memberships of a user: list of {site_id, role}, ordered by site id."""
        return self._q("SELECT site_id, role FROM site_members WHERE user_id = ? ORDER BY site_id", (user_id,))

    def org_sites(self, org_id):
        rows = self._q("SELECT id FROM sites WHERE org_id = ? ORDER BY id", (org_id,))
        return [self.get_site(r["id"]) for r in rows]

    def user_can_access(self, user_id, site_id):
        site = self.get_site(site_id)
        if not site:
            return False
        if self._one("SELECT 1 AS x FROM site_members WHERE site_id = ? AND user_id = ?", (site_id, user_id)):
            return True
        if site["org_id"]:
            role = self.org_role(site["org_id"], user_id)
            return role is not None and role != "unprivileged"
        return False

    def delete_site(self, site_id):
        """Remove a site: rows, content and backups."""
        with self._lock:
            for table in ("envs", "site_members", "site_tags", "backups"):
                self._x(f"DELETE FROM {table} WHERE site_id = ?", (site_id,))
            self._x("DELETE FROM sites WHERE id = ?", (site_id,))
        shutil.rmtree(self.data_dir / "sites" / site_id, ignore_errors=True)
        shutil.rmtree(self.data_dir / "backups" / site_id, ignore_errors=True)
        mariadb.drop_site_databases(self.mariadb, site_id)

    def site_for_ssh_user(self, username):
        """Parse an SSH user name: ``{env}.{site_id}``, ``appserver.{env}.{site_id}`` or
        ``codeserver.dev.{site_id}``. Returns (kind, site, env) with kind 'appserver' or
        'codeserver', or None when the user or site/env is unknown."""
        m = SSH_USER_RE.match(username or "")
        if not m:
            return None
        site = self.get_site(m.group("site"))
        if not site:
            return None
        if m.group("codeserver"):
            return ("codeserver", site, "dev")
        env = m.group("env")
        if not self.get_env(site["id"], env):
            return None
        if site["frozen"] and env in ("test", "live"):
            return None  # a frozen site's test and live are unavailable (no SSH to their appservers)
        return ("appserver", site, env)

    # ------------------------------------------------------------------ environments
    def create_env(self, site_id, env, settings=None, initialized=True):
        if not ENV_NAME_RE.match(env or ""):
            raise StoreError(f"invalid environment name {env!r}")
        site = self._one("SELECT framework FROM sites WHERE id = ?", (site_id,))
        base = {"on_server_development": False, "is_initialized": bool(initialized)}
        base.update(framework_settings(site["framework"] if site else None))
        base.update(settings or {})
        self._x("INSERT OR REPLACE INTO envs (site_id, env, created, settings, target_commit, db_password) "
                "VALUES (?, ?, ?, ?, NULL, ?)", (site_id, env, time.time(), json.dumps(base), secrets.token_hex(16)))
        return self.get_env(site_id, env)

    def get_env(self, site_id, env):
        """The environment as a dict: site_id, env, created, settings (dict: drush_version,
        php_version, on_server_development, is_initialized), target_commit, db_password; or None."""
        row = self._one("SELECT * FROM envs WHERE site_id = ? AND env = ?", (site_id, env))
        if row:
            row["settings"] = json.loads(row["settings"])
        return row

    def list_envs(self, site_id):
        rows = self._q("SELECT env FROM envs WHERE site_id = ? ORDER BY created, env", (site_id,))
        return [self.get_env(site_id, r["env"]) for r in rows]

    def update_env(self, site_id, env, target_commit=None, **settings):
        with self._lock:
            row = self.get_env(site_id, env)
            if not row:
                raise StoreError(f"unknown environment {env} of site {site_id}")
            row["settings"].update(settings)
            self._x("UPDATE envs SET settings = ? WHERE site_id = ? AND env = ?",
                    (json.dumps(row["settings"]), site_id, env))
            if target_commit is not None:
                self._x("UPDATE envs SET target_commit = ? WHERE site_id = ? AND env = ?",
                        (target_commit, site_id, env))
        return self.get_env(site_id, env)

    def apply_framework(self, site_id, framework, upstream_id=None):
        """Set a site's framework and reset each env's drush/php defaults to match."""
        with self._lock:
            self.update_site(site_id, framework=framework, upstream_id=upstream_id)
            for env in self.list_envs(site_id):
                self.update_env(site_id, env["env"], **framework_settings(framework))

    def env_paths(self, site_id, env, materialize=True):
        """Paths of an environment (root = SSH home; code, files, db, tmp inside it).

        Creates the directories when missing, and materializes a lazily seeded site."""
        site_root = self.data_dir / "sites" / site_id
        root = site_root / "envs" / env
        paths = EnvPaths(site_root=site_root, repo=site_root / "repository.git", root=root,
                         code=root / "code", files=root / "files", tmp=root / "tmp",
                         db=mariadb.Database(self.mariadb, site_id, env, password=lambda: self._db_password(site_id, env)))
        for p in (paths.code, paths.files, paths.tmp):
            p.mkdir(parents=True, exist_ok=True)
        if materialize:
            self.ensure_materialized(site_id)
        return paths

    def _db_password(self, site_id, env):
        row = self._one("SELECT db_password FROM envs WHERE site_id = ? AND env = ?", (site_id, env))
        return row["db_password"] if row else None

    def ensure_materialized(self, site_id):
        """Create the content of a site seeded lazily (``pending`` recipe), once."""
        with self._lock:
            lock = self._materialize_locks.setdefault(site_id, threading.Lock())
        with lock:
            site = self.get_site(site_id)
            if not site or not site["pending"]:
                return
            from pantheon_emulator import seed  # pylint: disable=import-outside-toplevel
            seed.materialize_site(self, site, site["pending"])
            self._x("UPDATE sites SET pending = NULL WHERE id = ?", (site_id,))

    def platform_host(self, site_name, env):
        """The environment's platform domain as the API names it: a host name, no port."""
        return f"{env}-{site_name}.{self.get_config('dns_zone')}"

    def domain(self, site_name, env):
        """Where the emulated web answers for the environment: the platform host and the loopback port."""
        port = self.runtime.get("web_port")
        host = self.platform_host(site_name, env)
        return f"{host}:{port}" if port else host

    # ------------------------------------------------------------------ workflows
    def create_workflow(self, owner, site_id, env, user_id, wf_type, params, data=None):
        """Insert a workflow row. ``owner`` is 'user', 'site' or 'env'. ``data`` holds the
        mutable workflow fields (phase, result, final_task, waiting_for_task...)."""
        wf_id = uuid.uuid4().hex[:8] + "-" + str(uuid.uuid4())[9:]
        now = time.time()
        base = {"phase": "created", "result": None, "reason": None, "started_at": None, "finished_at": None,
                "step": 1, "number_of_tasks": 3, "final_task": None, "final_task_id": None,
                "active_description": None}
        base.update(data or {})
        with self._lock:
            seq = (self._one("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM workflows") or {"n": 1})["n"]
            self._x("INSERT INTO workflows (id, seq, owner, site_id, env, user_id, type, params, data, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (wf_id, seq, owner, site_id, env, user_id, wf_type, json.dumps(params or {}),
                     json.dumps(base), now))
        return self.get_workflow(wf_id)

    def site_name_being_created(self, name):
        """True while an unfinished create_site workflow holds this site name."""
        return self._one("SELECT id FROM workflows WHERE type IN ('create_site', 'create_site_for_migration') "
                         "AND json_extract(params, '$.site_name') = ? AND json_extract(data, '$.result') IS NULL",
                         (name,)) is not None

    def get_workflow(self, wf_id):
        """Workflow row: id, owner, site_id, env, user_id, type, params, created_at and the ``data`` fields
        merged in."""
        row = self._one("SELECT * FROM workflows WHERE id = ?", (wf_id,))
        if not row:
            return None
        data = json.loads(row.pop("data"))
        row["params"] = json.loads(row["params"])
        row.update(data)
        return row

    def update_workflow(self, wf_id, **fields):
        with self._lock:
            row = self._one("SELECT data FROM workflows WHERE id = ?", (wf_id,))
            if row is None:
                return None
            data = json.loads(row["data"])
            data.update(fields)
            self._x("UPDATE workflows SET data = ? WHERE id = ?", (json.dumps(data), wf_id))
        return self.get_workflow(wf_id)

    def update_workflow_params(self, wf_id, **params):
        """Add values to a workflow's params (the platform adds e.g. a deploy's target_commit/target_ref)."""
        with self._lock:
            row = self._one("SELECT params FROM workflows WHERE id = ?", (wf_id,))
            if row is not None:
                merged = dict(json.loads(row["params"]), **params)
                self._x("UPDATE workflows SET params = ? WHERE id = ?", (json.dumps(merged), wf_id))

    def workflows_ahead(self, wf):
        """Unfinished workflows of the same site created before ``wf`` (the platform runs one
        workflow per site at a time, in order)."""
        if not wf.get("site_id"):
            return []
        rows = self._q("SELECT id FROM workflows WHERE site_id = ? AND seq < ? AND json_extract(data, '$.result') IS NULL "
                       "ORDER BY seq", (wf["site_id"], wf["seq"]))
        return [r["id"] for r in rows]

    def list_workflows(self, site_id):
        """Workflows of a site (site- and env-owned), newest first."""
        rows = self._q("SELECT id FROM workflows WHERE site_id = ? ORDER BY seq DESC", (site_id,))
        return [self.get_workflow(r["id"]) for r in rows]

    def list_user_workflows(self, user_id):
        """Workflows started by a user (any owner), newest first."""
        rows = self._q("SELECT id FROM workflows WHERE user_id = ? ORDER BY seq DESC", (user_id,))
        return [self.get_workflow(r["id"]) for r in rows]

    def run_workflow_async(self, wf_id):
        """Run a created workflow in a background thread; returns a Future."""
        from pantheon_emulator import workflows  # pylint: disable=import-outside-toplevel
        return self._executor.submit(workflows.run_workflow, self, wf_id)

    def create_and_run_workflow(self, site_id, env, wf_type, params=None, user_id=None, owner=None):
        """Create a workflow (env-owned when ``env`` is given, else site-owned) and start it in the
        background. Returns the workflow dict as created (poll with :meth:`get_workflow`).
        Used by the SSH side to run ``sync_code`` after a git push."""
        from pantheon_emulator import workflows  # pylint: disable=import-outside-toplevel
        user_id = user_id or self.default_user()["id"]
        owner = owner or ("env" if env else "site")
        wf = workflows.create(self, owner, site_id, env, user_id, wf_type, params or {})
        self.run_workflow_async(wf["id"])
        return wf

    def resume_workflows(self):
        """Queue again the workflows that have no result yet (the emulator stopped before they ran)."""
        rows = self._q("SELECT id FROM workflows ORDER BY seq")
        pending = [r["id"] for r in rows if self.get_workflow(r["id"])["result"] is None]
        for wf_id in pending:
            self.run_workflow_async(wf_id)
        return pending

    def wait_workflow(self, wf_id, timeout=60.0):
        """Block until the workflow has a result; returns it (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            wf = self.get_workflow(wf_id)
            if wf is None or wf.get("result") is not None:
                return wf
            if time.monotonic() > deadline:
                raise TimeoutError(f"workflow {wf_id} ({wf['type']}) did not finish within {timeout}s")
            time.sleep(0.02)

    # ------------------------------------------------------------------ backups
    def backups_dir(self, site_id, env, folder=None):
        path = self.data_dir / "backups" / site_id / env
        return path / folder if folder else path

    def add_backup_entry(self, site_id, env, key, folder, element, filename, data):
        """Add a catalog entry (``key`` like ``<ts>_backup_<element>``); ``data`` holds
        size, timestamp, finish_time, ttl... (no filename for manifest entries)."""
        self._x("INSERT OR REPLACE INTO backups (site_id, env, key, folder, element, filename, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (site_id, env, key, folder, element, filename, json.dumps(data)))

    def backup_catalog(self, site_id, env):
        """The catalog: list of (key, entry dict) newest first (keys sorted descending)."""
        rows = self._q("SELECT * FROM backups WHERE site_id = ? AND env = ? ORDER BY key DESC", (site_id, env))
        out = []
        for row in rows:
            entry = json.loads(row["data"])
            entry["folder"] = row["folder"]
            if row["filename"]:
                entry["filename"] = row["filename"]
            out.append((row["key"], entry))
        expired = [k for k, e in out if e.get("ttl") and e.get("timestamp") and e["timestamp"] + e["ttl"] < time.time()]
        if expired:
            for key in expired:
                self._expire_backup(site_id, env, key)
            return self.backup_catalog(site_id, env)
        return out

    def _expire_backup(self, site_id, env, key):
        row = self._one("SELECT * FROM backups WHERE site_id = ? AND env = ? AND key = ?", (site_id, env, key))
        if row and row["filename"]:
            try:
                (self.backups_dir(site_id, env, row["folder"]) / row["filename"]).unlink()
            except OSError:
                pass
        self._x("DELETE FROM backups WHERE site_id = ? AND env = ? AND key = ?", (site_id, env, key))

    def get_backup(self, site_id, env, folder, element):
        """The finished archive entry of ``element`` in ``folder`` (dict incl. filename, size, path), or None."""
        row = self._one("SELECT * FROM backups WHERE site_id = ? AND env = ? AND folder = ? AND element = ? "
                        "AND filename IS NOT NULL", (site_id, env, folder, element))
        if not row:
            return None
        entry = json.loads(row["data"])
        entry.update(folder=row["folder"], filename=row["filename"], key=row["key"],
                     path=str(self.backups_dir(site_id, env, row["folder"]) / row["filename"]))
        return entry

    # ------------------------------------------------------------------ SSH keys
    def add_authorized_key(self, line):
        """Trust an OpenSSH public key line (``ssh-ed25519 AAAA... comment``)."""
        parts = (line or "").strip().split()
        if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
            raise StoreError("not an OpenSSH public key line (expected 'ssh-ed25519 AAAA... [comment]')")
        key = " ".join(parts[:2])
        self._x("INSERT OR REPLACE INTO ssh_keys (key, comment, added) VALUES (?, ?, ?)",
                (key, " ".join(parts[2:]), time.time()))
        self._write_authorized_keys()
        return key

    def remove_authorized_keys(self):
        self._x("DELETE FROM ssh_keys")
        self._write_authorized_keys()

    def authorized_keys(self):
        """Trusted public keys as OpenSSH lines ``<type> <base64>``."""
        return [r["key"] for r in self._q("SELECT key FROM ssh_keys ORDER BY added")]

    def _write_authorized_keys(self):
        path = self.ssh_dir / "authorized_keys"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(k + "\n" for k in self.authorized_keys()))
        os.replace(tmp, path)

    # ------------------------------------------------------------------ faults
    def add_faults(self, rules):
        """Validate and add fault rules; returns their ids."""
        from pantheon_emulator import faults  # pylint: disable=import-outside-toplevel
        if isinstance(rules, dict):
            rules = rules.get("rules", [rules]) if "rules" in rules else [rules]
        checked = [faults.validate_rule(r) for r in rules]
        ids = []
        with self._lock:
            for rule in checked:
                cur = self._x("INSERT INTO faults (rule) VALUES (?)", (json.dumps(rule),))
                ids.append(cur.lastrowid)
        return ids

    def clear_faults(self):
        self._x("DELETE FROM faults")

    def list_faults(self):
        rows = self._q("SELECT * FROM faults ORDER BY id")
        for row in rows:
            row["rule"] = json.loads(row["rule"])
            row["done"] = bool(row["done"])
        return rows

    def fault_for(self, channel, method="", path=""):
        """The fault action to apply to this event, or None; consumes one use of the rule.

        ``channel``: 'http' (API and web), 'download' (signed storage URLs), 'workflow'
        (path = workflow type, method = owner), 'ssh' (path = the command line or subsystem name,
        method = the SSH user name). The action is a dict with one or more of: status,
        retry_after, body, reset, delay, truncate_after, workflow_fail, ssh_disconnect_after."""
        from pantheon_emulator import faults  # pylint: disable=import-outside-toplevel
        with self._lock:
            rows = self._q("SELECT * FROM faults WHERE done = 0 ORDER BY id")
            for row in rows:
                rule = json.loads(row["rule"])
                if not faults.rule_matches(rule, channel, method, path):
                    continue
                index = row["matches"]
                action, done = faults.decide(rule, index, row["fired"])
                fired = row["fired"] + (1 if action else 0)
                self._x("UPDATE faults SET matches = ?, fired = ?, done = ? WHERE id = ?",
                        (index + 1, fired, 1 if done else 0, row["id"]))
                if action:
                    return action
        return None

    # ------------------------------------------------------------------ request log
    def log_request(self, method, path, status, duration, channel="http"):
        """Record a request (path without query string)."""
        path = path.split("?", 1)[0]
        self._x("INSERT INTO requests (time, channel, method, path, status, duration) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), channel, method, path, status, round(float(duration), 6)))

    # ------------------------------------------------------------------ archive exposure
    def track_public_file(self, path, url_path):
        """A file a command wrote where the web serves it (a site archive in files/): logs
        ``archive CREATED <url path>`` now, and ``archive REMOVED`` once an SSH command or SFTP
        session ends with the file gone (sweep_public_files)."""
        with self._public_files_lock:
            self._public_files[str(path)] = url_path
        self.log_request("CREATED", url_path, 200, 0, channel="archive")

    def sweep_public_files(self, duration):
        """After an SSH command or SFTP session (``duration``: its length): log REMOVED for every
        tracked file that no longer exists."""
        with self._public_files_lock:
            gone = [(p, u) for p, u in self._public_files.items() if not os.path.exists(p)]
            for p, _u in gone:
                del self._public_files[p]
        for _p, url_path in gone:
            self.log_request("REMOVED", url_path, 200, duration, channel="archive")

    def requests(self, since_id=0):
        return self._q("SELECT * FROM requests WHERE id > ? ORDER BY id", (since_id,))

    def clear_requests(self):
        self._x("DELETE FROM requests")


def seeded_random(*parts):
    """A random.Random seeded from any printable parts (deterministic across runs)."""
    digest = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))
