"""do_export produces real archives matching the environment; the catalog and signed links
behave like the platform's (expiry, tampering, HEAD, Range)."""

from __future__ import annotations

import gzip
import io
import os
import re
import secrets
import subprocess
import tarfile
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def exported(emulator, client):
    """One exported site for the read-only tests of this module."""
    site = emulator.seed({"seed": 4, "sites": [{
        "name": f"bk{uuid.uuid4().hex[:8]}", "framework": "drupal", "db": {"nodes": 9},
        "files": {"count": 12, "size": [10, 5000], "unicode": True, "depth": 2, "empty_dirs": 1}}]})[0]
    wf = client.export(site["id"], "live")
    return site, wf


def _tree(root):
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            if ".git" in p.relative_to(root).parts or p.is_symlink():
                continue
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def test_catalog_shape(client, exported):
    site, wf = exported
    catalog = client.get(f"sites/{site['id']}/environments/live/backups/catalog").json()
    folder = wf["waiting_for_task"]["params"]["folder"]
    ts = folder.split("_")[0]
    assert set(catalog) == {f"{ts}_backup_{e}" for e in ("code", "database", "files", "manifest")}
    for key, entry in catalog.items():
        scheduled, archive_type, element = key.split("_")
        assert archive_type == "backup" and entry["folder"] == folder and entry["ttl"] == 86400
        if element == "manifest":
            assert "filename" not in entry and entry["total_files"] == 12
        else:
            assert entry["size"] > 0 and entry["finish_time"] and entry["timestamp"]
            suffix = ".sql.gz" if element == "database" else ".tar.gz"
            assert re.match(rf"^{site['name']}_live_\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\d_UTC_{element}{re.escape(suffix)}$",
                            entry["filename"])


def test_catalog_newest_first_same_width(client, make_site):
    site = make_site("drupal")
    client.export(site["id"], "dev", elements=("database",))
    client.export(site["id"], "dev", elements=("database",))
    keys = list(client.get(f"sites/{site['id']}/environments/dev/backups/catalog").json())
    assert keys == sorted(keys, reverse=True)
    assert len({len(k.split("_")[0]) for k in keys}) == 1
    assert len({k.split("_")[0] for k in keys}) == 2, "two exports must get two folders"


