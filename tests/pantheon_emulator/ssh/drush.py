"""``drush`` on an appserver: Drush 8 for Drupal 7 environments, Drush 12 for Drupal 8+.

Runs in a worker thread with a blocking channel (``SyncIO``). Messages follow Drush: logs and
errors on stderr, command results on stdout.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from pantheon_emulator import content
from pantheon_emulator.ssh import archive
from pantheon_emulator.ssh.channel import CommandError
from pantheon_emulator.ssh.envctx import (
    LimitReached, apply_sql, drop_all_tables, run_query, spool_stdin, stream_dump, too_large_disconnect,
    write_dump_file)

DRUSH8_VERSION = "8.4.12"
DRUSH12_VERSION = "12.5.3.0"

# canonical name -> aliases (Drush 8.1+ also answers to the Drush 9 colon names, Drush 12 to
# the Drush 8 hyphenated names)
DRUSH8_COMMANDS = {
    "archive-dump": ("ard", "archive-backup", "arb", "archive:dump"),
    "core-status": ("status", "st", "core:status"),
    "sql-query": ("sqlq", "sql:query"),
    "sql-cli": ("sqlc", "sql:cli"),
    "sql-dump": ("sql:dump",),
    "sql-drop": ("sql:drop",),
    "cache-clear": ("cc", "cache:clear"),
    "version": (),
}
DRUSH12_COMMANDS = {
    "archive:dump": ("ard", "archive-dump"),
    "core:status": ("status", "st", "core-status"),
    "sql:query": ("sqlq", "sql-query"),
    "sql:cli": ("sqlc", "sql-cli"),
    "sql:dump": ("sql-dump",),
    "sql:drop": ("sql-drop",),
    "cache:rebuild": ("cr", "rebuild", "cache-rebuild"),
    "cache:clear": ("cc", "cache-clear"),
    "version": (),
}
# options that take a value as the next word in Drush 12 (Symfony console); Drush 8 needs '='
VALUE_OPTIONS = {"destination", "format", "result-file", "tar-options", "exclude-code-paths", "uri", "l", "root",
                 "r", "extra-dump", "description", "tags", "generator", "generatorversion", "fields", "database",
                 "target", "file", "db-url", "extra", "yes-value"}
GLOBAL_FLAGS = {"y", "yes", "n", "no", "q", "quiet", "v", "vv", "vvv", "verbose", "d", "debug", "nocolor",
                "no-ansi", "ansi", "no-interaction", "strict", "simulate", "s", "pipe", "overwrite", "gzip",
                "code", "files", "db", "preserve-symlinks", "no-core", "h", "help"}


def drush_major(ctx):
    """8 or 12, from the environment's drush_version setting (default by framework)."""
    version = ctx.settings.get("drush_version")
    try:
        major = int(str(version).split(".", maxsplit=1)[0])
    except (TypeError, ValueError):
        major = 12 if ctx.framework == "drupal8" else 8
    return 12 if major >= 9 else 8


def command_label(argv, ctx=None):
    """``drush <command>`` for the request log: the canonical command name, never arguments."""
    args, _rest = parse_args(argv[1:])
    if not args:
        return "drush"
    table = DRUSH12_COMMANDS if ctx is not None and drush_major(ctx) == 12 else DRUSH8_COMMANDS
    name = canonical(table, args[0]) or canonical(DRUSH8_COMMANDS, args[0]) or canonical(DRUSH12_COMMANDS, args[0])
    return f"drush {name}" if name else "drush"


def canonical(table, word):
    for name, aliases in table.items():
        if word == name or word in aliases:
            return name
    return None


def parse_args(words):
    """Split drush arguments into (positional list, options dict). ``--name=value`` and (for
    known value options) ``--name value`` give strings; bare flags give True."""
    args, opts = [], {}
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            args.extend(words[i:])
            break
        if word.startswith("--"):
            name, sep, value = word[2:].partition("=")
            if sep:
                opts[name] = value
            elif name in VALUE_OPTIONS and name not in GLOBAL_FLAGS and i < len(words) \
                    and not words[i].startswith("-"):
                opts[name] = words[i]
                i += 1
            else:
                opts[name] = True
        elif word.startswith("-") and len(word) > 1:
            name, sep, value = word[1:].partition("=")
            if sep:
                opts[name] = value
            elif name in ("l", "r") and i < len(words):
                opts[name] = words[i]
                i += 1
            else:
                for ch in name:
                    opts[ch] = True
        else:
            args.append(word)
    return args, opts


