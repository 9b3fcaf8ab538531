"""rsync, SFTP and git against the emulator's SSH side, with the real clients: transfers in both
directions, confinement to files/ and code/, and a git push that updates dev through sync_code."""

from __future__ import annotations

import secrets
import time

import pytest

from pantheon_emulator.ssh.testing import clients, env_dir, seed_site  # noqa: F401  # pylint: disable=unused-import


@pytest.fixture(scope="module")
def site(emulator):
    return seed_site(emulator, "xfer", 21, envs={"dev": {}, "mdev1": {}},
                     files={"count": 5, "size": 4000, "depth": 2, "folders": 2})


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_rsync_upload_with_temp_dir_and_download(emulator, clients, site, tmp_path):
    user = clients.app_user(site["id"])
    src = tmp_path / "src"
    (src / "nested" / "déjà vu").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "nested" / "déjà vu" / "b c.bin").write_bytes(secrets.token_bytes(50000))
    up = clients.rsync("-rlIpz", "--temp-dir=~/tmp/", "--delay-updates", "--partial", f"{src}/",
                       clients.remote(user, "files/upload/"))
    assert up.returncode == 0, up.stderr
    files = env_dir(emulator, site["id"]) / "files"
    assert _tree(files / "upload") == _tree(src)

    down = tmp_path / "down"
    res = clients.rsync("-rlz", clients.remote(user, "files/"), f"{down}/")
    assert res.returncode == 0, res.stderr
    assert _tree(down) == _tree(files)
    assert _tree(down / "upload") == _tree(src)

    # code/ is reachable too, and the ~/ form of a path
    res = clients.rsync("-rlz", clients.remote(user, "~/code/index.php"), f"{tmp_path}/index.php")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "index.php").read_bytes() == (env_dir(emulator, site["id"]) / "code" / "index.php").read_bytes()


@pytest.mark.parametrize("target", ["../escape/", "/etc/", "/tmp/", "tmp/", "~/", "home-file.txt",
                                    "files/../../escape/"])
def test_rsync_writes_outside_files_and_code_are_refused(emulator, clients, site, tmp_path, target):
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.txt").write_text("x")
    res = clients.rsync("-rlz", f"{src}/", clients.remote(clients.app_user(site["id"]), target))
    assert res.returncode != 0
    assert b"rsync:" in res.stderr and (b"outside" in res.stderr or b"'..'" in res.stderr), res.stderr
    site_dir = env_dir(emulator, site["id"]).parent.parent
    assert not list(site_dir.parent.rglob("escape"))
    assert not (env_dir(emulator, site["id"]) / "x.txt").exists()
    assert not (env_dir(emulator, site["id"]) / "tmp" / "x.txt").exists()


def test_rsync_refused_options_and_links(emulator, clients, site, tmp_path):
    user = clients.app_user(site["id"])
    res = clients.rsync("-rl", "--rsync-path=rsync --log-file=/tmp/emu-rsync.log", f"{tmp_path}/",
                        clients.remote(user, "files/"))
    assert res.returncode != 0 and b"only 'rsync --server'" in res.stderr
    # a link inside files/ that leads outside cannot be used to reach outside
    link = env_dir(emulator, site["id"]) / "files" / "outside-link"
    link.symlink_to("/etc")
    try:
        res = clients.rsync("-rl", clients.remote(user, "files/outside-link/hostname"), f"{tmp_path}/h")
        assert res.returncode != 0 and b"symbolic link" in res.stderr
        assert not (tmp_path / "h").exists()
        res = clients.rsync("-rL", clients.remote(user, "files/"), f"{tmp_path}/all/")
        assert res.returncode != 0 and b"--copy-links" in res.stderr
    finally:
        link.unlink()


