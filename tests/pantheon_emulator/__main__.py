"""Command line: ``python -m pantheon_emulator serve|seed`` (run with PYTHONPATH=tests)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from pantheon_emulator import certs, content, seed
from pantheon_emulator.store import MIB, Store, StoreError

PROG = "python -m pantheon_emulator"


def _limit_args(parser):
    g = parser.add_argument_group("limits (kept in the data directory once set)")
    g.add_argument("--url-import-max-mb", type=float, help="largest URL import in MiB (default 500)")
    g.add_argument("--max-file-mb", type=float,
                   help="files of this size in MiB or more cannot be written under files/ (default 256)")
    g.add_argument("--ssh-idle-timeout", type=float, help="seconds without SSH output before the session closes "
                   "(default 600)")
    g.add_argument("--ssh-session-timeout", type=float, help="longest SSH session in seconds (default 3600)")
    g.add_argument("--signed-url-ttl", type=float, help="lifetime of signed backup URLs in seconds (default 3600)")
    g.add_argument("--session-ttl", type=float, help="lifetime of API sessions in seconds (default 86400)")
    g.add_argument("--workflow-delay", type=float, help="extra seconds each workflow runs (default 0)")
    g.add_argument("--workflow-scale", type=float,
                   help="run workflows with the realistic timing profile (durations by type and size, one "
                        "workflow at a time per site, queued states) scaled by this factor, e.g. 0.01; "
                        "0 (default) turns the profile off")
    g.add_argument("--scale", type=float, help="shrink the demo fleet's large files by this factor; the 500MB and "
                   "256MB limits shrink with it unless given explicitly")
    g.add_argument("--seed", type=int, default=1, help="seed for generated content (default 1)")


def _apply_limits(store, args):
    values = {}
    scale = args.scale
    if args.url_import_max_mb is not None:
        values["url_import_max_bytes"] = int(args.url_import_max_mb * MIB)
    elif scale:
        values["url_import_max_bytes"] = int(500 * MIB * scale)
    if args.max_file_mb is not None:
        values["max_file_bytes"] = int(args.max_file_mb * MIB)
    elif scale:
        values["max_file_bytes"] = int(256 * MIB * scale)
    for name in ("ssh_idle_timeout", "ssh_session_timeout", "signed_url_ttl", "session_ttl", "workflow_delay",
                 "workflow_scale"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if values:
        store.set_config(**values)


def _seed(store, args, recipe_path=None):
    created = []
    if getattr(args, "fleet", None):
        if args.fleet != "demo":
            raise StoreError(f"unknown fleet {args.fleet!r}; known: demo")
        created += seed.seed_recipe(store, seed.demo_fleet(args.scale or 1.0, args.seed))
    if getattr(args, "sites", None):
        created += seed.seed_recipe(store, seed.bulk_sites(args.sites, args.sites_prefix, args.seed))
    if recipe_path:
        try:
            recipe = json.loads(Path(recipe_path).read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read recipe {recipe_path}: {exc}") from None
        created += seed.seed_recipe(store, recipe)
    return created


def _load_faults(store, path):
    try:
        rules = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read faults file {path}: {exc}") from None
    store.clear_faults()
    store.add_faults(rules)


def _trust_ssh_key(store, path):
    """Trust the public half of the key at ``path``; make the pair with ssh-keygen if ``path`` is absent."""
    key = Path(path)
    pub = Path(f"{key}.pub")
    try:
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pantheon-emulator", "-f", str(key)],
                           check=True, capture_output=True, text=True)
        line = pub.read_text().strip() if pub.exists() else subprocess.run(
            ["ssh-keygen", "-y", "-f", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    except subprocess.CalledProcessError as exc:
        raise StoreError(f"--ssh-key {path}: ssh-keygen failed: {(exc.stderr or '').strip()}") from None
    except FileNotFoundError:
        raise StoreError("--ssh-key needs ssh-keygen (OpenSSH client) on PATH") from None
    store.add_authorized_key(line)
    return key.resolve()


def _write_env_file(path, exports):
    """The export lines in ``path`` (mode 0600: it holds the emulator's machine token), written whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# pantheon emulator: source this file to point the collection at it\n")
        f.writelines(f"export {key}={shlex.quote(value)}\n" for key, value in exports.items())
    os.replace(tmp, path)


async def _serve(args):
    from pantheon_emulator import server  # pylint: disable=import-outside-toplevel
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    store = Store(args.data_dir)
    try:
        # MariaDB first, from the main thread (its watchdog stops it if this process dies)
        store.mariadb.ensure()
        _apply_limits(store, args)
        if args.faults:
            _load_faults(store, args.faults)
        ca_path, _cert, _key = certs.ensure_certs(store.ca_dir)
        ssh_key = _trust_ssh_key(store, args.ssh_key) if args.ssh_key else None
        token = store.default_machine_token()
        user = store.default_user()
        runner, port, warning = await server.start_http(store, args.api_port)
        if warning:
            print(f"pantheon-emulator: {warning}", file=sys.stderr)
        ssh_server = None
        ssh_port = None
        if not args.no_ssh:
            try:
                from pantheon_emulator.ssh import start_ssh_server  # pylint: disable=import-outside-toplevel
            except Exception as exc:  # pylint: disable=broad-except
                print(f"pantheon-emulator: SSH server unavailable ({type(exc).__name__}: {exc}); running API-only",
                      file=sys.stderr)
            else:
                try:
                    ssh_server = await start_ssh_server(store, "127.0.0.1", args.ssh_port)
                    ssh_port = ssh_server.port
                except Exception as exc:  # pylint: disable=broad-except
                    print(f"pantheon-emulator: SSH server failed to start ({type(exc).__name__}: {exc}); "
                          "running API-only", file=sys.stderr)
        store.runtime["ssh_port"] = ssh_port
        resumed = store.resume_workflows()
        if resumed:
            print(f"pantheon-emulator: resumed {len(resumed)} unfinished workflow(s)", file=sys.stderr)
        await loop.run_in_executor(None, _seed, store, args)
        host = store.get_config("public_host")
        info = {"api_url": f"https://{host}:{port}/api", "admin_url": f"https://{host}:{port}/_emulator",
                "ca_path": str(ca_path), "ssh_host": "127.0.0.1", "ssh_port": ssh_port,
                "machine_token": token, "user_id": user["id"], "web_port": port,
                "data_dir": str(store.data_dir), "mariadb_port": store.mariadb.port,
                "mariadb_started_in": store.mariadb.started_in}
        exports = {}
        limit = store.get_config("max_file_bytes")
        if limit and int(limit) != 256 * MIB:
            # a lowered file size limit (--max-file-mb, --scale): the archive module's evidence of "too large"
            # (printed before PANTHEON_SSH_PORT, the line hacking/demo.sh waits for)
            exports["PANTHEON_FILE_SIZE_LIMIT"] = str(int(limit))
        exports.update({"PANTHEON_API_URL": info["api_url"], "PANTHEON_CA_PATH": info["ca_path"],
                        "PANTHEON_MACHINE_TOKEN": token, "PANTHEON_SSH_HOST": info["ssh_host"],
                        "PANTHEON_SSH_PORT": "" if ssh_port is None else str(ssh_port),
                        "PANTHEON_WEB_PORT": str(info["web_port"])})
        if ssh_key is not None:
            known_hosts = Path(store.data_dir) / "known_hosts"
            known_hosts.touch()
            exports.update(PANTHEON_SSH_KEY=str(ssh_key), PANTHEON_SSH_KNOWN_HOSTS=str(known_hosts.resolve()))
        if args.env_file:
            _write_env_file(args.env_file, exports)
        print(json.dumps(info), flush=True)
        if args.exports:
            for key, value in exports.items():
                print(f"export {key}={shlex.quote(value)}", flush=True)
        await stop.wait()
        if ssh_server is not None:
            try:
                result = ssh_server.close()
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:  # pylint: disable=broad-except
                print(f"pantheon-emulator: closing SSH server: {exc}", file=sys.stderr)
        await runner.cleanup()
    finally:
        store.close()


def _background(args, argv):
    """Start ``serve`` without --background as a detached process; return once it serves (or failed)."""
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    out, log, pid_file = data_dir / "emulator.out", data_dir / "emulator.log", data_dir / "emulator.pid"
    with open(out, "wb") as stdout, open(log, "ab") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "pantheon_emulator"] + [a for a in argv if a != "--background"],
                                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True)
    pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        lines = out.read_text(encoding="utf-8", errors="replace").splitlines()
        exported = any(line.startswith("export PANTHEON_WEB_PORT=") for line in lines)
        if lines and lines[0].startswith("{") and (exported or not args.exports):
            print("\n".join(lines), flush=True)
            print(f"{PROG}: serving in the background (pid {proc.pid}, log {log}); stop it with: kill {proc.pid}",
                  file=sys.stderr)
            return 0
        if proc.poll() is not None:
            print(f"{PROG}: error: the emulator stopped while starting (exit {proc.returncode}); see {log}",
                  file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(f"{PROG}: error: the emulator did not start in 300 s; see {log} (pid {proc.pid} still running)",
          file=sys.stderr)
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description="Local emulator of the Pantheon platform.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve", help="serve the API, web and SSH until SIGTERM")
    sp.add_argument("--data-dir", required=True, help="state directory (created; kept across restarts)")
    sp.add_argument("--api-port", type=int, default=0, help="HTTPS port for API, web and admin (0: any free)")
    sp.add_argument("--ssh-port", type=int, default=0, help="SSH port (0: any free)")
    sp.add_argument("--no-ssh", action="store_true", help="do not start the SSH server")
    sp.add_argument("--fleet", choices=["demo"], help="seed the built-in demo fleet (idempotent)")
    sp.add_argument("--sites", type=int, help="seed N small lazily built sites (paging tests)")
    sp.add_argument("--sites-prefix", default="bulk-", help="name prefix for --sites (default bulk-)")
    sp.add_argument("--faults", help="JSON file of fault rules to install at start")
    sp.add_argument("--exports", action="store_true", help="also print shell export lines")
    sp.add_argument("--ssh-key", metavar="PATH", help="trust the SSH key PATH (its PATH.pub); made with ssh-keygen "
                    "if PATH does not exist. The exports then name it (PANTHEON_SSH_KEY) and a known_hosts file")
    sp.add_argument("--env-file", metavar="PATH", help="write the export lines to PATH (mode 0600) to source")
    sp.add_argument("--background", action="store_true", help="detach once serving (pid in DATA_DIR/emulator.pid, "
                    "log in DATA_DIR/emulator.log)")
    _limit_args(sp)
    sd = sub.add_parser("seed", help="create sites from a recipe file (and/or the demo fleet) and exit")
    sd.add_argument("--data-dir", required=True)
    sd.add_argument("recipe", nargs="?", help="recipe JSON file")
    sd.add_argument("--fleet", choices=["demo"])
    sd.add_argument("--sites", type=int)
    sd.add_argument("--sites-prefix", default="bulk-")
    _limit_args(sd)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "serve" and args.background:
            return _background(args, argv)
        if args.cmd == "serve":
            asyncio.run(_serve(args))
            return 0
        store = Store(args.data_dir)
        try:
            _apply_limits(store, args)
            created = _seed(store, args, args.recipe)
        finally:
            store.close()
        print(json.dumps({"sites": created}))
        return 0
    except (StoreError, content.ContentError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
