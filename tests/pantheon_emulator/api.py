"""The platform API under /api, with the paths, bodies, status codes and JSON-string error
bodies of ../shared/reference/pantheon-api.md."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

from aiohttp import web

from pantheon_emulator import content, workflows
from pantheon_emulator.store import SITE_NAME_RE, branch_for_env
from pantheon_emulator.web import signed_url


FROZEN_MESSAGE = ("This site is frozen. Its test and live environments and many commands will be unavailable while it "
                  "remains frozen.")


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def jstr(status, message, headers=None):
    """An error answer: a JSON string body, as the platform sends."""
    return web.json_response(message, status=status, headers=headers)


async def read_json(request, required=True):
    raw = await request.read()
    if not raw.strip():
        if required:
            raise ApiError(400, "The request body must be a JSON object.")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def bearer_user(request):
    store = request.app["store"]
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    uid = store.session_user(token)
    if not uid:
        raise ApiError(401, "Unauthorized: a valid session is required. Log in with a machine token.")
    return uid


def own_user(request):
    uid = bearer_user(request)
    if request.match_info["uid"] != uid:
        raise ApiError(403, "You may only access your own user.")
    return uid


def accessible_site(request, uid=None):
    store = request.app["store"]
    uid = uid or bearer_user(request)
    site_id = request.match_info["site"]
    site = store.get_site(site_id)
    if not site:
        raise ApiError(404, f"Site {site_id} was not found.")
    if not store.user_can_access(uid, site_id):
        raise ApiError(403, "You do not have permission to access this site.")
    return uid, site


def env_of(request, site):
    store = request.app["store"]
    env = request.match_info["env"]
    row = store.get_env(site["id"], env)
    if not row:
        raise ApiError(404, f"Environment {env} was not found on site {site['name']}.")
    return row


# ====================================================================== JSON shapes
def user_json(user):
    return {"id": user["id"], "user_id": user["id"], "email": user["email"],
            "profile": {"full_name": f"{user['firstname']} {user['lastname']}", "firstname": user["firstname"],
                        "lastname": user["lastname"], "web_services_business": False},
            "created_at": int(user["created"]), "feature_flags": [], "is_registered": True}


def upstream_json(up):
    if not up:
        return {}
    return {"id": up["id"], "product_id": up["id"], "label": up["label"], "machine_name": up["machine_name"],
            "framework": up["framework"], "type": up["type"], "organization_id": up["org_id"],
            "url": f"https://github.com/pantheon-upstreams/{up['machine_name']}",
            "repository_url": f"https://github.com/pantheon-upstreams/{up['machine_name']}",
            "branch": "master", "repository_branch": "master",
            "description": f"{up['label']} upstream", "connection_mode_default": "git", "icon_url": None,
            "is_public_spinup_allowed": True}


def site_json(store, site):
    up = store.get_upstream(site["upstream_id"]) if site["upstream_id"] else None
    dev = store.get_env(site["id"], "dev")
    return {
        "id": site["id"], "name": site["name"], "label": site["label"], "created": int(site["created"]),
        "framework": site["framework"], "organization": site["org_id"] or "", "plan_name": site["plan_name"],
        "service_level": "basic" if site["plan_name"] != "Sandbox" else "free",
        "settings": {"max_num_cdes": 10, "allow_domains": False},
        "upstream": upstream_json(up), "product": {"id": up["id"], "longname": up["label"]} if up else {},
        "holder_type": "organization" if site["org_id"] else "user",
        "holder_id": site["org_id"] or site["owner_id"], "owner": site["owner_id"],
        "preferred_zone": site["preferred_zone"], "preferred_zone_label": "United States",
        "frozen": bool(site["frozen"]), "last_frozen_at": None,
        "php_version": (dev or {}).get("settings", {}).get("php_version"),
        "created_by_user_id": site["owner_id"], "is_frozen": bool(site["frozen"]),
    }


def env_json(store, site, env):
    s = env["settings"]
    return {
        "environment_created": int(env["created"]), "dns_zone": store.get_config("dns_zone"),
        "on_server_development": bool(s.get("on_server_development")), "php_version": s.get("php_version"),
        "randseed": uuid.uuid5(uuid.NAMESPACE_OID, site["id"] + env["env"]).hex[:16],
        "styx_cluster": "styx-emu.pantheon.localhost", "styx_clusters_for_cache_clear": [],
        "target_commit": env["target_commit"],
        "target_ref": s.get("target_ref") or f"refs/heads/{branch_for_env(env['env'])}",
        "key": f"{site['id']}!{env['env']}", "is_initialized": bool(s.get("is_initialized")),
        "lock": {"locked": False, "username": None, "password": None}, "environment_variables": {},
        "diffstat": {}, "watchers": 0, "quicksilver_configuration": {},
    }


def settings_json(store, site, env):
    s = env["settings"]
    return {
        "drush_version": s.get("drush_version"), "php_version": s.get("php_version"), "ssl_enabled": True,
        "framework": site["framework"], "on_server_development": bool(s.get("on_server_development")),
        "preferred_zone": site["preferred_zone"], "dns_zone": store.get_config("dns_zone"),
        "is_initialized": bool(s.get("is_initialized")), "allow_domains": False, "allow_cacheserver": False,
        "allow_indexserver": False, "max_num_cdes": 10, "cacheserver": False, "indexserver": False,
        "replica_verification_strategy": "legacy", "appserver_count": 1,
    }


def paged(request, items):
    """Paging as Terminus does it: ``limit`` and ``start`` = id of the previous page's last item."""
    try:
        limit = int(request.query.get("limit", 100))
    except ValueError:
        raise ApiError(400, "limit must be an integer.") from None
    if limit < 1:
        raise ApiError(400, "limit must be at least 1.")
    items = sorted(items, key=lambda i: i["id"])
    start = request.query.get("start")
    if start:
        items = [i for i in items if i["id"] > start]
    return web.json_response(items[:limit])


