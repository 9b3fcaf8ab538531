"""Environment content: SQLite databases and their SQL dumps, backup archives, the Drush 8
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
import sqlite3
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
_CREATE_RE = re.compile(r'^CREATE\s+(TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|[^\s(]+)',
                        re.IGNORECASE)


def dump_sql(db_path):
    """Yield the SQL text of a SQLite database (``iterdump``), one statement per item, each
    ending with a newline. Like mysqldump, each ``CREATE TABLE``/``CREATE VIEW`` is preceded by
    ``DROP TABLE/VIEW IF EXISTS``, so a dump can also be replayed into an existing database
    (:func:`execute_sql`). A missing database yields an empty transaction."""
    db_path = Path(db_path)
    if not db_path.exists():
        yield "BEGIN TRANSACTION;\n"
        yield "COMMIT;\n"
        return
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        for statement in conn.iterdump():
            m = _CREATE_RE.match(statement)
            if m:
                yield f"DROP {m.group(1).upper()} IF EXISTS {m.group(2)};\n"
            yield statement + "\n"
    finally:
        conn.close()


def dump_sql_bytes(db_path):
    return "".join(dump_sql(db_path)).encode()


def _iter_lines(source):
    """Text lines from a str, bytes, or a text/binary file-like object (gzip detected)."""
    if isinstance(source, str):
        yield from io.StringIO(source)
        return
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        yield from io.StringIO(data.decode("utf-8"))
        return
    if isinstance(source, os.PathLike):
        with open(source, "rb") as fh:
            yield from _iter_lines(fh)
        return
    first = source.read(0)
    if isinstance(first, bytes):
        buffered = io.BufferedReader(source) if not hasattr(source, "peek") else source
        if buffered.peek(2)[:2] == b"\x1f\x8b":
            buffered = gzip.GzipFile(fileobj=buffered)
        yield from io.TextIOWrapper(buffered, encoding="utf-8")
    else:
        yield from source


def iter_statements(source):
    """Split SQL text (str, bytes, stream) into complete statements."""
    buf = []
    for line in _iter_lines(source):
        start = 0
        pos = line.find(";")
        while pos != -1:
            buf.append(line[start:pos + 1])
            text = "".join(buf)
            if sqlite3.complete_statement(text):
                buf = []
                stmt = text.strip()
                if stmt and stmt != ";":
                    yield stmt
            else:
                buf = [text]
            start = pos + 1
            pos = line.find(";", start)
        if start < len(line):
            buf.append(line[start:])
    rest = "".join(buf).strip()
    if rest and any(ln.strip() and not ln.strip().startswith("--") for ln in rest.splitlines()):
        raise ContentError(f"incomplete SQL statement at the end of the input: {rest[:80]!r}")


_TXN_RE = re.compile(r"^\s*(BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?|COMMIT(\s+TRANSACTION)?|"
                     r"END(\s+TRANSACTION)?)\s*;\s*$", re.IGNORECASE)


def _run_statements(conn, source):
    count = 0
    conn.execute("BEGIN")
    for stmt in iter_statements(source):
        if _TXN_RE.match(stmt):
            continue
        try:
            conn.execute(stmt)
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise ContentError(f"SQL error in statement {count + 1}: {exc} ({stmt[:80]!r})") from None
        count += 1
    conn.execute("COMMIT")
    return count


def load_sql(db_path, source):
    """Replace a database with the result of running ``source`` (SQL text, bytes, gzip bytes or a
    stream) in a fresh database. Transactional: the new file replaces the old one atomically only
    when every statement succeeded; on error the old database is kept and ContentError is raised.
    Returns the number of statements run."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".load-", suffix=".sqlite", dir=str(db_path.parent))
    os.close(fd)
    os.unlink(tmp)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            # A private new file, renamed into place only when complete: no journal needed.
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            count = _run_statements(conn, source)
        finally:
            conn.close()
        os.replace(tmp, db_path)
        return count
    except UnicodeDecodeError as exc:
        raise ContentError(f"the SQL input is not UTF-8 text: {exc}") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ContentError(f"cannot read the SQL input: {exc}") from None
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.unlink(tmp + suffix)
            except OSError:
                pass


