"""Workflows: creation (the object the API returns), background execution, and each type's work.

A workflow is created with ``result: null`` and ``phase: created``, runs in a store thread,
and ends with ``result`` "succeeded" or "failed" and a ``final_task`` whose ``reason`` and
``messages`` explain a failure (what Terminus reads).
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
import ssl
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from pantheon_emulator import content, faults
from pantheon_emulator.store import StoreError, branch_for_env

SITE_TYPES = {"deploy_product", "delete_site", "complete_migration", "create_cloud_development_environment"}
ENV_TYPES = {"do_export", "do_import", "do_migration", "clear_cache", "sync_code", "clone_database", "clone_files",
             "deploy", "create_environment"}
USER_TYPES = {"create_site"}

DESCRIPTIONS = {
    "create_site": "Create a new site",
    "deploy_product": "Deploy a product to a site",
    "delete_site": "Delete site",
    "complete_migration": "Complete a site migration",
    "do_export": 'Create a backup of the "{env}" environment',
    "do_import": 'Import content into the "{env}" environment',
    "do_migration": 'Import a site archive into "{env}"',
    "clear_cache": 'Clear caches for "{env}"',
    "sync_code": 'Sync code on "{env}"',
    "clone_database": 'Clone database into "{env}"',
    "clone_files": 'Clone files into "{env}"',
    "deploy": 'Deploy code to "{env}"',
    "create_environment": 'Create the "{env}" environment',
    "create_cloud_development_environment": "Create a Multidev environment",
}
BUCKET = "pantheon-backups"
DEFAULT_TTL = 365 * 86400


class WorkflowFailure(Exception):
    """The workflow fails with this user-facing reason."""


# ====================================================================== creation / rendering
def create(store, owner, site_id, env, user_id, wf_type, params, extra=None):
    """Create a workflow row with the fields a real one starts with."""
    data = {
        "description": DESCRIPTIONS.get(wf_type, wf_type).format(env=env or ""),
        "number_of_tasks": 3,
        "step": 1,
        "task_ids": [str(uuid.uuid4())],
        "trace_id": str(uuid.uuid4()),
    }
    if wf_type == "create_site":
        data["waiting_for_task"] = {"id": str(uuid.uuid4()), "type": "deploy_codeserver_binding",
                                    "site_id": (extra or {}).pop("new_site_id", None) or str(uuid.uuid4()),
                                    "params": {}, "environment": None}
    elif wf_type == "do_export":
        ts = _reserve_backup_ts(store, site_id, env)
        data["waiting_for_task"] = {"id": str(uuid.uuid4()), "type": "do_export", "site_id": site_id,
                                    "environment": env,
                                    "params": {"folder": f"{ts}_backup", "bucket": BUCKET,
                                               "ttl": params.get("ttl", DEFAULT_TTL)}}
    data.update(extra or {})
    return store.create_workflow(owner, site_id, env, user_id, wf_type, params, data)


_TS_LOCK = threading.Lock()
_RESERVED = {}


def _reserve_backup_ts(store, site_id, env):
    """A backup timestamp (10 digits) unique per environment, even for exports in the same second."""
    with _TS_LOCK:
        ts = int(time.time())
        existing = {k.split("_", 1)[0] for k, _entry in store.backup_catalog(site_id, env)}
        taken = _RESERVED.setdefault((str(store.data_dir), site_id, env), set())
        while str(ts) in existing or ts in taken:
            ts += 1
        taken.add(ts)
        return ts


def to_api(store, wf):
    """The JSON object of a workflow as the API returns it."""
    user = store.get_user(wf["user_id"]) or {"email": None}
    now = time.time()
    started, finished = wf.get("started_at"), wf.get("finished_at")
    out = {
        "id": wf["id"],
        "type": wf["type"],
        "params": wf["params"],
        "site_id": wf["site_id"],
        "environment_id": wf["env"],
        "environment": wf["env"],
        "user_id": wf["user_id"],
        "user_email": user["email"],
        "user": {"id": wf["user_id"], "email": user["email"]},
        "role": "owner",
        "phase": wf["phase"],
        "result": wf["result"],
        "reason": wf.get("reason"),
        "created_at": wf["created_at"],
        "started_at": started,
        "finished_at": finished,
        "queued_time": (started - wf["created_at"]) if started else None,
        "run_time": ((finished or now) - started) if started else None,
        "total_time": (finished - wf["created_at"]) if finished else None,
        "step": wf.get("step", 1),
        "number_of_tasks": wf.get("number_of_tasks", 3),
        "active_description": wf.get("active_description") or wf.get("description"),
        "description": wf.get("description"),
        "task_ids": wf.get("task_ids", []),
        "waiting_for_task_id": (wf.get("waiting_for_task") or {}).get("id") if wf["result"] is None else None,
        "final_task_id": wf.get("final_task_id"),
        "final_task": wf.get("final_task"),
        "has_operation_log_output": False,
        "keep_forever": False,
        "trace_id": wf.get("trace_id"),
        "key": f"{wf['site_id'] or wf['user_id']}",
    }
    if wf.get("waiting_for_task"):
        # Never sent as null once set: Terminus merges every fetch into the model.
        out["waiting_for_task"] = wf["waiting_for_task"]
    return out


# ====================================================================== timing profile
# Seconds at scale 1: (fixed part, seconds per GiB of the environment's content). Only used when
# the ``workflow_scale`` setting is above 0. All numbers are guesses from the issue's "tens of
# seconds to many minutes" and Terminus's own waits (site:create waits for create_site, then
# deploy_product, then the wake check; env:deploy and import:* poll every 5 s): see README.
PROFILE = {
    "create_site": (90, 0), "deploy_product": (60, 0), "delete_site": (30, 0), "complete_migration": (5, 0),
    "do_export": (30, 120), "do_import": (45, 180), "do_migration": (120, 300),
    "clear_cache": (10, 0), "sync_code": (15, 0), "clone_database": (30, 120), "clone_files": (30, 60),
    "deploy": (30, 0), "create_environment": (60, 60), "create_cloud_development_environment": (60, 60),
}
GIB = 1024 ** 3
QUEUE_POLL = 0.02


def profile_seconds(wf_type, size_bytes, scale):
    fixed, per_gib = PROFILE.get(wf_type, (10, 0))
    return (fixed + per_gib * (size_bytes or 0) / GIB) * scale


def content_bytes(store, wf):
    """Bytes of the environment a workflow works on (database + files), for its duration."""
    if not wf.get("site_id") or not wf.get("env") or not store.get_site(wf["site_id"]):
        return 0
    paths = store.env_paths(wf["site_id"], wf["env"])
    size = paths.db.size()
    return size + content.files_summary(paths.files)["bytes"]


def _task(store, wf_id, task_type, **extra):
    """Move the workflow to a new current task: ``waiting_for_task`` changes (keeping what clients
    read from it: create_site's site_id, do_export's params.folder)."""
    wf = store.get_workflow(wf_id)
    base = dict(wf.get("waiting_for_task") or {})
    base.update(id=str(uuid.uuid4()), type=task_type, fn_name=task_type, site_id=base.get("site_id", wf["site_id"]),
                environment=wf["env"], queued_at=time.time(), **extra)
    store.update_workflow(wf_id, waiting_for_task=base, task_ids=(wf.get("task_ids") or []) + [base["id"]])


def _wait_in_queue(store, wf):
    """Wait while an earlier workflow of the same site is unfinished (phase stays ``created``)."""
    ahead = store.workflows_ahead(wf)
    shown = None
    while ahead:
        if ahead[0] != shown:
            shown = ahead[0]
            _task(store, wf["id"], "queued_behind_workflow", waiting_for_workflow_id=shown)
        time.sleep(QUEUE_POLL)
        ahead = store.workflows_ahead(wf)


def _run_profiled(store, wf, handler, scale):
    """Prepare (the fixed part), do the work, and finish the size-dependent part (the queue is
    waited for before, in run_workflow)."""
    _task(store, wf["id"], f"{wf['type']}_prepare")
    fixed, per_gib = PROFILE.get(wf["type"], (10, 0))
    export_size = content_bytes(store, wf) if wf["type"] == "do_export" else None
    time.sleep(fixed * scale + (per_gib * export_size / GIB * scale if export_size else 0))
    _task(store, wf["id"], wf["type"])
    started = time.monotonic()
    active = handler(store, wf)
    if per_gib and export_size is None:
        rest = per_gib * content_bytes(store, wf) / GIB * scale - (time.monotonic() - started)
        if rest > 0:
            _task(store, wf["id"], f"{wf['type']}_finalize")
            time.sleep(rest)
    return active


# ====================================================================== running
def run_workflow(store, wf_id):
    """Run one workflow to completion (called in a store thread)."""
    wf = store.get_workflow(wf_id)
    if wf is None or wf["result"] is not None:
        return
    scale = float(store.get_config("workflow_scale") or 0)
    fault = None
    try:
        if scale:
            _wait_in_queue(store, wf)
        store.update_workflow(wf_id, phase="started", started_at=time.time(), step=2)
        fault = store.fault_for("workflow", wf["owner"], wf["type"])
        if fault and fault.get("hold"):
            faults.holds_of(store).block(fault["hold"])
        delay = float(store.get_config("workflow_delay") or 0) + float((fault or {}).get("delay", 0))
        if delay:
            time.sleep(delay)
        if fault and fault.get("workflow_fail"):
            raise WorkflowFailure(fault["workflow_fail"])
        handler = HANDLERS.get(wf["type"])
        if handler is None:
            raise WorkflowFailure(f"Unsupported workflow type {wf['type']}")
        active = (_run_profiled(store, wf, handler, scale) if scale else handler(store, wf)) or wf.get("description")
        finish(store, wf_id, "succeeded", active_description=active)
    except WorkflowFailure as exc:
        finish(store, wf_id, "failed", reason=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        traceback.print_exc(file=sys.stderr)
        finish(store, wf_id, "failed", reason=f"The operation failed to complete: {type(exc).__name__}: {exc}")
    finally:
        if fault and fault.get("hold"):
            faults.holds_of(store).finish(fault["hold"])


def finish(store, wf_id, result, reason=None, active_description=None):
    now = time.time()
    iso = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    wf = store.get_workflow(wf_id)
    task_id = (wf.get("task_ids") or [str(uuid.uuid4())])[-1]
    final = {
        "id": task_id,
        "type": wf["type"],
        "fn_name": wf["type"],
        "result": result,
        "reason": reason or "",
        "site_id": wf["site_id"],
        "environment": wf["env"],
        "messages": ({iso: {"message": reason, "level": "ERROR"}} if reason else {}),
    }
    store.update_workflow(wf_id, phase="finished", result=result, reason=reason, finished_at=now,
                          step=wf.get("number_of_tasks", 3), final_task=final, final_task_id=task_id,
                          active_description=active_description or (reason if reason else wf.get("description")))


# ====================================================================== helpers
def _site(store, wf):
    site = store.get_site(wf["site_id"])
    if not site:
        raise WorkflowFailure(f"Site {wf['site_id']} no longer exists")
    return site


def _env(store, wf, require_initialized=True):
    site = _site(store, wf)
    env = store.get_env(site["id"], wf["env"])
    if not env:
        raise WorkflowFailure(f"Environment {wf['env']} does not exist on site {site['name']}")
    if require_initialized and not env["settings"].get("is_initialized"):
        raise WorkflowFailure(f'The "{wf["env"]}" environment of {site["name"]} has not been initialized')
    if not site["framework"]:
        raise WorkflowFailure(f"Site {site['name']} has no code yet: deploy a product (upstream) first")
    return site, env, store.env_paths(site["id"], wf["env"])


def framework_skeleton_commit(store, site, framework):
    """Commit the upstream's framework files as the first commit of master."""
    from pantheon_emulator import seed  # pylint: disable=import-outside-toplevel
    paths = store.env_paths(site["id"], "dev", materialize=False)
    with tempfile.TemporaryDirectory(prefix="emu-skel-", dir=str(paths.tmp)) as tmp:
        seed.write_code_tree(Path(tmp), framework, site["name"], extra=None)
        return content.commit_tree(paths.repo, "master", tmp, f"Initial commit of the {framework} upstream")


