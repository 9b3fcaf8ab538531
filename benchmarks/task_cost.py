#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what one task costs the controller, by kind: a module task in-process, the same module the usual way
(``PANTHEON_MODULES_IN_PROCESS=false``: a Python process of its own), and a ``set_fact``.

Starts the emulator in a temporary directory, seeds one small site, and runs, alternated ``--runs`` times, four
playbooks on the implicit localhost: ``--tasks`` ``site_info`` tasks in-process, the same the usual way, as many
``set_fact`` tasks, and a playbook with no task (ansible-playbook's own start). Each task's cost is the playbook's
controller CPU (``getrusage(RUSAGE_CHILDREN)``) less the empty playbook's, divided by the number of tasks. Prints
medians with their range and n, and the ratios. Nothing is asserted. Run:

    .venv/bin/python benchmarks/task_cost.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers.ansible import VENV_BIN  # noqa: E402  pylint: disable=wrong-import-position
from pantheon_emulator.pytest_plugin import start_emulator  # noqa: E402  pylint: disable=wrong-import-position

SITE = "task-cost"


def playbooks(tasks):
    """{label: (task list, environment)} of the four playbooks."""
    look = {"pantheon.platform.site_info": {"name": SITE, "environments": ["dev"]}}
    fact = {"ansible.builtin.set_fact": {"counted": "{{ 1 + 1 }}"}}
    return {
        "site_info, in-process": ([look] * tasks, {}),
        "site_info, the usual way": ([look] * tasks, {"PANTHEON_MODULES_IN_PROCESS": "false"}),
        "set_fact": ([fact] * tasks, {}),
        "no task": ([{"ansible.builtin.meta": "noop"}], {}),
    }


def run(work, env, tasks, extra):
    """Controller CPU seconds of one ansible-playbook run of ``tasks``."""
    play = work / ("play-%d.yml" % os.getpid())
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]), encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), str(play)], env=dict(env, **extra),
                          cwd=str(work), capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit("the playbook failed:\n%s" % proc.stdout[-4000:])
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each playbook, alternated (default 3)")
    parser.add_argument("--tasks", type=int, default=20, help="tasks per playbook (default 20)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="task-cost-"))
    try:
        emu = start_emulator(work / "emulator")
        try:
            emu.seed({"seed": 3, "sites": [{"name": SITE, "framework": "drupal8", "envs": ["dev"]}]})
            root = work / "collections" / "ansible_collections" / "pantheon"
            root.mkdir(parents=True)
            os.symlink(ROOT, root / "platform")
            env = dict(os.environ, **emu.env)
            env.update(ANSIBLE_COLLECTIONS_PATH=str(work / "collections"), PANTHEON_CACHE_DIR=str(work / "cache"),
                       ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
            cpu = dict((label, []) for label in playbooks(args.tasks))
            for _run in range(args.runs):
                for label, (tasks, extra) in playbooks(args.tasks).items():
                    cpu[label].append(run(work, env, tasks, extra))
        finally:
            emu.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    start = statistics.median(cpu["no task"])
    print("Controller CPU per task, %d tasks a playbook, medians of %d alternated runs (machine: %d CPU(s));" % (
        args.tasks, args.runs, os.cpu_count() or 1))
    print("ansible-playbook's own start (no task): %.2f CPU-s (%.2f-%.2f)" % (start, min(cpu["no task"]), max(cpu["no task"])))
    per = {}
    for label in ("site_info, in-process", "site_info, the usual way", "set_fact"):
        values = [(c - start) / args.tasks * 1000 for c in cpu[label]]
        per[label] = statistics.median(values)
        print("  %-26s %6.0f ms a task (%.0f-%.0f, n=%d)" % (label, per[label], min(values), max(values), len(values)))
    print("in-process / the usual way: %.2f; in-process less a set_fact (the module's imports and work): %.0f ms" % (
        per["site_info, in-process"] / per["site_info, the usual way"], per["site_info, in-process"] - per["set_fact"]))


if __name__ == "__main__":
    main()
