"""``wp`` (WP-CLI) on a WordPress appserver: core, db, option, search-replace, cache.

Output follows WP-CLI: results and ``Success:`` lines on stdout, ``Error:`` lines on stderr
with exit status 1.
"""

from __future__ import annotations

import fnmatch
import json
import re

import pymysql

from pantheon_emulator import content, mariadb
from pantheon_emulator.ssh import phpser
from pantheon_emulator.ssh.channel import CommandError
from pantheon_emulator.ssh.envctx import (
    LimitReached, apply_sql, drop_all_tables, run_query, spool_stdin, stream_dump, too_large_disconnect,
    write_dump_file)

WP_CLI_VERSION = "2.11.0"
GLOBAL_OPTIONS = {"url", "path", "user", "skip-plugins", "skip-themes", "skip-packages", "require", "exec",
                  "context", "color", "no-color", "debug", "prompt", "quiet", "allow-root", "ssh", "http"}
COMMANDS = ("core is-installed", "core version", "db query", "db import", "db export", "db reset", "db tables",
            "db size", "option get", "search-replace", "cache flush", "cli version")


def parse_args(words):
    args, opts = [], {}
    for word in words:
        if word.startswith("--") and len(word) > 2:
            name, sep, value = word[2:].partition("=")
            opts[name] = value if sep else True
        else:
            args.append(word)
    return args, opts


def command_label(argv):
    """``wp <command> [<subcommand>]`` for the request log, never arguments."""
    args, opts = parse_args(argv[1:])
    if opts.get("version") and not args:
        return "wp --version"
    for cmd in COMMANDS:
        words = cmd.split()
        if args[:len(words)] == words:
            return f"wp {cmd}"
    return "wp"


def error(text):
    return CommandError(f"Error: {text}\n")


def table_prefix(db_path):
    """The WordPress table prefix, from the ``<prefix>options`` table ("wp_" by default)."""
    try:
        tables = content.db_tables(db_path)
    except content.ContentError:
        return "wp_"
    if "wp_options" in tables:
        return "wp_"
    for name in sorted(tables):
        if name.endswith("options") and not name.endswith("_sitemeta"):
            return name[:-len("options")]
    return "wp_"


def run(ctx, argv, io):
    args, opts = parse_args(argv[1:])
    if not args:
        if opts.get("version"):
            io.write(f"WP-CLI {WP_CLI_VERSION}\n")
            return 0
        io.write("usage: wp <command>\n")
        return 0
    for consumed in (2, 1):
        handler = HANDLERS.get(tuple(args[:consumed]))
        if handler is not None:
            return handler(ctx, args[consumed:], opts, io)
    raise error(f"'{' '.join(args[:2])}' is not a registered wp command. See 'wp help' for available commands.")


# ---------------------------------------------------------------------- core / cli
def is_installed(db_path):
    prefix = table_prefix(db_path)
    try:
        _cols, rows = content.query(db_path, f"SELECT option_value FROM `{prefix}options` WHERE option_name = 'siteurl'")
    except content.ContentError:
        return False
    return bool(rows)


def _core_is_installed(ctx, args, opts, io):
    return 0 if is_installed(ctx.paths.db) else 1


def _core_version(ctx, args, opts, io):
    path = ctx.paths.code / "wp-includes" / "version.php"
    version = "6.6.2"
    if path.is_file():
        m = re.search(r"\$wp_version\s*=\s*'([^']+)'", path.read_text(errors="replace"))
        if m:
            version = m.group(1)
    io.write(version + "\n")
    return 0


def _cli_version(ctx, args, opts, io):
    io.write(f"WP-CLI {WP_CLI_VERSION}\n")
    return 0


# ---------------------------------------------------------------------- db
def _db_query(ctx, args, opts, io):
    if args:
        sql = args[0]
    else:
        spool = spool_stdin(io, ctx, ".wpq-")
        try:
            sql = spool.read_bytes()
        finally:
            spool.unlink(missing_ok=True)
    if not sql.strip():
        raise error("No query given.")
    io.write(run_query(ctx.paths.db, sql, header=not opts.get("skip-column-names")))
    return 0


def _db_import(ctx, args, opts, io):
    source = args[0] if args else "-"
    if source == "-":
        spool = spool_stdin(io, ctx, ".wpi-")
        try:
            apply_sql(ctx.paths.db, spool)
        finally:
            spool.unlink(missing_ok=True)
        io.write("Success: Imported from 'STDIN'.\n")
        return 0
    path = ctx.resolve_user_path(source, "Import file")
    if not path.is_file():
        raise error(f"Import file missing or not readable: {source}")
    apply_sql(ctx.paths.db, path)
    io.write(f"Success: Imported from '{source}'.\n")
    return 0


