"""The command line, the demo fleet, limits set by flags, and state kept across restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pantheon_emulator.pytest_plugin import TESTS_DIR, start_emulator
from pantheon_emulator.store import FileSizeLimitExceeded, Store

MIB = 1024 * 1024


def _cli(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR))
    return subprocess.run([sys.executable, "-m", "pantheon_emulator", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


def test_seed_command_creates_sites_from_a_recipe(tmp_path):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"seed": 3, "sites": [
        {"name": "cli-wp", "framework": "wordpress", "db": {"posts": 5}, "files": {"count": 4}},
        {"name": "cli-d10", "framework": "drupal8", "envs": ["dev", "test", "live", "feature"]}]}))
    r = _cli("seed", "--data-dir", str(tmp_path / "d"), str(recipe))
    assert r.returncode == 0, r.stderr
    sites = {s["name"]: s for s in json.loads(r.stdout)["sites"]}
    assert sites["cli-d10"]["envs"] == ["dev", "test", "live", "feature"]
    store = Store(tmp_path / "d")
    try:
        wp = store.find_site_by_name("cli-wp")
        paths = store.env_paths(wp["id"], "live")
        assert (paths.code / "wp-config.php").exists() and (paths.code / "wp-content/uploads").is_symlink()
        assert sum(1 for p in paths.files.rglob("*") if p.is_file()) == 4
    finally:
        store.close()
    again = _cli("seed", "--data-dir", str(tmp_path / "d"), str(recipe))
    assert [s["created"] for s in json.loads(again.stdout)["sites"]] == [False, False]


@pytest.mark.parametrize("recipe,message", [
    ('{"sites": [{"name": "Bad Name", "framework": "drupal"}]}', "invalid site name"),
    ('{"sites": [{"name": "ok", "framework": "joomla"}]}', "invalid framework"),
    ('{"sitez": []}', "unknown recipe keys"),
    ("not json", "cannot read recipe"),
])
def test_seed_command_refuses_bad_recipes_cleanly(tmp_path, recipe, message):
    path = tmp_path / "recipe.json"
    path.write_text(recipe)
    r = _cli("seed", "--data-dir", str(tmp_path / "d"), str(path))
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr


def test_store_file_size_limit(tmp_path):
    store = Store(tmp_path / "d")
    try:
        store.check_file_size_limit(256 * MIB - 1)
        with pytest.raises(FileSizeLimitExceeded):
            store.check_file_size_limit(256 * MIB)
        store.set_config(max_file_bytes=1000)
        with pytest.raises(FileSizeLimitExceeded):
            store.check_file_size_limit(1000)
        assert store.file_size_allowed(999)
    finally:
        store.close()


def test_flags_exports_faults_file_and_restart(tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"match": {"channel": "http", "path": "^/api/track$"},
                                   "action": {"status": 503}, "times": 1}]))
    emu = start_emulator(tmp_path / "a", ["--ssh-idle-timeout", "5", "--ssh-session-timeout", "30",
                                          "--url-import-max-mb", "2", "--max-file-mb", "1",
                                          "--signed-url-ttl", "120", "--faults", str(faults), "--exports"])
    try:
        conf = emu.config()
        assert (conf["ssh_idle_timeout"], conf["ssh_session_timeout"]) == (5, 30)
        assert (conf["url_import_max_bytes"], conf["max_file_bytes"], conf["signed_url_ttl"]) == (2 * MIB, MIB, 120)
        assert "signing_key" not in conf and "default_machine_token" not in conf
        s = emu.api()
        assert s.post(f"{emu.api_url}/track", json={}).status_code == 503
        assert s.post(f"{emu.api_url}/track", json={}).status_code == 200
        site = emu.seed({"sites": [{"name": "keep-me", "framework": "drupal"}]})[0]
        emu.set_limits(workflow_delay=1.0)
        wf = s.post(f"{emu.api_url}/sites/{site['id']}/environments/dev/workflows",
                    json={"type": "do_export", "params": {"database": True, "entry_type": "backup", "ttl": 3600}})
        assert wf.status_code == 202
        ca_before = Path(emu.ca_path).read_bytes()
        token, port, uid = emu.machine_token, emu.web_port, emu.user_id
        emu.restart()
        assert (emu.machine_token, emu.web_port, emu.user_id) == (token, port, uid)
        assert Path(emu.ca_path).read_bytes() == ca_before
        s = emu.api()
        assert s.get(f"{emu.api_url}/site-names/keep-me").json()["id"] == site["id"]
        history = s.get(f"{emu.api_url}/sites/{site['id']}/workflows").json()
        assert history[0]["id"] == wf.json()["id"]
        for _i in range(100):
            polled = s.get(f"{emu.api_url}/sites/{site['id']}/workflows/{wf.json()['id']}").json()
            if polled["result"]:
                break
            time.sleep(0.1)
        assert polled["result"] == "succeeded", "a workflow running at shutdown still finishes"
        catalog = s.get(f"{emu.api_url}/sites/{site['id']}/environments/dev/backups/catalog").json()
        assert any(k.endswith("_database") for k in catalog)
        assert emu.config()["ssh_idle_timeout"] == 5, "limits persist"
    finally:
        emu.stop()


def test_exports_lines(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR))
    proc = subprocess.Popen([sys.executable, "-m", "pantheon_emulator", "serve", "--data-dir", str(tmp_path / "d"),
                             "--exports", "--no-ssh"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    try:
        info = json.loads(proc.stdout.readline())
        exports = dict(proc.stdout.readline().strip()[len("export "):].split("=", 1) for _i in range(6))
    finally:
        proc.terminate()
        proc.wait(15)
    assert set(info) >= {"api_url", "admin_url", "ca_path", "ssh_host", "ssh_port", "machine_token", "user_id",
                         "web_port"}
    assert info["ssh_host"] == "127.0.0.1" and info["ssh_port"] is None
    assert exports["PANTHEON_API_URL"] == info["api_url"] and exports["PANTHEON_CA_PATH"] == info["ca_path"]
    assert exports["PANTHEON_MACHINE_TOKEN"] == info["machine_token"]
    assert set(exports) == {"PANTHEON_API_URL", "PANTHEON_CA_PATH", "PANTHEON_MACHINE_TOKEN", "PANTHEON_SSH_HOST",
                            "PANTHEON_SSH_PORT", "PANTHEON_WEB_PORT"}
    assert exports["PANTHEON_WEB_PORT"] == str(info["web_port"])
    assert proc.returncode == 0


def test_demo_fleet_scaled(tmp_path):
    scale = 0.02
    emu = start_emulator(tmp_path / "fleet", ["--fleet", "demo", "--scale", str(scale)])
    try:
        conf = emu.config()
        assert conf["url_import_max_bytes"] == int(500 * MIB * scale)
        assert conf["max_file_bytes"] == int(256 * MIB * scale)
        names = {s["name"]: s for s in emu.admin("GET", "state/sites").json()}
        assert {n: s["framework"] for n, s in names.items()} == {
            "demo-d7-small": "drupal", "demo-d7-large": "drupal", "demo-d7-huge": "drupal",
            "demo-d10": "drupal8", "demo-wp": "wordpress"}
        small = emu.state("demo-d7-small", "live")["files"]
        large = emu.state("demo-d7-large", "live")
        huge = emu.state("demo-d7-huge", "live")["files"]
        assert small["bytes"] < conf["max_file_bytes"]
        assert large["files"]["bytes"] > conf["max_file_bytes"], "the D7 archive would pass the 256MB rule"
        assert huge["bytes"] > conf["url_import_max_bytes"], "the files pass the URL import limit"
        biggest = max(p.stat().st_size for p in Path(large["paths"]["files"]).rglob("*") if p.is_file())
        assert biggest < conf["max_file_bytes"], "no single file reaches the per-file limit"
        assert emu.state("demo-wp", "dev")["home_status"] == 200
    finally:
        emu.stop()
