"""Byte serving (Range, streaming, truncation faults), signed storage URLs, and each
environment's public web (Host-header routing)."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import hmac
import mimetypes
import os
import re
import stat
import time
import urllib.parse
from pathlib import Path, PurePosixPath

from aiohttp import web

from pantheon_emulator import content

CHUNK = 256 * 1024
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


# ====================================================================== byte serving
def parse_range(header, size):
    """(start, end) inclusive for a single-range header, None to serve everything, or 'unsatisfiable'."""
    if not header:
        return None
    first = header.split(",", 1)[0].strip()
    m = RANGE_RE.match(first)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
        if start >= size or (m.group(2) and end < start):
            return "unsatisfiable"
        return start, min(end, size - 1)
    suffix = int(m.group(2))
    if suffix == 0:
        return "unsatisfiable"
    return max(0, size - suffix), size - 1


async def serve_file(request, path, content_type=None, truncate_after=None, extra_headers=None, rate=0):
    """Stream a file with Range support; memory stays bounded (1 MiB chunks with back-pressure).
    ``truncate_after``: send that many body bytes, then drop the connection. ``rate``: at most that many
    bytes per second (0: no limit)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    size = st.st_size
    headers = {
        "Accept-Ranges": "bytes",
        "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
        "ETag": '"%x-%x"' % (int(st.st_mtime), size),
        "Content-Type": content_type or mimetypes.guess_type(str(path))[0] or "application/octet-stream",
    }
    headers.update(extra_headers or {})
    rng = parse_range(request.headers.get("Range"), size)
    if rng == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        return web.Response(status=416, headers=headers)
    if rng is None:
        start, end, status = 0, size - 1, 200
    else:
        start, end, status = rng[0], rng[1], 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    length = max(0, end - start + 1)
    headers["Content-Length"] = str(length)
    resp = web.StreamResponse(status=status, headers=headers)
    await resp.prepare(request)
    if request.method == "HEAD" or length == 0:
        await resp.write_eof()
        return resp
    limit = length if truncate_after is None else min(length, truncate_after)
    sent = 0
    if request.transport is not None:
        # Fewer pause/resume cycles between TLS and the socket: a bigger buffer, still bounded.
        request.transport.set_write_buffer_limits(high=4 * CHUNK, low=CHUNK)
    began = time.monotonic()
    # rate-limited: pieces of an eighth of a second, so the bytes arrive steadily
    piece = max(1024, min(CHUNK, int(rate / 8))) if rate else CHUNK
    with open(path, "rb") as fh:
        fh.seek(start)
        while sent < limit:
            chunk = fh.read(min(piece, limit - sent))
            if not chunk:
                break
            await resp.write(chunk)
            sent += len(chunk)
            if rate:
                await asyncio.sleep(max(0.0, sent / rate - (time.monotonic() - began)))
    request["bytes_sent"] = sent
    if truncate_after is not None and sent < length:
        await asyncio.sleep(0.05)
        if request.transport is not None:
            request.transport.abort()
        request["truncated"] = True
        return resp
    await resp.write_eof()
    return resp


# ====================================================================== signed storage URLs
def sign(store, path, expires):
    mac = hmac.new(store.signing_key, f"GET\n{path}\n{int(expires)}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def signed_url(store, site_id, env, folder, filename, ttl=None):
    """``https://localhost:PORT/_storage/{site}/{env}/{folder}/{filename}?Expires=..&Signature=..``"""
    ttl = store.get_config("signed_url_ttl") if ttl is None else ttl
    expires = int(time.time() + float(ttl))
    path = f"/_storage/{site_id}/{env}/{folder}/{filename}"
    signature = sign(store, path, expires)
    store.note_secret("signature", signature)
    query = urllib.parse.urlencode({"Expires": expires, "GoogleAccessId": "backups@pantheon-emulator",
                                    "Signature": signature})
    host = store.get_config("public_host")
    return f"https://{host}:{store.runtime['web_port']}{urllib.parse.quote(path)}?{query}"


def storage_error(status, code, message, details=None, head=False):
    body = ("<?xml version='1.0' encoding='UTF-8'?><Error><Code>%s</Code><Message>%s</Message>%s</Error>"
            % (code, message, f"<Details>{details}</Details>" if details else ""))
    return web.Response(status=status, body=None if head else body.encode(),
                        headers={"Content-Type": "application/xml; charset=UTF-8"})


async def storage_handler(request):
    store = request.app["store"]
    path = request.path
    head = request.method == "HEAD"
    if request.method != "GET":
        # Signed URLs are signed for GET; any other method fails the signature check.
        return storage_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match "
                             "the signature you provided. Check your Google secret key and signing method.",
                             f"{request.method} is not the signed method", head=head)
    expires = request.query.get("Expires", "")
    signature = request.query.get("Signature", "")
    if not expires or not signature:
        return storage_error(403, "AccessDenied", "Access denied.",
                             "Anonymous caller does not have storage.objects.get access to the object.")
    if not expires.isdigit() or not hmac.compare_digest(sign(store, path, int(expires)), signature):
        return storage_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match "
                             "the signature you provided. Check your Google secret key and signing method.")
    if int(expires) < time.time():
        return storage_error(403, "ExpiredToken", "The provided token has expired.",
                             f"Request signature expired at: {time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(int(expires)))}")
    parts = path.split("/")
    if len(parts) != 6:
        return storage_error(404, "NoSuchKey", "The specified key does not exist.")
    site_id, env, folder, filename = parts[2:]
    entry = None
    for element in ("code", "database", "files"):
        candidate = store.get_backup(site_id, env, folder, element)
        if candidate and candidate["filename"] == filename:
            entry = candidate
            break
    if entry is None:
        return storage_error(404, "NoSuchKey", "The specified key does not exist.")
    resp = await serve_file(request, entry["path"], content_type="application/octet-stream",
                            truncate_after=request.get("truncate_after"),
                            rate=float(store.get_config("download_rate") or 0),
                            extra_headers={"x-goog-storage-class": "STANDARD",
                                           "Content-Disposition": f'attachment; filename="{filename}"'})
    if resp is None:
        return storage_error(404, "NoSuchKey", "The specified key does not exist.")
    return resp


