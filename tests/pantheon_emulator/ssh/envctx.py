"""What a command running on an appserver knows about its environment, and the helpers that
drush and wp share: paths the user names (confined to the environment), SQL input and output."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pantheon_emulator import content
from pantheon_emulator.ssh.channel import CommandError, ForceDisconnect
from pantheon_emulator.ssh.confine import ConfinementError, home_relative, real_deepest


@dataclass
class EnvContext:
    """One SSH session's environment: store, site row, env id, paths (``store.EnvPaths``)."""

    store: object
    site: dict
    env: str
    paths: object
    username: str
    fault: dict = None  # the SSH fault action matched for this command (see faults.ACTION_KEYS)

    @property
    def site_id(self):
        return self.site["id"]

    @property
    def framework(self):
        return self.site.get("framework") or "drupal"

    @property
    def host_label(self):
        return f"appserver.{self.env}.{self.site_id}.drush.in"

    @property
    def settings(self):
        row = self.store.get_env(self.site_id, self.env) or {}
        return row.get("settings") or {}

    def limits(self):
        return self.store.limits()

    def max_file_bytes(self):
        return int(self.limits().get("max_file_bytes") or 0)

    def files_link(self):
        """code/<files path> (sites/default/files or wp-content/uploads), made a link to files/ if missing."""
        link = self.paths.code / content.files_path(self.framework)
        if not os.path.lexists(link):
            content.link_files_dir(self.paths, self.framework)
        return link

    def in_files(self, path):
        """True when ``path`` (resolved) lies under the environment's files/."""
        real = str(real_deepest(path))
        top = os.path.realpath(self.paths.files)
        return real == top or real.startswith(top + "/")

    def resolve_user_path(self, arg, what="path"):
        """A path named on a drush/wp command line, as an absolute Path inside the environment.

        Relative paths are taken from the Drupal root (the ``code/`` checkout), except that a
        path starting with ``code/`` is taken from the home directory (both forms appear in
        Pantheon's documentation). ``~/`` is the home directory; ``/tmp/...`` maps to the
        environment's ``tmp/``. Anything that resolves outside files/, code/ or tmp/ is refused."""
        root = self.paths.root
        if arg.startswith("/tmp/") or arg == "/tmp":
            rel = "tmp/" + arg[len("/tmp/"):] if arg != "/tmp" else "tmp"
            base = root
        elif arg.startswith(("~", "/")):
            try:
                rel = home_relative(arg, root)
            except ConfinementError as exc:
                raise CommandError(f"{what} {arg}: not writable ({exc})") from None
            base = root
        else:
            if ".." in arg.split("/"):
                raise CommandError(f"{what} {arg}: '..' is not allowed")
            first = arg.split("/", 1)[0]
            if first == "code" and not (self.paths.code / "code").exists():
                base = root
            else:
                base = self.paths.code
            rel = arg
        path = Path(base) / rel
        real = str(real_deepest(path))
        for top in (self.paths.files, self.paths.code, self.paths.tmp):
            top_real = os.path.realpath(top)
            if real == top_real or real.startswith(top_real + "/"):
                return path
        raise CommandError(f"{what} {arg}: outside the environment's code/, files/ and tmp/ directories")

    @property
    def binding(self):
        """The environment's binding id: 32 hex characters, stable for the site and environment
        (a binding is named that way on the platform: ``/srv/bindings/<32 hex>/``)."""
        return hashlib.md5(f"{self.site_id}.{self.env}".encode()).hexdigest()  # nosec - a name, not a secret

    @property
    def home_path(self):
        """The SSH home as the platform names it (the emulator keeps it at ``paths.root``)."""
        return f"/srv/bindings/{self.binding}"

    def platform_path(self, path):
        """A host path inside the environment, as the platform shows it (``/srv/bindings/<id>/...``,
        ``/tmp/...``); for messages Drush prints."""
        real = os.path.realpath(path) if os.path.lexists(path) else str(real_deepest(path))
        tmp = os.path.realpath(self.paths.tmp)
        root = os.path.realpath(self.paths.root)
        if real == tmp or real.startswith(tmp + "/"):
            return "/tmp" + real[len(tmp):]
        if real == root or real.startswith(root + "/"):
            return self.home_path + real[len(root):]
        return str(path)

    def resolve_from(self, arg, cwd, what="Destination"):
        """A path named on a command line, resolved as PHP resolves it from the working
        directory ``cwd`` ("home": the SSH home, where Drush 8 resolves ``archive-dump
        --destination``; "root": the Drupal root ``code/``, where Drush 11+ has chdir'ed).

        Absolute paths are platform paths: ``/srv/bindings/<binding>/...`` is the home and
        ``/tmp/...`` the environment's ``tmp/``. A path that leads outside the home, or onto the
        database or the repository, is not writable for the SSH user. ``..`` is refused."""
        if ".." in arg.split("/"):
            raise CommandError(f"{what} {arg}: '..' is not allowed")
        root = Path(self.paths.root)
        if arg == "/tmp" or arg.startswith("/tmp/"):
            path = Path(self.paths.tmp) / arg[len("/tmp/"):] if arg != "/tmp" else Path(self.paths.tmp)
        elif arg == self.home_path or arg.startswith(self.home_path + "/"):
            path = root / arg[len(self.home_path) + 1:]
        elif arg.startswith("/"):
            top = "/" + arg.strip("/").split("/", 1)[0]
            raise CommandError(f"Directory {posixpath.dirname(arg) or top} exists, but is not writable. "
                               "Please check directory permissions.")
        else:
            path = (root if cwd == "home" else Path(self.paths.code)) / arg
        real = str(real_deepest(path))
        top_real = os.path.realpath(root)
        if not (real == top_real or real.startswith(top_real + "/")) or real == os.path.realpath(self.paths.db):
            raise CommandError(f"{what} {arg}: not writable (outside the SSH home)")
        return path

    def temp_path(self, prefix, suffix=""):
        self.paths.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=str(self.paths.tmp))
        os.close(fd)
        return Path(name)


