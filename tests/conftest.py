"""Top-level pytest configuration: put tests/ on sys.path and load the emulator plugin
(the ``emulator`` session fixture and ``site_prefix``; see tests/pantheon_emulator/pytest_plugin.py)."""

from __future__ import annotations

import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

pytest_plugins = ["pantheon_emulator.pytest_plugin"]