def execute_sql(db_path, source):
    """Run SQL statements against an existing database (``sql-cli`` semantics) in one
    transaction; on error nothing is changed. Returns the number of statements.

    The transaction commits only when ``source`` ends normally: if reading the stream raises
    (e.g. the SSH client went away without EOF), nothing is committed."""
    conn = sqlite3.connect(str(db_path), isolation_level=None)
    try:
        return _run_statements(conn, source)
    finally:
        conn.close()


def query(db_path, sql, params=()):
    """Run one query; returns (column names, rows). Missing database -> ContentError."""
    if not Path(db_path).exists():
        raise ContentError("database does not exist")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) if sql.lstrip().upper().startswith(
        ("SELECT", "PRAGMA", "WITH")) else sqlite3.connect(str(db_path))
    try:
        cur = conn.execute(sql, params)
        cols = [d[0] for d in cur.description or ()]
        rows = cur.fetchall()
        conn.commit()
        return cols, rows
    except sqlite3.Error as exc:
        raise ContentError(f"SQL error: {exc}") from None
    finally:
        conn.close()


def db_tables(db_path):
    """{table: row count} of a database ({} when missing); raises ContentError when unreadable."""
    if not Path(db_path).exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ContentError(f"database unreadable: {exc}") from None


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
            with gzip.open(str(target) + ".part", "wt", encoding="utf-8", compresslevel=6) as fh:
                for stmt in dump_sql(paths.db):
                    fh.write(stmt)
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


def render_home(db_path, framework, site_name="", env=""):
    """Render an environment's home page from its database. Returns (status, html).

    Drupal: ``variable(name, value)`` site_name + published ``node(nid, title, body, status)``.
    WordPress: ``wp_options`` blogname/home + published ``wp_posts``. A missing database, missing
    tables or unreadable data give HTTP 500 with an error page, as a broken site would."""
    db_path = Path(db_path)
    if not db_path.exists() or db_path.stat().st_size == 0:
        return 500, _error_page(framework, "the database is missing or empty")
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            if framework == "wordpress":
                opts = dict(conn.execute(
                    "SELECT option_name, option_value FROM wp_options WHERE option_name IN ('blogname', 'home', "
                    "'siteurl')").fetchall())
                title = opts.get("blogname") or site_name
                posts = conn.execute("SELECT ID, post_title, post_content FROM wp_posts WHERE post_status = 'publish' "
                                     "AND post_type IN ('post', 'page') ORDER BY ID" if _has_column(
                                         conn, "wp_posts", "post_type") else
                                     "SELECT ID, post_title, post_content FROM wp_posts WHERE post_status = 'publish' "
                                     "ORDER BY ID").fetchall()
                extra = f'<link rel="home" href="{html.escape(str(opts.get("home", "")))}">'
            else:
                row = conn.execute("SELECT value FROM variable WHERE name = 'site_name'").fetchone()
                title = _php_unserialize_string(row[0]) if row else site_name
                posts = conn.execute("SELECT nid, title, body FROM node WHERE status = 1 ORDER BY nid").fetchall()
                extra = ""
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return 500, _error_page(framework, f"the database cannot be read ({exc})")
    items = "\n".join(
        f'<article id="post-{pid}"><h2>{html.escape(str(t))}</h2><div>{html.escape(str(b or ""))}</div></article>'
        for pid, t, b in posts)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(str(title))}</title>{extra}"
            f"</head>\n<body class=\"{framework} env-{html.escape(env)}\"><h1 id=\"site-name\">{html.escape(str(title))}"
            f"</h1>\n<main data-count=\"{len(posts)}\">\n{items}\n</main></body></html>\n")
    return 200, page


def _has_column(conn, table, column):
    return any(r[1] == column for r in conn.execute(f'PRAGMA table_info("{table}")'))


def _error_page(framework, detail):
    if framework == "wordpress":
        head = "Error establishing a database connection"
    else:
        head = "The website encountered an unexpected error. Please try again later."
    return (f"<!DOCTYPE html>\n<html><head><title>Error</title></head><body><h1>{html.escape(head)}</h1>"
            f"<p class=\"detail\">{html.escape(detail)}</p></body></html>\n")
