"""The emulator's MariaDB: one ``mariadbd`` per data directory, one database (and one user)
per environment.

The server's files live in ``DATA/mariadb/data`` (``mariadb-install-db`` on first use); it listens
on a Unix socket and on a free loopback TCP port. The process that starts it owns it and stops it
(``Server.stop``); another process opening the same data directory while it runs (a test that
builds a ``Store`` next to a running emulator) attaches to it instead of starting a second one.
A watchdog shell between us and ``mariadbd`` stops the server when the owner dies without
stopping it (SIGKILL), so nothing is left running.

Everything a site's tools do goes through the real client programs (``mysql``, ``mysqldump``),
so dumps, errors and imports are MariaDB's own; reads the emulator makes for itself (home page,
admin state, search-replace) use PyMySQL over the socket.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pymysql

from pantheon_emulator.content import ContentError

# Drush's SqlMysql::dumpCmd (drush-ops/drush src/Sql/SqlMysql.php; Drush 8 commands/sql/sql.drush.inc
# SqlMysql::dumpCmd): ``--no-autocommit --single-transaction --opt -Q``.
DUMP_OPTIONS = ("--no-autocommit", "--single-transaction", "--opt", "-Q")
START_TIMEOUT = 60
SERVER_OPTIONS = (
    # small and fast: the emulator's databases are small, durability across a crash is not needed
    "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M", "--innodb-data-file-path=ibdata1:4M:autoextend",
    "--innodb-autoextend-increment=4", "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
    "--innodb-file-per-table=0", "--innodb-flush-method=nosync",
    "--skip-log-bin", "--performance-schema=OFF", "--skip-name-resolve", "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci", "--max-allowed-packet=64M", "--max-connections=500", "--user=root",
)


class DatabaseError(ContentError):
    """A database operation failed; the message is MariaDB's (or names what is missing)."""


def _binary(name):
    for cand in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise DatabaseError(f"{name} is not installed (Debian packages mariadb-server and mariadb-client; "
                        "`make setup` installs them as root)")


def _template():
    """The per-machine template data directory (made once, under a lock): ``mariadb-install-db``
    output for this mariadbd binary and these options, in ``$PANTHEON_EMULATOR_CACHE`` (default
    ``~/.cache/pantheon-emulator``)."""
    binary = Path(_binary("mariadbd"))
    st = binary.stat()
    key = hashlib.sha1(repr((str(binary), st.st_size, st.st_mtime, SERVER_OPTIONS)).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("PANTHEON_EMULATOR_CACHE") or Path.home() / ".cache" / "pantheon-emulator")
    cache.mkdir(parents=True, exist_ok=True)
    template = cache / f"mariadb-template-{key}"
    with open(cache / f"mariadb-template-{key}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (template / "mysql").is_dir():
            return template
        work = Path(tempfile.mkdtemp(prefix=f"mariadb-template-{key}.", dir=str(cache)))
        try:
            data, tmp = work / "data", work / "tmp"
            tmp.mkdir()
            res = subprocess.run(
                [_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}", f"--tmpdir={tmp}",
                 "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
                 *SERVER_OPTIONS],
                capture_output=True, check=False)
            if res.returncode != 0:
                raise DatabaseError("mariadb-install-db failed: " + res.stderr.decode(errors="replace")[-2000:])
            shutil.rmtree(template, ignore_errors=True)
            os.rename(data, template)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return template


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quote_name(name):
    return "`" + str(name).replace("`", "``") + "`"


