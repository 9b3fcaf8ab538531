"""Admin endpoints under /_emulator (no auth; the server only listens on loopback)."""

from __future__ import annotations

import asyncio
import functools
import json

from aiohttp import web

from pantheon_emulator import content, faults, seed
from pantheon_emulator.store import StoreError, branch_for_env


def _err(status, message):
    return web.json_response({"error": message}, status=status)


async def _body(request):
    raw = await request.read()
    try:
        return json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "body is not valid JSON"}),
                                 content_type="application/json") from None


async def _in_thread(func, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(func, *args, **kwargs))


async def index(request):
    store = request.app["store"]
    return web.json_response({
        "endpoints": ["GET/DELETE requests", "GET/POST/DELETE faults", "GET holds",
                      "POST holds/{name}/wait", "POST holds/{name}/release", "POST seed", "GET/POST/DELETE ssh-keys",
                      "GET/POST config", "GET state/sites", "GET state/sites/{site}/envs/{env}",
                      "POST sessions/expire", "POST users", "GET secrets"],
        "web_port": store.runtime.get("web_port"), "ssh_port": store.runtime.get("ssh_port"),
    })


async def requests_get(request):
    store = request.app["store"]
    since = int(request.query.get("since", 0) or 0)
    rows = store.requests(since)
    channel = request.query.get("channel")
    if channel:
        rows = [r for r in rows if r["channel"] == channel]
    return web.json_response(rows)


async def requests_delete(request):
    request.app["store"].clear_requests()
    return web.Response(status=204)


async def secrets_get(request):
    """The secrets a run's output must not hold: ``?since=<unix time>`` limits sessions,
    signatures and archive names to those issued, used or seen since then (store.secrets_since)."""
    try:
        since = float(request.query.get("since", 0) or 0)
    except ValueError:
        return _err(400, "since must be a unix time in seconds")
    return web.json_response(await _in_thread(request.app["store"].secrets_since, since))


async def faults_get(request):
    return web.json_response(request.app["store"].list_faults())


def _created(key, func, *args):
    """201 {key: func(*args)}, or 400 naming what the store refused."""
    try:
        return web.json_response({key: func(*args)}, status=201)
    except StoreError as exc:
        return _err(400, str(exc))


async def faults_post(request):
    body = await _body(request)
    if isinstance(body, dict) and "profile" in body:
        try:
            body = faults.profile_rules(body["profile"], body.get("seed", 0))
        except StoreError as exc:
            return _err(400, str(exc))
    return _created("ids", request.app["store"].add_faults, body if body is not None else [])


async def faults_delete(request):
    request.app["store"].clear_faults()
    faults.holds_of(request.app["store"]).release_all()
    return web.Response(status=204)


async def holds_get(request):
    return web.json_response(faults.holds_of(request.app["store"]).state())


async def hold_wait(request):
    """Answer once ``count`` events (default 1) have reached the hold (``until=reached``, the
    default) or have been handled after it (``until=finished``): 200 with its state, or 408 after
    ``timeout`` seconds (default 60)."""
    name = request.match_info["name"]
    until = request.query.get("until", "reached")
    try:
        count = int(request.query.get("count", 1))
        timeout = float(request.query.get("timeout", 60))
    except ValueError:
        return _err(400, "count must be an integer and timeout a number of seconds")
    if until not in ("reached", "finished"):
        return _err(400, "until must be reached or finished")
    state = await _in_thread(faults.holds_of(request.app["store"]).wait_reached, name, count, timeout, until)
    if state is None:
        return _err(408, f"hold {name!r} was not {until} {count} time(s) within {timeout:g}s")
    return web.json_response(state)


async def hold_release(request):
    return web.json_response(faults.holds_of(request.app["store"]).release(request.match_info["name"]))


async def seed_post(request):
    store = request.app["store"]
    body = await _body(request)
    if not isinstance(body, dict):
        return _err(400, "POST a recipe object, or {\"fleet\": \"demo\", \"scale\": 0.01}, or {\"bulk\": N}")
    try:
        if body.get("fleet"):
            if body["fleet"] != "demo":
                return _err(400, f"unknown fleet {body['fleet']!r}; known: demo")
            recipe = seed.demo_fleet(float(body.get("scale", 1.0)), int(body.get("seed", 1)))
        elif body.get("bulk"):
            recipe = seed.bulk_sites(int(body["bulk"]), body.get("prefix", "bulk-"), int(body.get("seed", 1)))
        else:
            recipe = body
        sites = await _in_thread(seed.seed_recipe, store, recipe)
    except (StoreError, content.ContentError, KeyError, TypeError, ValueError) as exc:
        return _err(400, f"seeding failed: {exc}")
    return web.json_response({"sites": sites}, status=201)


async def ssh_keys_get(request):
    return web.json_response(request.app["store"].authorized_keys())


async def ssh_keys_post(request):
    raw = (await request.read()).decode("utf-8", "replace").strip()
    line = raw
    if raw.startswith("{"):
        try:
            line = json.loads(raw).get("public_key", "")
        except (ValueError, AttributeError):
            return _err(400, "body must be {\"public_key\": \"ssh-ed25519 AAAA...\"} or the key line")
    return _created("key", request.app["store"].add_authorized_key, line)