# ====================================================================== handlers
def h_create_site(store, wf):
    p = wf["params"]
    site_id = wf["waiting_for_task"]["site_id"]
    existing = store.get_site(site_id)
    if existing and existing["name"] == p["site_name"]:
        return f"Created site {p['site_name']}"  # resumed after a restart
    try:
        store.create_site(p["site_name"], label=p.get("label"), org_id=p.get("organization_id"),
                          owner_id=wf["user_id"], site_id=site_id,
                          preferred_zone=p.get("preferred_zone") or "us-central1")
    except StoreError as exc:
        raise WorkflowFailure(str(exc)) from None
    return f"Created site {p['site_name']}"


def h_deploy_product(store, wf):
    site = _site(store, wf)
    upstream = store.get_upstream(str(wf["params"].get("product_id") or wf["params"].get("upstream_id") or ""))
    if not upstream:
        raise WorkflowFailure(f"Unknown product {wf['params'].get('product_id')!r}")
    if site["framework"] or site["upstream_id"]:
        raise WorkflowFailure(f"Site {site['name']} already has a product deployed")
    store.apply_framework(site["id"], upstream["framework"], upstream["id"])
    site = store.get_site(site["id"])
    sha = framework_skeleton_commit(store, site, upstream["framework"])
    paths = store.env_paths(site["id"], "dev")
    head = content.checkout_env(paths, "master", upstream["framework"])
    paths.db.create()
    store.update_env(site["id"], "dev", target_commit=head or sha)
    return f"Deployed {upstream['label']}"


