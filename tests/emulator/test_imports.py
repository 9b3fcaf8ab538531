"""do_import and do_migration fetch their URL themselves and change the environment's content;
bad input fails the workflow with a clear reason and changes nothing."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import time
from pathlib import Path

import pytest

from pantheon_emulator import content


def _import(client, site_id, env, element, url):
    return client.run(f"sites/{site_id}/environments/{env}", "do_import", {element: 1, "url": url})


@pytest.fixture
def pair(client, make_site):
    """A source (exported) and a different target site."""
    src = make_site("drupal", suffix="src", db={"nodes": 3},
                    files={"count": 7, "size": [100, 3000], "unicode": True, "empty_dirs": 1})
    dst = make_site("drupal", suffix="dst", db={"nodes": 11}, files={"count": 2, "size": 50})
    client.export(src["id"], "live")
    return src, dst


def test_database_import_replaces_the_database(emulator, client, pair):
    src, dst = pair
    wf = _import(client, dst["id"], "dev", "database", client.backup_url(src["id"], "live", "database"))
    assert wf["result"] == "succeeded", wf
    assert emulator.state(dst["name"], "dev")["db"]["tables"] == emulator.state(src["name"], "live")["db"]["tables"]
    page = emulator.http().get(emulator.web_url(dst["name"], "dev") + "/")
    assert page.status_code == 200 and f"{src['name']} (live)" in page.text


def test_files_import_replaces_the_files(emulator, client, pair):
    src, dst = pair
    wf = _import(client, dst["id"], "test", "files", client.backup_url(src["id"], "live", "files"))
    assert wf["result"] == "succeeded", wf
    got = emulator.state(dst["name"], "test", digest=True)["files"]
    want = emulator.state(src["name"], "live", digest=True)["files"]
    assert got == want and got["count"] == 7


@pytest.mark.parametrize("limits,reason", [
    ({"url_import_max_bytes": 200}, "limit for URL imports"),
    ({"max_file_bytes": 100}, "cannot be written to the Pantheon filesystem"),
])
def test_import_over_a_limit_fails_and_changes_nothing(emulator, client, pair, limits, reason):
    src, dst = pair
    before = emulator.state(dst["name"], "dev", digest=True)
    with emulator.limits(**limits):
        wf = _import(client, dst["id"], "dev", "files", client.backup_url(src["id"], "live", "files"))
    assert wf["result"] == "failed"
    assert reason in wf["final_task"]["reason"]
    assert "?" not in wf["final_task"]["reason"], "no signed query string in the reason"
    assert emulator.state(dst["name"], "dev", digest=True)["files"] == before["files"]


def test_broken_sql_keeps_the_old_database(emulator, client, pair):
    src, dst = pair
    before = emulator.state(dst["name"], "dev")["db"]["tables"]
    wf = _import(client, dst["id"], "dev", "database", client.backup_url(src["id"], "live", "code"))
    assert wf["result"] == "failed" and "exactly one .sql" in wf["final_task"]["reason"]
    assert emulator.state(dst["name"], "dev")["db"]["tables"] == before


def test_broken_dump_leaves_a_half_imported_database(emulator, client, pair):
    """As on the platform, a database import is not transactional: mysql stops at the broken
    statement with MariaDB's message, and what ran before it stays."""
    src, dst = pair
    dump = gzip.decompress(emulator.http().get(client.backup_url(src["id"], "live", "database"), timeout=60).content)
    end_of_node = dump.index(b"UNLOCK TABLES;", dump.index(b"LOCK TABLES `node` WRITE;"))
    broken = dump[:end_of_node] + b"UNLOCK TABLES;\nINSERT INTO `system` VALUES ('x',;\n" + dump[end_of_node:]
    url = _serve_from(emulator, src, "live", "broken.sql.gz", gzip.compress(broken))
    wf = _import(client, dst["id"], "dev", "database", url)
    assert wf["result"] == "failed"
    assert re.search(r"ERROR 1064 \(42000\) at line \d+: You have an error in your SQL syntax",
                     wf["final_task"]["reason"]), wf["final_task"]["reason"]
    tables = emulator.state(dst["name"], "dev")["db"]["tables"]
    source = emulator.state(src["name"], "live")["db"]["tables"]
    # the tables the dump creates before `node` (alphabetical, as mysqldump writes them) and `node`
    # itself are there with the source's rows; the ones after the error are not
    assert tables == {name: rows for name, rows in source.items() if name <= "node"}
    assert tables["node"] == 3 and "variable" not in tables


def test_expired_link_fails_the_import(emulator, client, pair):
    src, dst = pair
    with emulator.limits(signed_url_ttl=0):
        url = client.backup_url(src["id"], "live", "database")
    time.sleep(1.1)
    wf = _import(client, dst["id"], "dev", "database", url)
    assert wf["result"] == "failed" and "HTTP 403" in wf["final_task"]["reason"]


def test_import_fetch_is_logged_as_a_download(emulator, client, pair):
    src, dst = pair
    # (a mark, not a cleared log: the session's emulator is shared with the tests that run before and after)
    since = max([r["id"] for r in emulator.requests()] or [0])
    url = client.backup_url(src["id"], "live", "database")
    assert _import(client, dst["id"], "dev", "database", url)["result"] == "succeeded"
    downloads = emulator.requests(channel="download", since=since)
    assert [d["method"] for d in downloads] == ["GET", "GET"], "a ranged size probe, then the download"
    assert all("?" not in d["path"] for d in downloads)


