"""Environment content: MariaDB databases (``mariadb.Database``) and their dumps, backup archives, the Drush 8
archive format, files archives, git plumbing, and the home page rendered from the database.

Everything here works on paths (``store.EnvPaths``), never on HTTP, so the SSH side can reuse it.
"""

from __future__ import annotations

import configparser
import gzip
import hashlib
import html
import io
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath

FILES_PATH = {"drupal": "sites/default/files", "drupal8": "sites/default/files", "wordpress": "wp-content/uploads"}
GIT_ENV = {"GIT_AUTHOR_NAME": "Pantheon Emulator", "GIT_AUTHOR_EMAIL": "emulator@example.com",
           "GIT_COMMITTER_NAME": "Pantheon Emulator", "GIT_COMMITTER_EMAIL": "emulator@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
CHUNK = 1024 * 1024


class ContentError(Exception):
    """Content that cannot be used (bad archive, broken SQL...); the message is user-facing."""


def files_path(framework):
    """Where the files directory appears inside the code (docroot-relative)."""
    return FILES_PATH.get(framework or "drupal", "sites/default/files")


# ====================================================================== SQL
# Every environment database is a ``mariadb.Database`` (``EnvPaths.db``) on the emulator's MariaDB.
def dump_chunks(db):
    """The bytes of ``mysqldump`` of ``db`` (Drush's options), in chunks. A database that does
    not exist yet is created empty first (every Pantheon environment has one)."""
    if not db.exists():
        db.create()
    yield from db.dump_chunks()


def dump_sql_bytes(db):
    return b"".join(dump_chunks(db))


def _source_chunks(source):
    """Byte chunks of SQL input: str, bytes (gzip detected), a path, a binary file object
    (gzip detected) or an iterable of byte chunks. Bytes pass through untouched: no newline translation, no decoding."""
    if isinstance(source, str):
        yield source.encode("utf-8")
        return
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        yield gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        return
    if isinstance(source, os.PathLike):
        with open(source, "rb") as fh:
            yield from _source_chunks(fh)
        return
    if not hasattr(source, "read"):
        yield from source  # an iterable of byte chunks (e.g. another database's dump_chunks)
        return
    buffered = source if hasattr(source, "peek") else io.BufferedReader(source)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        buffered = gzip.GzipFile(fileobj=buffered)
    yield from iter(lambda: buffered.read(CHUNK), b"")


def load_sql(db, source, replace=True):
    """Import SQL into ``db`` by piping it into ``mysql``, as the platform's database import does.
    With ``replace`` the existing tables are dropped first. Not transactional: when a statement
    fails, the ones before it stay applied (a half-imported database, as on the platform) and
    ContentError carries mysql's own message (``ERROR 1064 (42000) at line N: ...``)."""
    if replace:
        db.reset()
    try:
        db.run_sql(_source_chunks(source))
    except (OSError, EOFError, gzip.BadGzipFile, zlib_error()) as exc:
        raise ContentError(f"cannot read the SQL input: {exc}") from None


def execute_sql(db, source):
    """Run SQL against the existing database (``sql-cli`` semantics); errors as in load_sql."""
    return load_sql(db, source, replace=False)


def query(db, sql, params=None):
    """Run one statement (PyMySQL ``%s`` parameters); returns (column names, rows)."""
    if not db.exists():
        raise ContentError("database does not exist")
    return db.query(sql, params)


def db_tables(db):
    """{table: row count} of a database ({} when missing); raises ContentError when unreadable."""
    return db.tables()


# ====================================================================== files
def walk_files(root):
    """Yield (relative posix path, absolute Path, lstat) for every regular file and symlink under root."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            yield PurePosixPath(p.relative_to(root)).as_posix(), p, p.lstat()


def files_summary(root, digest=False):
    """count, bytes, dirs, empty_dirs of a tree (+ a content digest when asked)."""
    root = Path(root)
    count = size = dirs = empty = 0
    h = hashlib.sha256()
    if root.exists():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if Path(dirpath) != root:
                dirs += 1
                if not dirnames and not filenames:
                    empty += 1
            for name in sorted(filenames):
                p = Path(dirpath) / name
                st = p.lstat()
                count += 1
                size += st.st_size
                if digest:
                    h.update(PurePosixPath(p.relative_to(root)).as_posix().encode() + b"\0")
                    if stat.S_ISREG(st.st_mode):
                        with open(p, "rb") as fh:
                            for chunk in iter(lambda: fh.read(CHUNK), b""):
                                h.update(chunk)
                    h.update(b"\0")
    out = {"count": count, "bytes": size, "dirs": dirs, "empty_dirs": empty}
    if digest:
        out["digest"] = h.hexdigest()
    return out


def link_files_dir(paths, framework):
    """Make ``code/<files path>`` a relative symlink to the env's files/ (as on Pantheon)."""
    rel = files_path(framework)
    link = paths.code / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(paths.files, link.parent)
    if link.is_symlink():
        if os.readlink(link) == target:
            return
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    elif link.exists():
        link.unlink()
    link.symlink_to(target)


# ====================================================================== git
def git(*args, cwd=None, git_dir=None, work_tree=None, env=None, check=True, input=None):  # noqa: A002
    """Run git; returns stdout (str). Raises ContentError with stderr on failure."""
    cmd = ["git"]
    if git_dir:
        cmd.append(f"--git-dir={git_dir}")
    if work_tree:
        cmd.append(f"--work-tree={work_tree}")
    cmd.extend(str(a) for a in args)
    full_env = dict(os.environ)
    full_env.update(GIT_ENV)
    full_env.update(env or {})
    res = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, input=input, check=False)
    if check and res.returncode != 0:
        raise ContentError(f"git {args[0]} failed: {res.stderr.decode(errors='replace').strip()}")
    return res.stdout.decode(errors="replace")


