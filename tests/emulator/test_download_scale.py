"""Large and concurrent backup downloads: loopback speed with bounded emulator memory.

Timings are not asserted (benchmarks/emulator_download.py prints them); memory and
correctness are."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

MIB = 1024 * 1024


def _seed_sparse(emulator, size_mb):
    name = f"dl{uuid.uuid4().hex[:8]}"
    site = emulator.seed({"sites": [{"name": name, "framework": "drupal", "envs": ["dev", "test", "live"],
                                     "backups": [{"env": "live", "element": "files",
                                                  "sparse_size": f"{size_mb}MB"}]}]})[0]
    return site


def _download(emulator, url, chunk=MIB):
    h = hashlib.sha256()
    total = 0
    with emulator.http().get(url, stream=True, timeout=600) as r:
        r.raise_for_status()
        for block in r.iter_content(chunk):
            h.update(block)
            total += len(block)
    return total, h.hexdigest()


def _file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def _backup_path(emulator, site_id, filename):
    return next(Path(emulator.data_dir, "backups", site_id, "live").rglob(filename))


def test_50_concurrent_downloads_all_succeed(emulator, client):
    site = _seed_sparse(emulator, 4)
    urls = [client.backup_url(site["id"], "live", "files") for _i in range(50)]
    filename = urls[0].split("?")[0].rsplit("/", 1)[1]
    want = _file_digest(_backup_path(emulator, site["id"], filename))
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda u: _download(emulator, u), urls))
    assert all(r == (4 * MIB, want) for r in results), results[:3]


class _RssSampler(threading.Thread):
    def __init__(self, emulator):
        super().__init__(daemon=True)
        self.emulator = emulator
        self.peak = emulator.rss_bytes()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, self.emulator.rss_bytes())


@pytest.mark.slow
def test_1gb_backup_download_with_bounded_memory(emulator, client):
    site = _seed_sparse(emulator, 1024)
    url = client.backup_url(site["id"], "live", "files")
    rss_before = emulator.rss_bytes()
    sampler = _RssSampler(emulator)
    sampler.start()
    t0 = time.monotonic()
    total, _digest = _download(emulator, url)
    elapsed = time.monotonic() - t0
    sampler.stop.set()
    sampler.join()
    rss_after = emulator.rss_bytes()
    assert total == 1024 * MIB
    # The emulator streams from disk: its memory must not grow with the file (1 GiB here).
    assert sampler.peak - rss_before < 64 * MIB, (rss_before, sampler.peak, rss_after)
    print(f"1 GiB in {elapsed:.1f}s ({1024 / elapsed:.0f} MB/s); RSS before {rss_before / MIB:.0f} MiB, "
          f"peak {sampler.peak / MIB:.0f} MiB, after {rss_after / MIB:.0f} MiB")