def h_delete_site(store, wf):
    site = _site(store, wf)
    store.delete_site(site["id"])
    return f"Deleted site {site['name']}"


def h_complete_migration(store, wf):
    _site(store, wf)
    return "Completed migration"


def backup_prefix(site, env, ts):
    stamp = dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
    return f"{site['name']}_{env}_{stamp}_UTC"


def record_backup(store, site, env, ts, archives, ttl, task_id, totals=None):
    """Write catalog entries for finished archives (+ the manifest entry)."""
    folder = f"{ts}_backup"
    now = time.time()
    for element, info in archives.items():
        store.add_backup_entry(site["id"], env, f"{ts}_backup_{element}", folder, element, info["filename"], {
            "size": info["size"], "timestamp": now, "finish_time": now, "start_time": float(ts), "ttl": ttl,
            "task_id": task_id, "endpoint_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, site["id"] + env)),
            "BUILD_TAG": f"jenkins-backup-{ts}", "BUILD_URL": None})
    totals = totals or {}
    store.add_backup_entry(site["id"], env, f"{ts}_backup_manifest", folder, "manifest", None, {
        "total_dirs": totals.get("dirs", 0), "total_files": totals.get("count", 0),
        "total_size": totals.get("bytes", 0), "total_entries": totals.get("count", 0) + totals.get("dirs", 0),
        "timestamp": now, "ttl": ttl, "task_id": task_id})


