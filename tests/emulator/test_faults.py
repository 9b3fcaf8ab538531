"""Faults fire exactly as configured; the request log records what happened."""

from __future__ import annotations

import pytest
import requests

from pantheon_emulator.pytest_plugin import EmulatorError


@pytest.fixture(autouse=True)
def no_faults(emulator):
    emulator.clear_faults()
    yield
    emulator.clear_faults()


def _user_path(emulator):
    return f"^/api/users/{emulator.user_id}$"


def test_sequence(emulator, client):
    emulator.faults({"match": {"channel": "http", "path": _user_path(emulator)},
                     "sequence": [{"status": 503}, None, {"status": 429, "retry_after": 2}]})
    got = [client.get(f"users/{emulator.user_id}") for _i in range(5)]
    assert [r.status_code for r in got] == [503, 200, 429, 200, 200]
    assert got[2].headers["Retry-After"] == "2"
    assert isinstance(got[0].json(), str) and isinstance(got[2].json(), str)
    assert emulator.list_faults()[0]["done"] is True


def test_times_after_and_method(emulator, client):
    emulator.faults([{"match": {"channel": "http", "method": "GET", "path": _user_path(emulator)},
                      "action": {"status": 502}, "times": 1, "after": 1},
                     {"match": {"channel": "http", "method": "POST", "path": "^/api/track$"},
                      "action": {"status": 500}, "times": 2}])
    assert [client.get(f"users/{emulator.user_id}").status_code for _i in range(3)] == [200, 502, 200]
    assert [client.post("track", {}).status_code for _i in range(3)] == [500, 500, 200]


def _pattern(emulator, client, seed):
    emulator.clear_faults()
    emulator.faults({"match": {"channel": "http", "path": _user_path(emulator)},
                     "action": {"status": 503}, "probability": 0.5, "seed": seed})
    return [client.get(f"users/{emulator.user_id}").status_code for _i in range(30)]


def test_probability_is_deterministic_with_a_seed(emulator, client):
    first = _pattern(emulator, client, 7)
    again = _pattern(emulator, client, 7)
    other = _pattern(emulator, client, 8)
    assert first == again
    assert 3 < first.count(503) < 27, first
    assert other != first


