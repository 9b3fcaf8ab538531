"""Site archives as Drush writes them: Drush 8 ``archive-dump`` and Drush 11+ ``archive:dump``."""

from __future__ import annotations

import fnmatch
import gzip
import os
import re
import shutil
import tarfile
import time
from pathlib import Path

from pantheon_emulator import content
from pantheon_emulator.ssh.envctx import CappedWriter, LimitReached

CHUNK = 1 << 20


def _inside(path, top):
    path, top = str(path), str(top)
    return path == top or path.startswith(top.rstrip("/") + "/")


class TreeWriter:
    """Adds directory trees to a streaming tar, dereferencing symbolic links that stay inside the
    environment (as ``tar --dereference`` does on the platform, where the files directory is a
    link) and keeping the others as links."""

    def __init__(self, tar, env_root, exclude=None, skip=()):
        self.tar = tar
        self.env_root = os.path.realpath(env_root)
        self.exclude = exclude or (lambda name, is_dir: False)
        self.skip = set(skip)  # (st_dev, st_ino) of files never added (the archive being written)

    def _follow(self, path):
        if not os.path.islink(path):
            return path
        real = os.path.realpath(path)
        if os.path.exists(real) and _inside(real, self.env_root):
            return real
        return None

    def add(self, path, arcname, recursive=True, seen=None):
        """Add ``path`` as ``arcname`` (recursively for directories)."""
        seen = set() if seen is None else seen
        path = str(path)
        target = self._follow(path)
        is_dir = os.path.isdir(target) if target else False
        if self.exclude(arcname, is_dir):
            return
        if target is None:
            info = self.tar.gettarinfo(path, arcname)  # a link leading outside: stored as a link
            self.tar.addfile(info)
            return
        if is_dir:
            key = os.path.realpath(target)
            if key in seen:
                return
            info = self.tar.gettarinfo(target, arcname)
            self.tar.addfile(info)
            if recursive:
                inner = seen | {key}
                for name in sorted(os.listdir(target)):
                    self.add(os.path.join(target, name), f"{arcname}/{name}", True, inner)
            return
        st = os.stat(target)
        if (st.st_dev, st.st_ino) in self.skip:
            return  # GNU tar: "file is the archive; not dumped"
        info = self.tar.gettarinfo(target, arcname)
        if info.isreg():
            with open(target, "rb") as fh:
                self.tar.addfile(info, fh)
        else:
            self.tar.addfile(info)

    def add_bytes(self, arcname, data, mtime=None):
        info = tarfile.TarInfo(arcname)
        info.size = len(data)
        info.mtime = int(mtime or time.time())
        info.mode = 0o644
        import io  # pylint: disable=import-outside-toplevel
        self.tar.addfile(info, io.BytesIO(data))


def gnu_exclude(patterns):
    """An exclude predicate with GNU tar's ``--exclude`` matching: a pattern (wildcards match
    '/') matches the member name or any part of it that starts after a '/'."""
    pats = [p.rstrip("/") for p in patterns if p]

    def excluded(name, is_dir):
        name = name.rstrip("/")
        parts = name.split("/")
        for pat in pats:
            for i in range(len(parts)):
                if fnmatch.fnmatchcase("/".join(parts[i:]), pat):
                    return True
        return False
    return excluded


def parse_tar_options(text):
    """``--tar-options`` of Drush 8 -> list of exclude patterns; other tar options are refused."""
    import shlex  # pylint: disable=import-outside-toplevel
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise ValueError(f"--tar-options cannot be parsed: {exc}") from None
    patterns = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--exclude="):
            patterns.append(word.split("=", 1)[1])
        elif word == "--exclude" and i + 1 < len(words):
            i += 1
            patterns.append(words[i])
        elif word in ("--dereference", "-h", "--exclude-vcs"):
            if word == "--exclude-vcs":
                patterns.extend([".git", ".svn", ".hg", ".bzr", "CVS"])
        else:
            raise ValueError(f"tar option {word!r} is not supported by the emulator (only --exclude=PATTERN)")
        i += 1
    return patterns