# ====================================================================== environment web
def resolve_host(store, host):
    """(site, env) for ``{env}-{site}.{dns_zone}[:port]``, or None."""
    host = (host or "").rsplit(":", 1)[0] if not (host or "").startswith("[") else host
    zone = "." + store.get_config("dns_zone")
    if not host.endswith(zone):
        return None
    label = host[: -len(zone)]
    for i, ch in enumerate(label):
        if ch != "-":
            continue
        env, name = label[:i], label[i + 1:]
        site = store.find_site_by_name(name)
        if site and store.get_env(site["id"], env):
            return site, env
    return None


def is_env_host(store, host):
    host = (host or "").rsplit(":", 1)[0]
    return host.endswith("." + store.get_config("dns_zone"))


def _page(status, title, text):
    body = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    return web.Response(status=status, text=body, content_type="text/html")


async def web_handler(request):
    store = request.app["store"]
    found = resolve_host(store, request.host)
    if not found:
        return _page(404, "404 Unknown site", "The site you are looking for could not be found.")
    site, env = found
    if request.method not in ("GET", "HEAD"):
        return _page(405, "405 Method Not Allowed", "Only GET and HEAD are served.")
    if request.path == "/pantheon_healthcheck":
        return web.Response(text="OK\n", headers={"X-Pantheon-Styx-Hostname": f"styx-emu-{env}.{site['id'][:8]}"})
    env_row = store.get_env(site["id"], env)
    if site.get("frozen") and env in ("test", "live"):
        # "This site is frozen. Its test and live environments ... will be unavailable" (Terminus,
        # SiteAwareTrait::requireSiteIsNotFrozen); the page the platform serves is a guess
        return _page(503, "Site frozen", f"The {env} environment of {site['name']} is unavailable: the site is frozen.")
    if not env_row["settings"].get("is_initialized"):
        return _page(404, "Environment not initialized",
                     f"The {env} environment of {site['name']} has not been initialized.")
    loop = asyncio.get_running_loop()
    paths = await loop.run_in_executor(None, store.env_paths, site["id"], env)
    rel = urllib.parse.unquote(request.path)
    prefix = "/" + content.files_path(site["framework"]) + "/"
    if rel.startswith(prefix):
        sub = PurePosixPath(rel[len(prefix):])
        if ".." in sub.parts or not sub.parts:
            return _page(404, "Page not found", "The requested page could not be found.")
        resp = await serve_file(request, paths.files / Path(*sub.parts), truncate_after=request.get("truncate_after"))
        return resp or _page(404, "Page not found", "The requested page could not be found.")
    if rel in ("/", "/index.php"):
        status, html = await loop.run_in_executor(None, content.render_home, paths.db, site["framework"],
                                                  site["name"], env)
        return web.Response(status=status, text=html, content_type="text/html")
    sub = PurePosixPath(rel.lstrip("/"))
    if sub.parts and ".." not in sub.parts and not any(p.startswith(".") for p in sub.parts) \
            and sub.suffix not in (".php", ".inc", ".module", ".yml", ".sql"):
        resp = await serve_file(request, paths.code / Path(*sub.parts))
        if resp is not None:
            return resp
    return _page(404, "Page not found", "The requested page could not be found.")
