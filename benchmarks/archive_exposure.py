"""Benchmark: how long each site archive is public in a fleet (issue 11, point 4).

Starts an emulator in a temporary directory, seeds ``--jobs`` small Drupal 7 sites (the archive
route) and clones them into new sites with playbooks/clone_fleet.yml at ``--forks``, for each
collection checkout given (this one; ``--before REF`` adds a git worktree of REF, e.g. ``main``,
run first against the same emulator). From the emulator's request log (channel ``archive``,
hacking/exposure.py) it prints per checkout the longest time an archive was public and the
longest time one was public for nothing (its window minus its import and its removal; the bound is
5 s), and the ratio after/before. Nothing is asserted. The figures of this checkout are merged
into .tmp/reliability/exposure.json as ``fleet-<jobs>-f<forks>``. Run:

    .venv/bin/python benchmarks/archive_exposure.py --jobs 10 --forks 1 [--before main]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "hacking"))

import exposure  # noqa: E402  pylint: disable=wrong-import-position,import-error
from role_tasks import collection_root, compared_checkouts, small_site  # noqa: E402  pylint: disable=wrong-import-position,import-error
from helpers.ansible import PYTHON, VENV_BIN  # noqa: E402  pylint: disable=wrong-import-position
from pantheon_emulator.pytest_plugin import start_emulator  # noqa: E402  pylint: disable=wrong-import-position


def fleet(emu, checkout, work, jobs, forks):
    """One fleet of ``jobs`` fresh sites at ``forks``; returns the exposure figures of its archives."""
    prefix = "x%s-" % uuid.uuid4().hex[:5]
    names = [prefix + "s%02d" % i for i in range(jobs)]
    emu.seed({"seed": 3, "sites": [small_site(n) for n in names]})
    run_dir = work / prefix.rstrip("-")
    run_dir.mkdir()
    inventory = run_dir / "fleet.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"site_clone_report_dir": str(run_dir / "reports")},
        "hosts": dict((n, {"site_clone_source_site": n, "site_clone_target_site": n + "-c"}) for n in names)}}))
    rows = emu.requests()
    since = rows[-1]["id"] if rows else 0
    env = dict(os.environ)
    env.update(emu.env)
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(collection_root(checkout, run_dir)),
                "ANSIBLE_PYTHON_INTERPRETER": PYTHON, "ANSIBLE_NOCOLOR": "1",
                "PANTHEON_CACHE_DIR": str(run_dir / "cache"),
                "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")})
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inventory),
                           str(Path(checkout) / "playbooks" / "clone_fleet.yml"), "-f", str(forks)],
                          env=env, cwd=str(run_dir), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("the fleet failed with %s:\n%s\n%s" % (checkout, proc.stdout[-4000:], proc.stderr[-2000:]))
    return exposure.exposure(emu.requests(since=since))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--jobs", type=int, default=10, help="clone jobs in the fleet (default 10)")
    parser.add_argument("--forks", type=int, default=1, help="ansible-playbook -f (default 1)")
    parser.add_argument("--before", help="git ref of the collection to compare with (a temporary worktree)")
    parser.add_argument("--out", default=exposure.DEFAULT_OUT, help="JSON file (default %(default)s)")
    args = parser.parse_args()
    with compared_checkouts("archive-exposure-", args.before) as (work, checkouts):
        emu = start_emulator(work / "emulator")
        results = []
        try:
            for label, checkout in checkouts:
                results.append((label, fleet(emu, checkout, work, args.jobs, args.forks)))
        finally:
            emu.stop()
        print("Site archives of a fleet of %d small Drupal 7 clones at -f %d; machine: %d CPU(s)"
              % (args.jobs, args.forks, os.cpu_count() or 0))
        print("%-34s" % "" + "".join("%22s" % label for label, _f in results) + ("%10s" % "ratio" if args.before else ""))
        for key, what in (("archives", "archives"), ("unremoved", "left on the source"),
                          ("max_window_s", "longest public window, s"),
                          ("max_overhead_s", "longest public for nothing, s")):
            values = [f[key] for _label, f in results]
            ratio = ("%10.2f" % (values[-1] / values[0]) if args.before and values[0] and values[-1] is not None
                     and key.startswith("max") else "")
            print("%-34s" % what + "".join("%22s" % v for v in values) + ratio)
        print("bound: public for nothing at most %g s: %s" % (exposure.BOUND_S,
                                                              "held" if results[-1][1]["within_bound"] else "NOT held"))
        exposure.write(args.out, "fleet-%d-f%d" % (args.jobs, args.forks), results[-1][1])
        print("figures of this checkout written to %s" % args.out)


if __name__ == "__main__":
    main()