def test_reset_closes_the_connection(emulator, client):
    emulator.faults({"match": {"channel": "http", "path": _user_path(emulator)}, "action": {"reset": True},
                     "times": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        client.get(f"users/{emulator.user_id}")
    assert client.get(f"users/{emulator.user_id}").status_code == 200
    logged = [r for r in emulator.requests() if r["path"] == f"/api/users/{emulator.user_id}"]
    assert logged[-2]["status"] == 0 and logged[-1]["status"] == 200


def test_delay_slows_the_answer(emulator, client):
    emulator.faults({"match": {"channel": "http", "path": "^/api/track$"}, "action": {"delay": 0.6}, "times": 1})
    assert client.post("track", {}).status_code == 200
    assert client.post("track", {}).status_code == 200
    # the rule matched and fired once (times: 1): the second request was not delayed; structural, not timed
    rule = emulator.list_faults()[0]
    assert (rule["matches"], rule["fired"]) == (1, 1), rule
    logged = [r for r in emulator.requests(channel="api") if r["path"] == "/api/track"][-2:]
    # the server held the first answer for the delay (a lower bound a loaded machine only lengthens)
    assert logged[0]["duration"] >= 0.6, logged


def test_truncated_download_then_resume(emulator, client, http, make_site):
    site = make_site("drupal", files={"count": 4, "size": 40000, "compressible": False})
    client.export(site["id"], "live", elements=("files",))
    url = client.backup_url(site["id"], "live", "files")
    whole = http.get(url).content
    assert len(whole) > 100000
    emulator.faults({"match": {"channel": "download", "path": "_files\\.tar\\.gz$"},
                     "action": {"truncate_after": 50000}, "times": 1})
    got = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        with http.get(url, stream=True) as r:
            assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(whole)
            for chunk in r.iter_content(8192):
                got += chunk
    assert 0 < len(got) <= 50000
    rest = http.get(url, headers={"Range": f"bytes={len(got)}-"})
    assert rest.status_code == 206 and got + rest.content == whole


def test_download_channel_status_and_api_truncation(emulator, client, http, make_site):
    site = make_site("drupal")
    client.export(site["id"], "dev", elements=("database",))
    url = client.backup_url(site["id"], "dev", "database")
    emulator.faults([{"match": {"channel": "download"}, "action": {"status": 503, "retry_after": 1}, "times": 1},
                     {"match": {"channel": "http", "path": "/environments$"}, "action": {"truncate_after": 10},
                      "times": 1}])
    r = http.get(url)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and "<Error>" in r.text
    assert http.get(url).status_code == 200
    with pytest.raises(requests.exceptions.RequestException):
        client.get(f"sites/{site['id']}/environments").json()
    assert "dev" in client.get(f"sites/{site['id']}/environments").json()


def test_holds_block_each_channel_until_released(emulator, client, make_site):
    """A held workflow, API request and SSH command wait until the test releases them; clearing the
    faults releases whatever is still held."""
    import concurrent.futures  # pylint: disable=import-outside-toplevel
    from pantheon_emulator.ssh.testing import SSHClients  # pylint: disable=import-outside-toplevel

    site = make_site("drupal")
    emulator.faults([{"match": {"channel": "workflow", "path": "^clear_cache$"}, "action": {"hold": "wf"}, "times": 1},
                     {"match": {"channel": "http", "path": "^/api/track$"}, "action": {"hold": "api"}, "times": 1},
                     {"match": {"channel": "ssh", "path": "sqlq"}, "action": {"hold": "ssh"}, "times": 1}])
    wf = client.start(f"sites/{site['id']}/environments/dev", "clear_cache")
    assert emulator.wait_hold("wf") == {"reached": 1, "released": False, "finished": 0}
    assert client.get(f"sites/{site['id']}/workflows/{wf['id']}").json()["result"] is None
    emulator.release("wf")
    assert emulator.wait_hold("wf", until="finished", timeout=30)["finished"] == 1
    assert client.get(f"sites/{site['id']}/workflows/{wf['id']}").json()["result"] == "succeeded"

    ssh = SSHClients(emulator)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        track = pool.submit(client.post, "track", {})
        query = pool.submit(ssh.ssh, ssh.app_user(site["id"]), "drush sqlq 'SELECT 42'")
        emulator.wait_hold("api", timeout=30)
        emulator.wait_hold("ssh", timeout=30)
        assert not track.done() and not query.done()
        assert emulator.holds() == {"wf": {"reached": 1, "released": True, "finished": 1},
                                    "api": {"reached": 1, "released": False, "finished": 0},
                                    "ssh": {"reached": 1, "released": False, "finished": 0}}
        emulator.release("api")
        assert track.result(60).status_code == 200
        assert emulator.wait_hold("api", until="finished", timeout=30)["finished"] == 1
        assert not query.done()
        emulator.clear_faults()  # releases the SSH command too
        assert query.result(60).stdout.strip() == b"42"
    assert emulator.holds() == {}
    with pytest.raises(EmulatorError, match="HTTP 408"):
        emulator.wait_hold("never", timeout=0.2)
    with pytest.raises(EmulatorError, match="HTTP 400"):
        emulator.faults({"match": {"channel": "http"}, "action": {"hold": "no spaces"}})


def test_bad_rules_are_refused(emulator):
    for rule in ({"match": {"channel": "smtp"}, "action": {"status": 500}},
                 {"match": {"channel": "http", "path": "("}, "action": {"status": 500}},
                 {"match": {"channel": "http"}, "action": {"explode": True}},
                 {"match": {"channel": "http"}},
                 {"match": {"channel": "http"}, "action": {"status": 500}, "probability": 3}):
        with pytest.raises(EmulatorError, match="HTTP 400"):
            emulator.faults(rule)
    assert emulator.list_faults() == []


def test_request_log(emulator, client):
    emulator.clear_requests()
    assert emulator.requests() == []
    client.get(f"users/{emulator.user_id}/memberships/sites", params={"limit": 5, "start": "x"})
    client.get("nothing")
    log = emulator.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", f"/api/users/{emulator.user_id}/memberships/sites", 200), ("GET", "/api/nothing", 404)]
    assert all(r["time"] > 0 and r["duration"] >= 0 and r["channel"] == "api" for r in log)
    emulator.clear_requests()
    assert emulator.requests() == []


def _statuses(emulator, client, seed, count=80):
    emulator.clear_faults()
    emulator.fault_profile("rough", seed)
    out = []
    for _i in range(count):
        try:
            out.append(client.get(f"users/{emulator.user_id}").status_code)
        except requests.exceptions.ConnectionError:
            out.append(0)
    return out


def test_fault_profile_is_named_and_seeded(emulator, client):
    """POST faults {"profile": "rough", "seed": N} installs the profile's rules; a seed repeats its decisions."""
    from pantheon_emulator.faults import PROFILES  # pylint: disable=import-outside-toplevel
    first = _statuses(emulator, client, 3)
    assert len(emulator.list_faults()) == len(PROFILES["rough"])
    assert all(r["rule"]["comment"] == "profile rough" for r in emulator.list_faults())
    assert _statuses(emulator, client, 3) == first
    assert _statuses(emulator, client, 4) != first
    # about a fifth of the API calls fail (10% 5xx, 5% 429, 2% resets), the rest answer
    assert set(first) <= {200, 429, 500, 502, 503, 0} and 4 <= sum(1 for s in first if s != 200) <= 40, first
    with pytest.raises(EmulatorError, match="unknown fault profile 'gentle'"):
        emulator.fault_profile("gentle")