def h_do_export(store, wf):
    site, env, paths = _env(store, wf)
    p = wf["params"]
    elements = [e for e in ("code", "database", "files") if p.get(e)]
    if not elements:
        raise WorkflowFailure("Nothing to back up: set code, database and/or files")
    try:
        ttl = int(p.get("ttl", DEFAULT_TTL))
    except (TypeError, ValueError):
        raise WorkflowFailure(f"Invalid ttl {p.get('ttl')!r}") from None
    folder = wf["waiting_for_task"]["params"]["folder"]
    ts = int(folder.split("_", 1)[0])
    prefix = backup_prefix(site, wf["env"], ts)
    out_dir = store.backups_dir(site["id"], wf["env"], folder)
    task_id = wf["task_ids"][-1]
    # In-progress entries: size 0 and no finish_time, as the platform lists running backups.
    for element in elements:
        store.add_backup_entry(site["id"], wf["env"], f"{ts}_backup_{element}", folder, element,
                               f"{prefix}_{element}{'.sql.gz' if element == 'database' else '.tar.gz'}",
                               {"size": 0, "start_time": float(ts), "ttl": ttl, "task_id": task_id})
    archives = content.make_backup(paths, out_dir, prefix, wf["env"], site["framework"], elements)
    record_backup(store, site, wf["env"], ts, archives, ttl, task_id, content.files_summary(paths.files))
    return f'Backed up the "{wf["env"]}" environment'