# ====================================================================== handlers
async def authorize(request):
    store = request.app["store"]
    body = await read_json(request)
    token = body.get("machine_token")
    uid = store.user_for_machine_token(token) if isinstance(token, str) else None
    if not uid:
        raise ApiError(401, "Authorization failed. Please check that your machine token is valid.")
    return web.json_response(store.create_session(uid))


async def track(request):
    """Terminus' CommandTracker::terminateCommand() posts {exit_code, duration, time_start, time_end}
    at the end of every command and Request::request() json_decode()s every answer with
    JSON_THROW_ON_ERROR: an empty body is a "Syntax error" in its debug log. Answer 200 with a JSON
    object (the real body is not known; Terminus ignores it)."""
    await request.read()
    return web.json_response({})


async def get_user(request):
    uid = own_user(request)
    return web.json_response(user_json(request.app["store"].get_user(uid)))


async def user_site_memberships(request):
    store = request.app["store"]
    uid = own_user(request)
    items = []
    for m in store.site_memberships(uid):
        site = store.get_site(m["site_id"])
        if site:
            items.append({"id": site["id"], "key": site["id"], "site_id": site["id"], "user_id": uid,
                          "role": m["role"], "archived": False, "invited_by_id": None,
                          "site": site_json(store, site)})
    return paged(request, items)


async def user_org_memberships(request):
    store = request.app["store"]
    uid = own_user(request)
    items = [{"id": m["org_id"], "key": m["org_id"], "organization_id": m["org_id"], "user_id": uid,
              "role": m["role"], "admin": m["role"] == "admin", "archived": False, "invited_by_id": None,
              "organization": {"id": m["org_id"], "profile": {"machine_name": m["machine_name"], "name": m["name"]}}}
             for m in store.org_memberships(uid)]
    return paged(request, items)


async def org_site_memberships(request):
    store = request.app["store"]
    uid = bearer_user(request)
    org_id = request.match_info["org"]
    if not store.get_org(org_id):
        raise ApiError(404, f"Organization {org_id} was not found.")
    role = store.org_role(org_id, uid)
    if role is None or role == "unprivileged":
        raise ApiError(403, "You do not have permission to list this organization's sites.")
    items = [{"id": s["id"], "key": s["id"], "site_id": s["id"], "organization_id": org_id, "role": "owner",
              "archived": False, "tags": store.site_tags(s["id"]), "site": site_json(store, s)}
             for s in store.org_sites(org_id)]
    return paged(request, items)


