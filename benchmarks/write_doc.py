#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/benchmarks.md from the JSON results of benchmarks/clone_cost.py and files_transfer.py.

    .venv/bin/python benchmarks/write_doc.py --clone clone.json --files files.json [--out docs/benchmarks.md]
                                             [--seconds N]

Each goal of issue 13 is written with its measured value and ratio; a goal missed says what limits
it, from the same measurements. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 2.0 ** 20
MACHINE_LOAD = []  # the median load average of the run (set by main)


def med(stat):
    return stat["median"] if stat else None


def spread(stat, unit="s", digits=1):
    if not stat:
        return "-"
    f = "%%.%df" % digits
    unit = (" " + unit) if unit else ""
    if stat["n"] == 1:
        return (f + "%s (n=1)") % (stat["median"], unit)
    return (f + "%s (" + f + "–" + f + ", n=%d)") % (stat["median"], unit, stat["min"], stat["max"], stat["n"])


def verdict(ok):
    return "met" if ok else "**missed**"


def clone_section(clone, lines, goals):
    lines += ["## One clone, per strategy", "",
              "`benchmarks/clone_cost.py`: a fresh small site per strategy cloned with `playbooks/clone_site.yml` into "
              "a new target, then the same clone again (a no-op rerun), then another fresh site of the strategy cloned "
              "the usual way (`PANTHEON_MODULES_IN_PROCESS=false`: each module in a Python process of its own), "
              "strategies alternated; workflows finish at once on the emulator (its timing profile off), polls at the "
              "real platform's interval (1 s, then 1.5 s). Controller CPU is `getrusage(RUSAGE_CHILDREN)` of "
              "ansible-playbook: its workers, the modules (in the workers, or, the usual way and for `archive`, in "
              "processes of their own) and the ssh/rsync/git/mysql clients they run. The wall time is broken down into "
              "the platform's time (the emulator answering API, SSH and web requests), the polling delay (each "
              "workflow's `finished_at` to the poll that saw it), the module tasks (each from its start to its result, "
              "platform time included; the usual way: the module processes) and Ansible itself (the rest: task "
              "overhead and bookkeeping). The usual way also gives the module processes' CPU; module start-up is the "
              "CPU of such a process that stops right after its imports and argument parsing: %.3f CPU-s." % clone["module start-up cpu"],
              "",
              "| | " + " | ".join("%s (%s)" % (s, label) for s in clone["clones"] for label in ("clone", "rerun", "usual way")) + " |",
              "|---|" + "---|" * (3 * len(clone["clones"]))]
    parts = ("clones", "reruns", "usual")
    keys = [("wall", "wall time", "s"), ("cpu", "controller CPU", "CPU-s"), ("platform", "platform time", "s"),
            ("polling delay", "polling delay", "s"), ("module wall", "module tasks, wall", "s"),
            ("ansible wall", "Ansible itself, wall", "s"), ("module cpu", "module processes, CPU", "CPU-s"),
            ("ansible cpu", "Ansible itself, CPU", "CPU-s"), ("module tasks", "module tasks", ""),
            ("module processes", "module processes", ""), ("task results", "task results", "")]
    counted = ("module tasks", "module processes", "task results")
    for key, label, unit in keys:
        cells = []
        for s in clone["clones"]:
            for part in parts:
                cells.append(spread((clone.get(part, {}).get(s) or {}).get(key), unit, 0 if key in counted else 2))
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    kinds = sorted(set(k for s in clone["clones"] for part in parts for k in (clone.get(part, {}).get(s) or {}).get("requests", {})))
    for kind in kinds:
        cells = []
        for s in clone["clones"]:
            for part in parts:
                cells.append(spread((clone.get(part, {}).get(s) or {}).get("requests", {}).get(kind), "", 0))
        lines.append("| requests: %s | %s |" % (kind, " | ".join(cells)))
    lines.append("")
    ratios = []
    for s in clone["clones"]:
        usual = clone.get("usual", {}).get(s)
        if usual:
            ratios.append((s, med(clone["clones"][s]["cpu"]) / med(usual["cpu"]), med(clone["clones"][s]["wall"]) / med(usual["wall"])))
    if ratios:
        lines.append("In-process against the usual way, same strategy, same run: controller CPU %s; wall time %s." % (
            ", ".join("%.2f (%s)" % (r[1], r[0]) for r in ratios), ", ".join("%.2f (%s)" % (r[2], r[0]) for r in ratios)))
        lines.append("")
    for s in clone["clones"]:
        rep = clone["clones"][s]["repeated GETs"]
        if rep:
            lines.append("GET paths asked more than once in one clone (%s, across its module runs): %s." % (
                s, ", ".join("`%s` %d×" % (p, n) for p, n in sorted(rep.items(), key=lambda kv: -kv[1]))))
            lines.append("")

    startup = clone["module start-up cpu"]
    cpus = [med(clone["clones"][s]["cpu"]) for s in clone["clones"]]
    worst = max(cpus)
    arch_name = "archive" if "archive" in clone["clones"] else next(iter(clone["clones"]))
    arch = clone["clones"][arch_name]
    usual = clone.get("usual", {}).get(arch_name)
    n_tasks = med(arch["module tasks"])
    goals.append(("Controller CPU per clone of a small site ≤ 3 CPU-s",
                  "%.1f–%.1f CPU-s over the strategies (ratio to the goal %.1f)" % (min(cpus), worst, worst / 3.0),
                  verdict(worst <= 3.0),
                  "" if worst <= 3.0 else
                  "Archive route: %.1f CPU-s with its %d module tasks run in-process, against %s the usual way, where "
                  "each module process costs %.2f CPU-s to start (AnsiballZ unpacked, `ansible.module_utils.basic` "
                  "and `requests` imported). What is left is Ansible's: ansible-playbook's start, and one forked worker "
                  "per task result (%d here) that templates the task's arguments and conditions, plus the module's "
                  "imports in each module task's worker and the ssh/rsync/git clients the steps run." % (
                      med(arch["cpu"]), n_tasks,
                      "%.1f CPU-s (%.2f)" % (med(usual["cpu"]), med(arch["cpu"]) / med(usual["cpu"])) if usual else "-",
                      startup, med(arch["task results"]))))
    rerun_walls = [med(clone["reruns"][s]["wall"]) for s in clone["reruns"]]
    rerun_cpus = [med(clone["reruns"][s]["cpu"]) for s in clone["reruns"]]
    ok = max(rerun_walls) <= 10 and max(rerun_cpus) <= 2
    goals.append(("No-op rerun ≤ 10 s wall and ≤ 2 CPU-s",
                  "%.1f s wall (ratio %.1f), %.1f CPU-s (ratio %.1f), worst strategy" % (
                      max(rerun_walls), max(rerun_walls) / 10, max(rerun_cpus), max(rerun_cpus) / 2),
                  verdict(ok),
                  "" if ok else "A rerun still looks both sites up, compares the target with the source "
                  "(checkpoint: %d module tasks) and writes the report: the same per-task costs as above, over "
                  "fewer tasks." % max(med(clone["reruns"][s]["module tasks"]) for s in clone["reruns"])))
    gets = [med(clone["clones"][s]["requests"].get("GETs")) or 0 for s in clone["clones"]]
    worst = max(clone["clones"], key=lambda s: med(clone["clones"][s]["requests"].get("GETs")) or 0)
    goals.append(("At most 20 GETs per clone (excluding polls, downloads and resume's workflow lists)",
                  "%d–%d (ratio %.1f)" % (min(gets), max(gets), max(gets) / 20.0), verdict(max(gets) <= 20),
                  "" if max(gets) <= 20 else
                  "Each module task is its own run, with a client of its own, and resolves its site and environment "
                  "again before acting (`/api/sites/{id}` and `/api/sites/{id}/environments`, once per site it touches: "
                  "%s in the last %s clone, over %d module tasks); that is the floor while each platform step is its "
                  "own module run. `site_info` describes only the environment the clone uses (settings and domains) and checks "
                  "SSH in the same run. Within one module run nothing is asked twice (a per-client cache of these "
                  "lookups, forgotten on a write or a workflow wait)." % (
                      ", ".join("%d× `%s`" % (n, p) for p, n in sorted(
                          clone["clones"][worst]["repeated GETs"].items(), key=lambda kv: -kv[1])[:2]),
                      worst, med(clone["clones"][worst]["module tasks"]))))