def _ssl_context(store):
    ctx = ssl.create_default_context()
    ca = store.ca_dir / "ca.pem"
    if ca.exists():
        ctx.load_verify_locations(cafile=str(ca))
    return ctx


def fetch_url(store, url, dest_dir):
    """Download ``url`` the way the platform does for URL imports: a ranged probe for the size,
    refusing anything over the URL-import limit, then a streamed GET. Returns the local path."""
    limit = int(store.get_config("url_import_max_bytes") or 0)
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise WorkflowFailure("Import failed: the url parameter must be an http(s) URL")
    shown = url.split("?", 1)[0]
    ctx = _ssl_context(store)
    size = None
    try:
        req = urllib.request.Request(url, headers={"Range": "bytes=0-0", "User-Agent": "Pantheon-Importer/1.0"})
        with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
            crange = resp.headers.get("Content-Range", "")
            if resp.status == 206 and "/" in crange and not crange.endswith("/*"):
                size = int(crange.rsplit("/", 1)[1])
            elif resp.headers.get("Content-Length"):
                size = int(resp.headers["Content-Length"])
    except urllib.error.HTTPError as exc:
        raise WorkflowFailure(f"Import failed: unable to download the archive from {shown} (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise WorkflowFailure(f"Import failed: unable to download the archive from {shown} ({exc})") from None
    if limit and size is not None and size > limit:
        raise WorkflowFailure(f"Import failed: the archive is {size} bytes, over the {limit} byte "
                              f"({limit // (1024 * 1024)}MB) limit for URL imports")
    name = os.path.basename(shown.rstrip("/")) or "download"
    Path(dest_dir).mkdir(parents=True, exist_ok=True)
    fd, local = tempfile.mkstemp(prefix=".import-", suffix="-" + name[-80:], dir=str(dest_dir))
    total = 0
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "Pantheon-Importer/1.0"})
            with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
                expected = resp.headers.get("Content-Length")
                while True:
                    chunk = resp.read(1024 * 1024)
                    if not chunk:
                        break
                    total += len(chunk)
                    if limit and total > limit:
                        raise WorkflowFailure(f"Import failed: the archive is larger than the {limit} byte "
                                              f"({limit // (1024 * 1024)}MB) limit for URL imports")
                    out.write(chunk)
                if expected is not None and total != int(expected):
                    raise WorkflowFailure(f"Import failed: the download from {shown} was cut short "
                                          f"({total} of {expected} bytes)")
    except urllib.error.HTTPError as exc:
        os.unlink(local)
        raise WorkflowFailure(f"Import failed: unable to download the archive from {shown} (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        os.unlink(local)
        raise WorkflowFailure(f"Import failed: unable to download the archive from {shown} ({exc})") from None
    except WorkflowFailure:
        os.unlink(local)
        raise
    return local, name


def _sql_source(local, name):
    """Open a downloaded database import: .sql, .sql.gz, or a tar(.gz) with exactly one .sql."""
    with open(local, "rb") as fh:
        head = fh.read(262)
    if tarfile.is_tarfile(local):
        tar = tarfile.open(local, "r:*")
        sqls = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".sql")]
        if len(sqls) != 1:
            raise WorkflowFailure(f"Import failed: the archive {name} must contain exactly one .sql file "
                                  f"(found {len(sqls)})")
        return tar.extractfile(sqls[0])
    if head[:2] == b"\x1f\x8b":
        return gzip.open(local, "rb")
    return open(local, "rb")  # pylint: disable=consider-using-with


