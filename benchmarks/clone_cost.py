#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what a clone costs the controller, per strategy, and how a fleet scales with forks.

    .venv/bin/python benchmarks/clone_cost.py [--runs 2] [--fleet 20] [--forks 20,10,5,1] [--json FILE]

Starts the emulator in a temporary directory (workflows finish at once: ``workflow_scale`` 0) and:

1. **One clone per strategy** (``archive``: a small Drupal 7 site; ``archive_without_files``: a Drupal 7
   site whose files are over ``site_clone_archive_limit_mb``; ``elements``: a small Drupal 10 site), each
   with playbooks/clone_site.yml into a new target, then the same clone again (a no-op rerun), then a
   clone of another fresh site of the strategy the usual way (``PANTHEON_MODULES_IN_PROCESS=false``: each
   module in a Python process of its own), alternating the strategies ``--runs`` times. For each run: wall
   time, controller CPU seconds (``getrusage(RUSAGE_CHILDREN)``: ansible-playbook, its workers, the modules
   and what they run), and a breakdown of the wall time: the platform (the emulator's own time answering
   the API, SSH and web requests, summed), the polling delay (for each workflow, from its ``finished_at``
   to the poll that saw it), the module tasks (from each one's start to its result, platform time
   included) and Ansible itself (the rest: task overhead and bookkeeping). For the usual way, also the
   module processes' CPU, and module start-up (the CPU of a module process that stops right after its
   imports and argument parsing). API requests are counted by kind: GETs (excluding workflow polls,
   downloads and the workflow lists resume reads), polls, writes, and the GET paths asked more than once.
2. **A fleet** of ``--fleet`` small Drupal 7 clones with playbooks/clone_fleet.yml at each of ``--forks``,
   with ``clone_fleet_concurrency`` equal to the forks: wall time and its ratio to one clone, when the first
   clone finished, controller CPU seconds per clone, and the peak memory of ansible-playbook's process tree
   (sum of PSS, sampled every 0.2 s) overall and per fork.

In the usual-way runs every module process runs under a Python wrapper that records its CPU, wall time and
peak RSS (wait4).
Nothing is asserted; medians, spreads and n are printed (and written with ``--json``).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers.ansible import CALLBACK_DIR, PYTHON, VENV_BIN  # noqa: E402  pylint: disable=wrong-import-position
from pantheon_emulator.pytest_plugin import start_emulator  # noqa: E402  pylint: disable=wrong-import-position

WRAPPER = '''#!{python}
"""Run the real interpreter; record the child's CPU, wall time and peak RSS in {log}."""
import json, os, sys, time
start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execv({python!r}, [{python!r}] + sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
module = [a for a in sys.argv[1:] if 'AnsiballZ_' in a]
with open({log!r}, 'a') as handle:
    handle.write(json.dumps({{'module': os.path.basename(module[0])[10:-3] if module else sys.argv[1:2],
                             'cpu': usage.ru_utime + usage.ru_stime, 'wall': time.monotonic() - start,
                             'maxrss_kib': usage.ru_maxrss}}) + '\\n')
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 1)
'''

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
POLL_RE = re.compile(r"/workflows/[^/]+$")
LIST_RE = re.compile(r"/workflows$")

STRATEGIES = {
    "archive": ({"framework": "drupal", "db": {"nodes": 8},
                 "files": {"count": 6, "size": [200, 4000], "depth": 1, "folders": 2}}, {}),
    "archive_without_files": ({"framework": "drupal", "db": {"nodes": 8},
                               "files": {"count": 6, "size": [200, 4000], "depth": 1, "folders": 2,
                                         "big": [{"name": "media/big.bin", "size": "1500KB", "compressible": False}]}},
                              {"site_clone_archive_limit_mb": 1}),
    "elements": ({"framework": "drupal8", "db": {"nodes": 8},
                  "files": {"count": 6, "size": [200, 4000], "depth": 1, "folders": 2}}, {}),
}


def make_wrapper(directory):
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "modules.jsonl"
    path = directory / "python-cpu"
    path.write_text(WRAPPER.format(python=PYTHON, log=str(log)), encoding="utf-8")
    path.chmod(0o755)
    return path, log


def read_log(log, start_line):
    if not log.exists():
        return []
    with open(log, encoding="utf-8") as f:
        return [json.loads(line) for line in f.readlines()[start_line:]]


def log_lines(log):
    if not log.exists():
        return 0
    with open(log, encoding="utf-8") as f:
        return len(f.readlines())


