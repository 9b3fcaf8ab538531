#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: files_sync against what a person types (curl -o, tar xzf, rsync -a), and rsync's flags
over a limited link.

    .venv/bin/python benchmarks/files_transfer.py [--sizes 200MB,1GB] [--runs 2] [--link-mb 40MB]
                                                  [--bwlimit 4096] [--json FILE]

Starts the emulator and, for each size, seeds a source site whose live files are that big (mixed:
many small compressible files and a few big incompressible ones, about 35/65 by size) with a files
backup, and two empty targets. Then, alternating ``--runs`` times:

- the baseline: ``curl -o`` the backup's signed URL, ``tar xzf`` it, ``rsync -a`` the files into
  target A over the emulator's SSH (target A is emptied first);
- ``files_sync`` (backup -> target B, emptied first) through ansible-playbook, under a wrapper that
  records the module process tree's peak RSS (wait4's ru_maxrss of the module; its children, rsync
  and ssh, are separate processes and reported apart as the largest child);
- then ``files_sync`` again with nothing changed (the rerun).

Reported: wall times and the ratio files_sync/baseline, the rerun's ratio to the first run, the
module's peak RSS, the extra disk the baseline uses (archive + unpacked tree) against files_sync's
staging (the unpacked tree only), and the bytes the rerun downloaded (emulator request log).

The limited link: the unpacked files of ``--link-mb`` are sent with rsync into an empty target
over SSH with ``--bwlimit`` (KiB/s) and without, each with and without ``-z`` (compression) and
with and without ``--checksum``: the flags files_sync uses are chosen from this table.

Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers.ansible import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from pantheon_emulator.pytest_plugin import start_emulator  # noqa: E402  pylint: disable=wrong-import-position
from pantheon_emulator.seed import parse_size  # noqa: E402  pylint: disable=wrong-import-position

WRAPPER = '''#!{python}
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv({python!r}, [{python!r}] + sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
with open({log!r}, 'a') as handle:
    handle.write(json.dumps({{'argv': sys.argv[1:], 'maxrss_kib': usage.ru_maxrss}}) + '\\n')
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 1)
'''
PYTHON = str(ROOT / ".venv" / "bin" / "python")
MIB = 2.0 ** 20