def _db_export(ctx, args, opts, io):
    target = args[0] if args else None
    if target in (None, "-"):
        if target is None:
            raise error("Exporting to a file name chosen by WP-CLI is not supported here; give '-' or a file name.")
        stream_dump(ctx.paths.db, io)
        return 0
    path = ctx.resolve_user_path(target, "Export file")
    limit = ctx.max_file_bytes() if ctx.in_files(path) else 0
    try:
        write_dump_file(ctx.paths.db, path, None, limit)
    except LimitReached:
        raise too_large_disconnect(ctx) from None
    io.write(f"Success: Exported to '{target}'.\n")
    return 0


def _db_reset(ctx, args, opts, io):
    if not opts.get("yes"):
        raise error("Refusing to reset the database without --yes (no interactive prompt over this connection).")
    drop_all_tables(ctx.paths.db)
    io.write("Success: Database reset.\n")
    return 0


def _db_tables(ctx, args, opts, io):
    try:
        tables = content.db_tables(ctx.paths.db)
    except content.ContentError as exc:
        raise error(str(exc)) from None
    prefix = table_prefix(ctx.paths.db)
    names = sorted(tables) if opts.get("all-tables") else sorted(t for t in tables if t.startswith(prefix))
    io.write("".join(n + "\n" for n in names))
    return 0


# wp-cli/db-command DB_Command::size(): the unit a --size_format divides by (b and B: none; lowercase and the
# *iB forms count 1024, uppercase ISO ones 1000) and the unit it prints (upper case, "IB" written "iB")
_SIZE_DIVISORS = {"b": 1, "B": 1, "kb": 1024, "KiB": 1024, "mb": 1024 ** 2, "MiB": 1024 ** 2, "gb": 1024 ** 3,
                  "GiB": 1024 ** 3, "tb": 1024 ** 4, "TiB": 1024 ** 4, "KB": 1000, "MB": 1000 ** 2,
                  "GB": 1000 ** 3, "TB": 1000 ** 4}


def _db_size(ctx, args, opts, io):
    """``wp db size`` of the whole database (not ``--tables``): a bare number with ``--size_format``
    and no ``--format``, else a Name/Size row ("N B" without ``--size_format``) as ``--format``
    renders it (table output, piped, is tab-separated)."""
    size_format, fmt = opts.get("size_format"), opts.get("format")
    if size_format is not None and opts.get("human-readable"):
        raise error("Cannot use --size_format and --human-readable arguments at the same time.")
    if size_format is not None and size_format not in _SIZE_DIVISORS:
        raise error("Parameter errors:\n Invalid value specified for 'size_format' (Display the database size only, "
                    "as a bare number.)")
    size = ctx.paths.db.size()
    value = f"{size} B"
    if size_format is not None:
        decimals = int(opts.get("decimals") or 0)
        scale = 10 ** decimals  # PHP's round(): halves away from zero
        number = int(size * scale / _SIZE_DIVISORS[size_format] + 0.5) / scale
        number = int(number) if decimals == 0 else number
        display = re.sub("IB$", "iB", size_format.upper())
        if not fmt:
            io.write(f"{number}\n")
            return 0
        value = f"{number} {display}"
    name = "pantheon"  # DB_NAME on the platform (the emulator's schema name is per environment)
    if fmt == "json":
        io.write(json.dumps([{"Name": name, "Size": value}]) + "\n")
    elif fmt == "csv":
        io.write(f"Name,Size\n{name},\"{value}\"\n" if " " in value else f"Name,Size\n{name},{value}\n")
    else:
        io.write(f"Name\tSize\n{name}\t{value}\n")
    return 0


# ---------------------------------------------------------------------- options / cache
def _option_get(ctx, args, opts, io):
    if not args:
        raise error("Please provide the option name.")
    prefix = table_prefix(ctx.paths.db)
    try:
        _cols, rows = content.query(ctx.paths.db, f'SELECT option_value FROM `{prefix}options` WHERE option_name = %s',
                                    (args[0],))
    except content.ContentError as exc:
        raise error(f"Error establishing a database connection ({exc})") from None
    if not rows:
        raise error(f"Could not get '{args[0]}' option. Does it exist?")
    value = rows[0][0]
    value = value.decode("utf-8", "replace") if isinstance(value, bytes) else ("" if value is None else str(value))
    parsed = None
    if phpser.looks_serialized(value):
        try:
            parsed = phpser.to_python(phpser.parse(value.encode()))
        except phpser.NotSerialized:
            parsed = None
    if opts.get("format") == "json":
        io.write(json.dumps(parsed if parsed is not None else value) + "\n")
    elif isinstance(parsed, (dict, list)):
        io.write(json.dumps(parsed, indent=4) + "\n")
    else:
        io.write(f"{parsed if parsed is not None else value}\n")
    return 0


def _cache_flush(ctx, args, opts, io):
    io.write("Success: The cache was flushed.\n")
    return 0


# ---------------------------------------------------------------------- search-replace
_NUMERIC_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float",
                  "double", "real", "bit", "year"}