def test_archives_match_the_environment(emulator, client, http, exported):
    site, _wf = exported
    state = emulator.state(site["name"], "live")
    code_url = client.backup_url(site["id"], "live", "code")
    db_url = client.backup_url(site["id"], "live", "database")
    files_url = client.backup_url(site["id"], "live", "files")

    with tarfile.open(fileobj=io.BytesIO(http.get(code_url).content), mode="r:gz") as tar:
        names = tar.getnames()
        assert all(n == "code" or n.startswith("code/") for n in names)
        assert not any(n == "code/.git" or n.startswith(("code/.git/", "code/sites/default/files")) for n in names)
        assert "code/.gitignore" in names
        code = {m.name[len("code/"):]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    assert code == _tree(state["paths"]["code"])

    with tarfile.open(fileobj=io.BytesIO(http.get(files_url).content), mode="r:gz") as tar:
        assert {n.split("/")[0] for n in tar.getnames()} == {"files_live"}
        files = {m.name[len("files_live/"):]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
        dirs = {m.name for m in tar.getmembers() if m.isdir()}
    assert files == _tree(state["paths"]["files"])
    assert any(not n.isascii() for n in files), "unicode names survive"
    assert any(d.startswith("files_live/empty-0") for d in dirs), "empty folders are kept"

    sql = gzip.decompress(http.get(db_url).content)
    # a real mysqldump (the header MariaDB's mysqldump writes), with Drush's --single-transaction dump options
    assert re.match(rb"^(/\*M!999999\\- enable the sandbox mode \*/ ?\n)?-- (MariaDB|MySQL) dump \d+\.\d+", sql), sql[:80]
    assert b"CREATE TABLE `node` (" in sql and b"LOCK TABLES `node` WRITE;" in sql
    assert b"\n-- Dump completed on " in sql[-100:], "mysqldump finished the dump"
    # loaded into a scratch database by the mysql client, it holds the environment's tables and rows
    scratch = "scratch_" + secrets.token_hex(6)
    mysql = emulator.mysql_argv()
    subprocess.run(mysql + ["-e", f"CREATE DATABASE {scratch}"], check=True)
    try:
        subprocess.run(mysql + [scratch], input=sql, check=True)

        def scalar_rows(*args):
            return subprocess.run(mysql + ["--batch", "--skip-column-names", *args], capture_output=True,
                                  check=True).stdout.decode().split()
        names = scalar_rows("-e", f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{scratch}'")
        counts = {t: int(scalar_rows(scratch, "-e", f"SELECT COUNT(*) FROM `{t}`")[0]) for t in names}
    finally:
        subprocess.run(mysql + ["-e", f"DROP DATABASE {scratch}"], check=True)
    assert counts == state["db"]["tables"] and counts["node"] == 9


def test_signed_url_download_range_and_head(client, http, exported):
    site, _wf = exported
    url = client.backup_url(site["id"], "live", "files")
    assert re.match(rf"^https://localhost:\d+/_storage/{site['id']}/live/\d+_backup/[^?]+\?", url)
    full = http.get(url)
    assert full.status_code == 200 and full.headers["Accept-Ranges"] == "bytes"
    size = int(full.headers["Content-Length"])
    assert len(full.content) == size
    part = http.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == full.content[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{size}"
    probe = http.get(url, headers={"Range": "bytes=0-0"})
    assert probe.status_code == 206 and probe.headers["Content-Range"] == f"bytes 0-0/{size}"
    tail = http.get(url, headers={"Range": "bytes=-5"})
    assert tail.content == full.content[-5:]
    beyond = http.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    head = http.head(url)
    assert head.status_code in (403, 405)


def test_altered_and_expired_links_get_403_xml(emulator, client, http, exported):
    site, _wf = exported
    url = client.backup_url(site["id"], "live", "database")
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    tampered = [
        url.replace("_database.sql.gz", "_files.tar.gz"),
        urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(dict(query, Expires=int(query["Expires"]) + 60)))),
        # another first character (one signature in 64 starts with "A": replacing it by "A" changed nothing)
        urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(dict(
            query, Signature=("B" if query["Signature"].startswith("A") else "A") + query["Signature"][1:])))),
        urllib.parse.urlunsplit(parts._replace(query="")),
    ]
    for bad in tampered:
        r = http.get(bad)
        assert r.status_code == 403, bad
        assert r.text.startswith("<?xml") and "<Error><Code>" in r.text
    # Expires is whole seconds, so a 1 s lifetime can be over before the first GET on a busy
    # machine; 5 s leaves room for the first GET, then wait until the link has expired.
    with emulator.limits(signed_url_ttl=5):
        short = client.backup_url(site["id"], "live", "database")
    expires = int(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(short).query))["Expires"])
    assert http.get(short).status_code == 200
    time.sleep(max(0.0, expires - time.time()) + 1.1)
    expired = http.get(short)
    assert expired.status_code == 403 and "<Code>ExpiredToken</Code>" in expired.text
    assert http.get(client.backup_url(site["id"], "live", "database")).status_code == 200


def test_s3token_errors(client, exported):
    site, wf = exported
    folder = wf["waiting_for_task"]["params"]["folder"]
    base = f"sites/{site['id']}/environments/live/backups/catalog"
    assert client.post(f"{base}/{folder}/files/s3token", {"method": "put"}).status_code == 400
    r = client.post(f"{base}/1_backup/files/s3token", {"method": "get"})
    assert r.status_code == 404 and isinstance(r.json(), str)


def test_sparse_seeded_backup_is_listed(emulator, client, site_prefix):
    created = emulator.seed({"sites": [{"name": f"{site_prefix}sparse", "framework": "drupal",
                                        "backups": [{"env": "live", "element": "files", "sparse_size": "3MB"}]}]})
    catalog = client.get(f"sites/{created[0]['id']}/environments/live/backups/catalog").json()
    files = [v for k, v in catalog.items() if k.endswith("_files")]
    assert files[0]["size"] == 3 * 1024 * 1024