async def user_upstreams(request):
    store = request.app["store"]
    own_user(request)
    return web.json_response([upstream_json(u) for u in store.list_upstreams()])


async def site_name(request):
    store = request.app["store"]
    uid = bearer_user(request)
    name = request.match_info["name"]
    site = store.find_site_by_name(name)
    if not site or not store.user_can_access(uid, site["id"]):
        raise ApiError(404, f"A site named {name} was not found.")
    return web.json_response({"id": site["id"], "name": site["name"]})


async def get_site(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    return web.json_response(site_json(store, site))


async def environments(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    return web.json_response({e["env"]: env_json(store, site, e) for e in store.list_envs(site["id"])})


async def env_settings(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    return web.json_response(settings_json(store, site, env_of(request, site)))


async def env_code_log(request):
    """``GET .../environments/{env}/code-log`` (Terminus ``Commits`` collection, ``env:code-log``)."""
    store = request.app["store"]
    _uid, site = accessible_site(request)
    env = env_of(request, site)["env"]
    paths = store.env_paths(site["id"], env)
    refs = {e["env"]: content.env_ref(paths.repo, e["env"]) for e in store.list_envs(site["id"])}
    loop = asyncio.get_running_loop()
    commits = await loop.run_in_executor(None, content.code_log, paths.repo, refs.get(env), refs)
    return web.json_response(commits)


async def env_domains(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    env = env_of(request, site)["env"]
    # The bare host, as the platform answers (Terminus' domain lists show no port); the web's
    # loopback port is in the startup JSON, GET /_emulator/config and PANTHEON_WEB_PORT.
    host = store.platform_host(site["name"], env)
    return web.json_response([{"id": host, "type": "platform", "environment": env, "site_id": site["id"],
                               "dns_zone_name": store.get_config("dns_zone"), "key": host, "deletable": False}])


async def env_variables(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    env = env_of(request, site)
    # The environment's own database and user on the emulator's MariaDB (every Pantheon
    # environment has one, so it is created here if nothing made it yet).
    db = store.env_paths(site["id"], env["env"], materialize=False).db
    await asyncio.get_running_loop().run_in_executor(None, db.create)
    return web.json_response({
        "DB_HOST": "127.0.0.1", "DB_PORT": store.mariadb.port, "DB_USER": db.user,
        "DB_PASSWORD": env["db_password"], "DB_NAME": db.name, "CACHE_HOST": None, "CACHE_PORT": None,
        "CACHE_PASSWORD": None, "CACHE_BINDING_ID": None, "BUILD_STEP": site["framework"] == "drupal8",
        "PANTHEON_SITE": site["id"], "PANTHEON_SITE_NAME": site["name"], "PANTHEON_ENVIRONMENT": env["env"],
        "FRAMEWORK": site["framework"], "FILEMOUNT": "sites/default/files" if site["framework"] != "wordpress"
        else "wp-content/uploads", "DRUSH_VERSION": env["settings"].get("drush_version"),
    })


def _workflow_body(body):
    wf_type = body.get("type")
    params = body.get("params", {})
    if not isinstance(wf_type, str) or not wf_type:
        raise ApiError(400, "The workflow type is required.")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ApiError(400, "params must be an object.")
    return wf_type, params


def _accepted(store, owner, site_id, env, uid, wf_type, params):
    """Create a workflow, start it in the background, answer 202 with the workflow object."""
    wf = workflows.create(store, owner, site_id, env, uid, wf_type, params)
    store.run_workflow_async(wf["id"])
    return web.json_response(workflows.to_api(store, wf), status=202)


async def user_workflows_post(request):
    store = request.app["store"]
    uid = own_user(request)
    wf_type, params = _workflow_body(await read_json(request))
    if wf_type not in ("create_site", "create_site_for_migration"):
        raise ApiError(400, f"Unsupported user workflow type {wf_type}.")
    name = params.get("site_name")
    if not isinstance(name, str) or not SITE_NAME_RE.match(name) or name.endswith("-"):
        raise ApiError(400, "site_name must be lowercase letters, digits and hyphens (at most 52 characters).")
    if not isinstance(params.get("label"), str) or not params["label"].strip():
        raise ApiError(400, "label is required.")
    if store.find_site_by_name(name) or store.site_name_being_created(name):
        # a name is taken from the moment a create_site workflow for it is accepted
        raise ApiError(409, f"The site name {name} is already taken.")
    org_id = params.get("organization_id")
    if org_id:
        role = store.org_role(org_id, uid)
        if not store.get_org(org_id) or role is None or role == "unprivileged":
            raise ApiError(403, f"You may not create sites in organization {org_id}.")
    return _accepted(store, "user", None, None, uid, "create_site", params)


async def site_workflows_post(request):
    store = request.app["store"]
    uid, site = accessible_site(request)
    wf_type, params = _workflow_body(await read_json(request))
    if wf_type not in workflows.SITE_TYPES:
        raise ApiError(400, f"Unsupported site workflow type {wf_type}.")
    if wf_type == "deploy_product" and not (params.get("product_id") or params.get("upstream_id")):
        raise ApiError(400, "product_id is required.")
    if wf_type == "create_cloud_development_environment":
        _check_new_multidev(store, site, params)
    return _accepted(store, "site", site["id"], None, uid, wf_type, params)


MULTIDEV_RESERVED = ("master", "settings", "team", "support", "multidev", "debug", "files", "tags", "billing",
                     "dev", "test", "live")
MULTIDEV_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,10}$")
MULTIDEV_LIMIT = 10
MULTIDEV_PLANS_WITHOUT = ("Sandbox", "Basic")


def _check_new_multidev(store, site, params):
    """What the platform refuses before creating a Multidev (see README: the name rules and the limit of 10 are
    Pantheon's Multidev docs; the statuses and the plan rule are guesses)."""
    name = params.get("environment_id")
    if not isinstance(name, str) or not MULTIDEV_NAME_RE.match(name) or name in MULTIDEV_RESERVED:
        raise ApiError(400, "environment_id must be at most 11 lowercase letters, digits and hyphens, start with a "
                            "letter or digit, and not be a reserved name (" + ", ".join(MULTIDEV_RESERVED) + ").")
    if not site["org_id"] and site["plan_name"] in MULTIDEV_PLANS_WITHOUT:
        raise ApiError(403, f"Multidev is not available for the site {site['name']}.")
    envs = [e["env"] for e in store.list_envs(site["id"])]
    if name in envs:
        raise ApiError(409, f"The environment {name} already exists.")
    if len([e for e in envs if e not in ("dev", "test", "live")]) >= MULTIDEV_LIMIT:
        raise ApiError(409, f"The site {site['name']} already has {MULTIDEV_LIMIT} Multidev environments.")
    deploy = params.get("deploy") if isinstance(params.get("deploy"), dict) else {}
    for key in ("clone_database", "clone_files"):
        spec = deploy.get(key)
        source = spec.get("from_environment") if isinstance(spec, dict) else None
        if spec is not None and (not isinstance(source, str) or source not in envs):
            raise ApiError(400, f"deploy.{key}.from_environment must name an environment of the site.")


async def env_workflows_post(request):
    store = request.app["store"]
    uid, site = accessible_site(request)
    env = env_of(request, site)["env"]
    wf_type, params = _workflow_body(await read_json(request))
    if wf_type not in workflows.ENV_TYPES:
        raise ApiError(400, f"Unsupported environment workflow type {wf_type}.")
    if wf_type in ("do_import", "do_migration") and not isinstance(params.get("url"), str):
        raise ApiError(400, "url is required.")
    if site["frozen"] and env in ("test", "live"):
        # a frozen site's test and live are unavailable (Terminus's requireSiteIsNotFrozen message);
        # the status code the platform answers is a guess
        raise ApiError(409, FROZEN_MESSAGE)
    return _accepted(store, "env", site["id"], env, uid, wf_type, params)


async def site_workflow_get(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    wf = store.get_workflow(request.match_info["wid"])
    if not wf or wf["site_id"] != site["id"] or wf["owner"] == "user":
        raise ApiError(404, "Workflow not found.")
    return web.json_response(workflows.to_api(store, wf))


async def site_workflows_list(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    return web.json_response([workflows.to_api(store, wf) for wf in store.list_workflows(site["id"])])


async def user_workflow_get(request):
    store = request.app["store"]
    uid = own_user(request)
    wf = store.get_workflow(request.match_info["wid"])
    if not wf or wf["user_id"] != uid:
        raise ApiError(404, "Workflow not found.")
    return web.json_response(workflows.to_api(store, wf))


async def user_workflows_list(request):
    store = request.app["store"]
    uid = own_user(request)
    return web.json_response([workflows.to_api(store, wf) for wf in store.list_user_workflows(uid)])


async def backup_catalog(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    env = env_of(request, site)["env"]
    return web.json_response(dict(store.backup_catalog(site["id"], env)))


async def s3token(request):
    store = request.app["store"]
    _uid, site = accessible_site(request)
    env = env_of(request, site)["env"]
    body = await read_json(request)
    if body.get("method") != "get":
        raise ApiError(400, 'Only {"method": "get"} is supported.')
    folder, element = request.match_info["folder"], request.match_info["element"]
    entry = store.get_backup(site["id"], env, folder, element)
    if not entry or not entry.get("size"):
        raise ApiError(404, f"No finished {element} backup in {folder}.")
    return web.json_response({"url": signed_url(store, site["id"], env, folder, entry["filename"])})


async def not_found(request):
    raise ApiError(404, "Not found.")


def add_routes(app):
    p = "/api"
    r = app.router
    r.add_post(f"{p}/authorize/machine-token", authorize)
    r.add_post(f"{p}/track", track)
    r.add_get(f"{p}/users/{{uid}}", get_user)
    r.add_get(f"{p}/users/{{uid}}/memberships/sites", user_site_memberships)
    r.add_get(f"{p}/users/{{uid}}/memberships/organizations", user_org_memberships)
    r.add_get(f"{p}/users/{{uid}}/upstreams", user_upstreams)
    r.add_post(f"{p}/users/{{uid}}/workflows", user_workflows_post)
    r.add_get(f"{p}/users/{{uid}}/workflows", user_workflows_list)
    r.add_get(f"{p}/users/{{uid}}/workflows/{{wid}}", user_workflow_get)
    r.add_get(f"{p}/organizations/{{org}}/memberships/sites", org_site_memberships)
    r.add_get(f"{p}/site-names/{{name}}", site_name)
    r.add_get(f"{p}/sites/{{site}}", get_site)
    r.add_get(f"{p}/sites/{{site}}/environments", environments)
    r.add_get(f"{p}/sites/{{site}}/environments/{{env}}/settings", env_settings)
    r.add_get(f"{p}/sites/{{site}}/environments/{{env}}/domains", env_domains)
    r.add_get(f"{p}/sites/{{site}}/environments/{{env}}/code-log", env_code_log)
    r.add_get(f"{p}/sites/{{site}}/environments/{{env}}/variables", env_variables)
    r.add_post(f"{p}/sites/{{site}}/environments/{{env}}/workflows", env_workflows_post)
    r.add_get(f"{p}/sites/{{site}}/environments/{{env}}/backups/catalog", backup_catalog)
    r.add_post(f"{p}/sites/{{site}}/environments/{{env}}/backups/catalog/{{folder}}/{{element}}/s3token", s3token)
    r.add_post(f"{p}/sites/{{site}}/workflows", site_workflows_post)
    r.add_get(f"{p}/sites/{{site}}/workflows", site_workflows_list)
    r.add_get(f"{p}/sites/{{site}}/workflows/{{wid}}", site_workflow_get)
    r.add_route("*", p + "/{tail:.*}", not_found)