# ---------------------------------------------------------------------- SQL helpers
_CREATE_RE = re.compile(
    r"^\s*CREATE\s+(?:TEMP(?:ORARY)?\s+)?(TABLE|INDEX|UNIQUE\s+INDEX|VIEW|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?:\"([^\"]+)\"|`([^`]+)`|\[([^\]]+)\]|'([^']+)'|([A-Za-z_][A-Za-z0-9_$]*))", re.IGNORECASE)
_BEGIN_RE = re.compile(r"^\s*BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?\s*;\s*$", re.IGNORECASE)
_COMMIT_RE = re.compile(r"^\s*(COMMIT|END)(\s+TRANSACTION)?\s*;\s*$", re.IGNORECASE)


def spool_stdin(io, ctx, prefix):
    """Copy the command's stdin to a temporary file in the env's tmp/; returns its Path."""
    path = ctx.temp_path(prefix, ".sql")
    try:
        with open(path, "wb") as fh:
            while True:
                chunk = io.read(1 << 16)
                if not chunk:
                    break
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def apply_sql(db_path, source):
    """Run SQL from ``source`` (a path) against the database as the MySQL client would run a
    dump, in one transaction: ``CREATE`` of an object that exists replaces it (MySQL dumps carry
    ``DROP ... IF EXISTS`` before each ``CREATE``; SQLite dumps do not), other tables are kept.
    An explicit ``BEGIN TRANSACTION`` without its ``COMMIT`` means the stream was cut: nothing
    is applied. On any error nothing is applied and CommandError is raised. Returns the number
    of statements run."""
    db_path = Path(db_path)
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30)
    count = 0
    open_txn = False
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in content.iter_statements(Path(source)):
                if _BEGIN_RE.match(stmt):
                    open_txn = True
                    continue
                if _COMMIT_RE.match(stmt):
                    open_txn = False
                    continue
                m = _CREATE_RE.match(stmt)
                if m:
                    kind = m.group(1).split()[-1].upper()
                    name = next(g for g in m.groups()[1:] if g)
                    row = conn.execute("SELECT type FROM sqlite_master WHERE name = ?", (name,)).fetchone()
                    if row and row[0].upper() == kind:
                        conn.execute(f'DROP {kind} "{name}"')
                conn.execute(stmt)
                count += 1
            if open_txn:
                raise content.ContentError("the SQL input ended inside a transaction (no COMMIT): the stream was cut")
        except (content.ContentError, sqlite3.Error, UnicodeDecodeError) as exc:
            conn.execute("ROLLBACK")
            text = str(exc) if not isinstance(exc, sqlite3.Error) else f"SQL error after {count} statements: {exc}"
            raise CommandError(f"ERROR at statement {count + 1}: {text}\nNothing was changed.") from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
    return count