def fleet_section(clone, lines, goals):
    fleet = clone.get("fleet")
    if not fleet or not fleet["runs"]:
        return
    one = med(clone["clones"]["archive"]["wall"])
    lines += ["## A fleet of %d" % fleet["size"], "",
              "`benchmarks/clone_cost.py`: %d fresh small Drupal 7 sites cloned with `playbooks/clone_fleet.yml` at each "
              "number of forks, with `clone_fleet_concurrency` equal to the forks (n=1 per row). Peak memory is the sum "
              "of the PSS of ansible-playbook and every process under it, sampled every 0.2 s." % fleet["size"], "",
              "| forks | wall s | × one clone (%.1f s) | first clone done s | CPU-s per clone | peak MiB | MiB per fork | failed |" % one,
              "|---|---|---|---|---|---|---|---|"]
    for r in sorted(fleet["runs"], key=lambda r: r["forks"]):
        lines.append("| %d | %.0f | %.2f | %s | %.2f | %.0f | %.1f | %d |" % (
            r["forks"], r["wall"], r["wall"] / one, "%.0f" % r["first clone done"] if r["first clone done"] else "-",
            r["cpu per clone"], r["peak memory"] / MIB, r["memory per fork"] / MIB, r["failed"]))
    lines.append("")
    top = max(fleet["runs"], key=lambda r: r["forks"])
    ratio = top["wall"] / one
    cpu_bound = fleet["size"] * top["cpu per clone"] / (os.cpu_count() or 1)
    goals.append(("Fleet of %d at forks %d ≤ 2.5× one clone's wall time" % (fleet["size"], top["forks"]),
                  "%.0f s, %.2f× one clone" % (top["wall"], ratio), verdict(ratio <= 2.5),
                  "" if ratio <= 2.5 else
                  "The controller's CPU: %d clones × %.1f CPU-s on %d cores is at least %.0f s (%.1f× one clone) "
                  "before any waiting; the fleet scales only as far as the CPU per clone falls. The rest is the "
                  "machine's other work: its load (median %.1f during the run) leaves the fleet a share of the two "
                  "cores, where one clone, mostly waiting, is hurt less." % (
                      fleet["size"], top["cpu per clone"], os.cpu_count() or 1, cpu_bound, cpu_bound / one,
                      MACHINE_LOAD[0] if MACHINE_LOAD else float("nan"))))
    per_fork = max([r["memory per fork"] for r in fleet["runs"] if r["forks"] > 1] or [0]) / MIB
    goals.append(("Controller memory ≤ 60 MiB per fork", "%.1f MiB per fork at most (ratio %.2f)" % (per_fork, per_fork / 60),
                  verdict(per_fork <= 60), "" if per_fork <= 60 else
                  "Each fork is a copy of ansible-playbook (its loaded plugins, the inventory and every host's "
                  "variables), which grows while a module task runs in it by the module's imports (`requests`, the "
                  "module's code)."))
    first = min(fleet["runs"], key=lambda r: r["forks"])
    if first["forks"] != 1:
        goals.append(("Fleet concurrency means what the docs say (`clone_fleet_concurrency`)",
                      "not measured: the run stopped before the fleet at forks 1", "**not measured**",
                      "At forks %d (the fewest that ran) all %d clones run at once, so the first finishes with the "
                      "others (%.0f s)." % (first["forks"], first["forks"], first["first clone done"] or 0)))
    elif first["first clone done"]:
        goals.append(("Fleet concurrency means what the docs say (`clone_fleet_concurrency`)",
                      "at forks %d the first clone finished after %.0f s, %.2f× one clone" % (
                          first["forks"], first["first clone done"], first["first clone done"] / one),
                      verdict(first["first clone done"] <= 1.5 * one), ""))
    if len(fleet["runs"]) < len(fleet.get("forks", [])):
        lines += ["The run was stopped before the fleet at forks %s." % ", ".join(
            str(f) for f in fleet["forks"] if f not in [r["forks"] for r in fleet["runs"]]), ""]


