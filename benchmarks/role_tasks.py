"""Benchmark: what one clone of a small site costs the controller, per checkout of the collection.

Starts an emulator in a temporary directory and, for each collection checkout given (this one by
default; ``--before REF`` adds a git worktree of REF, e.g. ``main``), clones a fresh small Drupal 7
site (the archive route, a new target; ``--framework wordpress``: a WordPress site, element by element) with
playbooks/clone_site.yml, alternating the checkouts ``--runs`` times. For each run it counts, from the test callback's task results:

- task results (every ok/changed/failed/skipped result of a task, includes counted),
- ``set_fact`` results, ``include_tasks`` results,
- builtin ``file``/``copy``/``stat`` results that ran (each one a Python process on the host; a loop
  counts once),
- the controller's CPU seconds (user + system of ansible-playbook and everything under it, from
  ``getrusage(RUSAGE_CHILDREN)``), and the wall time.

It prints the medians side by side, and the ratio after/before. Nothing is asserted. Run:

    .venv/bin/python benchmarks/role_tasks.py --before main --runs 3
    .venv/bin/python benchmarks/role_tasks.py --before main --runs 3 --framework wordpress
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import resource
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

from helpers.ansible import CALLBACK_DIR, PYTHON, VENV_BIN  # noqa: E402  pylint: disable=wrong-import-position
from pantheon_emulator.pytest_plugin import start_emulator  # noqa: E402  pylint: disable=wrong-import-position

BUILTIN_PROCESSES = ("ansible.builtin.file", "ansible.builtin.copy", "ansible.builtin.stat",
                     "file", "copy", "stat")
SET_FACT = ("ansible.builtin.set_fact", "set_fact")
INCLUDES = ("ansible.builtin.include_tasks", "include_tasks")


ROUTES = {"drupal": "a small Drupal 7 site (archive route, new target)",
          "wordpress": "a small WordPress site (element by element, new target)"}


def small_site(name, framework="drupal"):
    return {"name": name, "framework": framework, "envs": ["dev", "test", "live"],
            "db": {"posts": 8} if framework == "wordpress" else {"nodes": 8},
            "files": {"count": 6, "size": [200, 4000], "compressible": True, "depth": 1, "folders": 2}}


@contextlib.contextmanager
def compared_checkouts(prefix, before=None):
    """(work directory, [(label, checkout)]): this checkout, after a temporary git worktree of ``before``
    when given; both are removed on the way out."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    checkouts = []
    try:
        if before:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(work / "before"), before],
                           check=True, capture_output=True)
            checkouts.append(("before (%s)" % before, work / "before"))
        checkouts.append(("this checkout", ROOT))
        yield work, checkouts
    finally:
        if before:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / "before")],
                           check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def collection_root(checkout, work):
    """A collections root whose pantheon.platform is ``checkout``."""
    root = work / ("collections-%s" % uuid.uuid4().hex[:6])
    (root / "ansible_collections" / "pantheon").mkdir(parents=True)
    os.symlink(checkout, root / "ansible_collections" / "pantheon" / "platform")
    return root


def clone_once(emu, checkout, work, framework="drupal"):
    """One clone of a fresh small site with ``checkout``; returns the counts."""
    name = "b%s" % uuid.uuid4().hex[:7]
    emu.seed({"seed": 3, "sites": [small_site(name, framework)]})
    run_dir = work / name
    run_dir.mkdir()
    results = run_dir / "results.json"
    env = dict(os.environ)
    env.update(emu.env)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collection_root(checkout, run_dir)),
        "ANSIBLE_PYTHON_INTERPRETER": PYTHON,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
        "ANSIBLE_CALLBACKS_ENABLED": "pantheon_test_results",
        "PANTHEON_TEST_RESULTS_FILE": str(results),
        "PANTHEON_CACHE_DIR": str(run_dir / "cache"),
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), str(Path(checkout) / "playbooks" / "clone_site.yml"),
           "-e", "source_site=%s" % name, "-e", "target_site=%s-clone" % name,
           "-e", "site_clone_report_dir=%s" % (run_dir / "reports")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=str(run_dir), capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit("clone failed with %s:\n%s\n%s" % (checkout, proc.stdout[-4000:], proc.stderr[-2000:]))
    with open(results, encoding="utf-8") as f:
        tasks = [t for t in json.load(f)["tasks"] if t["host"] == "localhost"]
    actions = collections.Counter(t.get("action", "") for t in tasks)
    return {
        "task results": len(tasks),
        "set_fact": sum(1 for t in tasks if t.get("action") in SET_FACT),
        "include_tasks": sum(1 for t in tasks if t.get("action") in INCLUDES),
        # a skipped task starts no process
        "file/copy/stat": sum(1 for t in tasks if t.get("action") in BUILTIN_PROCESSES and t["status"] != "skipped"),
        "controller CPU-s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "wall s": round(wall, 2),
        "_actions": actions,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--before", help="git ref of the collection to compare with (a temporary worktree)")
    parser.add_argument("--runs", type=int, default=1, help="clones per checkout, alternated (default 1)")
    parser.add_argument("--framework", choices=sorted(ROUTES), default="drupal",
                        help="the small site's framework (default drupal: Drupal 7)")
    args = parser.parse_args()

    with compared_checkouts("role-tasks-", args.before) as (work, checkouts):
        emu = start_emulator(work / "emulator")
        samples = collections.defaultdict(list)
        try:
            for _run in range(args.runs):
                for label, checkout in checkouts:
                    samples[label].append(clone_once(emu, checkout, work, args.framework))
        finally:
            emu.stop()
        keys = ["task results", "set_fact", "include_tasks", "file/copy/stat", "controller CPU-s", "wall s"]
        print("One clone of %s; medians of %d run(s), alternated; machine: %d CPU(s)"
              % (ROUTES[args.framework], args.runs, os.cpu_count() or 0))
        print("%-18s" % "" + "".join("%22s" % label for label, _checkout in checkouts)
              + ("%10s" % "ratio" if args.before else ""))
        for key in keys:
            labels = [label for label, _checkout in checkouts]
            values = [statistics.median(s[key] for s in samples[label]) for label in labels]
            ratio = ("%10.2f" % (values[-1] / values[0]) if args.before and values[0] else "")
            spread = ["%s-%s" % (min(s[key] for s in samples[label]), max(s[key] for s in samples[label]))
                      for label in labels]
            print("%-18s" % key + "".join("%22s" % ("%g (%s)" % (v, sp) if args.runs > 1 else "%g" % v)
                                          for v, sp in zip(values, spread)) + ratio)
        for label, _checkout in checkouts:
            print("%s, actions of the last run: %s" % (label, dict(samples[label][-1]["_actions"].most_common())))


if __name__ == "__main__":
    main()