def h_do_import(store, wf):
    site, _env_row, paths = _env(store, wf)
    p = wf["params"]
    want_db, want_files = bool(p.get("database")), bool(p.get("files"))
    if want_db == want_files:
        raise WorkflowFailure("Import failed: set exactly one of database or files")
    local, name = fetch_url(store, p.get("url"), paths.tmp)
    try:
        if want_db:
            src = _sql_source(local, name)
            try:
                content.load_sql(paths.db, src)
            except content.ContentError as exc:
                raise WorkflowFailure(f"Database import failed: {exc}") from None
            finally:
                src.close()
            return f'Imported database into "{wf["env"]}"'
        try:
            content.extract_files_archive(local, paths.files, paths.tmp, store.get_config("max_file_bytes"))
        except content.ContentError as exc:
            raise WorkflowFailure(f"Files import failed: {exc}") from None
        content.link_files_dir(paths, site["framework"])
        return f'Imported files into "{wf["env"]}"'
    finally:
        try:
            os.unlink(local)
        except OSError:
            pass


def h_do_migration(store, wf):
    """Logs ``archive IMPORT <url path>`` (status 200, or 500 when it failed; duration: the import's
    run) for the exposure figures of the archive it imports."""
    started, status = time.monotonic(), 500
    try:
        _do_migration(store, wf)
        status = 200
    finally:
        url = wf["params"].get("url")
        if isinstance(url, str):
            store.log_request("IMPORT", urllib.parse.urlsplit(url).path, status, time.monotonic() - started,
                              channel="archive")


def _do_migration(store, wf):
    if wf["env"] != "dev":
        raise WorkflowFailure("Site archives can only be imported into the dev environment")
    site, _env_row, paths = _env(store, wf)
    if site["framework"] == "wordpress":
        raise WorkflowFailure("Import failed: a Drush archive cannot be imported into a WordPress site")
    local, _name = fetch_url(store, wf["params"].get("url"), paths.tmp)
    try:
        try:
            archive = content.Drush8Archive(local)
        except content.ContentError as exc:
            raise WorkflowFailure(f"Import failed: {exc}") from None
        with tempfile.TemporaryDirectory(prefix=".migration-", dir=str(paths.tmp)) as tmp:
            try:
                code_dir, files_dir, sql = archive.extract(Path(tmp) / "x", store.get_config("max_file_bytes"))
                # Database first (piped into mysql, not transactional: a broken dump leaves the
                # database half-imported and the workflow failed), then code, then files.
                with open(sql, "rb") as fh:
                    content.load_sql(paths.db, fh)
            except content.ContentError as exc:
                raise WorkflowFailure(f"Import failed: {exc}") from None
            sha = content.commit_tree(paths.repo, "master", code_dir, "Imported site archive",
                                      exclude=[content.files_path(site["framework"])])
            content._swap_dir(files_dir, paths.files)  # pylint: disable=protected-access
            head = content.checkout_env(paths, "master", site["framework"])
            store.update_env(site["id"], "dev", target_commit=head or sha)
    finally:
        try:
            os.unlink(local)
        except OSError:
            pass
    return "Imported site onto Pantheon"


def h_clear_cache(store, wf):
    _site_row, _env_row, paths = _env(store, wf)
    _clear_caches(paths)
    return f'Cleared caches for "{wf["env"]}"'