def files_section(files, lines, goals):
    lines += ["## files_sync against curl + tar + rsync", "",
              "`benchmarks/files_transfer.py`: a source whose files are mixed (about 35% of the bytes in small "
              "compressible files, 65% in big random ones) and its files backup; the baseline is `curl -o` of the "
              "backup's signed URL, `tar xzf`, `rsync -a` into an emptied target over SSH; `files_sync` moves the same "
              "backup into another emptied target; then `files_sync` again with nothing changed. Alternated.", "",
              "| files | backup MiB | baseline s | files_sync s | ratio | rerun s | rerun / first | rerun downloads "
              "| module peak RSS MiB | baseline extra disk MiB | staging MiB |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    ratios_by_size = {}
    for row in files["sizes"]:
        ratios = [f / b for f, b in zip(row["files_sync"], row["baseline"])]
        ratios_by_size[row["size"]] = ratios
        rerun = statistics.median(row["rerun"]) / statistics.median(row["files_sync"])
        lines.append("| %s | %.0f | %s | %s | %.2f (%.2f–%.2f) | %.1f | %.2f | %s | %.0f | %.0f | %.0f |" % (
            row["size"], row["backup bytes"] / MIB, "%.1f" % statistics.median(row["baseline"]),
            "%.1f" % statistics.median(row["files_sync"]), statistics.median(ratios), min(ratios), max(ratios),
            statistics.median(row["rerun"]), rerun, row["rerun downloads"], max(row["peak rss"]) / MIB,
            max(row["baseline disk"]) / MIB, row["staging bytes"] / MIB))
    lines.append("")
    big = files["sizes"][-1]
    ratio = statistics.median(ratios_by_size[big["size"]])
    goals.append(("files_sync at %s ≤ 0.8× the baseline" % big["size"], "%.2f×" % ratio, verdict(ratio <= 0.8),
                  "" if ratio <= 0.8 else
                  "files_sync streams the download through a native gunzip into Python's unpacking, which checks "
                  "every member (no archive on disk; the baseline's `tar xzf` checks nothing), then runs rsync with "
                  "`-z` and `--checksum` (its defaults, for the link to the platform), besides ansible-playbook's and "
                  "the module's start. %s" % loopback_cost(files.get("link"))))
    rerun = statistics.median(big["rerun"]) / statistics.median(big["files_sync"])
    downloaded = any(big["rerun downloads"])
    if rerun < 0.1 and not downloaded:
        limit = ""
    elif downloaded:
        limit = "The rerun downloaded the backup again: the target's listing differed from the last sync's record."
    else:
        limit = ("Nothing was downloaded (the target's listing matched the last sync's record); what remains is "
                 "fixed: ansible-playbook's and the module's start, the site lookups and one rsync listing of the "
                 "target over SSH, %.1f s in all against a first run of %.1f s." % (
                     statistics.median(big["rerun"]), statistics.median(big["files_sync"])))
    goals.append(("files_sync rerun with nothing changed < 10% of the first, no full download",
                  "%.2f of the first; downloads in the rerun: %s" % (rerun, big["rerun downloads"]),
                  verdict(rerun < 0.1 and not downloaded), limit))
    peaks = [max(r["peak rss"]) / MIB for r in files["sizes"]]
    measured = ", ".join("%.0f MiB at %s" % (p, r["size"]) for p, r in zip(peaks, files["sizes"]))
    goals.append(("files_sync peak RSS < 100 MB, flat with size", measured,
                  verdict(max(peaks) < 100 and max(peaks) - min(peaks) < 20), ""))
    link = files.get("link")
    if link:
        lines += ["### rsync's flags, on loopback and over a limited link", "",
                  "The unpacked files of %s sent into an emptied target, then again with nothing changed; "
                  "the limited link is rsync's `--bwlimit` (KiB/s)." % link["size"], "",
                  "| bwlimit KiB/s | flags | first s | rerun s | bytes sent |", "|---|---|---|---|---|"]
        for r in link["rows"]:
            lines.append("| %s | `%s` | %.1f | %.1f | %s |" % (
                r["bwlimit KiB/s"] or "none (loopback)", r["flags"], r["wall"], r["rerun wall"], r["bytes sent"]))
        lines += ["", link_reading(link["rows"]), ""]


def loopback_cost(link):
    """What files_sync's default flags cost against the baseline's on loopback, from the link table."""
    rows = (link or {}).get("rows") or []

    def wall(flags):
        return next((r["wall"] for r in rows if not r["bwlimit KiB/s"] and r["flags"] == flags), None)
    ours, plain = wall("-rlz --checksum"), wall("-rl")
    if not (ours and plain):
        return "See the link table below for what each flag costs on loopback and over a limited link."
    return ("On loopback, as here, rsync `-rlz --checksum` took %.2f× the time of `-rl` (link table below), while over "
            "the limited link it took %s; `compress: false` leaves `-z` out for a fast link." % (
                ours / plain, "%.2f×" % (
                    next((r["wall"] for r in rows if r["bwlimit KiB/s"] and r["flags"] == "-rlz --checksum"), 0)
                    / (next((r["wall"] for r in rows if r["bwlimit KiB/s"] and r["flags"] == "-rl"), 0) or 1))))


def link_reading(rows):
    """What the link table says about files_sync's flags (``-rlz --checksum``, its defaults)."""
    def row(limit, flags):
        return next((r for r in rows if bool(r["bwlimit KiB/s"]) == limit and r["flags"] == flags), None)
    parts = []
    for limit, where in ((False, "On loopback"), (True, "Over the limited link")):
        plain, ours, quick = row(limit, "-rl"), row(limit, "-rlz --checksum"), row(limit, "-rlz")
        if not (plain and ours and quick):
            continue
        values = (where, ours["wall"], plain["wall"], ours["wall"] / plain["wall"], ours["rerun wall"], quick["rerun wall"])
        parts.append("%s `-rlz --checksum` took %.1f s against %.1f s for `-rl` (%.2f×), and its rerun %.1f s against "
                     "%.1f s for `-rlz` without `--checksum`" % values)
    return (". ".join(parts) + ". Compression pays wherever the link, not the CPU, is the limit, as it is between a "
            "controller and the platform; `--checksum` is what makes a rerun cheap: files_sync keeps no modification "
            "times by default (`preserve_times: false`; the platform allows no `-a`), so the target's times never "
            "match and rsync's quick check would send every file again. files_sync keeps both by default "
            "(`compare: size` trades the checksums for sizes).") if parts else ""


def runtime_goal(seconds, clone, files, load, stopped=False):
    """The goal row of make benchmark's own duration, with where its time went (``stopped``: the run was stopped
    before its end, after ``seconds``)."""
    parts = [("single clones and reruns", (clone.get("seconds") or {}).get("clones"))]
    fleet = clone.get("fleet") or {}
    for r in fleet.get("runs", []):
        parts.append(("fleet of %d at forks %d" % (fleet["size"], r["forks"]), r["wall"]))
    for key, value in sorted(((files or {}).get("seconds") or {}).items()):
        parts.append((key, value))
    where = ", ".join("%s %.0f s" % (k, v) for k, v in parts if v is not None)
    missing = [f for f in fleet.get("forks", []) if f not in [r["forks"] for r in fleet.get("runs", [])]]
    ok = seconds <= 900 and not stopped
    limit = ""
    if not ok:
        cpu, wall = (med(clone["clones"].get("archive", {}).get(k)) or 0 for k in ("cpu", "wall"))
        size, cores = fleet.get("size", 0), os.cpu_count() or 1
        if missing:
            stop = "; the run was stopped before the fleet at forks %s" % ", ".join(map(str, missing))
        else:
            stop = "" if fleet or not stopped else "; the run was stopped before the fleet"
        limit = "Where the time went: %s%s." % (where, stop)
        if fleet:
            limit += (" The fleet alone clones %d sites at each of %d settings: at forks 1 one after the other (%d × "
                      "one clone's %.0f s = %.0f s), at the others bounded by the controller's CPU (%d × %.1f CPU-s / "
                      "%d cores = %.0f s each with the machine to itself)." % (
                          size, len(fleet.get("forks", [])), size, wall, size * wall, size, cpu, cores,
                          size * cpu / cores))
        limit += " The machine's load (median %.1f on %d cores) stretched every part." % (load, cores)
    measured = ("stopped after %.0f s (%.2f× the 15 minutes)" if stopped else "%.0f s (%.2f× the 15 minutes)") % (
        seconds, seconds / 900.0)
    return ("`make benchmark` with its defaults in under 15 minutes", measured + ("" if limit else "; " + where),
            verdict(ok), limit)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--clone", required=True)
    parser.add_argument("--files")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--seconds", type=float, help="how long make benchmark took")
    parser.add_argument("--settings", default="", help="the settings of this run (hacking/benchmark.sh's BENCH_*)")
    parser.add_argument("--load", help="a file of load averages (1 min) sampled during the run, one a line")
    parser.add_argument("--stopped", action="store_true", help="the run was stopped before its end (--seconds in)")
    args = parser.parse_args()
    with open(args.clone, encoding="utf-8") as f:
        clone = json.load(f)
    files = None
    if args.files and os.path.exists(args.files):
        with open(args.files, encoding="utf-8") as f:
            files = json.load(f)
    loads = [clone["machine"]["load at start"][0], clone["machine"]["load at end"][0]]
    if files:
        loads += [files["machine"]["load at start"][0], files["machine"]["load at end"][0]]
    if args.load and os.path.exists(args.load):
        with open(args.load, encoding="utf-8") as f:
            loads += [float(v) for v in f.read().split()]
    lines = ["# Benchmarks", "",
             "Written by `make benchmark` (`hacking/benchmark.sh`: `benchmarks/clone_cost.py`, "
             "`benchmarks/files_transfer.py`, then this page by `benchmarks/write_doc.py`); every number below "
             "comes from that run. Medians with their range and n; side-by-side ratios come from runs alternated "
             "in one process. Nothing in the test suite asserts a time.", "",
             "Machine: %s, %d CPU(s), Python %s, %s; run on %s%s. Load average (1 min) during the run: %.1f–%.1f, "
             "median %.1f over %d samples (other work on the machine inflates wall times and, less, CPU times)." % (
                 platform.machine(), os.cpu_count() or 0, platform.python_version(), platform.system(),
                 datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 ", in %.0f s" % args.seconds if args.seconds else "", min(loads), max(loads),
                 statistics.median(loads), len(loads)), ""]
    if args.settings:
        lines += ["Settings of this run: %s." % args.settings, ""]
    MACHINE_LOAD[:] = [statistics.median(loads)]
    goals = []
    body = []
    clone_section(clone, body, goals)
    fleet_section(clone, body, goals)
    if files:
        files_section(files, body, goals)
    if args.seconds:
        goals.insert(0, runtime_goal(args.seconds, clone, files, statistics.median(loads), args.stopped))
    lines += ["## Goals (issue 13)", "", "| goal | measured | | what limits it |", "|---|---|---|---|"]
    for goal, measured, ok, limit in goals:
        lines.append("| %s | %s | %s | %s |" % (goal, measured, ok, limit))
    lines += ["| Polling: noticed within 1.5 s in the first minute, 5 s after; ≤ 150 polls for 10 minutes | "
              "by construction of the schedule (`_http.next_poll`), tested on a virtual clock in "
              "`tests/unit/plugins/module_utils/test_polling.py`; the polling delay above is measured | met | |", ""]
    lines += body
    Path(args.out).write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