class Server:
    """The MariaDB server of one emulator data directory."""

    def __init__(self, data_dir):
        self.base = Path(data_dir) / "mariadb"
        self.datadir = self.base / "data"
        self.run_file = self.base / "run.json"
        self.tmpdir = self.base / "tmp"   # private: concurrent servers must not share /tmp names
        self.socket = None
        self.port = None
        self._proc = None
        self._owner = False
        self._lock = threading.Lock()
        self._sock_dir = None
        self.started_in = None

    # ------------------------------------------------------------------ lifecycle
    def ensure(self):
        """Start the server (or attach to the one this data directory already runs). Idempotent."""
        if self.socket is not None:
            return self
        with self._lock:
            if self.socket is not None:
                return self
            self.base.mkdir(parents=True, exist_ok=True)
            with open(self.base / "lock", "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if self._attach():
                    return self
                t0 = time.monotonic()
                self._install()
                self._start()
                self.started_in = time.monotonic() - t0
        return self

    def _attach(self):
        try:
            info = json.loads(self.run_file.read_text())
        except (OSError, ValueError):
            return False
        try:
            conn = pymysql.connect(unix_socket=info["socket"], user="root", connect_timeout=5)
            conn.close()
        except (pymysql.MySQLError, OSError, KeyError):
            return False
        self.socket, self.port = info["socket"], info["port"]
        return True

    def _install(self):
        """A fresh data directory: a copy of a per-machine template made once with
        ``mariadb-install-db`` (about 2 s saved on every later emulator start)."""
        if (self.datadir / "mysql").is_dir():
            return
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        template = _template()
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        part = self.datadir.with_name(self.datadir.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        res = subprocess.run(["cp", "-a", "--reflink=auto", str(template), str(part)], capture_output=True, check=False)
        if res.returncode != 0:
            raise DatabaseError("cannot copy the MariaDB template: " + res.stderr.decode(errors="replace"))
        os.rename(part, self.datadir)

    def _socket_path(self):
        path = self.base / "mysqld.sock"
        if len(str(path)) < 100:
            return path
        # Unix socket paths are limited to 108 bytes: deep data directories get one in /tmp
        self._sock_dir = tempfile.mkdtemp(prefix="emu-mdb-")
        return Path(self._sock_dir) / "mysqld.sock"

    def _start(self):
        sock = self._socket_path()
        log = self.base / "error.log"
        last = ""
        for _attempt in range(5):
            port = _free_port()
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
            self.tmpdir.mkdir(parents=True, exist_ok=True)
            argv = [_binary("mariadbd"), "--no-defaults", f"--datadir={self.datadir}", f"--socket={sock}",
                    f"--tmpdir={self.tmpdir}",
                    f"--port={port}", "--bind-address=127.0.0.1", f"--pid-file={self.base / 'mariadbd.pid'}",
                    f"--log-error={log}", *SERVER_OPTIONS]
            # Watchdog: mariadbd runs in the background of a shell that waits on our pipe; when
            # this process goes away (even SIGKILL) the pipe closes and the shell stops mariadbd.
            script = ('"$@" </dev/null & pid=$!; trap \'kill $pid 2>/dev/null; wait $pid; exit\' TERM; '
                      'read -r _ignored; kill $pid 2>/dev/null; wait $pid')
            proc = subprocess.Popen(["sh", "-c", script, "mariadbd-watchdog", *argv],  # pylint: disable=consider-using-with
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    conn = pymysql.connect(unix_socket=str(sock), user="root", connect_timeout=2)
                    conn.close()
                except (pymysql.MySQLError, OSError):
                    time.sleep(0.02)
                    continue
                self._proc, self._owner = proc, True
                self.socket, self.port = str(sock), port
                self.run_file.write_text(json.dumps({"socket": self.socket, "port": port, "pid": os.getpid()}))
                return
            last = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self._kill(proc)
            if "Address already in use" not in last:
                break
        raise DatabaseError(f"mariadbd did not start: {last.strip() or 'no error log'}")

    @staticmethod
    def _kill(proc, timeout=30):
        if proc.poll() is None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop(self):
        """Stop the server if this process started it (attached ones are left running)."""
        with self._lock:
            proc, owner = self._proc, self._owner
            self._proc, self._owner, self.socket, self.port = None, False, None, None
            if proc is None or not owner:
                return
            with contextlib.suppress(OSError):
                self.run_file.unlink()
            self._kill(proc)
            if self._sock_dir:
                shutil.rmtree(self._sock_dir, ignore_errors=True)
                self._sock_dir = None

    # ------------------------------------------------------------------ access
    def connect(self, database=None, autocommit=True):
        self.ensure()
        try:
            # ssl_disabled: a Unix socket needs no TLS, and PyMySQL 1.2 otherwise prepares a TLS context (loading the
            # system's CA certificates) for every connection, which was 40% of the emulator's own CPU in a clone
            return pymysql.connect(unix_socket=self.socket, user="root", database=database, charset="utf8mb4",
                                   autocommit=autocommit, connect_timeout=10, ssl_disabled=True)
        except pymysql.MySQLError as exc:
            raise DatabaseError(error_text(exc)) from None

    def client_argv(self, program, *args):
        """argv of ``mysql`` / ``mysqldump`` connected to this server as root (socket)."""
        self.ensure()
        return [_binary(program), "--no-defaults", f"--socket={self.socket}", "--user=root",
                "--default-character-set=utf8mb4", *args]


def error_text(exc):
    """MariaDB's message as its client prints it: ``ERROR 1146 (42S02): Table ... doesn't exist``."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return f"ERROR {args[0]}: {args[1]}"
    return str(exc)


class Database:
    """One environment's database on the data directory's server."""

    def __init__(self, server, site_id, env, password=None):
        self.server = server
        self.site_id = site_id
        self.env = env
        self.name = f"pantheon_{site_id.replace('-', '')}_{env}"
        self.user = "u" + hashlib.sha1(self.name.encode()).hexdigest()[:15]
        self._password = password

    def __str__(self):
        return self.name

    def __fspath__(self):  # pragma: no cover - guard against using it as a file
        raise TypeError("an environment database is not a file")

    @property
    def password(self):
        return self._password() if callable(self._password) else self._password

    # ------------------------------------------------------------------ existence
    def exists(self):
        with contextlib.closing(self.server.connect()) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (self.name,))
            return cur.fetchone() is not None

    def create(self):
        """Create the database (empty) and its user when missing."""
        with contextlib.closing(self.server.connect()) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_name(self.name)} "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
            password = self.password or ""
            cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (self.user, password))
            cur.execute("CREATE USER IF NOT EXISTS %s@'localhost' IDENTIFIED BY %s", (self.user, password))
            for host in ("127.0.0.1", "localhost"):
                cur.execute(f"GRANT ALL PRIVILEGES ON {quote_name(self.name)}.* TO %s@%s", (self.user, host))
        return self

    def drop(self):
        with contextlib.closing(self.server.connect()) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {quote_name(self.name)}")
            for host in ("127.0.0.1", "localhost"):
                cur.execute("DROP USER IF EXISTS %s@%s", (self.user, host))

    def reset(self):
        """Drop every table and view (``drush sql-drop``, ``wp db reset``). Returns the table count."""
        if not self.exists():
            self.create()
            return 0
        with contextlib.closing(self.server.connect(self.name)) as conn, conn.cursor() as cur:
            cur.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                        (self.name,))
            objects = cur.fetchall()
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            for name, kind in objects:
                cur.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {quote_name(name)}")
        return sum(1 for _n, kind in objects if kind != "VIEW")

    # ------------------------------------------------------------------ reads
    def connect(self, autocommit=True):
        return self.server.connect(self.name, autocommit=autocommit)

    def query(self, sql, params=None):
        """Run one statement; returns (column names, rows). Missing database -> DatabaseError."""
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
            try:
                cur.execute(sql, params)
            except pymysql.MySQLError as exc:
                raise DatabaseError(error_text(exc)) from None
            cols = [d[0] for d in cur.description or ()]
            return cols, list(cur.fetchall()) if cur.description else []

    def tables(self):
        """{table: exact row count} ({} when the database does not exist)."""
        if not self.exists():
            return {}
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                        "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (self.name,))
            names = [r[0] for r in cur.fetchall()]
            out = {}
            for name in names:
                cur.execute(f"SELECT COUNT(*) FROM {quote_name(name)}")
                out[name] = cur.fetchone()[0]
            return out

    def size(self):
        """Bytes of data and indexes (as ``wp db size`` reports from information_schema)."""
        if not self.exists():
            return 0
        _cols, rows = self.query("SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES "
                                 "WHERE TABLE_SCHEMA = %s", (self.name,))
        return int(rows[0][0])

    def digest(self):
        """sha256 over every table's name, columns and rows, sorted by every column (the bytes MariaDB
        holds, not a dump): equal digests mean equal content."""
        h = hashlib.sha256()
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
            for name in self.tables():
                cur.execute(f"SELECT * FROM {quote_name(name)} LIMIT 0")
                order = ", ".join(str(i + 1) for i in range(len(cur.description)))
                cur.execute(f"SELECT * FROM {quote_name(name)} ORDER BY {order}")
                h.update(b"T" + name.encode() + b"\0")
                h.update(repr([d[0] for d in cur.description]).encode())
                for row in cur.fetchall():
                    h.update(repr(row).encode())
        return h.hexdigest()

    # ------------------------------------------------------------------ client programs
    def mysql_argv(self, *args):
        return self.server.client_argv("mysql", *args, self.name)

    def mysqldump_argv(self, *args):
        return self.server.client_argv("mysqldump", *DUMP_OPTIONS, *args, self.name)

    def run_sql(self, source, args=()):
        """Pipe SQL (a path, a binary file object, bytes, or an iterable of byte chunks) into
        ``mysql`` as the site's tools do (``drush sql-cli``, ``wp db import``). Not transactional:
        statements before an error stay applied, as on the platform. Returns mysql's stdout;
        raises DatabaseError with mysql's stderr on failure."""
        if not self.exists():
            self.create()
        argv = self.mysql_argv(*args)
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fh:
                res = subprocess.run(argv, stdin=fh, capture_output=True, check=False)
            return self._result(res.returncode, res.stdout, res.stderr)
        if isinstance(source, (bytes, bytearray)):
            res = subprocess.run(argv, input=bytes(source), capture_output=True, check=False)
            return self._result(res.returncode, res.stdout, res.stderr)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err)  # pylint: disable=consider-using-with
            try:
                chunks = iter(lambda: source.read(1 << 20), b"") if hasattr(source, "read") else source
                for chunk in chunks:
                    proc.stdin.write(chunk)
            except BrokenPipeError:
                pass
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
            rc = proc.wait()
            out.seek(0)
            err.seek(0)
            return self._result(rc, out.read(), err.read())

    @staticmethod
    def _result(rc, out, err):
        if rc != 0:
            raise DatabaseError(err.decode("utf-8", "replace").strip() or f"mysql exited with status {rc}")
        return out

    def dump_chunks(self, chunk=1 << 16):
        """Yield the bytes of ``mysqldump`` of this database (Drush's options). A missing database
        raises DatabaseError with mysqldump's message."""
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(self.mysqldump_argv(), stdout=subprocess.PIPE, stderr=err)  # pylint: disable=consider-using-with
            try:
                yield from iter(lambda: proc.stdout.read(chunk), b"")
            finally:
                if proc.poll() is None:
                    proc.stdout.close()
                rc = proc.wait()
            if rc != 0:
                err.seek(0)
                raise DatabaseError(err.read().decode("utf-8", "replace").strip() or f"mysqldump exited with {rc}")

    def dump_to(self, fh):
        """Write the dump to a binary file object; returns the number of bytes."""
        total = 0
        for data in self.dump_chunks():
            fh.write(data)
            total += len(data)
        return total


def drop_site_databases(server, site_id):
    """Drop every environment database (and user) of a site."""
    prefix = f"pantheon_{site_id.replace('-', '')}_"
    with contextlib.closing(server.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                    (prefix.replace("_", "\\_") + "%",))
        names = [r[0] for r in cur.fetchall()]
    for name in names:
        Database(server, site_id, name[len(prefix):]).drop()