def recipe(name, total):
    """Mixed files of about ``total`` bytes: 35% in small compressible files, 65% in big random ones."""
    small = int(total * 0.35)
    count = max(small // (48 * 1024), 10)
    big = total - small
    nbig = max(int(big // (96 * MIB)), 1)
    return {"name": name, "framework": "drupal8", "envs": ["dev", "live"],
            "files": {"count": count, "size": [4 * 1024, 92 * 1024], "compressible": True, "depth": 2, "folders": 6,
                      "big": [{"name": "media/big-%d.bin" % i, "size": big // nbig, "compressible": False}
                              for i in range(nbig)]},
            "backups": [{"env": "live", "elements": ["files"]}]}


def du(path):
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


class Bench:
    def __init__(self, emu, work):
        self.emu = emu
        self.work = work
        self.api = emu.api()
        env = emu.env
        self.ssh = ["ssh", "-p", str(env["PANTHEON_SSH_PORT"]), "-i", env["PANTHEON_SSH_KEY"], "-o", "BatchMode=yes",
                    "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=%s" % env["PANTHEON_SSH_KNOWN_HOSTS"],
                    "-o", "LogLevel=ERROR"]
        self.host = env["PANTHEON_SSH_HOST"]
        self.log = work / "rss.jsonl"
        self.wrapper = work / "python-rss"
        self.wrapper.write_text(WRAPPER.format(python=PYTHON, log=str(self.log)), encoding="utf-8")
        self.wrapper.chmod(0o755)

    def site_id(self, name):
        return self.api.get("%s/site-names/%s" % (self.emu.api_url, name), timeout=30).json()["id"]

    def remote(self, name, env="dev"):
        return "appserver.%s.%s@%s" % (env, self.site_id(name), self.host)

    def empty_files(self, name):
        empty = self.work / "empty"
        empty.mkdir(exist_ok=True)
        subprocess.run(["rsync", "-r", "--delete", "-e", " ".join(shlex.quote(a) for a in self.ssh),
                        str(empty) + "/", self.remote(name) + ":files/"], check=True, capture_output=True)

    def signed_url(self, name):
        sid = self.site_id(name)
        catalog = self.api.get("%s/sites/%s/environments/live/backups/catalog" % (self.emu.api_url, sid), timeout=30).json()
        key, entry = max(((k, v) for k, v in catalog.items() if k.endswith("_files") and v.get("filename")),
                         key=lambda kv: kv[1]["timestamp"])
        folder = key[:-len("_files")]
        resp = self.api.post("%s/sites/%s/environments/live/backups/catalog/%s/files/s3token" % (self.emu.api_url, sid, folder),
                             json={"method": "get"}, timeout=30)
        return resp.json()["url"], int(entry["size"])

    def baseline(self, source, target):
        """curl -o + tar xzf + rsync -a; returns (wall, extra disk bytes)."""
        self.empty_files(target)
        url, _size = self.signed_url(source)
        scratch = self.work / ("baseline-%s" % uuid.uuid4().hex[:6])
        scratch.mkdir()
        start = time.monotonic()
        subprocess.run(["curl", "-sS", "--fail", "--cacert", self.emu.env["PANTHEON_CA_PATH"], "-o",
                        str(scratch / "files.tar.gz"), url], check=True)
        (scratch / "x").mkdir()
        subprocess.run(["tar", "xzf", str(scratch / "files.tar.gz"), "-C", str(scratch / "x")], check=True)
        top = next((scratch / "x").iterdir())
        subprocess.run(["rsync", "-a", "-e", " ".join(shlex.quote(a) for a in self.ssh), str(top) + "/",
                        self.remote(target) + ":files/"], check=True, capture_output=True)
        wall = time.monotonic() - start
        disk = du(scratch)
        shutil.rmtree(scratch)
        return wall, disk

    def files_sync(self, source, target, empty=True):
        """files_sync backup -> target through ansible-playbook; returns (wall, module peak RSS, bytes downloaded)."""
        if empty:
            self.empty_files(target)
        rows = self.emu.requests()
        since = rows[-1]["id"] if rows else 0
        play = ("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: sync\n"
                "      pantheon.platform.files_sync:\n        site: %s\n        env: dev\n"
                "        backup: {site: %s, env: live}\n        staging_dir: %s\n"
                "        overwrite: true\n" % (target, source, self.work))
        lines = len(self.log.read_text().splitlines()) if self.log.exists() else 0
        env = dict(self.emu.env, PANTHEON_CACHE_DIR=str(self.work / "cache"))
        start = time.monotonic()
        res = run_playbook(play, env=env, timeout=3600,
                           inventory="localhost ansible_connection=local ansible_python_interpreter=%s\n" % self.wrapper)
        wall = time.monotonic() - start
        if res.rc != 0:
            raise SystemExit(res.output[-6000:])
        peaks = [json.loads(line)["maxrss_kib"] * 1024 for line in self.log.read_text().splitlines()[lines:]
                 if "AnsiballZ_files_sync" in line]
        downloaded = sum(1 for r in self.emu.requests(since=since) if r["id"] > since and r["channel"] == "download")
        return wall, max(peaks) if peaks else None, downloaded

    def link(self, source, target, bwlimit):
        """rsync the unpacked source files into an emptied target with each flag set, with and without --bwlimit."""
        url, _size = self.signed_url(source)
        scratch = self.work / "link"
        scratch.mkdir(exist_ok=True)
        subprocess.run(["curl", "-sS", "--fail", "--cacert", self.emu.env["PANTHEON_CA_PATH"], "-o",
                        str(scratch / "files.tar.gz"), url], check=True)
        (scratch / "x").mkdir(exist_ok=True)
        subprocess.run(["tar", "xzf", str(scratch / "files.tar.gz"), "-C", str(scratch / "x")], check=True)
        top = next((scratch / "x").iterdir())
        rows = []
        for limit in (None, bwlimit):
            for flags in (["-rl"], ["-rlz"], ["-rl", "--checksum"], ["-rlz", "--checksum"]):
                self.empty_files(target)
                argv = ["rsync"] + flags + (["--bwlimit=%d" % limit] if limit else []) + [
                    "--info=stats2", "-e", " ".join(shlex.quote(a) for a in self.ssh), str(top) + "/", self.remote(target) + ":files/"]
                start = time.monotonic()
                out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
                first = time.monotonic() - start
                # the same again: nothing changed (what a rerun compares)
                start = time.monotonic()
                subprocess.run(argv, check=True, capture_output=True, text=True)
                again = time.monotonic() - start
                sent = next((int(line.split(":")[1].split()[0].replace(",", "")) for line in out.splitlines()
                             if line.startswith("Total bytes sent")), None)
                rows.append({"bwlimit KiB/s": limit, "flags": " ".join(flags), "wall": first, "rerun wall": again,
                             "bytes sent": sent})
        shutil.rmtree(scratch)
        return rows


def stats(values):
    values = [v for v in values if v is not None]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)} if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="200MB,1GB")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--link-mb", default="40MB", help="size sent over the limited link (default %(default)s)")
    parser.add_argument("--bwlimit", type=int, default=4096, help="KiB/s of the limited link (default %(default)s)")
    parser.add_argument("--json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="files-transfer-"))
    out = {"machine": {"cpus": os.cpu_count(), "load at start": os.getloadavg()}, "sizes": [], "link": None}
    try:
        emu = start_emulator(work / "emulator")
        try:
            bench = Bench(emu, work)
            out["seconds"] = {}
            for index, size in enumerate(s for s in args.sizes.split(",") if s):
                name = "ft%d%s" % (index, uuid.uuid4().hex[:4])
                emu.seed({"seed": 7 + index, "sites": [
                    recipe(name, parse_size(size)),
                    {"name": name + "-a", "framework": "drupal8", "envs": ["dev"], "files": {"count": 0}},
                    {"name": name + "-b", "framework": "drupal8", "envs": ["dev"], "files": {"count": 0}}]})
                _url, backup_size = bench.signed_url(name)
                section = time.monotonic()
                row = {"size": size, "backup bytes": backup_size, "baseline": [], "files_sync": [], "rerun": [],
                       "peak rss": [], "baseline disk": [], "rerun downloads": []}
                for _run in range(args.runs):
                    wall, disk = bench.baseline(name, name + "-a")
                    row["baseline"].append(wall)
                    row["baseline disk"].append(disk)
                    wall, peak, _dl = bench.files_sync(name, name + "-b")
                    row["files_sync"].append(wall)
                    row["peak rss"].append(peak)
                    wall, peak, downloads = bench.files_sync(name, name + "-b", empty=False)
                    row["rerun"].append(wall)
                    row["peak rss"].append(peak)
                    row["rerun downloads"].append(downloads)
                row["staging bytes"] = du(Path(emu.state(name, "live")["paths"]["files"]))
                out["sizes"].append(row)
                out["seconds"]["files at %s" % size] = time.monotonic() - section
                save(out, args.json)
            if args.link_mb:
                section = time.monotonic()
                name = "fl%s" % uuid.uuid4().hex[:4]
                emu.seed({"seed": 11, "sites": [recipe(name, parse_size(args.link_mb)),
                                                {"name": name + "-a", "framework": "drupal8", "envs": ["dev"],
                                                 "files": {"count": 0}}]})
                out["link"] = {"size": args.link_mb, "rows": bench.link(name, name + "-a", args.bwlimit)}
                out["seconds"]["limited link"] = time.monotonic() - section
        finally:
            emu.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["machine"]["load at end"] = os.getloadavg()
    report(out)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, sort_keys=True)


def save(out, path):
    """Write what is measured so far (a run stopped part-way still leaves its finished sections)."""
    if path:
        out["machine"]["load at end"] = os.getloadavg()
        with open(path, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, sort_keys=True)


def report(out):
    print("Machine: %d CPU(s), load %.1f at start, %.1f at end" % (
        out["machine"]["cpus"], out["machine"]["load at start"][0], out["machine"]["load at end"][0]))
    for row in out["sizes"]:
        b, f, r = stats(row["baseline"]), stats(row["files_sync"]), stats(row["rerun"])
        ratios = [x / y for x, y in zip(row["files_sync"], row["baseline"])]
        print("\nfiles %s (backup %.0f MiB), n=%d alternated" % (row["size"], row["backup bytes"] / MIB, b["n"]))
        print("  baseline curl+tar+rsync -a  %.1f s (%.1f-%.1f)" % (b["median"], b["min"], b["max"]))
        print("  files_sync                  %.1f s (%.1f-%.1f)  ratio %.2f (%.2f-%.2f)" % (
            f["median"], f["min"], f["max"], statistics.median(ratios), min(ratios), max(ratios)))
        print("  files_sync rerun            %.1f s  %.2f of the first run; downloads in the rerun: %s" % (
            r["median"], r["median"] / f["median"], row["rerun downloads"]))
        print("  module peak RSS             %.0f MiB" % (max(row["peak rss"]) / MIB))
        print("  extra disk: baseline %.0f MiB (archive + tree), files_sync staging ~%.0f MiB (tree)" % (
            max(row["baseline disk"]) / MIB, row["staging bytes"] / MIB))
    if out["link"]:
        print("\nrsync of %s of unpacked files into an empty target, then again with nothing changed" % out["link"]["size"])
        print("%14s %-18s %9s %11s %14s" % ("bwlimit KiB/s", "flags", "wall s", "rerun s", "bytes sent"))
        for r in out["link"]["rows"]:
            print("%14s %-18s %9.1f %11.1f %14s" % (
                r["bwlimit KiB/s"] or "-", r["flags"], r["wall"], r["rerun wall"], r["bytes sent"]))


if __name__ == "__main__":
    main()
