"""Helpers for tests that drive the emulator's SSH side with the real OpenSSH, rsync, sftp and
git clients (used by tests/emulator/test_ssh*.py)."""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
from pathlib import Path

import pytest


class SSHClients:
    """Runs real clients against an emulator (``pytest_plugin.Emulator``)."""

    def __init__(self, emulator, private_key=None):
        self.emulator = emulator
        self.host = emulator.ssh_host or "127.0.0.1"
        self.port = int(emulator.ssh_port)
        self.private_key = str(private_key or emulator.ssh_private_key)
        self.known_hosts = str(emulator.known_hosts)

    def common(self):
        return ["-i", self.private_key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "ConnectTimeout=20"]

    def options(self):
        return ["-p", str(self.port)] + self.common()

    def rsh(self):
        """The ssh command for ``rsync -e`` and ``GIT_SSH_COMMAND``."""
        return " ".join(shlex.quote(a) for a in ["ssh"] + self.options())

    @staticmethod
    def app_user(site_id, env="dev", terminus_host=True):
        """``appserver.{env}.{site}`` (the TERMINUS_SSH_HOST form) or ``{env}.{site}``."""
        return f"appserver.{env}.{site_id}" if terminus_host else f"{env}.{site_id}"

    def ssh(self, user, command, input=None, timeout=60, extra=()):  # noqa: A002
        """Run ``command`` (one string, as the remote side receives it); returns CompletedProcess (bytes)."""
        argv = ["ssh", "-T"] + self.options() + list(extra) + [f"{user}@{self.host}", command]
        return subprocess.run(argv, input=input, capture_output=True, timeout=timeout, check=False)

    def popen(self, user, command, **kwargs):
        argv = ["ssh", "-T"] + self.options() + [f"{user}@{self.host}", command]
        return subprocess.Popen(argv, **kwargs)  # pylint: disable=consider-using-with

    def rsync(self, *args, timeout=120):
        argv = ["rsync", "-e", self.rsh()] + [str(a) for a in args]
        return subprocess.run(argv, capture_output=True, timeout=timeout, check=False)

    def remote(self, user, path):
        return f"{user}@{self.host}:{path}"

    def git_url(self, site_id):
        return f"ssh://codeserver.dev.{site_id}@{self.host}:{self.port}/~/repository.git"

    def git(self, *args, cwd=None, timeout=120):
        env = dict(os.environ)
        env.update({"GIT_SSH_COMMAND": self.rsh(), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
                    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"})
        return subprocess.run(["git"] + [str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                              timeout=timeout, check=False)

    def sftp(self, user, batch, cwd=None, timeout=60):
        """Run ``sftp -b`` with the batch commands (a string); returns CompletedProcess (text)."""
        argv = ["sftp", "-b", "-", "-P", str(self.port)] + self.common()
        argv.append(f"{user}@{self.host}")
        return subprocess.run(argv, input=batch, capture_output=True, text=True, cwd=cwd, timeout=timeout,
                              check=False)


def env_dir(emulator, site_id, env="dev"):
    """The environment directory in the emulator's data directory (the SSH user's home)."""
    return Path(emulator.data_dir) / "sites" / site_id / "envs" / env


def seed_site(emulator, suffix, seed, framework="drupal", envs=("dev",), **spec):
    """Seed one site with a unique name; returns {id, name, framework, envs, created}."""
    site = {"name": f"t{secrets.token_hex(3)}-{suffix}", "framework": framework,
            "envs": envs if isinstance(envs, dict) else list(envs)}
    site.update(spec)
    return emulator.seed({"seed": seed, "sites": [site]})[0]


@pytest.fixture(scope="module")
def clients(emulator):
    """SSHClients for the session emulator (import this fixture into a test module)."""
    return SSHClients(emulator)