class TreeMemory(threading.Thread):
    """Peak of the summed PSS of a process and its descendants, sampled every 0.2 s."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stopped = threading.Event()

    @staticmethod
    def _children(pid):
        out = []
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/children" % (pid, tid), encoding="ascii") as f:
                    out += [int(c) for c in f.read().split()]
        except OSError:
            pass
        return out

    @staticmethod
    def _pss_kib(pid):
        try:
            with open("/proc/%d/smaps_rollup" % pid, encoding="ascii") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def run(self):
        while not self.stopped.wait(0.2):
            todo, total = [self.pid], 0
            while todo:
                pid = todo.pop()
                total += self._pss_kib(pid)
                todo += self._children(pid)
            self.peak = max(self.peak, total * 1024)


def playbook_env(emu, run_dir, results):
    env = dict(os.environ)
    env.update(emu.env)
    root = run_dir / "collections"
    (root / "ansible_collections" / "pantheon").mkdir(parents=True, exist_ok=True)
    link = root / "ansible_collections" / "pantheon" / "platform"
    if not link.exists():
        os.symlink(ROOT, link)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(root),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
        "ANSIBLE_CALLBACKS_ENABLED": "pantheon_test_results",
        "PANTHEON_TEST_RESULTS_FILE": str(results),
        "PANTHEON_CACHE_DIR": str(run_dir / "cache"),
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    return env


def run_playbook(emu, cmd, run_dir, wrapper_log, watch_memory=False, env=None):
    """Run ansible-playbook; returns (wall, cpu, module records, peak memory, request rows, results)."""
    results = run_dir / ("results-%s.json" % uuid.uuid4().hex[:6])
    env = dict(playbook_env(emu, run_dir, results), **(env or {}))
    rows = emu.requests()
    since = rows[-1]["id"] if rows else 0
    first_line = log_lines(wrapper_log)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=str(run_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    memory = TreeMemory(proc.pid)
    if watch_memory:
        memory.start()
    out = proc.communicate()[0]
    wall = time.monotonic() - start
    memory.stopped.set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (" ".join(cmd), out[-6000:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(results, encoding="utf-8") as f:
        tasks = json.load(f)["tasks"]
    requests = [r for r in emu.requests(since=since) if r["id"] > since]
    return wall, cpu, read_log(wrapper_log, first_line), memory.peak, requests, tasks


def request_kinds(requests):
    """API requests by kind; GET paths asked more than once (ids replaced by {id})."""
    kinds = collections.Counter()
    gets = collections.Counter()
    for r in requests:
        if r["channel"] == "download":
            kinds["downloads"] += 1
        elif r["channel"] != "api":
            kinds[r["channel"]] += 1
        elif r["method"] != "GET":
            kinds["writes"] += 1
        elif POLL_RE.search(r["path"]):
            kinds["polls"] += 1
        elif LIST_RE.search(r["path"]):
            kinds["workflow lists"] += 1
        else:
            kinds["GETs"] += 1
            gets[UUID_RE.sub("{id}", r["path"])] += 1
    return dict(kinds), dict((p, n) for p, n in gets.most_common() if n > 1)


def polling_delay(emu, requests):
    """Sum over the workflows polled in ``requests`` of (first poll at or after finished_at) - finished_at."""
    api = emu.api()
    polls = collections.defaultdict(list)
    for r in requests:
        if r["channel"] == "api" and r["method"] == "GET" and POLL_RE.search(r["path"]):
            polls[r["path"]].append(r["time"])
    delay = 0.0
    for path, times in polls.items():
        wf = api.get(emu.api_url + path.split("/api", 1)[1], timeout=30).json()
        finished = wf.get("finished_at")
        if finished:
            seen = [t for t in times if t >= finished]
            if seen:
                delay += min(seen) - finished
    return delay


def startup_cpu(emu, work, wrapper, log):
    """CPU of one module process that stops after its imports and argument parsing (median of 3)."""
    run_dir = work / "startup"
    run_dir.mkdir(exist_ok=True)
    play = run_dir / "startup.yml"
    play.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - pantheon.platform.site_info: {name: ''}\n      ignore_errors: true\n"
                    "      vars: {ansible_python_interpreter: %s}\n" % wrapper, encoding="utf-8")
    cpus = []
    for _attempt in range(3):
        modules = run_playbook(
            emu, [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play)],
            run_dir, log)[2]
        cpus += [m["cpu"] for m in modules]
    return statistics.median(cpus)


def clone(emu, work, wrapper, log, strategy, name=None, usual=False):
    """One clone of a fresh site of ``strategy`` (or again of ``name``); returns its measures. ``usual``: every
    module the usual way, in a process of its own (through the wrapper, which measures each)."""
    recipe, role_vars = STRATEGIES[strategy]
    if name is None:
        name = "c%s" % uuid.uuid4().hex[:7]
        emu.seed({"seed": 3, "sites": [dict(recipe, name=name, envs=["dev", "test", "live"])]})
    run_dir = work / name
    run_dir.mkdir(exist_ok=True)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), str(ROOT / "playbooks" / "clone_site.yml"),
           "-e", "source_site=%s" % name, "-e", "target_site=%s-clone" % name,
           "-e", "site_clone_report_dir=%s" % (run_dir / "reports")]
    if usual:
        cmd += ["-e", "ansible_python_interpreter=%s" % wrapper]
    for key, value in role_vars.items():
        cmd += ["-e", "%s=%s" % (key, value)]
    wall, cpu, modules, _peak, requests, tasks = run_playbook(
        emu, cmd, run_dir, log, env={"PANTHEON_MODULES_IN_PROCESS": "false"} if usual else None)
    reports = sorted((run_dir / "reports").glob("*.json"), key=lambda p: p.stat().st_mtime)
    with open(reports[-1], encoding="utf-8") as f:
        report = json.load(f)
    platform = sum(r.get("duration") or 0 for r in requests)
    module_tasks = [t for t in tasks if t["host"] == "localhost" and t["status"] != "skipped"
                    and t.get("action", "").startswith("pantheon.platform.") and t["action"] != "pantheon.platform.clone_state"]
    module_wall = sum(m["wall"] for m in modules) if usual else sum(t.get("seconds") or 0 for t in module_tasks)
    module_cpu = sum(m["cpu"] for m in modules) if usual else None
    kinds, repeated = request_kinds(requests)
    return name, {
        "strategy": (report.get("strategy") or {}).get("name"),
        "wall": wall, "cpu": cpu,
        "platform": platform,
        "polling delay": polling_delay(emu, requests),
        "module tasks": len(module_tasks),
        "module processes": len(modules) if usual else None,
        "module wall": module_wall,
        "module cpu": module_cpu,
        "ansible wall": wall - module_wall,
        "ansible cpu": None if module_cpu is None else cpu - module_cpu,
        "task results": len([t for t in tasks if t["host"] == "localhost"]),
        "requests": kinds, "repeated GETs": repeated,
    }


def fleet(emu, work, log, size, forks):
    """A fleet of ``size`` fresh small Drupal 7 clones at ``forks`` (and as many clones at once)."""
    prefix = "f%s" % uuid.uuid4().hex[:5]
    recipe, _vars = STRATEGIES["archive"]
    emu.seed({"seed": 5, "sites": [dict(recipe, name="%s-%02d" % (prefix, i), envs=["dev", "test", "live"])
                                   for i in range(size)]})
    run_dir = work / prefix
    run_dir.mkdir()
    inventory = run_dir / "fleet.yml"
    hosts = "".join("    %s-%02d:\n      site_clone_source_site: %s-%02d\n      site_clone_target_site: %s-%02d-clone\n"
                    % (prefix, i, prefix, i, prefix, i) for i in range(size))
    inventory.write_text("all:\n  vars:\n    site_clone_report_dir: %s\n  hosts:\n%s" % (run_dir / "reports", hosts),
                         encoding="utf-8")
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks" / "clone_fleet.yml"),
           "-f", str(forks), "-e", "clone_fleet_concurrency=%d" % forks]
    started = time.time()
    wall, cpu, _modules, peak, _requests, _tasks = run_playbook(emu, cmd, run_dir, log, watch_memory=True)
    with open(run_dir / "reports" / "fleet-report.json", encoding="utf-8") as f:
        sites = json.load(f)["sites"]
    ends = sorted(datetime.datetime.fromisoformat(s["finished_at"].replace("Z", "+00:00")).timestamp()
                  for s in sites if s.get("finished_at"))
    first = ends[0] - started if ends else None
    return {"forks": forks, "wall": wall, "cpu per clone": cpu / size, "first clone done": first,
            "peak memory": peak, "memory per fork": peak / forks,
            "failed": sum(1 for s in sites if s.get("status") != "succeeded")}


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt(s, unit=""):
    if s is None:
        return "-"
    if s["n"] == 1:
        return "%.2f%s" % (s["median"], unit)
    return "%.2f%s (%.2f-%.2f, n=%d)" % (s["median"], unit, s["min"], s["max"], s["n"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=2, help="clones per strategy, alternated (default 2)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="default: %(default)s")
    parser.add_argument("--fleet", type=int, default=20, help="jobs in the fleet (0: no fleet; default 20)")
    parser.add_argument("--forks", default="20,10,5,1", help="forks of the fleet runs (default %(default)s)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="clone-cost-"))
    out = {"machine": {"cpus": os.cpu_count(), "load at start": os.getloadavg()}, "clones": {}, "reruns": {},
           "usual": {}}
    try:
        emu = start_emulator(work / "emulator")
        try:
            wrapper, log = make_wrapper(work / "wrapper")
            out["module start-up cpu"] = startup_cpu(emu, work, wrapper, log)
            samples = collections.defaultdict(list)
            reruns = collections.defaultdict(list)
            usual = collections.defaultdict(list)
            strategies = [s for s in args.strategies.split(",") if s]
            section = time.monotonic()
            for _run in range(args.runs):
                for strategy in strategies:
                    name, first = clone(emu, work, wrapper, log, strategy)
                    samples[strategy].append(first)
                    _name, again = clone(emu, work, wrapper, log, strategy, name=name)
                    reruns[strategy].append(again)
                    usual[strategy].append(clone(emu, work, wrapper, log, strategy, usual=True)[1])
            for label, data in (("clones", samples), ("reruns", reruns), ("usual", usual)):
                for strategy, runs in data.items():
                    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float)) or runs[0][k] is None]
                    row = dict((k, stats([r[k] for r in runs])) for k in keys)
                    row["strategy taken"] = sorted(set(r["strategy"] for r in runs))
                    row["requests"] = dict((k, stats([r["requests"].get(k, 0) for r in runs]))
                                           for k in sorted(set(k for r in runs for k in r["requests"])))
                    row["repeated GETs"] = runs[-1]["repeated GETs"]
                    out[label][strategy] = row
            out["seconds"] = {"clones": time.monotonic() - section}
            save(out, args.json)
            if args.fleet:
                out["fleet"] = {"size": args.fleet, "runs": [], "forks": [int(f) for f in args.forks.split(",") if f]}
                for forks in [int(f) for f in args.forks.split(",") if f]:
                    out["fleet"]["runs"].append(fleet(emu, work, log, args.fleet, forks))
                    save(out, args.json)
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
    print("Module start-up (the usual way): %.3f CPU-s per module process" % out["module start-up cpu"])
    titles = {"clones": "One clone", "reruns": "No-op rerun", "usual": "One clone the usual way"}
    for label in ("clones", "reruns", "usual"):
        for strategy, row in out[label].items():
            print("\n%s, %s (strategy taken: %s)" % (titles[label], strategy,
                                                     ", ".join(str(s) for s in row["strategy taken"])))
            for key in ("wall", "cpu", "platform", "polling delay", "module wall", "module cpu", "ansible wall",
                        "ansible cpu", "module tasks", "module processes", "task results"):
                counted = key in ("module tasks", "module processes", "task results")
                print("  %-18s %s" % (key, fmt(row[key], " s" if not counted else "")))
            print("  requests: " + ", ".join("%s %s" % (k, fmt(v)) for k, v in row["requests"].items()))
            if row["repeated GETs"]:
                print("  GETs asked more than once (last run): %s" % row["repeated GETs"])
    for strategy, row in out["usual"].items():
        inproc = out["clones"].get(strategy)
        if inproc:
            print("\nIn-process / usual way, %s: controller CPU-s %.2f / %.2f = %.2f; wall %.1f / %.1f s = %.2f" % (
                strategy, inproc["cpu"]["median"], row["cpu"]["median"], inproc["cpu"]["median"] / row["cpu"]["median"],
                inproc["wall"]["median"], row["wall"]["median"], inproc["wall"]["median"] / row["wall"]["median"]))
    if out.get("fleet"):
        one = out["clones"].get("archive", {}).get("wall")
        print("\nFleet of %d small Drupal 7 clones (clone_fleet_concurrency = forks)" % out["fleet"]["size"])
        print("%6s %9s %12s %14s %14s %12s %14s" % (
            "forks", "wall s", "x one clone", "first done s", "CPU-s/clone", "peak MiB", "MiB per fork"))
        for r in out["fleet"]["runs"]:
            print("%6d %9.1f %12s %14s %14.2f %12.0f %14.1f" % (
                r["forks"], r["wall"], "%.2f" % (r["wall"] / one["median"]) if one else "-",
                "%.1f" % r["first clone done"] if r["first clone done"] is not None else "-",
                r["cpu per clone"], r["peak memory"] / 2 ** 20, r["memory per fork"] / 2 ** 20))


if __name__ == "__main__":
    main()
