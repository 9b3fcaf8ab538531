"""Top-level pytest configuration: put tests/ on sys.path and load the emulator plugin
(the ``emulator`` session fixture and ``site_prefix``; see tests/pantheon_emulator/pytest_plugin.py)."""

from __future__ import annotations

import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

pytest_plugins = ["pantheon_emulator.pytest_plugin"]


# ---------------------------------------------------------------------------------------------- test order
# Under pytest-xdist's worksteal scheduler (hacking/run-tests.sh), every worker first gets an equal, contiguous
# share of the collected tests by count, and an idle worker then steals the second half of the longest queue. The
# end-to-end tests take from 10 s to over 2 minutes and the rest well under a second, so in collection order the
# long ones cluster at the end of one share and the run ends on one busy worker. Here each share starts with
# its part of the long tests, dealt longest first to the share with the least work (tests/durations.json: the
# seconds each test above 5 s took in a measured run, hacking/test_durations.py writes it), and ends with short
# tests, which are what stealing moves. Order only: which tests run, and how each runs, does not change.
_DURATIONS = os.path.join(_TESTS, "durations.json")


def pytest_collection_modifyitems(config, items):
    workerinput = getattr(config, "workerinput", None)
    count = int(workerinput.get("workercount", 1)) if workerinput else 1
    if count < 2 or not os.path.exists(_DURATIONS):
        return
    import json  # pylint: disable=import-outside-toplevel

    with open(_DURATIONS, encoding="utf-8") as f:
        known = json.load(f)
    long_tests = sorted((i for i in items if i.nodeid in known), key=lambda i: (-known[i.nodeid], i.nodeid))
    short = [i for i in items if i.nodeid not in known]
    shares = [[] for dummy in range(count)]
    work = [0.0] * count
    # the shares' sizes as the scheduler cuts them: len(pending) // nodes_remaining, in turn
    sizes, left = [], len(items)
    for remaining in range(count, 0, -1):
        sizes.append(left // remaining)
        left -= sizes[-1]
    for item in long_tests:
        room = [s for s in range(count) if len(shares[s]) < sizes[s]]
        best = min(room, key=lambda s: (work[s], s))
        shares[best].append(item)
        work[best] += known[item.nodeid]
    rest = iter(short)
    for s in range(count):
        while len(shares[s]) < sizes[s]:
            shares[s].append(next(rest))
    items[:] = [i for share in shares for i in share]