def run(ctx, argv, io):
    """Run ``drush ...``; returns the exit status."""
    major = drush_major(ctx)
    args, opts = parse_args(argv[1:])
    if not args:
        if opts.get("version"):
            return _version(ctx, major, opts, io)
        io.err(f"Drush Commandline Tool {DRUSH8_VERSION if major == 8 else DRUSH12_VERSION}\n\n"
               "Run `drush list` for the available commands.\n")
        return 0
    table = DRUSH8_COMMANDS if major == 8 else DRUSH12_COMMANDS
    name = canonical(table, args[0])
    if name is None:
        if major == 8:
            raise CommandError(f"The drush command '{args[0]}' could not be found.  Run `drush cache-clear drush` "
                               "to clear the commandfile cache if you have installed new extensions.            "
                               "[error]\n")
        raise CommandError(f"In Application.php line 123:\n\n  Command \"{args[0]}\" is not defined.  \n\n")
    handler = HANDLERS[name]
    return handler(ctx, major, args[1:], opts, io)


# ---------------------------------------------------------------------- status / version
def drupal_version(ctx):
    """The Drupal version from the code (bootstrap.inc or Drupal.php), else a default per framework."""
    code = ctx.paths.code
    for rel, rx in (("core/lib/Drupal.php", r"const\s+VERSION\s*=\s*'([^']+)'"),
                    ("web/core/lib/Drupal.php", r"const\s+VERSION\s*=\s*'([^']+)'"),
                    ("includes/bootstrap.inc", r"define\('VERSION',\s*'([^']+)'\)")):
        path = code / rel
        if path.is_file():
            m = re.search(rx, path.read_text(errors="replace"))
            if m:
                return m.group(1)
    return "10.3.6" if ctx.framework == "drupal8" else "7.101"


def _installed(ctx):
    try:
        return bool(content.db_tables(ctx.paths.db))
    except content.ContentError:
        return False


# Labels of `drush status` in table format. Drush 8: core_status_table() in Drush 8.4.12
# commands/core/core.drush.inc ('field-labels'); Drush 12: StatusCommands::status()
# #[CLI\FieldLabels] in Drush 12.5.3 src/Commands/core/StatusCommands.php.
STATUS_LABELS = {
    8: {"drupal-version": "Drupal version", "uri": "Site URI", "db-driver": "Database driver",
        "db-hostname": "Database hostname", "db-port": "Database port", "db-username": "Database username",
        "db-name": "Database name", "db-status": "Database", "bootstrap": "Drupal bootstrap",
        "php-bin": "PHP executable", "php-os": "PHP OS",
        "drush-script": "Drush script", "drush-version": "Drush version", "drush-temp": "Drush temp directory",
        "install-profile": "Install profile", "root": "Drupal root", "site": "Site path",
        "files": "File directory path", "private": "Private file directory path",
        "temp": "Temporary file directory path"},
    12: {"drupal-version": "Drupal version", "uri": "Site URI", "db-driver": "DB driver", "db-hostname": "DB hostname",
         "db-port": "DB port", "db-username": "DB username", "db-name": "DB name", "db-status": "Database",
         "bootstrap": "Drupal bootstrap", "php-bin": "PHP binary", "php-os": "PHP OS", "php-version": "PHP version",
         "drush-script": "Drush script", "drush-version": "Drush version", "drush-temp": "Drush temp",
         "install-profile": "Install profile", "root": "Drupal root", "site": "Site path", "files": "Files, Public",
         "private": "Files, Private", "temp": "Files, Temp"},
}