def init_bare_repo(repo):
    repo = Path(repo)
    if not (repo / "HEAD").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git("init", "--bare", "-q", "--template=", "-b", "master", str(repo))
    return repo


def branch_head(repo, branch):
    out = git("rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}", git_dir=repo, check=False).strip()
    return out or None


def commit_tree(repo, branch, src_dir, message, exclude=(), date=None):
    """Commit the content of ``src_dir`` (minus .git and ``exclude`` paths) as the new head of
    ``branch`` in bare ``repo`` (parent: the current head). Returns the commit sha."""
    init_bare_repo(repo)
    with tempfile.TemporaryDirectory(prefix="emu-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if date:
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        pathspec = ["."] + [f":(exclude){p}" for p in exclude]
        git("add", "-A", "-f", "--", *pathspec, git_dir=repo, work_tree=src_dir, cwd=src_dir, env=env)
        tree = git("write-tree", git_dir=repo, env=env).strip()
        parent = branch_head(repo, branch)
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", parent]
        sha = git(*args, git_dir=repo, env=env).strip()
        git("update-ref", f"refs/heads/{branch}", sha, git_dir=repo)
        return sha


DEPLOY_TAG_RE = re.compile(r"^pantheon_(test|live)_(\d+)$")


def deploy_tags(repo, env):
    """The deploy tags of ``env`` (test or live) in bare ``repo``: [(n, tag name, commit)], oldest first.

    The platform tags each deploy ``pantheon_test_N`` / ``pantheon_live_N`` and checks the newest
    out (Terminus's env-deploy cassette: ``target_ref: refs/tags/pantheon_test_2``)."""
    if not (Path(repo) / "HEAD").exists():
        return []
    out = git("for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)",
              f"refs/tags/pantheon_{env}_*", git_dir=repo, check=False)
    tags = []
    for line in out.splitlines():
        parts = line.split()
        m = DEPLOY_TAG_RE.match(parts[0]) if parts else None
        if m and m.group(1) == env:
            tags.append((int(m.group(2)), parts[0], parts[-1]))
    return sorted(tags)


def newest_deploy_tag(repo, env):
    """(tag name, commit) of the newest deploy tag of ``env``, or None."""
    tags = deploy_tags(repo, env)
    return (tags[-1][1], tags[-1][2]) if tags else None


def create_deploy_tag(repo, env, commit, message, date=None):
    """Tag ``commit`` as the next ``pantheon_{env}_N`` (annotated, the deploy note as its message).
    Returns the tag name."""
    tags = deploy_tags(repo, env)
    name = f"pantheon_{env}_{(tags[-1][0] if tags else 0) + 1}"
    extra = {"GIT_COMMITTER_DATE": date} if date else None
    git("tag", "-a", "-m", message or f"Deploy to {env}", name, commit, git_dir=repo, env=extra)
    return name


def env_ref(repo, env):
    """The full ref an environment runs: the newest deploy tag for test/live (None before the first
    deploy), the branch for dev and multidevs."""
    if env in ("test", "live"):
        tag = newest_deploy_tag(repo, env)
        return f"refs/tags/{tag[0]}" if tag else None
    from pantheon_emulator.store import branch_for_env  # pylint: disable=import-outside-toplevel
    return f"refs/heads/{branch_for_env(env)}"


def ref_commit(repo, ref):
    if not ref or not (Path(repo) / "HEAD").exists():
        return None
    return git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", git_dir=repo, check=False).strip() or None


def checkout_env(paths, branch, framework=None, tag=None):
    """Make ``paths.code`` an exact checkout of ``branch`` of the site repository (a clone with
    origin = the bare repo; untracked files are removed, the files symlink is kept), or, with
    ``tag``, of that tag (detached, as test and live run a deploy tag).
    Returns the HEAD sha, or None when the branch (tag) does not exist."""
    repo = paths.repo
    if tag:
        return _checkout_tag(paths, tag, framework)
    sha = branch_head(repo, branch) if (repo / "HEAD").exists() else None
    if not sha:
        return None
    code = paths.code
    code.mkdir(parents=True, exist_ok=True)
    fresh = not (code / ".git").exists()
    if fresh and not any(code.iterdir()):
        # A cheap clone: borrow the bare repository's objects (alternates) instead of copying them.
        git("init", "-q", "--template=", "-b", branch, str(code))
        (code / ".git" / "objects" / "info").mkdir(parents=True, exist_ok=True)
        (code / ".git" / "objects" / "info" / "alternates").write_text(str(Path(repo).resolve() / "objects") + "\n")
        with open(code / ".git" / "config", "a", encoding="utf-8") as fh:
            fh.write(f'[remote "origin"]\n\turl = {repo}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n'
                     f'[branch "{branch}"]\n\tremote = origin\n\tmerge = refs/heads/{branch}\n')
        ref = code / ".git" / "refs" / "remotes" / "origin" / branch
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(sha + "\n")
        git("reset", "-q", "--hard", sha, cwd=code)
    else:
        if fresh:
            git("init", "-q", "-b", branch, str(code))
            git("remote", "add", "origin", str(repo), cwd=code)
        git("fetch", "-q", "--no-tags", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}", cwd=code)
        git("checkout", "-q", "-f", "-B", branch, f"refs/remotes/origin/{branch}", cwd=code)
        git("reset", "-q", "--hard", f"refs/remotes/origin/{branch}", cwd=code)
    exclude = code / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text("/" + files_path(framework) + "\n")
    if not fresh:
        git("clean", "-q", "-fd", cwd=code)
    link_files_dir(paths, framework)
    return sha


def code_log(repo, ref, env_refs, limit=100):
    """The ``code-log`` answer of an environment running ``ref``: its commits newest first, each with
    the ``labels`` of the environments whose code contains it (Terminus's env-code-log and env-deploy
    cassettes; ``Environment::countDeployableCommits`` compares these labels)."""
    if not ref or not ref_commit(repo, ref):
        return []
    reach = {}
    for env, other in env_refs.items():
        if other and ref_commit(repo, other):
            reach[env] = set(git("rev-list", f"{other}^{{commit}}", git_dir=repo).split())
    sep = "\x1f"
    out = git("log", f"--max-count={int(limit)}", f"--format=%H{sep}%P{sep}%an{sep}%ae{sep}%cI{sep}%B\x1e",
              f"{ref}^{{commit}}", git_dir=repo)
    commits = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, parents, author, email, when, message = record.split(sep, 5)
        stamp = when[:19]  # the platform's format: 2016-08-18T23:31:15 (UTC in the cassettes)
        commits.append({"hash": sha, "parents": parents.split(), "author": author, "email": email,
                        "datetime": stamp, "message": message.rstrip("\n") + "\n",
                        "labels": [e for e in env_refs if sha in reach.get(e, ())],
                        "gravitar_url": "https://secure.gravatar.com/avatar/"
                                        + hashlib.md5(email.strip().lower().encode()).hexdigest() + "?s=40"})
    return commits


def _checkout_tag(paths, tag, framework):
    repo = paths.repo
    sha = ref_commit(repo, f"refs/tags/{tag}")
    if not sha:
        return None
    code = paths.code
    code.mkdir(parents=True, exist_ok=True)
    fresh = not (code / ".git").exists()
    if fresh:
        git("init", "-q", "--template=", "-b", "master", str(code))
        if not any(p.name != ".git" for p in code.iterdir()):
            # borrow the bare repository's objects, as checkout_env does for a fresh branch checkout
            (code / ".git" / "objects" / "info").mkdir(parents=True, exist_ok=True)
            (code / ".git" / "objects" / "info" / "alternates").write_text(str(Path(repo).resolve() / "objects") + "\n")
        git("remote", "add", "origin", str(repo), cwd=code)
    git("fetch", "-q", "--no-tags", "origin", f"+refs/tags/{tag}:refs/tags/{tag}", cwd=code)
    git("checkout", "-q", "-f", "--detach", sha, cwd=code)
    git("reset", "-q", "--hard", sha, cwd=code)
    exclude = code / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text("/" + files_path(framework) + "\n")
    git("clean", "-q", "-fd", cwd=code)
    link_files_dir(paths, framework)
    return sha


def code_head(paths):
    if not (paths.code / ".git").exists():
        return None
    return git("rev-parse", "-q", "--verify", "HEAD", cwd=paths.code, check=False).strip() or None


# ====================================================================== archives
def _tar_add_tree(tar, src, arcroot, exclude=()):
    """Add ``src`` recursively under ``arcroot`` (sorted, symlinks kept as links), skipping
    top-level relative paths in ``exclude``."""
    src = Path(src)
    tar.add(str(src), arcname=arcroot, recursive=False)
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = Path(dirpath).relative_to(src)
        keep = []
        for d in sorted(dirnames):
            rel = (rel_dir / d).as_posix()
            if rel in exclude:
                continue
            full = Path(dirpath) / d
            if full.is_symlink():
                tar.add(str(full), arcname=f"{arcroot}/{rel}", recursive=False)
                continue
            tar.add(str(full), arcname=f"{arcroot}/{rel}", recursive=False)
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = (rel_dir / name).as_posix()
            if rel in exclude:
                continue
            tar.add(str(Path(dirpath) / name), arcname=f"{arcroot}/{rel}", recursive=False)


def make_backup(paths, out_dir, prefix, env, framework, elements=("code", "database", "files"), compresslevel=1):
    """Write backup archives of an environment into ``out_dir``:

    * ``{prefix}_code.tar.gz``: the checkout under a top folder ``code/``, without ``.git`` and
      without the files directory (the top folder name is a guess, see README);
    * ``{prefix}_database.sql.gz``: gzipped SQL dump;
    * ``{prefix}_files.tar.gz``: top-level folder ``files_{env}/``.

    Returns {element: {"filename", "path", "size"}} plus "manifest": totals of the files tree."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for element in elements:
        if element == "code":
            name = f"{prefix}_code.tar.gz"
            target = out_dir / name
            with tarfile.open(str(target) + ".part", "w:gz", compresslevel=compresslevel, format=tarfile.PAX_FORMAT) as tar:
                _tar_add_tree(tar, paths.code, "code", exclude={".git", files_path(framework)})
        elif element == "database":
            name = f"{prefix}_database.sql.gz"
            target = out_dir / name
            # mysqldump output, gzipped (Pantheon's ``*_database.sql.gz``)
            with gzip.open(str(target) + ".part", "wb", compresslevel=6) as fh:
                for data in dump_chunks(paths.db):
                    fh.write(data)
        elif element == "files":
            name = f"{prefix}_files.tar.gz"
            target = out_dir / name
            with tarfile.open(str(target) + ".part", "w:gz", compresslevel=compresslevel, format=tarfile.PAX_FORMAT) as tar:
                _tar_add_tree(tar, paths.files, f"files_{env}")
        else:
            raise ContentError(f"unknown backup element {element!r}")
        os.replace(str(target) + ".part", target)
        result[element] = {"filename": name, "path": str(target), "size": target.stat().st_size}
    return result


def _safe_members(tar, strip_prefix=None):
    """Yield (member, relative path) for safe regular files and directories, refusing anything that
    would escape the target (absolute paths, '..', devices); symlinks are skipped."""
    for member in tar:
        name = member.name
        while name.startswith("./"):
            name = name[2:]
        if not name or name == ".":
            continue
        pp = PurePosixPath(name)
        if pp.is_absolute() or ".." in pp.parts:
            raise ContentError(f"archive member {member.name!r} has an unsafe path")
        if strip_prefix is not None:
            if pp.parts[0] != strip_prefix:
                continue
            pp = PurePosixPath(*pp.parts[1:]) if len(pp.parts) > 1 else None
            if pp is None:
                continue
        if member.isdev() or member.isfifo():
            raise ContentError(f"archive member {member.name!r} is a device or fifo")
        if not (member.isfile() or member.isdir()):
            continue
        yield member, pp


def _open_tar(path):
    try:
        return tarfile.open(str(path), "r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ContentError(f"not a tar archive (tar, tar.gz or tgz): {exc}") from None


def extract_files_archive(archive, files_dir, tmp_dir, max_file_bytes=None):
    """Replace the content of ``files_dir`` by a files archive (tar/tar.gz). A single top-level
    folder (``files_{env}/`` in Pantheon backups) is stripped. The tree is extracted to a temp
    dir first and swapped in, so a bad archive changes nothing. Returns files_summary."""
    files_dir = Path(files_dir)
    Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-files-", dir=str(tmp_dir)))
    try:
        with _open_tar(archive) as tar:
            try:
                members = tar.getmembers()
            except (tarfile.TarError, OSError, EOFError, zlib_error()) as exc:
                raise ContentError(f"the files archive is damaged: {exc}") from None
            tops = {PurePosixPath(m.name.lstrip("./") or ".").parts[0] for m in members if m.name.strip("./")}
            strip = None
            if len(tops) == 1:
                only = next(iter(tops))
                if any(m.isdir() and m.name.strip("./") == only for m in members) or all(
                        "/" in m.name.strip("./") for m in members if m.name.strip("./") != only):
                    strip = only
            for member, rel in _safe_members(iter(members), strip_prefix=strip):
                dest = staging / Path(*rel.parts)
                if member.isdir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                if max_file_bytes and member.size >= max_file_bytes:
                    raise ContentError(
                        f"file {rel.as_posix()!r} is {member.size} bytes; files of {max_file_bytes} bytes or more "
                        "cannot be written to the Pantheon filesystem")
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                with open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
                os.utime(dest, (member.mtime, member.mtime))
        _swap_dir(staging, files_dir)
        staging = None
        return files_summary(files_dir)
    except (tarfile.TarError, EOFError, zlib_error()) as exc:
        raise ContentError(f"the files archive is damaged: {exc}") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def zlib_error():
    import zlib  # pylint: disable=import-outside-toplevel
    return zlib.error


def _swap_dir(new_dir, target):
    """Replace directory ``target`` by ``new_dir`` (same filesystem) keeping the target inode path."""
    target = Path(target)
    old = target.with_name(target.name + f".old-{os.getpid()}-{time.monotonic_ns()}")
    if target.exists():
        os.rename(target, old)
    os.rename(new_dir, target)
    shutil.rmtree(old, ignore_errors=True)


# ====================================================================== Drush 8 archives
class Drush8Archive:
    """A validated Drush 8 ``archive-dump`` tarball: MANIFEST.ini at the top, the docroot folder
    named in the manifest (``code`` on Pantheon), exactly one ``.sql`` file at the top."""

    def __init__(self, path):
        self.path = Path(path)
        with _open_tar(self.path) as tar:
            try:
                names = [m.name[2:] if m.name.startswith("./") else m.name for m in tar.getmembers()]
                manifest_member = next((m for m in tar.getmembers()
                                        if m.name in ("MANIFEST.ini", "./MANIFEST.ini") and m.isfile()), None)
                manifest_text = tar.extractfile(manifest_member).read().decode("utf-8", "replace") \
                    if manifest_member else None
            except (tarfile.TarError, OSError, EOFError, zlib_error()) as exc:
                raise ContentError(f"the archive is damaged: {exc}") from None
        if manifest_text is None:
            raise ContentError("not a Drush 8 archive: MANIFEST.ini is missing at the top of the archive")
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(manifest_text)
        except configparser.Error as exc:
            raise ContentError(f"not a Drush 8 archive: MANIFEST.ini cannot be parsed ({exc})") from None
        sites = [s for s in parser.sections() if s.lower() != "global" and parser.has_option(s, "docroot")]
        self.manifest = {s: dict(parser.items(s)) for s in parser.sections()}
        if not sites:
            raise ContentError("not a Drush 8 archive: MANIFEST.ini names no site section with a docroot")
        if len(sites) > 1:
            raise ContentError(f"the archive holds {len(sites)} sites ({', '.join(sites)}); exactly one is supported")
        section = parser[sites[0]]
        # drush_archive_restore(): the docroot folder is basename($first['docroot'])
        self.docroot = os.path.basename(section.get("docroot", "code").strip('"').rstrip("/")) or "code"
        self.files_public = section.get("files-public", "sites/default/files").strip('"').strip("/")
        top_level = {n.split("/", 1)[0] for n in names if n}
        if self.docroot not in top_level:
            raise ContentError(f"not a Drush 8 archive: the docroot folder {self.docroot}/ named in MANIFEST.ini "
                               "is missing")
        sql = sorted(n for n in names if "/" not in n.strip("/") and n.endswith(".sql"))
        if len(sql) != 1:
            raise ContentError(f"the archive must contain exactly one .sql file at its top level; found {len(sql)}"
                               + (f" ({', '.join(sql)})" if sql else ""))
        self.sql_name = sql[0]

    def extract(self, dest, max_file_bytes=None):
        """Extract into ``dest``: ``dest/code`` (docroot without its files), ``dest/files``,
        ``dest/database.sql``."""
        dest = Path(dest)
        code = dest / "code"
        files = dest / "files"
        code.mkdir(parents=True)
        files.mkdir(parents=True)
        files_prefix = PurePosixPath(self.files_public)
        with _open_tar(self.path) as tar:
            try:
                for member in tar:
                    name = member.name[2:] if member.name.startswith("./") else member.name
                    if name == self.sql_name and member.isfile():
                        with open(dest / "database.sql", "wb") as out:
                            shutil.copyfileobj(tar.extractfile(member), out, CHUNK)
                        break
            except (tarfile.TarError, OSError, EOFError, zlib_error()) as exc:
                raise ContentError(f"the archive is damaged: {exc}") from None
        with _open_tar(self.path) as tar:
            try:
                for member, rel in _safe_members(tar, strip_prefix=self.docroot):
                    in_files = rel.parts[:len(files_prefix.parts)] == files_prefix.parts
                    if in_files:
                        sub = rel.parts[len(files_prefix.parts):]
                        if not sub:
                            continue
                        target = files / Path(*sub)
                        if member.isfile() and max_file_bytes and member.size >= max_file_bytes:
                            raise ContentError(
                                f"file {'/'.join(sub)!r} is {member.size} bytes; files of {max_file_bytes} bytes or "
                                "more cannot be written to the Pantheon filesystem")
                    else:
                        target = code / Path(*rel.parts)
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with open(target, "wb") as out:
                        shutil.copyfileobj(tar.extractfile(member), out, CHUNK)
                    os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
            except (tarfile.TarError, EOFError, zlib_error()) as exc:
                raise ContentError(f"the archive is damaged: {exc}") from None
        return code, files, dest / "database.sql"


def drush8_manifest(docroot="code", sql_name="pantheon.sql", files_public="sites/default/files",
                    sitedir="sites/default", files_private="sites/default/files/private"):
    """MANIFEST.ini text as Drush 8 ``archive-dump`` writes it (drush_archive_dump() and
    drush_export_ini() in Drush 8.4): a ``[Global]`` section, then one section per site named
    after the basename of its sites directory. drush_export_ini() leaves out every empty value
    and a section whose name is empty: when Drush could not determine the sites directory
    (``sitedir=None``), the site's keys follow ``[Global]`` without a header and there is no
    ``sitedir``/``files-public``/``files-private``. ``docroot`` is DRUPAL_ROOT (an absolute path
    on the platform); ``database-default-file`` is the dump's basename."""
    site = [("docroot", docroot), ("sitedir", sitedir or ""),
            ("files-public", files_public if sitedir else ""), ("files-private", files_private if sitedir else ""),
            ("database-default-file", sql_name), ("database-default-driver", "mysql")]
    section = os.path.basename(sitedir) if sitedir else ""
    return (
        "[Global]\n"
        f'datestamp = "{int(time.time())}"\n'
        'formatversion = "1.0"\n'
        'generator = "Drush archive-dump"\n'
        'generatorversion = "8.4.12"\n'
        'archiveformat = "platform"\n'
        "\n"
        + (f"[{section}]\n" if section else "")
        + "".join(f'{k} = "{v}"\n' for k, v in site if v)
    )


# ====================================================================== web rendering
_PHP_STR = re.compile(r'^s:(\d+):"(.*)";$', re.DOTALL)


def _php_unserialize_string(value):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    m = _PHP_STR.match(value or "")
    return m.group(2) if m else (value or "")


def _php_serialized_field(value, field):
    """The string ``field`` of a PHP-serialized array (Drupal 8+ ``config`` data), else None."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    m = re.search(r's:%d:"%s";s:(\d+):"' % (len(field), re.escape(field)), value or "")
    if not m:
        return None
    start = m.end()
    raw = value[start:].encode()[:int(m.group(1))]
    return raw.decode("utf-8", "replace")


def render_home(db, framework, site_name="", env=""):
    """Render an environment's home page from its database. Returns (status, html).

    Drupal 7: ``variable`` site_name + published ``node`` rows with ``field_data_body``;
    Drupal 8+: ``config`` system.site + published ``node_field_data`` with ``node__body``;
    WordPress: ``wp_options`` blogname/home + published ``wp_posts``. A missing or empty
    database, missing tables or unreadable data give HTTP 500 with an error page, as a broken
    site would."""
    try:
        tables = db.tables()
        if not tables:
            return 500, _error_page(framework, "the database is missing or empty")
        if framework == "wordpress":
            _c, rows = db.query("SELECT option_name, option_value FROM wp_options WHERE option_name IN "
                                "('blogname', 'home', 'siteurl')")
            opts = dict(rows)
            title = opts.get("blogname") or site_name
            _c, posts = db.query("SELECT ID, post_title, post_content FROM wp_posts WHERE post_status = 'publish' "
                                 "AND post_type IN ('post', 'page') ORDER BY ID")
            extra = f'<link rel="home" href="{html.escape(str(opts.get("home", "")))}">'
        else:
            title = None
            if "config" in tables:
                _c, rows = db.query("SELECT data FROM config WHERE collection = '' AND name = 'system.site'")
                title = _php_serialized_field(rows[0][0], "name") if rows else None
            if title is None and "variable" in tables:
                _c, rows = db.query("SELECT value FROM variable WHERE name = 'site_name'")
                title = _php_unserialize_string(rows[0][0]) if rows else None
            title = title if title is not None else site_name
            if "node_field_data" in tables:
                _c, posts = db.query(
                    "SELECT n.nid, n.title, b.body_value FROM node_field_data n LEFT JOIN node__body b ON "
                    "b.entity_id = n.nid AND b.langcode = n.langcode AND b.deleted = 0 AND b.delta = 0 "
                    "WHERE n.status = 1 ORDER BY n.nid")
            elif "field_data_body" in tables:
                _c, posts = db.query(
                    "SELECT n.nid, n.title, b.body_value FROM node n LEFT JOIN field_data_body b ON "
                    "b.entity_type = 'node' AND b.entity_id = n.nid AND b.deleted = 0 AND b.delta = 0 "
                    "WHERE n.status = 1 ORDER BY n.nid")
            else:
                _c, posts = db.query("SELECT nid, title, NULL FROM node WHERE status = 1 ORDER BY nid")
            extra = ""
    except ContentError as exc:
        return 500, _error_page(framework, f"the database cannot be read ({exc})")
    items = "\n".join(
        f'<article id="post-{pid}"><h2>{html.escape(_text(t))}</h2><div>{html.escape(_text(b))}</div></article>'
        for pid, t, b in posts)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(_text(title))}</title>{extra}"
            f"</head>\n<body class=\"{framework} env-{html.escape(env)}\"><h1 id=\"site-name\">{html.escape(_text(title))}"
            f"</h1>\n<main data-count=\"{len(posts)}\">\n{items}\n</main></body></html>\n")
    return 200, page


def _text(value):
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _error_page(framework, detail):
    if framework == "wordpress":
        head = "Error establishing a database connection"
    else:
        head = "The website encountered an unexpected error. Please try again later."
    return (f"<!DOCTYPE html>\n<html><head><title>Error</title></head><body><h1>{html.escape(head)}</h1>"
            f"<p class=\"detail\">{html.escape(detail)}</p></body></html>\n")
