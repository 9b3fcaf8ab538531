"""Fixtures for the emulator's own tests: an API client bound to the session emulator."""

from __future__ import annotations

import time

import pytest


class Client:
    """Talks to the emulator's /api like Terminus does (Bearer session, JSON bodies)."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.base = emulator.api_url
        self.uid = emulator.user_id
        self.session = emulator.api()

    def get(self, path, **kwargs):
        return self.session.get(f"{self.base}/{path}", timeout=60, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.session.post(f"{self.base}/{path}", json=body, timeout=60, **kwargs)

    def site_id(self, name):
        r = self.get(f"site-names/{name}")
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def start(self, owner_path, wf_type, params=None):
        r = self.post(f"{owner_path}/workflows", {"type": wf_type, "params": params or {}})
        assert r.status_code == 202, r.text
        return r.json()

    def poll(self, poll_path, wf_id, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(f"{poll_path}/workflows/{wf_id}")
            assert r.status_code == 200, r.text
            wf = r.json()
            if wf.get("result") is not None:
                return wf
            assert time.monotonic() < deadline, f"workflow {wf_id} still running: {wf}"
            time.sleep(0.05)

    def run(self, owner_path, wf_type, params=None, poll_path=None, timeout=120):
        """Start a workflow and poll it to the end (site and env workflows are polled under the site)."""
        wf = self.start(owner_path, wf_type, params)
        if poll_path is None:
            parts = owner_path.split("/")
            poll_path = "/".join(parts[:2])
        return self.poll(poll_path, wf["id"], timeout)

    def export(self, site_id, env, elements=("code", "database", "files"), ttl=86400):
        params = {e: e in elements for e in ("code", "database", "files")}
        params.update(entry_type="backup", ttl=ttl)
        wf = self.run(f"sites/{site_id}/environments/{env}", "do_export", params)
        assert wf["result"] == "succeeded", wf
        return wf

    def backup_url(self, site_id, env, element):
        """Signed URL of the newest finished archive of ``element``."""
        catalog = self.get(f"sites/{site_id}/environments/{env}/backups/catalog").json()
        keys = sorted((k for k, v in catalog.items() if k.endswith("_" + element) and v.get("filename")
                       and v.get("size")), reverse=True)
        assert keys, f"no finished {element} backup: {catalog}"
        folder = catalog[keys[0]]["folder"]
        r = self.post(f"sites/{site_id}/environments/{env}/backups/catalog/{folder}/{element}/s3token",
                      {"method": "get"})
        assert r.status_code == 200, r.text
        return r.json()["url"]


@pytest.fixture(scope="session")
def client(emulator):
    return Client(emulator)


@pytest.fixture
def http(emulator):
    """A plain requests session trusting the emulator CA (no API session)."""
    return emulator.http()


@pytest.fixture
def make_site(emulator, site_prefix):
    """Seed one site: make_site("drupal", suffix="a", **spec) -> {id, name, framework, envs}."""
    def factory(framework="drupal", suffix="s", **spec):
        site = {"name": f"{site_prefix}{suffix}", "framework": framework}
        site.update(spec)
        created = emulator.seed({"seed": 5, "sites": [site]})
        assert created[0]["created"], created
        return created[0]
    return factory