def _status(ctx, major, args, opts, io):
    installed = _installed(ctx)
    db_ok = ctx.paths.db.exists()
    version = DRUSH8_VERSION if major == 8 else DRUSH12_VERSION
    root = f"{ctx.home_path}/code"
    data = {
        "drupal-version": drupal_version(ctx),
        "uri": f"https://{ctx.store.domain(ctx.site.get('name', 'site'), ctx.env)}",
        "db-driver": "mysql",
        "db-hostname": f"dbserver.{ctx.env}.{ctx.site_id}.drush.in",
        "db-port": "3306",
        "db-username": "pantheon",
        "db-name": "pantheon",
    }
    if db_ok:
        data["db-status"] = "Connected"
    if installed:
        data["bootstrap"] = "Successful"
    # Platform paths: the Drupal root under the binding (pantheon-systems/terminus #141 shows
    # /srv/bindings/<id>/code/sites), /tmp as temp (Pantheon's PRESSFLOW_SETTINGS file_temporary_path,
    # quoted in lando/lando #1273), Drush 8 under /opt/pantheon/drush (the autoloader path in
    # terminus #2580's -vvv log); the site-local Drush of Drupal 8+ sites in the code's vendor/.
    data.update({
        "php-bin": "/usr/bin/php",
        "php-os": "Linux",
        "php-version": "8.3.0",
        "drush-script": "/opt/pantheon/drush/vendor/drush/drush/drush.php" if major == 8 else
                        f"{root}/vendor/drush/drush/drush",
        "drush-version": version,
        "drush-temp": "/tmp",
        "install-profile": "standard",
        "root": root,
        "site": "sites/default",
        "files": content.files_path(ctx.framework),
        "private": "sites/default/files/private",
        "temp": "/tmp",
    })
    if major == 8:
        del data["php-version"]  # _core_site_status_table() of Drush 8 has no PHP version
    fmt = opts.get("format")
    if fmt == "json":
        io.write(json.dumps(data, indent=4) + "\n")
        return 0
    if fmt in ("yaml", "yml"):
        io.write("".join(f"{k}: '{v}'\n" for k, v in data.items()))
        return 0
    if fmt not in (None, True, "table"):
        raise CommandError(f"The format '{fmt}' is not supported; use json, yaml or table.")
    labels = STATUS_LABELS[8 if major == 8 else 12]
    width = max(len(labels[k]) for k in data)
    if major == 8:
        # drush_print_table() of key/value pairs: " label  :  value"
        io.write("".join(f" {labels[k]:<{width}} :  {v}\n" for k, v in data.items()))
    else:
        # consolidation/output-formatters PropertyList as a compact table: " label : value "
        io.write("".join(f" {labels[k]:<{width}} : {v} \n" for k, v in data.items()))
    return 0


def _version(ctx, major, opts, io):
    version = DRUSH8_VERSION if major == 8 else DRUSH12_VERSION
    if opts.get("format") == "json":
        io.write(json.dumps({"drush-version": version}) + "\n")
    elif major == 8:
        io.write(f" Drush Version   :  {version} \n")
    else:
        io.write(f" Drush version : {version} \n")
    return 0


def _version_cmd(ctx, major, args, opts, io):
    return _version(ctx, major, opts, io)


# ---------------------------------------------------------------------- SQL
def _sql_query(ctx, major, args, opts, io):
    query = " ".join(args)
    if "file" in opts and opts["file"] is not True:
        path = ctx.resolve_user_path(opts["file"], "--file")
        if not path.is_file():
            raise CommandError(f"Unable to find {opts['file']}")
        query = path.read_bytes()
    if not query.strip():
        raise CommandError("Missing argument: query" if major == 8 else
                           'Not enough arguments (missing: "query").')
    io.write(run_query(ctx.paths.db, query, header=False))
    return 0


def _sql_cli(ctx, major, args, opts, io):
    spool = spool_stdin(io, ctx, ".sqlc-")
    try:
        apply_sql(ctx.paths.db, spool)
    finally:
        spool.unlink(missing_ok=True)
    return 0


def _sql_dump(ctx, major, args, opts, io):
    level = 6 if opts.get("gzip") else None
    result_file = opts.get("result-file")
    if result_file and result_file is not True:
        path = ctx.resolve_user_path(result_file, "--result-file")
        if level and not path.name.endswith(".gz"):
            path = path.with_name(path.name + ".gz")
        limit = ctx.max_file_bytes() if ctx.in_files(path) else 0
        try:
            write_dump_file(ctx.paths.db, path, level, limit)
        except LimitReached:
            raise too_large_disconnect(ctx) from None
        io.err(f"Database dump saved to {path}" + ("                                     [success]\n"
                                                   if major == 8 else "\n [success] Database dump saved.\n"))
        return 0
    stream_dump(ctx.paths.db, io, level)
    return 0


