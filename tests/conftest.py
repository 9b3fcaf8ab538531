"""Top-level pytest configuration: put tests/ on sys.path and load the emulator plugin
(the ``emulator`` session fixture and ``site_prefix``; see tests/pantheon_emulator/pytest_plugin.py)."""

from __future__ import annotations

import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

pytest_plugins = ["pantheon_emulator.pytest_plugin"]


def pytest_collection_modifyitems(items):
    """The longest tests first, so that none starts last and runs alone at the end of `make test` (pytest-xdist's
    worksteal hands each worker a contiguous share in this order; an idle worker takes from the other's end):
    the integration tests marked ``slow`` (the demo fleet), then the other integration tests (whole playbook runs)
    and the other ``slow`` tests (large transfers), then the rest. The order within each group is the
    collection's (a module's tests stay together, with their module fixtures)."""
    def rank(item):
        integration = os.sep + 'integration' + os.sep in str(item.fspath)
        slow = item.get_closest_marker('slow') is not None
        return 0 if integration and slow else 1 if integration or slow else 2
    items[:] = sorted(items, key=rank)