def test_sftp_is_confined(emulator, clients, site, tmp_path):
    local = tmp_path / "up.txt"
    local.write_text("sftp upload\n")
    # a file at the top of the home (outside code/, files/, tmp/) that sftp must not remove
    (env_dir(emulator, site["id"]) / "home-file.txt").write_text("stays\n")
    batch = "\n".join([
        "pwd", "cd files", "put up.txt sftp-up.txt", "mkdir sftp-dir", "put up.txt sftp-dir/inner.txt",
        "-put up.txt /top-level.txt", "-mkdir /newdir", "-put up.txt ../../escape.txt",
        "-get /etc/hostname got-hostname", "-rm /home-file.txt", "-put up.txt /tmp/tmp.txt",
        "cd /code", "put up.txt code-up.txt", "rm code-up.txt", "get /files/sftp-up.txt back.txt",
    ]) + "\n"
    res = clients.sftp(clients.app_user(site["id"]), batch, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Remote working directory: /" in res.stdout
    home = env_dir(emulator, site["id"])
    assert (home / "files" / "sftp-up.txt").read_text() == "sftp upload\n"
    assert (home / "files" / "sftp-dir" / "inner.txt").exists()
    assert not (home / "top-level.txt").exists() and not (home / "newdir").exists()
    assert not (home / "tmp" / "tmp.txt").exists()
    assert not list(home.parent.parent.parent.rglob("escape.txt"))
    assert (home / "home-file.txt").read_text() == "stays\n"
    assert not (tmp_path / "got-hostname").exists()
    assert (tmp_path / "back.txt").read_text() == "sftp upload\n"
    assert res.stderr.count("Permission denied") >= 5, res.stderr


def _wait_workflow(api, base, site_id, wf_type, env, after, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wfs = api.get(f"{base}/sites/{site_id}/workflows", timeout=30).json()
        found = [w for w in wfs if w["type"] == wf_type and w.get("environment") == env
                 and w.get("created_at", 0) >= after]
        if found and found[0].get("result") is not None:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no finished {wf_type} workflow on {env}")


def test_git_clone_and_push_updates_dev_through_sync_code(emulator, clients, site, tmp_path):
    work = tmp_path / "repo"
    res = clients.git("clone", "-q", clients.git_url(site["id"]), work)
    assert res.returncode == 0, res.stderr
    assert (work / "index.php").exists()
    marker = secrets.token_hex(8)
    (work / "sites" / "all" / "modules" / "emu").mkdir(parents=True)
    (work / "sites" / "all" / "modules" / "emu" / "emu.module").write_text(f"<?php // {marker}\n")
    assert clients.git("add", "-A", cwd=work).returncode == 0
    assert clients.git("commit", "-qm", "Add emu module", cwd=work).returncode == 0
    head = clients.git("rev-parse", "HEAD", cwd=work).stdout.decode().strip()
    pushed_at = time.time() - 1
    push = clients.git("push", "-q", "origin", "master", cwd=work)
    assert push.returncode == 0, push.stderr

    api = emulator.api()
    wf = _wait_workflow(api, emulator.api_url, site["id"], "sync_code", "dev", pushed_at)
    assert wf["result"] == "succeeded", wf
    code = env_dir(emulator, site["id"]) / "code"
    assert (code / "sites" / "all" / "modules" / "emu" / "emu.module").read_text() == f"<?php // {marker}\n"
    assert clients.git("rev-parse", "HEAD", cwd=code).stdout.decode().strip() == head
    env = api.get(f"{emulator.api_url}/sites/{site['id']}/environments", timeout=30).json()["dev"]
    assert env.get("target_commit") in (None, head)

    # a multidev branch updates that multidev only
    assert clients.git("checkout", "-q", "mdev1", cwd=work).returncode == 0  # tracks origin/mdev1
    (work / "multidev.txt").write_text("md\n")
    assert clients.git("add", "-A", cwd=work).returncode == 0
    assert clients.git("commit", "-qm", "md", cwd=work).returncode == 0
    push = clients.git("push", "-q", "origin", "mdev1", cwd=work)
    assert push.returncode == 0, push.stderr
    wf = _wait_workflow(api, emulator.api_url, site["id"], "sync_code", "mdev1", pushed_at)
    assert wf["result"] == "succeeded", wf
    assert (env_dir(emulator, site["id"], "mdev1") / "code" / "multidev.txt").exists()
    assert not (code / "multidev.txt").exists()


def test_git_paths_and_users(clients, site, tmp_path):
    for path in ("/~/repository.git", "repository.git"):
        url = f"ssh://codeserver.dev.{site['id']}@{clients.host}:{clients.port}{'' if path.startswith('/') else '/'}{path}"
        res = clients.git("ls-remote", url)
        assert res.returncode == 0 and b"refs/heads/master" in res.stdout, (path, res.stderr)
    bad = clients.git("ls-remote", f"ssh://codeserver.dev.{site['id']}@{clients.host}:{clients.port}/etc/passwd")
    assert bad.returncode != 0 and b"does not appear to be a git repository" in bad.stderr
    wrong_user = clients.git("ls-remote", f"ssh://dev.{site['id']}@{clients.host}:{clients.port}/~/repository.git")
    assert wrong_user.returncode != 0 and b"codeserver" in wrong_user.stderr