def _sql_drop(ctx, major, args, opts, io):
    count = drop_all_tables(ctx.paths.db)
    io.err(f" [success] Dropped {count} tables.\n" if major == 12 else "")
    return 0


# ---------------------------------------------------------------------- caches
def _clear_cache_tables(ctx):
    """Empty the cache tables (cache, cache_*), as a cache clear does."""
    try:
        tables = content.db_tables(ctx.paths.db)
    except content.ContentError:
        return 0
    names = [t for t in tables if t == "cache" or t.startswith("cache_")]
    for name in names:
        content.query(ctx.paths.db, f"DELETE FROM `{name}`")
    return len(names)


def _cache_clear(ctx, major, args, opts, io):
    if not _installed(ctx):
        raise CommandError("Command cache-clear needs a higher bootstrap level to run - you will need to invoke drush "
                           "from a more functional Drupal environment to run this command.              [error]\n"
                           if major == 8 else " [error]  Drupal is not installed. \n")
    bin_name = args[0] if args else None
    if major == 12:
        if bin_name == "all" or bin_name is None:
            raise CommandError('`cache-clear all` is deprecated for Drupal 8 and later. Please use the '
                               '`cache:rebuild` command instead.\n')
        io.err(f" [success] '{bin_name}' cache was cleared.\n")
        return 0
    if bin_name is None:
        raise CommandError("Enter a number to choose which cache to clear: run `drush cc all` in a script.\n")
    if bin_name == "all":
        _clear_cache_tables(ctx)
    io.err(f"'{bin_name}' cache was cleared.                                                 [success]\n")
    return 0


def _cache_rebuild(ctx, major, args, opts, io):
    if not _installed(ctx):
        raise CommandError(" [error]  Drupal is not installed. \n")
    _clear_cache_tables(ctx)
    io.err(" [success] Cache rebuild complete.\n")
    return 0


# ---------------------------------------------------------------------- archives
def _ard8(ctx, major, args, opts, io):
    if args and args[0] not in ("default", "@self", "@sites"):
        raise CommandError(f"Some site subdirectories are not valid Drupal sites: {args[0]}          [warning]\n")
    try:
        excludes = archive.parse_tar_options(opts.get("tar-options") if opts.get("tar-options") is not True else "")
    except ValueError as exc:
        raise CommandError(f"{exc}                                                  [error]\n") from None
    destination = opts.get("destination")
    if destination is True:
        raise CommandError("--destination needs a value                                          [error]\n")
    if destination:
        # drush_archive_dump(): a relative --destination is resolved from DRUSH_OLDCWD, the
        # directory Drush started in (the SSH home on Pantheon, not the Drupal root); drush_mkdir()
        # creates its directory; realpath() of that directory + the basename is the final name.
        final = ctx.resolve_from(destination, "home", "Destination")
        final.parent.mkdir(parents=True, exist_ok=True)
        final = Path(os.path.realpath(final.parent)) / final.name
    else:
        out_dir = ctx.paths.tmp / "drush-backups" / "archive-dump" / time.strftime("%Y%m%d%H%M%S", time.gmtime())
        out_dir.mkdir(parents=True, exist_ok=True)
        final = out_dir / f"pantheon.{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}.tar.gz"
    shown = ctx.platform_path(final)
    if final.is_dir():
        raise CommandError(f"Destination {shown} must be a file, not a directory.                  [error]\n")
    if final.exists() and not opts.get("overwrite"):
        raise CommandError(f"Destination {shown} exists; specify --overwrite to overwrite.         [error]\n")
    sitedir_known = not (ctx.fault or {}).get("drush_sitedir_unknown")
    if not sitedir_known:
        # drush_archive_dump(): the core-status subprocess for the site failed (Terminus #2580)
        io.err("Unable to determine sites directory for self                                 [warning]\n")
    try:
        archive.drush8_archive(ctx, final, excludes, sitedir_known=sitedir_known)
    except LimitReached:
        raise too_large_disconnect(ctx) from None
    _track_public(ctx, final)
    if opts.get("pipe"):
        io.write(f"{shown}\n")
    io.err(f"Archive saved to {shown}                                                          [ok]\n")
    return 0