async def ssh_keys_delete(request):
    request.app["store"].remove_authorized_keys()
    return web.Response(status=204)


async def config_get(request):
    store = request.app["store"]
    conf = store.config()
    conf.pop("signing_key", None)
    conf.pop("default_machine_token", None)
    return web.json_response(conf)


async def config_post(request):
    body = await _body(request)
    if not isinstance(body, dict):
        return _err(400, "POST an object of settings, e.g. {\"url_import_max_bytes\": 1048576}")
    try:
        limits = request.app["store"].set_config(**body)
    except StoreError as exc:
        return _err(400, str(exc))
    return web.json_response(limits)


async def sessions_expire(request):
    body = await _body(request) or {}
    request.app["store"].expire_sessions(body.get("session") if isinstance(body, dict) else None)
    return web.Response(status=204)


async def users_post(request):
    store = request.app["store"]
    body = await _body(request) or {}
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        return _err(400, "email is required")
    if store.find_user_by_email(email):
        return _err(409, f"user {email} exists")
    user = store.create_user(email, body.get("firstname", "Other"), body.get("lastname", "User"))
    token = store.create_machine_token(user["id"])
    for site_ref in body.get("sites", []):
        site = store.find_site(site_ref)
        if site:
            store.add_site_member(site["id"], user["id"])
    return web.json_response({"user_id": user["id"], "email": email, "machine_token": token}, status=201)


def env_state(store, site, env, digest=False):
    """Summary of an environment's content for tests."""
    paths = store.env_paths(site["id"], env)
    env_row = store.get_env(site["id"], env)
    try:
        tables, db_error = content.db_tables(paths.db), None
    except content.ContentError as exc:
        tables, db_error = None, str(exc)
    code = content.files_summary(paths.code)
    code_files = sum(1 for rel, _p, _st in content.walk_files(paths.code) if not rel.startswith(".git/"))
    status, _html = content.render_home(paths.db, site["framework"], site["name"], env)
    return {
        "site": {"id": site["id"], "name": site["name"], "framework": site["framework"]},
        "env": env,
        "settings": env_row["settings"],
        "target_commit": env_row["target_commit"],
        "code": {"head": content.code_head(paths), "branch": branch_for_env(env),
                 "ref": content.env_ref(paths.repo, env) if (paths.repo / "HEAD").exists() else None,
                 # the commit the env runs: its deploy tag's for test/live, its branch head otherwise
                 "repo_head": content.ref_commit(paths.repo, content.env_ref(paths.repo, env))
                 if (paths.repo / "HEAD").exists() else None,
                 "master_head": content.branch_head(paths.repo, "master")
                 if (paths.repo / "HEAD").exists() else None,
                 "files": code_files, "bytes": code["bytes"]},
        "db": {"exists": paths.db.exists(), "tables": tables, "error": db_error, "name": paths.db.name,
               "bytes": paths.db.size(), **({"digest": paths.db.digest()} if digest and tables else {})},
        "files": content.files_summary(paths.files, digest=digest),
        "home_status": status,
        "paths": {"root": str(paths.root), "code": str(paths.code), "files": str(paths.files),
                  "db": paths.db.name, "repo": str(paths.repo)},
    }


async def state_sites(request):
    store = request.app["store"]
    return web.json_response([{"id": s["id"], "name": s["name"], "framework": s["framework"],
                               "envs": [e["env"] for e in store.list_envs(s["id"])]} for s in store.list_sites()])


async def state_env(request):
    store = request.app["store"]
    site = store.find_site(request.match_info["site"])
    if not site:
        return _err(404, f"no site {request.match_info['site']}")
    env = request.match_info["env"]
    if not store.get_env(site["id"], env):
        return _err(404, f"no environment {env} on {site['name']}")
    digest = request.query.get("digest") in ("1", "true", "yes")
    return web.json_response(await _in_thread(env_state, store, site, env, digest))


def add_routes(app):
    p = "/_emulator"
    r = app.router
    r.add_get(p, index)
    r.add_get(p + "/", index)
    r.add_get(p + "/requests", requests_get)
    r.add_delete(p + "/requests", requests_delete)
    r.add_get(p + "/secrets", secrets_get)
    r.add_get(p + "/faults", faults_get)
    r.add_post(p + "/faults", faults_post)
    r.add_delete(p + "/faults", faults_delete)
    r.add_get(p + "/holds", holds_get)
    r.add_post(p + "/holds/{name}/wait", hold_wait)
    r.add_post(p + "/holds/{name}/release", hold_release)
    r.add_post(p + "/seed", seed_post)
    r.add_get(p + "/ssh-keys", ssh_keys_get)
    r.add_post(p + "/ssh-keys", ssh_keys_post)
    r.add_delete(p + "/ssh-keys", ssh_keys_delete)
    r.add_get(p + "/config", config_get)
    r.add_post(p + "/config", config_post)
    r.add_post(p + "/sessions/expire", sessions_expire)
    r.add_post(p + "/users", users_post)
    r.add_get(p + "/state/sites", state_sites)
    r.add_get(p + "/state/sites/{site}/envs/{env}", state_env)
