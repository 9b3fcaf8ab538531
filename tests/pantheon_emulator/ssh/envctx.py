"""What a command running on an appserver knows about its environment, and the helpers that
drush and wp share: paths the user names (confined to the environment), SQL input and output."""

from __future__ import annotations

import hashlib
import os
import posixpath
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
        repository, is not writable for the SSH user. ``..`` is refused."""
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
        if not (real == top_real or real.startswith(top_real + "/")):
            raise CommandError(f"{what} {arg}: not writable (outside the SSH home)")
        return path

    def temp_path(self, prefix, suffix=""):
        self.paths.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=str(self.paths.tmp))
        os.close(fd)
        return Path(name)


# ---------------------------------------------------------------------- SQL helpers
# Drush and WP-CLI shell out to the mysql client programs; so do these helpers, against the
# environment's own database (``ctx.paths.db``, a ``mariadb.Database``).
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


def apply_sql(db, source):
    """Pipe the SQL file ``source`` into ``mysql`` (``drush sql-cli``, ``wp db import``): the
    bytes go in unchanged; statements before an error stay applied (mysql stops at the first
    error, as it does without ``--force``). On error CommandError carries mysql's stderr."""
    try:
        db.run_sql(Path(source))
    except content.ContentError as exc:
        raise CommandError(f"{exc}\n") from None


def drop_all_tables(db):
    """Drop every table and view (``sql-drop`` / ``wp db reset``). Returns the table count."""
    return db.reset()


def run_query(db, sql, header):
    """Run SQL through ``mysql --batch`` (``drush sql-query`` runs ``mysql ... --silent < file``,
    ``wp db query`` runs ``mysql`` with the query on stdin); returns its output, column names
    first when ``header``."""
    if not db.exists():
        raise CommandError(f"ERROR 1049 (42000): Unknown database '{db.name}'\n")
    args = ["--batch"] + ([] if header else ["--skip-column-names"])
    try:
        return db.run_sql(sql.encode("utf-8") if isinstance(sql, str) else sql, args)
    except content.ContentError as exc:
        raise CommandError(f"{exc}\n") from None


def stream_dump(db, io, gzip_level=None):
    """Write ``mysqldump`` of ``db`` to the channel (optionally gzipped)."""
    import zlib  # pylint: disable=import-outside-toplevel
    comp = zlib.compressobj(gzip_level, zlib.DEFLATED, 31) if gzip_level else None
    try:
        for data in content.dump_chunks(db):
            io.write(comp.compress(data) if comp else data)
    except content.ContentError as exc:
        raise CommandError(f"{exc}\n") from None
    if comp:
        io.write(comp.flush())


def write_dump_file(db, path, gzip_level=None, limit=0):
    """Write ``mysqldump`` of ``db`` to ``path`` (gzipped when asked); ``limit`` caps the file size."""
    import gzip  # pylint: disable=import-outside-toplevel
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        capped = CappedWriter(raw, limit)
        fh = gzip.GzipFile(fileobj=capped, mode="wb", compresslevel=gzip_level, mtime=0) if gzip_level else capped
        try:
            for data in content.dump_chunks(db):
                fh.write(data)
        except content.ContentError as exc:
            raise CommandError(f"{exc}\n") from None
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
