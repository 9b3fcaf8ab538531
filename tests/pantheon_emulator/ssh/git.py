"""git over SSH on the codeserver user: ``git-upload-pack`` / ``git-receive-pack`` on the site's
bare ``repository.git``; after a push, the environments whose branch moved get a ``sync_code``
workflow (master -> dev, a multidev's branch -> that multidev)."""

from __future__ import annotations

import shutil

from pantheon_emulator import content
from pantheon_emulator.ssh.channel import CommandError

SERVICES = {"git-upload-pack": "upload-pack", "git-receive-pack": "receive-pack"}
REPO_FORMS = ("~/repository.git", "/~/repository.git", "repository.git", "/repository.git", "~/repository",
              "/~/repository", "repository")


def plan(argv):
    """(service, path as given) for a git command line, else CommandError."""
    if argv and argv[0] == "git" and len(argv) >= 2 and f"git-{argv[1]}" in SERVICES:
        argv = [f"git-{argv[1]}"] + argv[2:]
    if not argv or argv[0] not in SERVICES:
        raise CommandError("command not allowed: the codeserver only serves git (git-upload-pack, "
                           "git-receive-pack)\n", 127)
    paths = [a for a in argv[1:] if not a.startswith("-")]
    options = [a for a in argv[1:] if a.startswith("-")]
    if len(paths) != 1 or any(o not in ("--stateless-rpc", "--advertise-refs", "--strict") for o in options):
        raise CommandError(f"usage: {argv[0]} '~/repository.git'\n", 129)
    if paths[0].rstrip("/") not in REPO_FORMS:
        raise CommandError(f"fatal: '{paths[0]}' does not appear to be a git repository\n", 128)
    return SERVICES[argv[0]], paths[0]


def git_binary():
    return shutil.which("git") or "/usr/bin/git"


def branch_heads(repo):
    """{branch: sha} of the bare repository."""
    out = content.git("for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads", git_dir=repo,
                      check=False)
    heads = {}
    for line in out.splitlines():
        name, _sep, sha = line.partition(" ")
        if name:
            heads[name] = sha
    return heads


def envs_for_branches(store, site_id, branches):
    """The environments a push to ``branches`` updates: dev for master, the multidev of the same name."""
    envs = []
    for branch in sorted(branches):
        env = "dev" if branch == "master" else branch
        if env in ("test", "live"):
            continue
        if store.get_env(site_id, env):
            envs.append((env, branch))
    return envs


def after_push(store, site_id, before, after):
    """Start ``sync_code`` for every environment whose branch moved; returns the workflows."""
    moved = {b for b, sha in after.items() if before.get(b) != sha}
    workflows = []
    for env, branch in envs_for_branches(store, site_id, moved):
        workflows.append(store.create_and_run_workflow(site_id, env, "sync_code",
                                                       {"branch": branch, "commit": after[branch],
                                                        "source": "git_push"}))
    return workflows
