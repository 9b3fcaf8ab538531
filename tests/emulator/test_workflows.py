"""Workflows run in the background, are polled where Terminus polls them, and fail as documented."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path


def test_create_site_then_deploy_product(emulator, client, site_prefix):
    name = f"{site_prefix}new"
    hold = f"{site_prefix}create"
    # create_site is held (it runs once released), so it is still running for every check below
    emulator.faults({"match": {"channel": "workflow", "path": "^create_site$"}, "action": {"hold": hold}, "times": 1})
    try:
        r = client.post(f"users/{emulator.user_id}/workflows",
                        {"type": "create_site", "params": {"label": "New site", "site_name": name}})
        assert r.status_code == 202
        created = r.json()
        assert created["result"] is None and created["type"] == "create_site" and created["id"]
        new_id = created["waiting_for_task"]["site_id"]
        running = client.get(f"users/{emulator.user_id}/workflows/{created['id']}").json()
        assert running["result"] is None
        assert client.get(f"site-names/{name}").status_code == 404, "site exists before the workflow ran"
        # the name is taken from the moment the workflow is accepted: a second create_site is refused
        twice = client.post(f"users/{emulator.user_id}/workflows",
                            {"type": "create_site", "params": {"label": "Again", "site_name": name}})
        assert twice.status_code == 409 and "already taken" in twice.json()
        listed = [w for w in client.get(f"users/{emulator.user_id}/workflows").json() if w["id"] == created["id"]]
        assert listed and listed[0]["result"] is None and listed[0]["params"]["site_name"] == name
        emulator.wait_hold(hold, timeout=60)
        emulator.release(hold)
        done = client.poll(f"users/{emulator.user_id}", created["id"])
    finally:
        emulator.clear_faults()
    assert done["result"] == "succeeded" and done["phase"] == "finished"
    assert done["waiting_for_task"]["site_id"] == new_id, "waiting_for_task must never be reset"
    assert client.site_id(name) == new_id
    site = client.get(f"sites/{new_id}").json()
    assert site["framework"] is None and site["upstream"] == {}
    upstream = next(u for u in client.get(f"users/{emulator.user_id}/upstreams").json()
                    if u["machine_name"] == "wordpress")
    wf = client.run(f"sites/{new_id}", "deploy_product", {"product_id": upstream["id"]})
    assert wf["result"] == "succeeded", wf
    assert client.get(f"sites/{new_id}").json()["framework"] == "wordpress"
    state = emulator.state(name, "dev")
    assert state["code"]["head"] and state["code"]["files"] > 5
    assert Path(state["paths"]["code"], "wp-config.php").exists()
    assert client.get(f"sites/{new_id}/environments/test/settings").json()["is_initialized"] is False
    again = client.run(f"sites/{new_id}", "deploy_product", {"product_id": upstream["id"]})
    assert again["result"] == "failed" and "already" in again["final_task"]["reason"]


def test_create_site_refuses_taken_or_bad_names(emulator, client, make_site):
    site = make_site("drupal")
    taken = client.post(f"users/{emulator.user_id}/workflows",
                        {"type": "create_site", "params": {"label": "x", "site_name": site["name"]}})
    assert taken.status_code == 409 and isinstance(taken.json(), str)
    bad = client.post(f"users/{emulator.user_id}/workflows",
                      {"type": "create_site", "params": {"label": "x", "site_name": "Bad_Name"}})
    assert bad.status_code == 400 and isinstance(bad.json(), str)
    r = client.post(f"users/{emulator.user_id}/workflows", {"type": "create_site"})
    assert r.status_code == 400


def test_delete_site_is_polled_through_the_user(emulator, client, make_site):
    site = make_site("drupal")
    wf = client.start(f"sites/{site['id']}", "delete_site")
    done = client.poll(f"users/{emulator.user_id}", wf["id"])
    assert done["result"] == "succeeded"
    assert client.get(f"sites/{site['id']}").status_code == 404
    assert client.get(f"site-names/{site['name']}").status_code == 404
    assert client.get(f"sites/{site['id']}/workflows/{wf['id']}").status_code == 404
    assert not Path(emulator.data_dir, "sites", site["id"]).exists()


def test_workflow_history_newest_first_with_params(client, make_site):
    site = make_site("drupal")
    env_path = f"sites/{site['id']}/environments/dev"
    first = client.run(env_path, "clear_cache", {"framework_cache": True})
    second = client.run(env_path, "do_import", {"database": 1, "url": "https://localhost:1/nothing.sql.gz"})
    history = client.get(f"sites/{site['id']}/workflows").json()
    assert [w["id"] for w in history[:2]] == [second["id"], first["id"]]
    assert history[0]["params"] == {"database": 1, "url": "https://localhost:1/nothing.sql.gz"}
    assert history[0]["environment"] == "dev" and history[0]["type"] == "do_import"
    assert all({"created_at", "started_at", "finished_at", "description", "user_email"} <= set(w) for w in history)


def test_failed_workflow_has_final_task_reason_and_messages(client, make_site):
    site = make_site("drupal", envs={"dev": {}, "test": {"initialized": False}, "live": {"initialized": False}})
    wf = client.run(f"sites/{site['id']}/environments/test", "do_export",
                    {"code": True, "database": True, "files": True, "entry_type": "backup", "ttl": 86400})
    assert wf["result"] == "failed" and wf["phase"] == "finished"
    reason = wf["final_task"]["reason"]
    assert "has not been initialized" in reason
    messages = list(wf["final_task"]["messages"].values())
    assert messages[-1] == {"message": reason, "level": "ERROR"}


def test_workflow_fault_fails_the_workflow(emulator, client, make_site):
    site = make_site("drupal")
    emulator.faults({"match": {"channel": "workflow", "path": "^clear_cache$"},
                     "action": {"workflow_fail": "Injected: cache servers unavailable"}, "times": 1})
    try:
        failed = client.run(f"sites/{site['id']}/environments/dev", "clear_cache", {"framework_cache": True})
        ok = client.run(f"sites/{site['id']}/environments/dev", "clear_cache", {"framework_cache": True})
    finally:
        emulator.clear_faults()
    assert failed["result"] == "failed"
    assert failed["final_task"]["reason"] == "Injected: cache servers unavailable"
    assert ok["result"] == "succeeded"


def test_clear_cache_empties_cache_tables(emulator, client, make_site):
    site = make_site("drupal")
    assert emulator.state(site["name"], "dev")["db"]["tables"]["cache"] > 0
    wf = client.run(f"sites/{site['id']}/environments/dev", "clear_cache", {"framework_cache": True})
    assert wf["result"] == "succeeded"
    tables = emulator.state(site["name"], "dev")["db"]["tables"]
    assert tables["cache"] == 0 and tables["node"] > 0


def test_sync_code_checks_out_a_pushed_commit(emulator, client, make_site):
    site = make_site("drupal")
    state = emulator.state(site["name"], "dev")
    repo = state["paths"]["repo"]
    with tempfile.TemporaryDirectory() as tmp:
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run(git + ["clone", "-q", repo, tmp], check=True)
        Path(tmp, "sites/all/modules/hello.module").write_text("<?php\n// hello\n")
        subprocess.run(git + ["-C", tmp, "add", "-A"], check=True)
        subprocess.run(git + ["-C", tmp, "commit", "-q", "-m", "hello"], check=True)
        subprocess.run(git + ["-C", tmp, "push", "-q", "origin", "master"], check=True)
        pushed = subprocess.run(["git", "-C", tmp, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    assert emulator.state(site["name"], "dev")["code"]["head"] != pushed
    wf = client.run(f"sites/{site['id']}/environments/dev", "sync_code")
    assert wf["result"] == "succeeded" and wf["description"] == 'Sync code on "dev"'
    after = emulator.state(site["name"], "dev")
    assert after["code"]["head"] == pushed == after["target_commit"]
    assert Path(after["paths"]["code"], "sites/all/modules/hello.module").exists()
    assert client.get(f"sites/{site['id']}/environments").json()["dev"]["target_commit"] == pushed


def test_unsupported_workflow_types_are_refused(client, make_site):
    site = make_site("drupal")
    r = client.post(f"sites/{site['id']}/environments/dev/workflows", {"type": "launch_rockets", "params": {}})
    assert r.status_code == 400 and isinstance(r.json(), str)
    r = client.post(f"sites/{site['id']}/workflows", {"type": "do_export", "params": {}})
    assert r.status_code == 400
    r = client.post(f"sites/{site['id']}/environments/dev/workflows", {"type": "do_import", "params": {"files": 1}})
    assert r.status_code == 400


def test_workflow_times_are_consistent(client, make_site):
    site = make_site("drupal")
    before = time.time()
    wf = client.run(f"sites/{site['id']}/environments/dev", "clear_cache")
    assert before - 1 <= wf["created_at"] <= wf["started_at"] <= wf["finished_at"] <= time.time() + 1
    assert wf["total_time"] >= 0 and wf["final_task"]["result"] == "succeeded"