def drush8_archive(ctx, final, excludes, io_log=None, sitedir_known=True):
    """Write a Drush 8 archive of the environment to ``final``.

    Steps as Drush 8 takes them: the uncompressed tar is built next to the destination as
    ``<dbname>.<date>.tar`` (dbname ``pantheon``), gzipped in place, then renamed to the
    destination. Under files/ each of those files is subject to the size limit; when one
    reaches it, LimitReached is raised and the partial file stays behind (as on the platform).
    ``sitedir_known=False`` is Drush failing to determine the sites directory (its core-status
    subprocess failed; Terminus issue #2580): ``sites/default`` is not added, the MANIFEST has
    no site section and no ``sitedir``, and only ``default.settings.php`` is added at the end
    (drush_archive_dump() ensures it is in every archive).
    Returns the size of the archive."""
    paths = ctx.paths
    dest_dir = final.parent
    working = dest_dir / f"pantheon.{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}.tar"
    limit = ctx.max_file_bytes() if ctx.in_files(working) else 0
    files_rel = content.files_path(ctx.framework)
    ctx.files_link()
    user_excluded = gnu_exclude(excludes)
    docroot = "code"
    sql_tmp = ctx.temp_path(".ard-", ".sql")
    try:
        _dump_to(paths.db, sql_tmp)
        os.chmod(sql_tmp, 0o644)
        with open(working, "wb") as raw:
            capped = CappedWriter(raw, limit)
            st = os.fstat(raw.fileno())
            skip = {(st.st_dev, st.st_ino)}
            with tarfile.open(fileobj=capped, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                code_root = str(paths.code)

                def skip_sites_and_git(name, is_dir):
                    rel = name[len(docroot) + 1:] if name.startswith(docroot + "/") else ""
                    return rel == "sites" or rel.split("/", 1)[0] == ".git" or user_excluded(name, is_dir)

                # 1. the docroot without sites/ (and without the checkout's .git)
                TreeWriter(tar, paths.root, skip_sites_and_git, skip).add(code_root, docroot)
                writer = TreeWriter(tar, paths.root, user_excluded, skip)
                # 2. sites/all and the special files in sites/
                for rel in ("sites/all", "sites/README.txt", "sites/sites.php", "sites/example.sites.php",
                            "sites/development.services.yml", "sites/example.settings.local.php"):
                    if os.path.lexists(paths.code / rel):
                        writer.add(paths.code / rel, f"{docroot}/{rel}")
                # 3. the database dump
                tar.add(str(sql_tmp), arcname="pantheon.sql")
                # 4. the site directory (sites/default, with its files through the link)
                if sitedir_known and (paths.code / "sites" / "default").exists():
                    writer.add(paths.code / "sites" / "default", f"{docroot}/sites/default")
                # 5. the manifest (docroot is DRUPAL_ROOT, the platform's absolute path)
                TreeWriter(tar, paths.root).add_bytes("MANIFEST.ini", content.drush8_manifest(
                    docroot=f"{ctx.home_path}/{docroot}", sql_name="pantheon.sql", files_public=files_rel,
                    sitedir="sites/default" if sitedir_known else None).encode())
                # 6. default.settings.php when step 4 did not add it
                default_settings = paths.code / "sites" / "default" / "default.settings.php"
                if not sitedir_known and default_settings.is_file():
                    writer.add(default_settings, f"{docroot}/sites/default/default.settings.php")
        gz = working.with_name(working.name + ".gz")
        with open(working, "rb") as src, open(gz, "wb") as raw:
            capped = CappedWriter(raw, limit)
            # level 1 (gzip's default is 6): only the uncompressed working tar meets the size limit,
            # so the level changes nothing but the time the emulator spends
            with gzip.GzipFile(fileobj=capped, mode="wb", compresslevel=1, mtime=0, filename="") as out:
                shutil.copyfileobj(src, out, CHUNK)
        working.unlink()
        if gz != final:
            os.replace(gz, final)
        return final.stat().st_size
    finally:
        sql_tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------- Drush 11+
def drush12_manifest(code, files, db, version):
    """MANIFEST.yml as Drush 11+ ``archive:dump`` writes it (Symfony YAML dump)."""
    def yb(value):
        return "true" if value else "false"
    return (f"datestamp: {int(time.time())}\n"
            "formatversion: '1.0'\n"
            "components:\n"
            f"    code: {yb(code)}\n"
            f"    files: {yb(files)}\n"
            f"    database: {yb(db)}\n"
            "description: null\n"
            "tags: null\n"
            "generator: 'Drush archive:dump'\n"
            f"generatorversion: {version}\n")


_DB_SETTINGS_RE = re.compile(r"\$databases[^;]*=[^;]*(\[|(array[^;]*\())[^;]+(\]|\))[^;]*;", re.S)
_COMMENTS_RE = re.compile(r"/\*(.*?)\*/|(//|#)(.*?)$", re.S | re.M)


def drush12_archive(ctx, out_path, code, files, db, exclude_code_paths, version):
    """Write a Drush 11+ archive (MANIFEST.yml, code/, files/, database/database.sql) to
    ``out_path`` (tar.gz). Raises ValueError with Drush's message for refused content."""
    paths = ctx.paths
    files_rel = content.files_path(ctx.framework)
    code_excludes = [re.compile(f"^{p.strip()}$") for p in exclude_code_paths if p.strip()]
    code_excludes += [re.compile(r"^\.git$"), re.compile(r"^vendor$"),
                      re.compile(r"^sites/.+/settings\..+\.php$"), re.compile(f"^{re.escape(files_rel)}$")]
    files_excludes = [re.compile(f"^{d}$") for d in ("css", "js", "styles", "php")]
    sql_tmp = ctx.temp_path(".ard-", ".sql") if db else None
    try:
        if db:
            _dump_to(paths.db, sql_tmp)
            os.chmod(sql_tmp, 0o644)
        with open(out_path, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0, filename="") as gz:
                with tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                    TreeWriter(tar, paths.root).add_bytes("MANIFEST.yml", drush12_manifest(code, files, db, version).encode())
                    if code:
                        _add_filtered(tar, paths.root, paths.code, "code", code_excludes, check_settings=True)
                    if files:
                        _add_filtered(tar, paths.root, paths.files, "files", files_excludes)
                    if db:
                        tar.add(str(sql_tmp), arcname="database/database.sql")
    finally:
        if sql_tmp:
            sql_tmp.unlink(missing_ok=True)


def _walk(real_dir, env_real, rel_prefix="", seen=frozenset()):
    """Yield (relative path, real path, is_dir) under ``real_dir`` in sorted order, following
    links that stay inside the environment; directories come before their content."""
    seen = seen | {real_dir}
    for name in sorted(os.listdir(real_dir)):
        full = os.path.join(real_dir, name)
        real = os.path.realpath(full)
        if not os.path.exists(real) or not _inside(real, env_real):
            continue
        rel = rel_prefix + name
        if os.path.isdir(real):
            if real in seen:
                continue
            yield rel, real, True
        elif os.path.isfile(real):
            yield rel, real, False


def _add_filtered(tar, env_root, root, arcroot, excludes, check_settings=False):
    """Add the regular files under ``root`` (links followed inside the env) as ``arcroot/<rel>``,
    skipping any path (file or directory) that an anchored regex in ``excludes`` matches
    (the way Drush 11+ filters its copy of the code and files)."""
    env_real = os.path.realpath(env_root)
    stack = [(os.path.realpath(root), "", frozenset())]
    while stack:
        real_dir, prefix, seen = stack.pop()
        subdirs = []
        for rel, real, is_dir in _walk(real_dir, env_real, prefix, seen):
            if any(rx.match(rel) for rx in excludes):
                continue
            if is_dir:
                subdirs.append((real, rel + "/", seen | {real_dir}))
                continue
            if check_settings and re.match(r"^sites/.*/settings\.php$", rel):
                text = Path(real).read_text(errors="replace")
                if _DB_SETTINGS_RE.search(_COMMENTS_RE.sub("", text)):
                    raise ValueError(
                        f"Found database connection settings in {rel}. It is risky to include them to the archive. "
                        "Please move the database connection settings into a setting.*.php file or exclude them "
                        f'from the archive with "--exclude-code-paths={rel}".')
            tar.add(real, arcname=f"{arcroot}/{rel}", recursive=False)
        stack.extend(reversed(subdirs))


def _dump_to(db, out):
    """The archive's SQL: ``mysqldump`` output, byte for byte (Drush runs sql-dump)."""
    with open(out, "wb") as fh:
        for data in content.dump_chunks(db):
            fh.write(data)


__all__ = ["drush8_archive", "drush12_archive", "parse_tar_options", "gnu_exclude", "LimitReached"]
