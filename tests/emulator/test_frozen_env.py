"""A frozen site (the API's ``frozen`` field): its test and live environments are unavailable
(web, workflows, SSH); dev still answers."""

from __future__ import annotations

import subprocess


def _ssh(emulator, site_id, env, command):
    argv = ['ssh', '-T', '-p', str(emulator.ssh_port), '-i', emulator.ssh_private_key, '-o', 'BatchMode=yes',
            '-o', 'IdentitiesOnly=yes', '-o', f'UserKnownHostsFile={emulator.known_hosts}',
            '-o', 'StrictHostKeyChecking=accept-new', f'appserver.{env}.{site_id}@{emulator.ssh_host}', command]
    return subprocess.run(argv, capture_output=True, timeout=60, check=False)


def test_frozen_site_has_no_test_or_live(emulator, client, http, make_site):
    site = make_site("drupal", frozen=True)
    body = client.get(f"sites/{site['id']}").json()
    assert body["frozen"] is True
    for env in ("test", "live"):
        page = http.get(emulator.web_url(site["name"], env) + "/", timeout=30)
        assert page.status_code == 503 and "frozen" in page.text
        r = client.post(f"sites/{site['id']}/environments/{env}/workflows",
                        {"type": "clear_cache", "params": {"framework_cache": True}})
        assert r.status_code == 409 and "This site is frozen" in r.json()
        refused = _ssh(emulator, site["id"], env, "drush sql-query 'SELECT 1'")
        assert refused.returncode != 0 and not refused.stdout.strip()
    assert http.get(emulator.web_url(site["name"], "dev") + "/", timeout=30).status_code == 200
    assert client.run(f"sites/{site['id']}/environments/dev", "clear_cache", {"framework_cache": True})["result"] \
        == "succeeded"
    dev = _ssh(emulator, site["id"], "dev", "drush sql-query 'SELECT 1'")
    assert dev.returncode == 0, dev.stderr


def test_unfrozen_site_serves_live(emulator, http, make_site):
    site = make_site("drupal")
    assert http.get(emulator.web_url(site["name"], "live") + "/", timeout=30).status_code == 200
