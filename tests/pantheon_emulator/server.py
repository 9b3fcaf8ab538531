"""The HTTPS server: one aiohttp application for the API, signed storage downloads, each
environment's web (by Host header) and the admin endpoints; request log and faults."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
import time
import traceback

from aiohttp import web

from pantheon_emulator import admin, api, certs, faults
from pantheon_emulator import web as webmod


class ConnectionReset(Exception):
    """A fault closed the connection; nothing is sent."""


def _classify(store, request):
    if webmod.is_env_host(store, request.host):
        return "web", "http"
    path = request.path
    if path == "/_emulator" or path.startswith("/_emulator/"):
        return "admin", None
    if path.startswith("/_storage/"):
        return "download", "download"
    return "api", "http"


def _fault_response(kind, action):
    status = action["status"]
    headers = {}
    if "retry_after" in action:
        ra = action["retry_after"]
        headers["Retry-After"] = str(int(ra) if float(ra).is_integer() else ra)
    if kind == "download":
        code = {429: "SlowDown", 500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable"}.get(
            status, "Error")
        body = action.get("body") or "Injected fault."
        return webmod.storage_error(status, code, body) if not headers else web.Response(
            status=status, headers=dict(headers, **{"Content-Type": "application/xml; charset=UTF-8"}),
            body=(f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{body}</Message>"
                  "</Error>").encode())
    body = action.get("body")
    if body is None:
        body = {429: "Too many requests. Please slow down."}.get(status, f"Injected fault: HTTP {status}.")
    return web.json_response(body, status=status, headers=headers)


async def _truncated_copy(request, resp, limit):
    """Send an already-built response's status/headers and only ``limit`` body bytes, then drop."""
    body = resp.body if isinstance(resp.body, (bytes, bytearray)) else b""
    out = web.StreamResponse(status=resp.status, headers=resp.headers)
    out.content_length = len(body)
    await out.prepare(request)
    await out.write(bytes(body[:limit]))
    await asyncio.sleep(0.05)
    if request.transport is not None:
        request.transport.abort()
    return out


@web.middleware
async def dispatch(request, handler):
    store = request.app["store"]
    kind, channel = _classify(store, request)
    if kind == "admin":
        return await handler(request)
    started = time.monotonic()
    status = 0
    held = None
    try:
        action = store.fault_for(channel, request.method, request.path)
        if action:
            if action.get("hold"):
                held = action["hold"]
                await faults.holds_of(store).ablock(held)
            if action.get("delay"):
                await asyncio.sleep(float(action["delay"]))
            if action.get("reset"):
                raise ConnectionReset()
            if action.get("status"):
                resp = _fault_response(kind, action)
                status = resp.status
                return resp
            if action.get("truncate_after") is not None:
                request["truncate_after"] = int(action["truncate_after"])
        try:
            if kind == "web":
                resp = await webmod.web_handler(request)
            else:
                resp = await handler(request)
        except api.ApiError as exc:
            resp = api.jstr(exc.status, exc.message)
        except web.HTTPException:
            raise
        except ConnectionError:
            raise
        except Exception:  # pylint: disable=broad-except
            traceback.print_exc(file=sys.stderr)
            resp = api.jstr(500, "Internal server error.") if kind == "api" else \
                web.Response(status=500, text="Internal server error.\n")
        status = resp.status
        if request.get("truncate_after") is not None and isinstance(resp, web.Response) and not resp.prepared:
            resp = await _truncated_copy(request, resp, request["truncate_after"])
        return resp
    except ConnectionReset:
        if request.transport is not None:
            request.transport.abort()
        status = 0
        raise asyncio.CancelledError() from None  # nothing to send; aiohttp drops the request
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        store.log_request(request.method, request.path, status, time.monotonic() - started, channel=kind)
        if held:
            faults.holds_of(store).finish(held)


def make_app(store):
    app = web.Application(middlewares=[dispatch], client_max_size=64 * 1024 * 1024)
    app["store"] = store
    api.add_routes(app)
    admin.add_routes(app)
    app.router.add_route("*", "/_storage/{tail:.+}", webmod.storage_handler)
    return app


def _bind_pair(port):
    """Sockets on 127.0.0.1 and ::1 with the same port (port 0: pick a free one for both)."""
    last = None
    for _attempt in range(30):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s4.bind(("127.0.0.1", port))
        except OSError as exc:
            s4.close()
            raise OSError(exc.errno, f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        actual = s4.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except OSError:
            return [s4], "IPv6 is not available; listening on 127.0.0.1 only"
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s6.bind(("::1", actual))
            return [s4, s6], None
        except OSError as exc:
            s6.close()
            last = exc
            if exc.errno == errno.EADDRINUSE and port == 0:
                s4.close()
                continue
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                return [s4], f"::1 is not available ({exc.strerror}); listening on 127.0.0.1 only"
            s4.close()
            raise OSError(exc.errno, f"cannot listen on [::1]:{actual}: {exc.strerror}") from None
    raise OSError(errno.EADDRINUSE, f"no port free on both 127.0.0.1 and ::1 ({last})")


async def start_http(store, port=0):
    """Start the HTTPS server; returns (runner, port, warning or None)."""
    app = make_app(store)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2)
    await runner.setup()
    ctx = certs.server_ssl_context(store.ca_dir)
    socks, warning = _bind_pair(port)
    actual = socks[0].getsockname()[1]
    store.runtime["web_port"] = actual
    for sock in socks:
        await web.SockSite(runner, sock, ssl_context=ctx, backlog=1024).start()
    return runner, actual, warning
