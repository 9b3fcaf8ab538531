"""The emulator's SSH side with the real OpenSSH client: key authentication, drush (Drush 8 and
Drush 12), wp, and the request log. Transfers are in test_ssh_transfer.py, limits and faults in
test_ssh_limits.py."""

from __future__ import annotations

import io
import json
import re
import secrets
import subprocess
import tarfile
import time

import pytest

from pantheon_emulator import content
from pantheon_emulator.ssh import phpser
from pantheon_emulator.ssh.testing import SSHClients, clients, env_dir, seed_site  # noqa: F401  # pylint: disable=unused-import


def undated(dump):
    """A dump without mysqldump's last line (the time it completed)."""
    return re.sub(rb"\n-- Dump completed on [^\n]*\n", b"\n", dump)


# mysqldump's first lines (MariaDB 10.11.8+ writes the sandbox-mode comment before its header)
DUMP_HEADER = re.compile(r"^(/\*M!999999\\- enable the sandbox mode \*/ ?\n)?-- (MariaDB|MySQL) dump \d+\.\d+")


@pytest.fixture(scope="module")
def d7(emulator):
    """A Drupal 7 site with files (dev only)."""
    return seed_site(emulator, "d7", 11, db={"nodes": 12},
                     files={"count": 6, "size": 3000, "depth": 2, "folders": 2, "unicode": True})


@pytest.fixture(scope="module")
def d10(emulator):
    return seed_site(emulator, "d10", 12, "drupal8", files={"count": 4, "size": 2000})


@pytest.fixture(scope="module")
def wp(emulator):
    return seed_site(emulator, "wp", 13, "wordpress")


def out(res):
    return res.stdout.decode("utf-8", "replace")


def err(res):
    return res.stderr.decode("utf-8", "replace")


def table_count(clients, site, table, user=None):
    res = clients.ssh(user or clients.app_user(site["id"]), f"drush sqlq 'SELECT COUNT(*) FROM {table}'")
    assert res.returncode == 0, err(res)
    return int(out(res).strip())


# ====================================================================== authentication
def test_trusted_key_is_accepted_and_others_refused(emulator, clients, d7, tmp_path):
    ok = clients.ssh(clients.app_user(d7["id"]), "drush status")
    assert ok.returncode == 0, err(ok)
    assert "Drupal bootstrap" in out(ok)

    other_key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    refused = SSHClients(emulator, private_key=other_key).ssh(clients.app_user(d7["id"]), "drush status")
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in err(refused)

    no_key = clients.ssh(clients.app_user(d7["id"]), "drush status",
                         extra=["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,"
                                "keyboard-interactive"])
    assert no_key.returncode == 255
    assert "Permission denied" in err(no_key)


def test_user_forms_and_unknown_targets(clients, d7):
    for user in (f"dev.{d7['id']}", f"appserver.dev.{d7['id']}"):
        res = clients.ssh(user, "drush status --format=json")
        assert res.returncode == 0, err(res)
        assert re.fullmatch(r"/srv/bindings/[0-9a-f]{32}/code", json.loads(out(res))["root"])
    missing_env = clients.ssh(f"appserver.live.{d7['id']}", "drush status")
    assert missing_env.returncode == 1
    assert "No Pantheon site or environment matches the SSH user" in err(missing_env)
    missing_site = clients.ssh("dev.00000000-0000-4000-8000-000000000000", "drush status")
    assert missing_site.returncode == 1 and "appserver.live" not in err(missing_site)


def test_commands_outside_the_allow_list_are_refused(clients, d7, wp):
    user = clients.app_user(d7["id"])
    for command in ("ls -la", "cat /etc/passwd", "bash -c id", "drush status; id", "drush status && id",
                    "drush sqlq \"$(id)\""):
        res = clients.ssh(user, command)
        assert res.returncode == 127, (command, err(res))
        assert "command not allowed" in err(res), command
    assert clients.ssh(user, "wp core is-installed").returncode == 127
    assert clients.ssh(clients.app_user(wp["id"]), "drush status").returncode == 127
    shell = clients.ssh(user, "")
    assert shell.returncode != 0
    git = clients.ssh(user, "git-upload-pack '~/repository.git'")
    assert git.returncode == 127 and "codeserver" in err(git)
    code = clients.ssh(f"codeserver.dev.{d7['id']}", "drush status")
    assert code.returncode == 127 and "only serves git" in err(code)


