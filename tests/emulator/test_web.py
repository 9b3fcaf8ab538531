"""Each environment's public web: health check, files with Range, a home page rendered from
the database (500 when the database is broken)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def sites(emulator):
    import uuid  # pylint: disable=import-outside-toplevel
    tag = uuid.uuid4().hex[:6]
    made = emulator.seed({"seed": 8, "sites": [
        {"name": f"web{tag}-d7", "framework": "drupal", "db": {"nodes": 8, "site_name": "Seven Site"},
         "files": {"count": 3, "size": 4000},
         "envs": {"dev": {}, "test": {}, "live": {"initialized": False}}},
        {"name": f"web{tag}-wp", "framework": "wordpress", "db": {"posts": 8, "site_name": "Press Site"},
         "files": {"count": 3, "size": 4000}},
    ]})
    return {s["framework"]: s for s in made}


def test_healthcheck_has_styx_header(emulator, http, sites):
    r = http.get(emulator.web_url(sites["drupal"]["name"], "dev") + "/pantheon_healthcheck")
    assert r.status_code == 200 and r.headers["X-Pantheon-Styx-Hostname"]


def test_home_page_comes_from_the_database(emulator, http, sites):
    d7 = http.get(emulator.web_url(sites["drupal"]["name"], "dev") + "/")
    assert d7.status_code == 200 and "<title>Seven Site</title>" in d7.text
    assert d7.text.count("<article") == 7, "node 7 is unpublished (status 0) and must not show"
    wp = http.get(emulator.web_url(sites["wordpress"]["name"], "dev") + "/")
    assert wp.status_code == 200 and "Press Site" in wp.text
    assert wp.text.count("<article") == 7, "post 7 is a draft"


def test_files_are_served_with_range(emulator, http, sites):
    for fw, prefix in (("drupal", "sites/default/files"), ("wordpress", "wp-content/uploads")):
        state = emulator.state(sites[fw]["name"], "dev")
        files = Path(state["paths"]["files"])
        rel = sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file())[0]
        data = (files / rel).read_bytes()
        base = emulator.web_url(sites[fw]["name"], "dev")
        full = http.get(f"{base}/{prefix}/{rel}")
        assert full.status_code == 200 and full.content == data
        part = http.get(f"{base}/{prefix}/{rel}", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert http.head(f"{base}/{prefix}/{rel}").headers["Content-Length"] == str(len(data))
        assert http.get(f"{base}/{prefix}/no-such-file.txt").status_code == 404
        # a file next to files/ in the environment's home is not served through the files path
        (Path(state["paths"]["root"]) / "home-file.txt").write_bytes(b"not public")
        for up in ("%2e%2e/", "%2e%2e/%2e%2e/dev/", "%2e%2e/%2e%2e/%2e%2e/envs/dev/"):  # each one would reach it
            escape = http.get(f"{base}/{prefix}/{up}home-file.txt")
            assert escape.status_code == 404 and b"not public" not in escape.content


def test_wrong_framework_path_is_404(emulator, http, sites):
    base = emulator.web_url(sites["wordpress"]["name"], "dev")
    assert http.get(f"{base}/sites/default/files/file-0000.txt").status_code == 404


def test_unknown_host_and_uninitialized_env(emulator, http, sites):
    unknown = http.get(f"https://dev-nothing-here.pantheonsite.localhost:{emulator.web_port}/")
    assert unknown.status_code == 404
    live = http.get(emulator.web_url(sites["drupal"]["name"], "live") + "/")
    assert live.status_code == 404 and "not been initialized" in live.text


def test_broken_database_gives_500(emulator, http, make_site):
    site = make_site("drupal")
    assert http.get(emulator.web_url(site["name"], "dev") + "/").status_code == 200
    conn = emulator.db(site["name"], "dev")
    with conn.cursor() as cur:
        cur.execute("DROP TABLE node")  # a database Drupal cannot read
    r = http.get(emulator.web_url(site["name"], "dev") + "/")
    assert r.status_code == 500 and "unexpected error" in r.text
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE `%s`" % conn.db.decode())  # no database at all
    conn.close()
    assert http.get(emulator.web_url(site["name"], "dev") + "/").status_code == 500
    assert http.get(emulator.web_url(site["name"], "dev") + "/pantheon_healthcheck").status_code == 200


@pytest.mark.parametrize("family,addr", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_listens_on_ipv4_and_ipv6_with_verified_tls(emulator, family, addr):
    ctx = ssl.create_default_context(cafile=emulator.ca_path)
    with socket.socket(family, socket.SOCK_STREAM) as raw:
        raw.settimeout(10)
        raw.connect((addr, emulator.web_port))
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /api/nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert tls.recv(64).startswith(b"HTTP/1.1 404")
