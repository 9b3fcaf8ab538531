"""Test and live run a deploy tag, not master: the ``deploy`` and ``create_environment`` workflows
tag the parent's code ``pantheon_{env}_N``, the env checks the tag out, and the API answers
(environments, code-log, workflow params) carry what Terminus reads."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pantheon_emulator import content


def advance_master(emulator, client, site, files):
    """A new commit on master (as a push to the codeserver would make), then dev's sync_code."""
    repo = Path(emulator.data_dir) / "sites" / site["id"] / "repository.git"
    with tempfile.TemporaryDirectory() as tmp:
        content.git("--work-tree", tmp, "checkout", "-f", "master", "--", ".", git_dir=repo)
        for rel, text in files.items():
            Path(tmp, rel).parent.mkdir(parents=True, exist_ok=True)
            Path(tmp, rel).write_text(text)
        sha = content.commit_tree(repo, "master", tmp, "Work on dev")
    wf = client.run(f"sites/{site['id']}/environments/dev", "sync_code", {})
    assert wf["result"] == "succeeded", wf
    return sha


def env_file(emulator, site, env, rel):
    return Path(emulator.state(site["name"], env)["paths"]["code"], rel)


def test_seeded_test_and_live_run_their_first_deploy_tag(emulator, client, make_site):
    site = make_site("drupal")
    envs = client.get(f"sites/{site['id']}/environments").json()
    assert envs["dev"]["target_ref"] == "refs/heads/master"
    assert envs["test"]["target_ref"] == "refs/tags/pantheon_test_1"
    assert envs["live"]["target_ref"] == "refs/tags/pantheon_live_1"
    live = emulator.state(site["name"], "live")["code"]
    assert live["ref"] == "refs/tags/pantheon_live_1"
    assert live["head"] == live["repo_head"] == live["master_head"] == envs["live"]["target_commit"]


def test_deploy_tags_the_parent_code_and_the_env_serves_the_tag(emulator, client, make_site):
    site = make_site("drupal")
    first = emulator.state(site["name"], "live")["code"]["head"]
    ahead = advance_master(emulator, client, site, {"NEW_ON_DEV.txt": "only on master\n"})
    # master moved; test and live still run their tags
    for env in ("test", "live"):
        state = emulator.state(site["name"], env)["code"]
        assert state["head"] == state["repo_head"] == first != state["master_head"] == ahead
        assert not env_file(emulator, site, env, "NEW_ON_DEV.txt").exists()
    log = client.get(f"sites/{site['id']}/environments/dev/code-log").json()
    assert [c["hash"] for c in log[:2]] == [ahead, first]
    assert log[0]["labels"] == ["dev"] and sorted(log[1]["labels"]) == ["dev", "live", "test"]
    assert {"datetime", "author", "email", "parents", "message", "gravitar_url"} <= set(log[0])
    assert log[0]["parents"] == [first] and log[0]["message"] == "Work on dev\n"
    assert [c["hash"] for c in client.get(f"sites/{site['id']}/environments/live/code-log").json()] == [first]

    # terminus env:deploy <site>.test --note "Ship it" --cc
    wf = client.run(f"sites/{site['id']}/environments/test", "deploy",
                    {"updatedb": 0, "clear_cache": 1, "annotation": "Ship it"})
    assert wf["result"] == "succeeded", wf
    assert wf["params"]["target_ref"] == "refs/tags/pantheon_test_2" and wf["params"]["target_commit"] == ahead
    envs = client.get(f"sites/{site['id']}/environments").json()
    assert envs["test"]["target_ref"] == "refs/tags/pantheon_test_2" and envs["test"]["target_commit"] == ahead
    assert envs["live"]["target_ref"] == "refs/tags/pantheon_live_1" and envs["live"]["target_commit"] == first
    assert env_file(emulator, site, "test", "NEW_ON_DEV.txt").read_text() == "only on master\n"
    assert not env_file(emulator, site, "live", "NEW_ON_DEV.txt").exists()
    assert emulator.state(site["name"], "test")["db"]["tables"]["cache"] == 0, "clear_cache: 1 clears caches"
    repo = Path(emulator.data_dir) / "sites" / site["id"] / "repository.git"
    # annotated tag carrying the deploy note
    assert content.git("cat-file", "-t", "pantheon_test_2", git_dir=repo).strip() == "tag"
    assert "Ship it" in content.git("cat-file", "-p", "pantheon_test_2", git_dir=repo)
    log = client.get(f"sites/{site['id']}/environments/dev/code-log").json()
    assert sorted(log[0]["labels"]) == ["dev", "test"]

    wf = client.run(f"sites/{site['id']}/environments/live", "deploy",
                    {"updatedb": 0, "clear_cache": 0, "annotation": "Go live"})
    assert wf["result"] == "succeeded" and wf["params"]["target_ref"] == "refs/tags/pantheon_live_2", wf
    live = emulator.state(site["name"], "live")["code"]
    assert live["ref"] == "refs/tags/pantheon_live_2" and live["head"] == ahead
    assert env_file(emulator, site, "live", "NEW_ON_DEV.txt").exists()


def test_deploy_refuses_dev_and_uninitialized_envs_and_create_environment_initializes(emulator, client, make_site):
    site = make_site("drupal", envs={"dev": {}, "test": {"initialized": False}, "live": {"initialized": False}})
    dev = client.run(f"sites/{site['id']}/environments/dev", "deploy", {"annotation": "x"})
    assert dev["result"] == "failed" and "test and live" in dev["final_task"]["reason"]
    early = client.run(f"sites/{site['id']}/environments/test", "deploy", {"annotation": "x"})
    assert early["result"] == "failed" and "not been initialized" in early["final_task"]["reason"]
    assert client.get(f"sites/{site['id']}/environments/test/code-log").json() == []
    # terminus env:deploy on an uninitialized env posts create_environment (Environment::initializeBindings)
    wf = client.run(f"sites/{site['id']}/environments/test", "create_environment",
                    {"annotation": "Create the test environment", "clone_database": {"from_environment": "dev"},
                     "clone_files": {"from_environment": "dev"}})
    assert wf["result"] == "succeeded", wf
    settings = client.get(f"sites/{site['id']}/environments/test/settings").json()
    assert settings["is_initialized"] is True
    state = emulator.state(site["name"], "test")
    dev_state = emulator.state(site["name"], "dev")
    assert state["code"]["ref"] == "refs/tags/pantheon_test_1" and state["code"]["head"] == dev_state["code"]["head"]
    assert state["db"]["tables"] == dev_state["db"]["tables"]
    assert state["files"]["count"] == dev_state["files"]["count"] > 0
    again = client.run(f"sites/{site['id']}/environments/test", "create_environment", {})
    assert again["result"] == "failed" and "already initialized" in again["final_task"]["reason"]