def h_sync_code(store, wf):
    site, _env_row, paths = _env(store, wf, require_initialized=False)
    if wf["env"] in ("test", "live"):
        # test and live run their newest deploy tag, never a branch
        found = content.newest_deploy_tag(paths.repo, wf["env"])
        head = content.checkout_env(paths, None, site["framework"], tag=found[0]) if found else None
        if head is None:
            raise WorkflowFailure(f'Nothing has been deployed to "{wf["env"]}" of {site["name"]} yet')
    else:
        branch = branch_for_env(wf["env"])
        head = content.checkout_env(paths, branch, site["framework"])
        if head is None:
            raise WorkflowFailure(f"Branch {branch} does not exist in the repository of {site['name']}")
    store.update_env(site["id"], wf["env"], target_commit=head)
    return f'Sync code on "{wf["env"]}"'


def _from_env(store, wf, site, src=None):
    src = src if src is not None else wf["params"].get("from_environment")
    if not isinstance(src, str) or not store.get_env(site["id"], src):
        raise WorkflowFailure(f"Unknown source environment {src!r}")
    if src == wf["env"]:
        raise WorkflowFailure("The source and target environments are the same")
    return store.env_paths(site["id"], src)


def _clone_database(src, paths):
    content.load_sql(paths.db, content.dump_chunks(src.db))


def _clone_files(src, paths):
    staging = Path(tempfile.mkdtemp(prefix=".clone-files-", dir=str(paths.tmp)))
    shutil.rmtree(staging)
    shutil.copytree(src.files, staging, symlinks=True)
    content._swap_dir(staging, paths.files)  # pylint: disable=protected-access


def h_clone_database(store, wf):
    site, _env_row, paths = _env(store, wf)
    _clone_database(_from_env(store, wf, site), paths)
    if wf["params"].get("clear_cache"):
        _clear_caches(paths)  # Terminus Environment::cloneDatabase posts clear_cache (env:clone-content --cc)
    return f'Cloned database into "{wf["env"]}"'


def h_clone_files(store, wf):
    site, _env_row, paths = _env(store, wf)
    _clone_files(_from_env(store, wf, site), paths)
    return f'Cloned files into "{wf["env"]}"'


def _clear_caches(paths):
    if paths.db.exists():
        tables = content.db_tables(paths.db)
        stmts = [f'DELETE FROM `{t}`;' for t in tables if t == "cache" or t.startswith("cache_")]
        if stmts:
            content.execute_sql(paths.db, "\n".join(stmts))


def _deploy_code(store, wf, site, paths):
    """Tag the parent environment's code (test <- dev's master, live <- test's tag) as the next
    ``pantheon_{env}_N`` and check it out; record target_commit/target_ref on the env and in the
    workflow's params (Terminus's env-deploy cassette shows both there)."""
    env = wf["env"]
    parent = "dev" if env == "test" else "test"
    commit = content.ref_commit(paths.repo, content.env_ref(paths.repo, parent))
    if not commit:
        raise WorkflowFailure(f'Nothing to deploy: the "{parent}" environment of {site["name"]} has no code')
    tag = content.create_deploy_tag(paths.repo, env, commit, wf["params"].get("annotation") or f"Deploy to {env}")
    head = content.checkout_env(paths, None, site["framework"], tag=tag)
    ref = f"refs/tags/{tag}"
    store.update_env(site["id"], env, target_commit=head, target_ref=ref)
    store.update_workflow_params(wf["id"], target_commit=head, target_ref=ref)
    return tag


def _content_from(store, wf, site, paths):
    """``clone_database``/``clone_files`` params of deploy and create_environment: {from_environment}."""
    p = wf["params"]
    for key, action in (("clone_files", _clone_files), ("clone_database", _clone_database)):
        spec = p.get(key)
        if spec:
            if not isinstance(spec, dict):
                raise WorkflowFailure(f"{key} must be an object with from_environment")
            action(_from_env(store, wf, site, spec.get("from_environment")), paths)