# ====================================================================== do_migration
def _drush8_archive(files=None, sql_names=("pantheon.sql",), manifest=True, docroot="code", sql=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if manifest:
            add("MANIFEST.ini", content.drush8_manifest(docroot=docroot).encode())
        base = {"index.php": b"<?php\n// migrated\n", "sites/default/settings.php": b"<?php\n",
                "sites/all/modules/migrated/migrated.module": b"<?php\n",
                "sites/default/files/imported/photo.jpg": b"\xff\xd8jpeg",
                "sites/default/files/notes ü.txt": b"notes"}
        base.update(files or {})
        for rel, data in base.items():
            add(f"{docroot}/{rel}", data)
        dump = sql or ("CREATE TABLE `variable` (`name` varchar(128) NOT NULL, `value` longblob NOT NULL, "
                       "PRIMARY KEY (`name`));\n"
                       "INSERT INTO `variable` VALUES ('site_name','s:8:\\\"Migrated\\\";');\n"
                       "CREATE TABLE `node` (`nid` int(10) unsigned NOT NULL, `title` varchar(255) NOT NULL, "
                       "`status` int(11) NOT NULL, PRIMARY KEY (`nid`));\n"
                       "INSERT INTO `node` VALUES (1,'From the archive',1);\n")
        for name in sql_names:
            add(name, dump.encode())
    return buf.getvalue()


def _serve_from(emulator, site, env, name, data):
    """Put bytes in an env's files/ and return the public web URL (as ard's recipe does)."""
    files = Path(emulator.state(site["name"], env)["paths"]["files"])
    (files / name).write_bytes(data)
    return f"{emulator.web_url(site['name'], env)}/sites/default/files/{name}"


def test_migration_imports_code_files_and_database(emulator, client, make_site):
    host = make_site("drupal", suffix="host")
    dst = make_site("drupal", suffix="dst")
    url = _serve_from(emulator, host, "live", "a1b2c3.tgz", _drush8_archive())
    wf = client.run(f"sites/{dst['id']}/environments/dev", "do_migration", {"url": url})
    assert wf["result"] == "succeeded", wf
    state = emulator.state(dst["name"], "dev")
    code = Path(state["paths"]["code"])
    assert (code / "sites/all/modules/migrated/migrated.module").exists()
    assert (code / "index.php").read_text() == "<?php\n// migrated\n"
    assert state["code"]["head"] == state["code"]["repo_head"] == state["target_commit"]
    files = Path(state["paths"]["files"])
    assert (files / "imported/photo.jpg").read_bytes() == b"\xff\xd8jpeg"
    assert (files / "notes ü.txt").exists() and state["files"]["count"] == 2
    assert state["db"]["tables"] == {"variable": 1, "node": 1}
    page = emulator.http().get(emulator.web_url(dst["name"], "dev") + "/")
    assert "Migrated" in page.text and "From the archive" in page.text


@pytest.mark.parametrize("kind,reason", [
    ("no-manifest", "MANIFEST.ini is missing"),
    ("two-sql", "exactly one .sql"),
    ("no-sql", "exactly one .sql"),
    ("bad-docroot", "docroot folder"),
    ("not-tar", "not a tar archive"),
])
def test_migration_refuses_non_drush8_archives(emulator, client, make_site, kind, reason):
    host = make_site("drupal", suffix="host")
    dst = make_site("drupal", suffix="dst")
    data = {"no-manifest": lambda: _drush8_archive(manifest=False),
            "two-sql": lambda: _drush8_archive(sql_names=("a.sql", "b.sql")),
            "no-sql": lambda: _drush8_archive(sql_names=()),
            "bad-docroot": lambda: _drush8_archive_with_manifest_docroot("htdocs"),
            "not-tar": lambda: b"this is not an archive at all" * 10}[kind]()
    before = emulator.state(dst["name"], "dev", digest=True)
    url = _serve_from(emulator, host, "live", f"{kind}.tgz", data)
    wf = client.run(f"sites/{dst['id']}/environments/dev", "do_migration", {"url": url})
    assert wf["result"] == "failed"
    assert reason in wf["final_task"]["reason"]
    after = emulator.state(dst["name"], "dev", digest=True)
    assert (after["files"], after["db"], after["code"]["head"]) == (before["files"], before["db"], before["code"]["head"])


def _drush8_archive_with_manifest_docroot(docroot):
    """Manifest names a docroot folder the archive does not have."""
    buf = io.BytesIO()
    src = tarfile.open(fileobj=io.BytesIO(_drush8_archive()), mode="r:gz")
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "MANIFEST.ini":
                data = content.drush8_manifest(docroot=docroot).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return buf.getvalue()


def test_migration_only_into_dev_and_not_wordpress(emulator, client, make_site):
    host = make_site("drupal", suffix="host")
    d7 = make_site("drupal", suffix="d7")
    wp = make_site("wordpress", suffix="wp")
    url = _serve_from(emulator, host, "live", "ok.tgz", _drush8_archive())
    on_test = client.run(f"sites/{d7['id']}/environments/test", "do_migration", {"url": url})
    assert on_test["result"] == "failed" and "dev" in on_test["final_task"]["reason"]
    on_wp = client.run(f"sites/{wp['id']}/environments/dev", "do_migration", {"url": url})
    assert on_wp["result"] == "failed" and "WordPress" in on_wp["final_task"]["reason"]