def drop_all_tables(db_path):
    """Drop every table, view, index and trigger (``sql-drop`` / ``wp db reset``). Returns the table count."""
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        objects = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                               "AND type IN ('view', 'table')").fetchall()
        for kind, name in objects:
            conn.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
        conn.execute("COMMIT")
        return sum(1 for k, _name in objects if k == "table")
    finally:
        conn.close()


def mysql_cell(value):
    """A value as the mysql client prints it in batch mode (tab-separated output)."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\0", "\\0")


def run_query(db_path, sql, header):
    """Run one or more statements; return output text as ``mysql --batch`` prints it
    (column names first when ``header``)."""
    if not Path(db_path).exists():
        raise CommandError("ERROR 1049 (42000): Unknown database 'pantheon'")
    out = []
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30)
    try:
        statements = list(content.iter_statements(sql if sql.rstrip().endswith(";") else sql + ";"))
        for stmt in statements:
            cur = conn.execute(stmt)
            if cur.description:
                rows = cur.fetchall()
                if header and rows:
                    out.append("\t".join(d[0] for d in cur.description))
                out.extend("\t".join(mysql_cell(v) for v in row) for row in rows)
    except (sqlite3.Error, content.ContentError) as exc:
        raise CommandError(f"ERROR 1064 (42000): {exc}") from None
    finally:
        conn.close()
    return "".join(line + "\n" for line in out)


def stream_dump(db_path, io, gzip_level=None):
    """Write the SQL dump of ``db_path`` to the channel (optionally gzipped)."""
    import zlib  # pylint: disable=import-outside-toplevel
    comp = zlib.compressobj(gzip_level, zlib.DEFLATED, 31) if gzip_level else None
    buf = []
    size = 0
    for stmt in content.dump_sql(db_path):
        data = stmt.encode()
        buf.append(data)
        size += len(data)
        if size >= 1 << 16:
            chunk = b"".join(buf)
            io.write(comp.compress(chunk) if comp else chunk)
            buf, size = [], 0
    chunk = b"".join(buf)
    io.write((comp.compress(chunk) + comp.flush()) if comp else chunk)


def write_dump_file(db_path, path, gzip_level=None, limit=0):
    """Write the SQL dump to ``path`` (gzipped when asked); ``limit`` caps the file size."""
    import gzip  # pylint: disable=import-outside-toplevel
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        capped = CappedWriter(raw, limit)
        fh = gzip.GzipFile(fileobj=capped, mode="wb", compresslevel=gzip_level, mtime=0) if gzip_level else capped
        try:
            for stmt in content.dump_sql(db_path):
                fh.write(stmt.encode())
        finally:
            if fh is not capped:
                fh.close()
    return path


class LimitReached(Exception):
    """A write under files/ would make the file reach the size limit; ``written`` bytes are on disk."""

    def __init__(self, written):
        super().__init__(written)
        self.written = written


class CappedWriter:
    """A write-only file wrapper that refuses to let the file reach ``limit`` bytes (0: no limit).
    The bytes up to the limit are written first, as a filesystem that fails the write would leave them."""

    def __init__(self, raw, limit=0):
        self.raw = raw
        self.limit = limit
        self.size = 0

    def write(self, data):
        if self.limit and self.size + len(data) >= self.limit:
            room = self.limit - 1 - self.size
            if room > 0:
                self.raw.write(data[:room])
                self.size += room
            self.raw.flush()
            raise LimitReached(self.size)
        self.raw.write(data)
        self.size += len(data)
        return len(data)

    def flush(self):
        self.raw.flush()

    def tell(self):
        return self.size


def too_large_disconnect(ctx):
    """The platform's answer to a write that reached the size limit under files/."""
    return ForceDisconnect(f"Connection to {ctx.host_label} closed by remote host.\n")
