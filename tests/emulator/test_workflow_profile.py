"""The timing profile (``workflow_scale``): durations by type and size, one workflow at a time per
site, a queued state whose ``waiting_for_task`` changes while it waits. Off by default."""

from __future__ import annotations

import pytest

from pantheon_emulator import workflows


def test_profile_durations_grow_with_type_and_size():
    small = workflows.profile_seconds("do_export", 10 * 1024 * 1024, 1.0)
    big = workflows.profile_seconds("do_export", 10 * 1024 ** 3, 1.0)
    assert 30 < small < 32 and big == pytest.approx(30 + 1200)
    assert workflows.profile_seconds("do_migration", 0, 1.0) > workflows.profile_seconds("clear_cache", 0, 1.0)
    assert workflows.profile_seconds("do_export", 10 * 1024 ** 3, 0.01) == pytest.approx(12.3)


def test_workflows_on_one_site_queue_and_waiting_for_task_changes(emulator, client, make_site):
    site = make_site("drupal")
    env_path = f"sites/{site['id']}/environments/dev"
    hold = f"profile-{site['id'][:8]}"
    emulator.faults({"match": {"channel": "workflow", "path": "^do_export$"}, "action": {"hold": hold}, "times": 1})
    try:
        with emulator.limits(workflow_scale=0.01):
            first = client.start(env_path, "do_export", {"database": True, "entry_type": "backup", "ttl": 3600})
            second = client.start(env_path, "clear_cache", {"framework_cache": True})
            emulator.wait_hold(hold)
            # the export is held running: the clear_cache waits for it, queued
            seen = []
            while True:
                wf = client.get(f"sites/{site['id']}/workflows/{second['id']}").json()
                seen.append((wf.get("waiting_for_task") or {}).get("type"))
                if seen[-1] == "queued_behind_workflow":
                    break
            queued = wf
            assert queued["phase"] == "created" and queued["result"] is None and queued["started_at"] is None
            assert queued["waiting_for_task"]["waiting_for_workflow_id"] == first["id"]
            assert queued["waiting_for_task_id"] == queued["waiting_for_task"]["id"]
            running = client.get(f"sites/{site['id']}/workflows/{first['id']}").json()
            assert running["phase"] == "started" and running["result"] is None
            emulator.release(hold)
            done_first = client.poll(f"sites/{site['id']}", first["id"])
            done_second = client.poll(f"sites/{site['id']}", second["id"])
    finally:
        emulator.clear_faults()
    assert done_first["result"] == "succeeded", done_first
    assert done_second["result"] == "succeeded", done_second
    # one after the other, and the queued one's current task moved on when it ran
    assert done_second["started_at"] >= done_first["finished_at"]
    # the export's waiting_for_task moved on through its tasks, keeping the backup folder
    assert done_first["waiting_for_task"]["params"]["folder"] == first["waiting_for_task"]["params"]["folder"]
    assert done_first["waiting_for_task"]["type"] in ("do_export", "do_export_prepare")
    assert done_second["queued_time"] >= done_first["finished_at"] - done_second["created_at"]
    assert done_second["waiting_for_task"]["type"] in ("clear_cache_prepare", "clear_cache")
    assert done_second["waiting_for_task"]["id"] != queued["waiting_for_task"]["id"]
    assert len(done_second["task_ids"]) > len(queued["task_ids"])


def test_profiled_workflow_keeps_what_clients_read(emulator, client, make_site):
    """do_export keeps waiting_for_task.params.folder through its task changes, and runs at least
    its profile's duration (scaled)."""
    site = make_site("drupal")
    env_path = f"sites/{site['id']}/environments/dev"
    with emulator.limits(workflow_scale=0.02):
        started = client.start(env_path, "do_export", {"code": False, "database": True, "files": True,
                                                       "entry_type": "backup", "ttl": 3600})
        done = client.poll(f"sites/{site['id']}", started["id"])
    assert done["result"] == "succeeded", done
    folder = started["waiting_for_task"]["params"]["folder"]
    assert done["waiting_for_task"]["params"]["folder"] == folder
    assert done["finished_at"] - done["started_at"] >= workflows.PROFILE["do_export"][0] * 0.02
    catalog = client.get(f"{env_path}/backups/catalog").json()
    assert any(v.get("folder") == folder and v.get("size") for v in catalog.values())


def test_profile_is_off_by_default(emulator):
    assert emulator.config()["workflow_scale"] == 0
