"""Benchmark: backup downloads from the Pantheon emulator's signed storage URLs.

Starts an emulator in a temporary directory, plants a sparse backup archive of --size-mb
(default 1024) and prints, for one download and for --clients parallel downloads:
throughput (MB/s, and the ratio to a raw loopback TLS ceiling measured with the same client)
and the emulator's resident memory before / peak / after (ratio peak/before).

Nothing is asserted; numbers are printed. Run: .venv/bin/python benchmarks/emulator_download.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pantheon_emulator.pytest_plugin import start_emulator  # noqa: E402  pylint: disable=wrong-import-position

MIB = 1024 * 1024


class Sampler(threading.Thread):
    def __init__(self, emu):
        super().__init__(daemon=True)
        self.emu = emu
        self.peak = emu.rss_bytes()
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            self.peak = max(self.peak, self.emu.rss_bytes())


def signed_url(emu, api, site_id):
    catalog = api.get(f"{emu.api_url}/sites/{site_id}/environments/live/backups/catalog").json()
    key = next(k for k in catalog if k.endswith("_files"))
    folder = catalog[key]["folder"]
    r = api.post(f"{emu.api_url}/sites/{site_id}/environments/live/backups/catalog/{folder}/files/s3token",
                 json={"method": "get"})
    return r.json()["url"]


def download(emu, url, chunk):
    total = 0
    with emu.http().get(url, stream=True, timeout=3600) as r:
        r.raise_for_status()
        for block in r.iter_content(chunk):
            total += len(block)
    return total


def measure(emu, urls, chunk):
    before = emu.rss_bytes()
    sampler = Sampler(emu)
    sampler.start()
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        sizes = list(pool.map(lambda u: download(emu, u, chunk), urls))
    elapsed = time.monotonic() - t0
    sampler.done.set()
    sampler.join()
    return sum(sizes), elapsed, before, sampler.peak, emu.rss_bytes()


def raw_tls_ceiling(emu, size, chunk):
    """MB/s of the same client against a bare asyncio TLS server sending zeros (same cert):
    the loopback ceiling for a Python TLS server on this machine."""
    import asyncio  # pylint: disable=import-outside-toplevel
    import ssl  # pylint: disable=import-outside-toplevel
    ready = threading.Event()
    state = {}

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        block, sent = bytes(MIB), 0
        while sent < size:
            writer.write(block[:min(MIB, size - sent)])
            sent += min(MIB, size - sent)
            await writer.drain()
        writer.close()

    async def serve():
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca_dir = Path(emu.ca_path).parent
        ctx.load_cert_chain(str(ca_dir / "server.pem"), str(ca_dir / "server-key.pem"))
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
        state["port"] = server.sockets[0].getsockname()[1]
        state["stop"] = asyncio.Event()
        state["loop"] = asyncio.get_running_loop()
        ready.set()
        await state["stop"].wait()
        server.close()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    ready.wait(10)
    t0 = time.monotonic()
    total = download(emu, f"https://localhost:{state['port']}/", chunk)
    elapsed = time.monotonic() - t0
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(10)
    return total / MIB / elapsed


def report(label, total, elapsed, before, peak, after, ceiling=None):
    ratio = f" ({total / MIB / elapsed / ceiling:.2f} of the raw TLS ceiling {ceiling:.0f} MB/s)" if ceiling else ""
    print(f"{label}: {total / MIB:.0f} MiB in {elapsed:.1f}s = {total / MIB / elapsed:.0f} MB/s{ratio}; "
          f"emulator RSS before {before / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB, after {after / MIB:.0f} MiB "
          f"(peak/before ratio {peak / before:.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="archive size (default 1024)")
    parser.add_argument("--clients", type=int, default=50, help="parallel downloads (default 50)")
    parser.add_argument("--client-size-mb", type=int, default=16, help="archive size for the parallel run")
    parser.add_argument("--chunk-kb", type=int, default=1024, help="client read size (default 1024)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="emu-bench-"))
    emu = start_emulator(base, ["--no-ssh"])
    try:
        emu.seed({"sites": [
            {"name": "bench-one", "framework": "drupal", "envs": ["dev", "test", "live"],
             "backups": [{"env": "live", "element": "files", "sparse_size": f"{args.size_mb}MB"}]},
            {"name": "bench-many", "framework": "drupal", "envs": ["dev", "test", "live"],
             "backups": [{"env": "live", "element": "files", "sparse_size": f"{args.client_size_mb}MB"}]}]})
        api = emu.api()
        one = api.get(f"{emu.api_url}/site-names/bench-one").json()["id"]
        many = api.get(f"{emu.api_url}/site-names/bench-many").json()["id"]
        chunk = args.chunk_kb * 1024
        ceiling = raw_tls_ceiling(emu, min(args.size_mb, 512) * MIB, chunk)
        report(f"1 client, {args.size_mb} MiB", *measure(emu, [signed_url(emu, api, one)], chunk), ceiling=ceiling)
        urls = [signed_url(emu, api, many) for _i in range(args.clients)]
        report(f"{args.clients} clients x {args.client_size_mb} MiB", *measure(emu, urls, chunk))
    finally:
        emu.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
