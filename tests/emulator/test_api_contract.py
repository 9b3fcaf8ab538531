"""Every contract path answers with the documented shape (pantheon-api.md)."""

from __future__ import annotations

import re

import pytest

UUID = re.compile(r"^[a-f0-9]{8}-([a-f0-9]{4}-){3}[a-f0-9]{12}$")


def test_login_returns_session_and_user(emulator, http):
    r = http.post(f"{emulator.api_url}/authorize/machine-token",
                  json={"machine_token": emulator.machine_token, "client": "terminus"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"session", "expires_at", "user_id"}
    assert body["user_id"] == emulator.user_id
    assert body["session"].startswith(emulator.user_id + ":")
    assert isinstance(body["expires_at"], int)


@pytest.mark.parametrize("body", [{"machine_token": "wrong", "client": "terminus"}, {"client": "terminus"}])
def test_bad_machine_token_is_refused_with_json_string(emulator, http, body):
    r = http.post(f"{emulator.api_url}/authorize/machine-token", json=body)
    assert r.status_code == 401
    assert r.json() == "Authorization failed. Please check that your machine token is valid."


def test_requests_without_valid_session_get_401_json_string(emulator, http, client):
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer nope"}):
        r = http.get(f"{emulator.api_url}/users/{emulator.user_id}", headers=headers)
        assert r.status_code == 401
        assert isinstance(r.json(), str)
    assert client.get(f"users/{emulator.user_id}").status_code == 200


def test_expired_session_is_refused(emulator, http):
    s = emulator.api()
    assert s.get(f"{emulator.api_url}/users/{emulator.user_id}").status_code == 200
    emulator.expire_sessions(s.headers["Authorization"][len("Bearer "):])
    r = s.get(f"{emulator.api_url}/users/{emulator.user_id}")
    assert r.status_code == 401 and isinstance(r.json(), str)


def test_user_has_email_and_profile(emulator, client):
    body = client.get(f"users/{emulator.user_id}").json()
    assert body["id"] == emulator.user_id and "@" in body["email"]
    assert {"full_name", "firstname", "lastname"} <= set(body["profile"])
    other = client.get(f"users/{'0' * 8}-0000-4000-8000-{'0' * 12}")
    assert other.status_code == 403 and isinstance(other.json(), str)


def test_track_answers_json_that_terminus_can_decode(emulator, http):
    # what CommandTracker::terminateCommand() sends; Request::request() json_decode()s the answer
    body = {"exit_code": 0, "duration": "00:00:01", "time_start": "2026-01-02 10:00:00", "time_end": "2026-01-02 10:00:01"}
    r = http.post(f"{emulator.api_url}/track", json=body)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {}


def test_unknown_paths_get_404_json_string(client):
    for path in ("nothing-here", "sites/not-a-site", "sites/x/y/z", "users/abc/unknown"):
        r = client.get(path)
        assert r.status_code in (403, 404), path
        assert isinstance(r.json(), str)
    r = client.get(f"sites/{'1' * 8}-1111-4111-8111-{'1' * 12}")
    assert r.status_code == 404 and isinstance(r.json(), str)


def test_site_name_lookup_and_site_object(emulator, client, make_site):
    site = make_site("drupal")
    r = client.get(f"site-names/{site['name']}")
    assert r.status_code == 200 and r.json() == {"id": site["id"], "name": site["name"]}
    missing = client.get("site-names/no-such-site-here")
    assert missing.status_code == 404
    assert missing.json() == "A site named no-such-site-here was not found."
    body = client.get(f"sites/{site['id']}", params={"site_state": "true"}).json()
    assert UUID.match(body["id"]) and body["name"] == site["name"]
    assert body["framework"] == "drupal"
    assert body["upstream"]["machine_name"] == "drupal7" and body["upstream"]["product_id"]
    assert isinstance(body["created"], int) and body["frozen"] is False
    assert body["holder_type"] == "user" and body["owner"] == emulator.user_id
    assert client.get(f"sites/{site['id']}").json() == body


def test_environments_settings_domains_variables(emulator, client, make_site):
    site = make_site("drupal8", envs={"dev": {}, "test": {}, "live": {"initialized": False}, "feat1": {}})
    envs = client.get(f"sites/{site['id']}/environments").json()
    assert set(envs) == {"dev", "test", "live", "feat1"}
    assert all("id" not in v for v in envs.values())
    assert envs["live"]["is_initialized"] is False and envs["test"]["is_initialized"] is True
    assert envs["dev"]["on_server_development"] is False and envs["dev"]["php_version"]
    assert envs["feat1"]["target_ref"] == "refs/heads/feat1" and envs["dev"]["target_ref"] == "refs/heads/master"
    assert re.match(r"^[0-9a-f]{40}$", envs["dev"]["target_commit"])
    settings = client.get(f"sites/{site['id']}/environments/live/settings").json()
    assert settings["drush_version"] == 12 and settings["is_initialized"] is False
    assert settings["framework"] == "drupal8"
    domains = client.get(f"sites/{site['id']}/environments/dev/domains").json()
    assert domains == [{"id": f"dev-{site['name']}.pantheonsite.localhost", "type": "platform",
                        "environment": "dev", "site_id": site["id"], "dns_zone_name": "pantheonsite.localhost",
                        "key": domains[0]["key"], "deletable": False}]
    variables = client.get(f"sites/{site['id']}/environments/dev/variables").json()
    assert {"DB_PORT", "DB_PASSWORD", "DB_USER", "DB_NAME"} <= set(variables)
    r = client.get(f"sites/{site['id']}/environments/nope/settings")
    assert r.status_code == 404 and isinstance(r.json(), str)


def test_drush_version_follows_framework(client, make_site):
    d7 = make_site("drupal", suffix="d7")
    wp = make_site("wordpress", suffix="wp")
    assert client.get(f"sites/{d7['id']}/environments/dev/settings").json()["drush_version"] == 8
    assert client.get(f"sites/{wp['id']}").json()["framework"] == "wordpress"


def test_upstreams_list(emulator, client):
    ups = client.get(f"users/{emulator.user_id}/upstreams").json()
    by_name = {u["machine_name"]: u for u in ups}
    assert by_name["drupal7"]["framework"] == "drupal"
    assert by_name["wordpress"]["framework"] == "wordpress"
    assert by_name["drupal-composer-managed"]["framework"] == "drupal8"
    assert by_name["empty"]["framework"] == "drupal8"
    assert all({"id", "label", "machine_name", "framework", "type"} <= set(u) for u in ups)


def test_memberships_and_organizations(emulator, client, site_prefix):
    created = emulator.seed({"seed": 2, "orgs": [{"name": f"Org {site_prefix}", "machine_name": f"{site_prefix}org"}],
                             "sites": [{"name": f"{site_prefix}in-org", "framework": "drupal",
                                        "org": f"{site_prefix}org", "tags": ["blue", "fleet"]}]})
    site_id = created[0]["id"]
    orgs = client.get(f"users/{emulator.user_id}/memberships/organizations", params={"limit": 100}).json()
    org = next(o for o in orgs if o["organization"]["profile"]["machine_name"] == f"{site_prefix}org")
    assert org["id"] == org["organization_id"] == org["organization"]["id"] and org["role"] == "admin"
    items = client.get(f"organizations/{org['id']}/memberships/sites", params={"limit": 100}).json()
    assert [i["id"] for i in items] == [site_id]
    assert items[0]["tags"] == ["blue", "fleet"] and items[0]["site"]["name"] == f"{site_prefix}in-org"
    mine = client.get(f"users/{emulator.user_id}/memberships/sites", params={"limit": 100}).json()
    assert all(m["id"] == m["site_id"] == m["site"]["id"] for m in mine)
    assert client.get(f"sites/{site_id}").json()["holder_type"] == "organization"


def test_other_user_cannot_see_sites(emulator, http, make_site):
    site = make_site("drupal")
    other = emulator.add_user(f"{site['name']}@example.com")
    r = http.post(f"{emulator.api_url}/authorize/machine-token",
                  json={"machine_token": other["machine_token"], "client": "terminus"})
    headers = {"Authorization": "Bearer " + r.json()["session"]}
    assert http.get(f"{emulator.api_url}/site-names/{site['name']}", headers=headers).status_code == 404
    assert http.get(f"{emulator.api_url}/sites/{site['id']}", headers=headers).status_code == 403
    listed = http.get(f"{emulator.api_url}/users/{other['user_id']}/memberships/sites", headers=headers).json()
    assert listed == []


def test_paging_across_250_sites(emulator, client, site_prefix):
    created = emulator.seed({"seed": 9, "sites": [{"name": f"{site_prefix}p{i:03d}", "framework": "drupal",
                                                   "lazy": True} for i in range(250)]})
    want = {s["id"] for s in created}
    seen, pages, start = [], 0, None
    while True:
        params = {"limit": 100}
        if start:
            params["start"] = start
        page = client.get(f"users/{emulator.user_id}/memberships/sites", params=params).json()
        pages += 1
        seen += [m["id"] for m in page]
        if len(page) < 100:
            break
        start = page[-1]["id"]
    assert want <= set(seen)
    assert len(seen) == len(set(seen)), "an item came twice"
    assert seen == sorted(seen)
    assert pages >= 3