def _ard12(ctx, major, args, opts, io):
    code, files, db = (bool(opts.get(k)) for k in ("code", "files", "db"))
    if not (code or files or db):
        code = files = db = True
    exclude = opts.get("exclude-code-paths")
    exclude = exclude.split(",") if isinstance(exclude, str) else []
    destination = opts.get("destination")
    if destination is True:
        raise CommandError(' [error]  The "--destination" option requires a value. \n')
    work_dir = ctx.paths.tmp / f"drush_tmp_{time.time_ns()}"
    work_dir.mkdir(parents=True)
    built = work_dir / "archive.tar.gz"
    try:
        try:
            archive.drush12_archive(ctx, built, code, files, db, exclude, DRUSH12_VERSION)
        except ValueError as exc:
            raise CommandError(f" [error]  {exc} \n") from None
        if not destination:
            io.write(f"{ctx.platform_path(built)}\n")
            return 0
        # ArchiveDumpCommands::destinationCleanup(): .tar -> .tar.gz, anything else is a directory
        if not destination.endswith(".tar.gz"):
            destination = destination + ".gz" if destination.endswith(".tar") else \
                destination + ("" if destination.endswith("/") else "/") + "archive.tar.gz"
        # createArchiveFile(): exists()/rename() on the path as given; the working directory is
        # the Drupal root (DrupalBoot::bootstrapDrupalRoot() chdir'ed there). The directory is
        # not created: Filesystem::rename() fails when it is missing.
        final = ctx.resolve_from(destination, "root", "Destination")
        if final.exists():
            if not opts.get("overwrite"):
                raise CommandError(' [error]  The destination file already exists. Use "--overwrite" option for '
                                   'overwriting an existing file. \n')
            final.unlink()
        if not final.parent.is_dir():
            raise CommandError(f' [error]  Cannot rename "{ctx.platform_path(built)}" to "{destination}": '
                               f'rename({ctx.platform_path(built)},{destination}): No such file or directory \n')
        _move_capped(ctx, built, final)
        _track_public(ctx, final)
        io.write(f"{ctx.platform_path(final)}\n")
        return 0
    finally:
        for leftover in work_dir.glob("*"):
            leftover.unlink(missing_ok=True)
        work_dir.rmdir()


def _track_public(ctx, final):
    """An archive written into files/ is public from now on: the request log says so (channel
    ``archive``), and says when it is gone."""
    if ctx.in_files(final):
        rel = Path(os.path.realpath(final)).relative_to(os.path.realpath(ctx.paths.files)).as_posix()
        ctx.store.track_public_file(os.path.realpath(final), f"/{content.files_path(ctx.framework)}/{rel}")


def _move_capped(ctx, src, dest):
    """Move a finished archive into place; a copy into files/ is subject to the size limit."""
    limit = ctx.max_file_bytes() if ctx.in_files(dest) else 0
    if not limit or src.stat().st_size < limit:
        os.replace(src, dest)
        return
    from pantheon_emulator.ssh.envctx import CappedWriter  # pylint: disable=import-outside-toplevel
    with open(src, "rb") as fh, open(dest, "wb") as raw:
        out = CappedWriter(raw, limit)
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                out.write(chunk)
        except LimitReached:
            raise too_large_disconnect(ctx) from None


def _ard(ctx, major, args, opts, io):
    return _ard8(ctx, major, args, opts, io) if major == 8 else _ard12(ctx, major, args, opts, io)


HANDLERS = {
    "archive-dump": _ard, "archive:dump": _ard,
    "core-status": _status, "core:status": _status,
    "sql-query": _sql_query, "sql:query": _sql_query,
    "sql-cli": _sql_cli, "sql:cli": _sql_cli,
    "sql-dump": _sql_dump, "sql:dump": _sql_dump,
    "sql-drop": _sql_drop, "sql:drop": _sql_drop,
    "cache-clear": _cache_clear, "cache:clear": _cache_clear,
    "cache:rebuild": _cache_rebuild,
    "version": _version_cmd,
}