# ====================================================================== drush 8
def test_drush8_status_version_and_terminus_quoting(clients, d7):
    user = clients.app_user(d7["id"])
    # exactly what Terminus sends: TRACE_ID prefix, escapeshellarg quoting
    res = clients.ssh(user, "TRACE_ID=8f3a_c1 drush status '--format=json'")
    assert res.returncode == 0, err(res)
    status = json.loads(out(res))
    assert status["drush-version"].startswith("8.")
    assert status["bootstrap"] == "Successful"
    assert status["db-status"] == "Connected"
    assert status["drupal-version"].startswith("7.")
    for command in ("drush version", "drush --version"):
        res = clients.ssh(user, command)
        assert res.returncode == 0 and "8.4" in out(res), command
    quoted = clients.ssh(user, "TRACE_ID=x drush sqlq 'SELECT title FROM node WHERE title LIKE '\\''%#3'\\'''")
    assert quoted.returncode == 0, err(quoted)
    assert out(quoted).strip().endswith("#3")
    unknown = clients.ssh(user, "drush frobnicate")
    assert unknown.returncode == 1 and "could not be found" in err(unknown)


def _read_tgz(path):
    with tarfile.open(path, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        manifest = tar.extractfile(members["MANIFEST.ini"]).read().decode() if "MANIFEST.ini" in members else None
        sql = [n for n in members if n.endswith(".sql") and "/" not in n]
        # mysqldump output is bytes (binary columns are not UTF-8); keep them through surrogateescape
        sql_text = tar.extractfile(members[sql[0]]).read().decode("utf-8", "surrogateescape") if len(sql) == 1 else None
    return members, manifest, sql, sql_text


def test_drush8_archive_dump_layout_with_files(emulator, clients, d7):
    user = clients.app_user(d7["id"])
    name = secrets.token_hex(20) + ".tgz"
    res = clients.ssh(user, f"TRACE_ID=t drush ard '--destination=code/sites/default/files/{name}'")
    assert res.returncode == 0, err(res)
    archive = env_dir(emulator, d7["id"]) / "files" / name
    assert archive.is_file()
    members, manifest, sql, sql_text = _read_tgz(archive)
    assert manifest.startswith("[Global]") and "\n[default]\n" in manifest
    assert 'database-default-file = "pantheon.sql"' in manifest and 'sitedir = "sites/default"' in manifest
    assert re.search(r'\ndocroot = "/srv/bindings/[0-9a-f]{32}/code"\n', manifest)
    assert 'description' not in manifest, "drush_export_ini() leaves out empty values"
    assert sql == ["pantheon.sql"]
    assert DUMP_HEADER.match(sql_text) and "CREATE TABLE `node` (" in sql_text
    assert sql_text.count("INSERT INTO `node` VALUES") == 1, "mysqldump --opt writes extended inserts"
    assert all(f"({nid},{nid},'article'," in sql_text for nid in range(1, 13))
    assert "code/index.php" in members and "code/includes/bootstrap.inc" in members
    assert "code/.gitignore" in members
    assert not any(n == "code/.git" or n.startswith("code/.git/") for n in members)
    files = env_dir(emulator, d7["id"]) / "files"
    seeded = [p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file() and p.name != name]
    assert seeded
    for rel in seeded:
        assert f"code/sites/default/files/{rel}" in members, rel
    assert not any(n.endswith(name) for n in members), "the archive must not contain itself"
    # emulator-core's importer accepts it as a Drush 8 archive
    parsed = content.Drush8Archive(archive)
    assert parsed.docroot == "code" and parsed.sql_name == "pantheon.sql"

    again = clients.ssh(user, f"drush ard --destination=code/sites/default/files/{name}")
    assert again.returncode == 1 and "--overwrite" in err(again)
    before = archive.stat().st_mtime_ns
    time.sleep(0.01)
    over = clients.ssh(user, f"drush ard --overwrite --destination=code/sites/default/files/{name}")
    assert over.returncode == 0, err(over)
    assert archive.stat().st_mtime_ns != before
    assert not list(files.glob("pantheon.*.tar")), "the working tar is removed after success"
    archive.unlink()


def test_drush8_archive_dump_without_files(emulator, clients, d7):
    name = secrets.token_hex(20) + ".tgz"
    res = clients.ssh(clients.app_user(d7["id"]),
                      f"drush ard '--tar-options=--exclude=code/sites/default/files' "
                      f"'--destination=code/sites/default/files/{name}'")
    assert res.returncode == 0, err(res)
    archive = env_dir(emulator, d7["id"]) / "files" / name
    members, manifest, sql, _layout = _read_tgz(archive)
    assert manifest and sql == ["pantheon.sql"]
    assert "code/index.php" in members and "code/sites/default/settings.php" in members
    assert not any(n.startswith("code/sites/default/files") for n in members)
    archive.unlink()
    bad = clients.ssh(clients.app_user(d7["id"]), "drush ard '--tar-options=--to-command=id' --destination=/tmp/x.tgz")
    assert bad.returncode == 1 and "not supported" in err(bad)
    outside = clients.ssh(clients.app_user(d7["id"]), "drush ard --destination=/etc/x.tgz")
    assert outside.returncode == 1 and "not writable" in err(outside)


def test_archive_destinations_resolved_as_drush_resolves_them(emulator, clients, d7, d10):
    """Drush 8 (drush_archive_dump): a relative --destination is taken from the directory Drush
    started in, the SSH home; Drush 11+ (ArchiveDumpCommands) from the Drupal root, where
    DrupalBoot::bootstrapDrupalRoot() chdir'ed, and without creating the directory."""
    home = env_dir(emulator, d7["id"])
    web = emulator.web_url(d7["id"], "dev")
    http = emulator.http()
    user = clients.app_user(d7["id"])
    # The form of PR #2563's review: written to <home>/sites/default/files/, not served.
    stray = secrets.token_hex(20) + ".tgz"
    res = clients.ssh(user, f"drush ard '--destination=sites/default/files/{stray}'")
    assert res.returncode == 0, err(res)
    assert re.search(rf"Archive saved to /srv/bindings/[0-9a-f]{{32}}/sites/default/files/{stray}\s", err(res))
    assert (home / "sites" / "default" / "files" / stray).is_file()
    assert not (home / "files" / stray).exists()
    assert http.get(f"{web}/sites/default/files/{stray}", timeout=30).status_code == 404
    # The clone procedure's form: into the files mount, served.
    good = secrets.token_hex(20) + ".tgz"
    res = clients.ssh(user, f"drush ard '--destination=code/sites/default/files/{good}' --pipe")
    assert res.returncode == 0, err(res)
    # realpath() of the destination's directory: code/sites/default/files is a link to files/
    binding = re.fullmatch(r"/srv/bindings/([0-9a-f]{32})/files/" + good, out(res).strip()).group(1)
    got = http.get(f"{web}/sites/default/files/{good}", timeout=30)
    assert got.status_code == 200 and got.content == (home / "files" / good).read_bytes()
    # An absolute path under the binding is the same place; another binding is not writable.
    again = clients.ssh(user, f"drush ard --overwrite --destination=/srv/bindings/{binding}/code/sites/default/files/{good}")
    assert again.returncode == 0, err(again)
    other = clients.ssh(user, f"drush ard --destination=/srv/bindings/{'0' * 32}/x.tgz")
    assert other.returncode == 1 and "not writable" in err(other)
    (home / "files" / good).unlink()
    (home / "sites" / "default" / "files" / stray).unlink()

    # Drush 11+: the code/ form names <root>/code/sites/default/files/, which does not exist.
    user12 = clients.app_user(d10["id"])
    name = secrets.token_hex(20) + ".tar.gz"
    res = clients.ssh(user12, f"drush archive:dump --db --destination=code/sites/default/files/{name}")
    assert res.returncode == 1 and "No such file or directory" in err(res)
    assert not list(env_dir(emulator, d10["id"]).rglob(name))
    res = clients.ssh(user12, f"drush archive:dump --db --destination=sites/default/files/{name}")
    assert res.returncode == 0, err(res)
    served = http.get(f"{emulator.web_url(d10['id'], 'dev')}/sites/default/files/{name}", timeout=30)
    assert served.status_code == 200
    (env_dir(emulator, d10["id"]) / "files" / name).unlink()


def test_drush8_archive_without_sites_directory(emulator, clients, d7):
    """The fault drush_sitedir_unknown: Drush 8 warns "Unable to determine sites directory for
    self" and the archive has no sites/default but default.settings.php (Terminus #2580)."""
    user = clients.app_user(d7["id"])
    name = secrets.token_hex(20) + ".tgz"
    emulator.faults({"match": {"channel": "ssh", "path": "drush.* (ard|archive-dump) "},
                     "action": {"drush_sitedir_unknown": True}, "times": 1})
    try:
        res = clients.ssh(user, f"drush ard '--destination=code/sites/default/files/{name}'")
    finally:
        emulator.clear_faults()
    assert res.returncode == 0, err(res)
    assert "Unable to determine sites directory for self" in err(res)
    archive = env_dir(emulator, d7["id"]) / "files" / name
    members, manifest, sql, _sql_text = _read_tgz(archive)
    assert sql == ["pantheon.sql"] and "code/index.php" in members
    in_default = sorted(n for n in members if n.startswith("code/sites/default"))
    assert in_default == ["code/sites/default/default.settings.php"]
    assert "sitedir" not in manifest and "[default]" not in manifest and "files-public" not in manifest
    assert 'database-default-file = "pantheon.sql"' in manifest
    names = list(members)
    assert names.index("MANIFEST.ini") < names.index("code/sites/default/default.settings.php")
    archive.unlink()


def test_drush_status_shows_platform_paths_and_each_drush_labels(emulator, clients, d7, d10):
    data_dir = str(emulator.data_dir)
    roots = {}
    for site, labels, absent in ((d7, ("Drupal root", "File directory path", "Drush temp directory", "PHP executable"),
                                  ("DB driver", "Files, Public")),
                                 (d10, ("Drupal root", "DB driver", "DB hostname", "Files, Public", "Files, Temp",
                                        "Drush temp", "PHP version"), ("Database driver", "File directory path"))):
        user = clients.app_user(site["id"])
        table = out(clients.ssh(user, "drush status"))
        status = json.loads(out(clients.ssh(user, "drush status --format=json")))
        assert data_dir not in table and data_dir not in json.dumps(status), "a host path of the emulator"
        rows = dict(re.match(r"^ (.+?)\s+:\s+(.*?)\s*$", line).groups() for line in table.splitlines())
        for label in labels:
            assert label in rows, (label, sorted(rows))
        for label in absent:
            assert label not in rows, label
        roots[site["id"]] = status["root"]
        assert re.fullmatch(r"/srv/bindings/[0-9a-f]{32}/code", status["root"]) and rows["Drupal root"] == status["root"]
        assert status["temp"] == "/tmp" and status["drush-temp"] == "/tmp" and status["site"] == "sites/default"
    assert len(set(roots.values())) == 2, "each environment has its own binding"
    assert "php-version" not in json.loads(out(clients.ssh(clients.app_user(d7["id"]), "drush status --format=json")))


def test_drush8_sql_cli_import_and_broken_streams(emulator, clients, d7):
    user = clients.app_user(d7["id"])
    dump = clients.ssh(user, "drush sql-dump")
    assert dump.returncode == 0, err(dump)
    assert DUMP_HEADER.match(dump.stdout.decode("utf-8", "surrogateescape")), dump.stdout[:100]
    gz = clients.ssh(user, "drush sql-dump --gzip")
    import gzip  # pylint: disable=import-outside-toplevel
    assert undated(gzip.decompress(gz.stdout)) == undated(dump.stdout)

    assert clients.ssh(user, "drush sqlc", input=b"DELETE FROM node WHERE nid > 2;\n").returncode == 0
    assert table_count(clients, d7, "node") == 2

    assert clients.ssh(user, "drush sqlc", input=b"DELETE FROM variable WHERE name = 'site_mail';\n").returncode == 0
    variables = table_count(clients, d7, "variable")
    # A dump that breaks after the node table: mysql stops at the error with MariaDB's message,
    # and what ran before it stays (not transactional, as on the platform).
    end_of_node = dump.stdout.index(b"UNLOCK TABLES;", dump.stdout.index(b"LOCK TABLES `node` WRITE;"))
    broken = dump.stdout[:end_of_node] + b"UNLOCK TABLES;\nINSERT INTO `system` VALUES ('x',;\n" \
        + dump.stdout[end_of_node:]
    res = clients.ssh(user, "drush sql-cli", input=broken)
    assert res.returncode != 0 and re.search(r"ERROR 1064 \(42000\) at line \d+: You have an error in your SQL syntax",
                                             err(res)), err(res)
    assert table_count(clients, d7, "node") == 12, "the statements before the error were applied"
    assert table_count(clients, d7, "variable") == variables, "the ones after it were not"
    assert clients.ssh(user, "drush sqlc", input=b"DELETE FROM node WHERE nid > 2;\n").returncode == 0

    # a client that dies in the middle of the stream changes nothing either
    proc = clients.popen(user, "drush sql-cli", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    proc.stdin.write(dump.stdout[:len(dump.stdout) // 2])
    proc.stdin.flush()
    time.sleep(0.3)
    proc.kill()
    proc.communicate()
    time.sleep(0.3)
    assert table_count(clients, d7, "node") == 2

    full = clients.ssh(user, "drush sqlc", input=dump.stdout)
    assert full.returncode == 0, err(full)
    assert table_count(clients, d7, "node") == 12


def test_drush8_cache_clear(emulator, clients, d7):
    user = clients.app_user(d7["id"])
    assert clients.ssh(user, "drush sqlc", input=b"INSERT INTO cache (cid, data, expire, created) "
                                                 b"VALUES ('x', 'y', 0, 0);\n").returncode == 0
    assert table_count(clients, d7, "cache") > 0
    res = clients.ssh(user, "drush cc all")
    assert res.returncode == 0 and "'all' cache was cleared" in err(res)
    assert table_count(clients, d7, "cache") == 0


# ====================================================================== drush 12
def test_drush12_status_and_cache_rebuild(clients, d10):
    user = clients.app_user(d10["id"])
    status = json.loads(out(clients.ssh(user, "drush st --format=json")))
    assert status["drush-version"].startswith("12.") and status["bootstrap"] == "Successful"
    assert status["drupal-version"].startswith("1")
    assert "Cache rebuild complete" in err(clients.ssh(user, "drush cr"))
    res = clients.ssh(user, "drush sql:query 'SELECT COUNT(*) FROM node'")
    assert res.returncode == 0 and int(out(res)) > 0
    assert clients.ssh(user, "drush cc all").returncode == 1
    assert "12." in out(clients.ssh(user, "drush version"))


def test_drush12_archive_dump_layout(emulator, clients, d10, tmp_path):
    user = clients.app_user(d10["id"])
    # Drush 11+ refuses to archive a settings.php that holds database credentials
    settings = tmp_path / "settings.php"
    settings.write_text("<?php\n$databases['default']['default'] = array('database' => 'x', 'password' => 'p');\n")
    up = clients.rsync("-rt", settings, clients.remote(user, "code/sites/default/settings.php"))
    assert up.returncode == 0, up.stderr
    refused = clients.ssh(user, "drush archive:dump --destination=sites/default/files/a.tar.gz")
    assert refused.returncode == 1 and "Found database connection settings" in err(refused)

    # destinationCleanup(): a name without .tar/.tar.gz is a directory; rename() does not create it
    missing = clients.ssh(user, "drush ard --exclude-code-paths=sites/default/settings.php "
                                "--destination=sites/default/files/arch")
    assert missing.returncode == 1 and "No such file or directory" in err(missing)
    assert not (env_dir(emulator, d10["id"]) / "files" / "arch").exists()
    res = clients.ssh(user, "drush ard --exclude-code-paths=sites/default/settings.php "
                            "--destination=sites/default/files/")
    assert res.returncode == 0, err(res)
    archive = env_dir(emulator, d10["id"]) / "files" / "archive.tar.gz"
    # realpath(): code/sites/default/files is a link to files/
    assert re.fullmatch(r"/srv/bindings/[0-9a-f]{32}/files/archive\.tar\.gz", out(res).strip())
    assert archive.is_file()
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        manifest = tar.extractfile("MANIFEST.yml").read().decode()
        sql = tar.extractfile("database/database.sql").read().decode("utf-8", "surrogateescape")
    assert "generator: 'Drush archive:dump'" in manifest and "database: true" in manifest
    assert any(n.startswith("code/") for n in names) and "code/index.php" in names
    assert any(n.startswith("files/") for n in names)
    assert DUMP_HEADER.match(sql) and "CREATE TABLE `node` (" in sql
    assert not any(n.startswith(("code/.git/", "code/vendor/")) for n in names)
    assert "code/sites/default/settings.php" not in names
    assert not any(n.startswith("code/sites/default/files") for n in names)

    db_only = clients.ssh(user, "drush ard --db --overwrite --destination=sites/default/files/archive.tar")
    assert db_only.returncode == 0, err(db_only)
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
    assert sorted(names) == ["MANIFEST.yml", "database/database.sql"]
    exists = clients.ssh(user, "drush ard --db --destination=sites/default/files/archive.tar.gz")
    assert exists.returncode == 1 and "already exists" in err(exists)
    archive.unlink()


# ====================================================================== wp
def test_wp_core_option_query_export_import(clients, wp):
    user = clients.app_user(wp["id"])
    assert clients.ssh(user, "wp core is-installed").returncode == 0
    siteurl = out(clients.ssh(user, "wp option get siteurl")).strip()
    assert siteurl.startswith("https://dev-")
    missing = clients.ssh(user, "wp option get no_such_option")
    assert missing.returncode == 1 and "Could not get 'no_such_option' option" in err(missing)
    query = clients.ssh(user, "wp db query 'SELECT option_name FROM wp_options WHERE option_name = '\\''home'\\'''")
    assert out(query).splitlines() == ["option_name", "home"]

    dump = clients.ssh(user, "wp db export -")
    assert dump.returncode == 0 and b"CREATE TABLE `wp_options` (" in dump.stdout
    reset = clients.ssh(user, "wp db reset --yes")
    assert reset.returncode == 0
    assert clients.ssh(user, "wp core is-installed").returncode == 1
    imported = clients.ssh(user, "wp db import -", input=dump.stdout)
    assert imported.returncode == 0 and "Success: Imported from 'STDIN'." in out(imported)
    assert clients.ssh(user, "wp core is-installed").returncode == 0
    assert out(clients.ssh(user, "wp option get siteurl")).strip() == siteurl
    assert "Success" in out(clients.ssh(user, "wp cache flush"))


def test_wp_search_replace_keeps_serialized_lengths(clients, wp):
    user = clients.app_user(wp["id"])
    old = out(clients.ssh(user, "wp option get home")).strip()
    host = old.split("://", 1)[1]
    new_host = "clone-target.example.org"
    value = phpser.dump(("a", [(("s", b"url"), ("s", old.encode())), (("s", b"n"), ("raw", b"i:3;"))])).decode()
    insert = clients.ssh(user, "wp db query", input=(
        "INSERT INTO wp_options (option_name, option_value, autoload) VALUES ('emu_serialized', '"
        + value.replace("'", "''") + "', 'yes');").encode())
    assert insert.returncode == 0, err(insert)

    dry = clients.ssh(user, f"wp search-replace '{host}' '{new_host}' --dry-run")
    assert dry.returncode == 0, err(dry)
    assert "replacements to be made" in out(dry)
    assert out(clients.ssh(user, "wp option get home")).strip() == old

    res = clients.ssh(user, f"wp search-replace '{host}' '{new_host}' --all-tables --format=count")
    assert res.returncode == 0, err(res)
    assert int(out(res)) >= 3  # siteurl, home, the serialized option (and post guids)
    assert out(clients.ssh(user, "wp option get home")).strip() == old.replace(host, new_host)
    raw = out(clients.ssh(user, "wp db query --skip-column-names "
                                "'SELECT option_value FROM wp_options WHERE option_name = '\\''emu_serialized'\\'''"))
    node = phpser.parse(raw.strip().encode())
    assert phpser.to_python(node) == {"url": old.replace(host, new_host), "n": 3}
    again = clients.ssh(user, f"wp search-replace '{host}' '{new_host}' --format=count")
    assert out(again).strip() == "0"


# ====================================================================== request log
def test_request_log_names_commands_without_arguments(emulator, clients, d7):
    secret_name = secrets.token_hex(20)
    since = max((r["id"] for r in emulator.requests(channel="ssh")), default=0)
    res = clients.ssh(clients.app_user(d7["id"]),
                      f"drush ard --destination=code/sites/default/files/{secret_name}.tgz")
    assert res.returncode == 0, err(res)
    assert clients.ssh(clients.app_user(d7["id"]), "drush sqlq 'SELECT 42'").returncode == 0
    assert clients.ssh(clients.app_user(d7["id"]), "rm -rf /").returncode == 127
    log = list(emulator.requests(channel="ssh", since=since))
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("SSH", "drush archive-dump", 0), ("SSH", "drush sql-query", 0), ("SSH", "other", 127)]
    assert secret_name not in json.dumps(log) and "42" not in json.dumps([r["path"] for r in log])
    (env_dir(emulator, d7["id"]) / "files" / f"{secret_name}.tgz").unlink()


def test_archive_readable_in_memory(emulator, clients, d7):
    """The archive streams through tarfile's 'r|gz' (no seeking), as a streaming reader needs."""
    name = secrets.token_hex(20) + ".tgz"
    assert clients.ssh(clients.app_user(d7["id"]), f"drush ard --destination=code/sites/default/files/{name}").returncode == 0
    path = env_dir(emulator, d7["id"]) / "files" / name
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes()), mode="r|gz") as tar:
        order = [m.name for m in tar]
    assert order.index("pantheon.sql") < order.index("MANIFEST.ini")
    assert order[0] == "code"
    path.unlink()