def h_deploy(store, wf):
    if wf["env"] not in ("test", "live"):
        raise WorkflowFailure("Code can only be deployed to the test and live environments")
    site, _env_row, paths = _env(store, wf)
    tag = _deploy_code(store, wf, site, paths)
    _content_from(store, wf, site, paths)
    if wf["params"].get("clear_cache"):
        _clear_caches(paths)
    # updatedb: the emulated sites have no pending schema updates, so there is nothing to run
    return f'Deployed code to "{wf["env"]}" ({tag})'


def h_create_environment(store, wf):
    """Initialize test or live (Terminus ``Environment::initializeBindings``): first deploy tag,
    code checked out, database and files cloned from the previous environment."""
    if wf["env"] not in ("test", "live"):
        raise WorkflowFailure("Only the test and live environments are created by deployment")
    site, env_row, paths = _env(store, wf, require_initialized=False)
    if env_row["settings"].get("is_initialized"):
        raise WorkflowFailure(f'The "{wf["env"]}" environment of {site["name"]} is already initialized')
    tag = _deploy_code(store, wf, site, paths)
    _content_from(store, wf, site, paths)
    store.update_env(site["id"], wf["env"], is_initialized=True)
    return f'Created the "{wf["env"]}" environment ({tag})'


def h_create_cloud_development_environment(store, wf):
    """Create a Multidev (Terminus ``multidev:create``, ``Environments::create``): site workflow with
    ``{environment_id, deploy: {clone_database: {from_environment}, clone_files: {...}, annotation}}``.
    The branch of the same name is used when it exists (``multidev:create`` usage text), else it is
    made at the code the source environment runs; then the environment runs that branch and gets the
    source's database and files. The name and the plan were checked when the workflow was posted."""
    site = _site(store, wf)
    if not site["framework"]:
        raise WorkflowFailure(f"Site {site['name']} has no code yet: deploy a product (upstream) first")
    p = wf["params"]
    name = p.get("environment_id")
    deploy = p.get("deploy") or {}
    source = ((deploy.get("clone_database") or deploy.get("clone_files") or {}).get("from_environment")) or "dev"
    if store.get_env(site["id"], name):
        raise WorkflowFailure(f'The "{name}" environment already exists on {site["name"]}')
    src_paths = store.env_paths(site["id"], source)
    commit = content.ref_commit(src_paths.repo, content.env_ref(src_paths.repo, source))
    if not commit:
        raise WorkflowFailure(f'The "{source}" environment of {site["name"]} has no code to branch from')
    if not content.branch_head(src_paths.repo, name):
        content.git("update-ref", f"refs/heads/{name}", commit, git_dir=src_paths.repo)
    store.create_env(site["id"], name, initialized=True)
    paths = store.env_paths(site["id"], name)
    paths.db.create()
    head = content.checkout_env(paths, name, site["framework"])
    store.update_env(site["id"], name, target_commit=head)
    for key, action in (("clone_files", _clone_files), ("clone_database", _clone_database)):
        spec = deploy.get(key)
        if isinstance(spec, dict) and spec.get("from_environment"):
            action(_from_env(store, dict(wf, env=name), site, spec["from_environment"]), paths)
    content.link_files_dir(paths, site["framework"])
    return f'Created Multidev environment "{name}"'


HANDLERS = {
    "create_site": h_create_site,
    "deploy_product": h_deploy_product,
    "delete_site": h_delete_site,
    "complete_migration": h_complete_migration,
    "do_export": h_do_export,
    "do_import": h_do_import,
    "do_migration": h_do_migration,
    "clear_cache": h_clear_cache,
    "sync_code": h_sync_code,
    "clone_database": h_clone_database,
    "clone_files": h_clone_files,
    "deploy": h_deploy,
    "create_environment": h_create_environment,
    "create_cloud_development_environment": h_create_cloud_development_environment,
}