def _columns(cur, schema, table):
    """[(column, numeric, is_binary)] and the primary key columns of a table (information_schema)."""
    cur.execute("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (schema, table))
    cols, keys = [], []
    for name, dtype, key in cur.fetchall():
        dtype = dtype.lower()
        cols.append((name, dtype in _NUMERIC_TYPES, "blob" in dtype or "binary" in dtype))
        if key == "PRI":
            keys.append(name)
    return cols, keys


def search_replace(db, old, new, tables=None, all_tables=False, dry_run=False, skip_columns=(),
                   include_columns=()):
    """Replace ``old`` with ``new`` in every text value of the selected tables (serialized PHP
    values keep valid lengths), row by row through the primary key as WP-CLI's
    ``Search_Replace_Command`` does (tables without one are skipped). Returns a list of
    (table, column, rows changed, type)."""
    report = []
    q = mariadb.quote_name
    try:
        existing = sorted(content.db_tables(db))
        prefix = table_prefix(db)
        if tables:
            chosen = [t for t in existing if any(fnmatch.fnmatchcase(t, pat) for pat in tables)]
        elif all_tables:
            chosen = existing
        else:
            chosen = [t for t in existing if t.startswith(prefix)]
        conn = db.connect(autocommit=False)
    except content.ContentError as exc:
        raise error(f"Database error: {exc}") from None
    try:
        with conn.cursor() as cur:
            for table in chosen:
                columns, keys = _columns(cur, db.name, table)
                if not keys:
                    continue
                for column, numeric, binary in columns:
                    if column in skip_columns or (include_columns and column not in include_columns):
                        continue
                    changed = 0
                    kind = "SQL"
                    if not numeric:
                        key_list = ", ".join(q(k) for k in keys)
                        cur.execute(f"SELECT {key_list}, {q(column)} FROM {q(table)} WHERE "
                                    f"INSTR(CAST({q(column)} AS BINARY), CAST(%s AS BINARY)) > 0", (old,))
                        for row in cur.fetchall():
                            value = row[-1]
                            if isinstance(value, bytes):
                                try:
                                    value = value.decode("utf-8")
                                except UnicodeDecodeError:
                                    continue
                            if not isinstance(value, str) or old not in value:
                                continue
                            updated, serialized = phpser.replace(value, old, new)
                            if serialized:
                                kind = "PHP"
                            if updated != value:
                                changed += 1
                                if not dry_run:
                                    where = " AND ".join(f"{q(k)} = %s" for k in keys)
                                    cur.execute(f"UPDATE {q(table)} SET {q(column)} = %s WHERE {where}",
                                                (updated.encode("utf-8") if binary else updated, *row[:-1]))
                    if not numeric or changed:
                        report.append((table, column, changed, kind))
        if dry_run:
            conn.rollback()
        else:
            conn.commit()
    except pymysql.MySQLError as exc:
        conn.rollback()
        raise error(f"Database error: {mariadb.error_text(exc)}") from None
    finally:
        conn.close()
    return report


def _like_escape(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_replace(ctx, args, opts, io):
    if len(args) < 2:
        raise error("Please specify the old and new strings: wp search-replace <old> <new> [<table>...]")
    old, new, tables = args[0], args[1], args[2:]
    if old == "":
        raise error("The search string cannot be empty.")
    if not is_installed(ctx.paths.db):
        raise error("The site you have requested is not installed.")
    dry_run = bool(opts.get("dry-run"))

    def csv(name):
        value = opts.get(name)
        return tuple(v for v in value.split(",") if v) if isinstance(value, str) else ()
    report = search_replace(ctx.paths.db, old, new, tables=tables,
                            all_tables=bool(opts.get("all-tables") or opts.get("all-tables-with-prefix")),
                            dry_run=dry_run, skip_columns=csv("skip-columns"), include_columns=csv("include-columns"))
    total = sum(r[2] for r in report)
    if opts.get("format") == "count":
        io.write(f"{total}\n")
        return 0
    if opts.get("report-changed-only"):
        report = [r for r in report if r[2]]
    if not opts.get("report") == "false":
        io.write(_ascii_table(["Table", "Column", "Replacements", "Type"], report))
    io.write(f"Success: {total} replacement{'s' if total != 1 else ''} to be made.\n" if dry_run
             else f"Success: Made {total} replacement{'s' if total != 1 else ''}.\n")
    return 0


def _ascii_table(headers, rows):
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+\n"

    def line(values):
        return "|" + "|".join(f" {v:<{w}} " for v, w in zip(values, widths)) + "|\n"
    return sep + line(headers) + sep + "".join(line(r) for r in cells) + sep


HANDLERS = {
    ("core", "is-installed"): _core_is_installed,
    ("core", "version"): _core_version,
    ("cli", "version"): _cli_version,
    ("db", "query"): _db_query,
    ("db", "import"): _db_import,
    ("db", "export"): _db_export,
    ("db", "reset"): _db_reset,
    ("db", "tables"): _db_tables,
    ("db", "size"): _db_size,
    ("option", "get"): _option_get,
    ("cache", "flush"): _cache_flush,
    ("search-replace",): _search_replace,
}
