# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the unit tests: a served stub API and a fast-retrying client factory."""

from __future__ import annotations

import os
import sys

import pytest

from stub_api import StubApi

# tests/ on sys.path so that `helpers` imports (tests/conftest.py does the same when present)
_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture
def stub():
    with StubApi() as api:
        yield api


@pytest.fixture
def make_client(stub, tmp_path):
    """Build PantheonClient instances against the stub with a private cache and fast retries."""
    from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonClient

    def factory(token='machine-token-UNIT-0123456789', **kwargs):
        kwargs.setdefault('api_url', stub.api_url)
        kwargs.setdefault('cache_dir', str(tmp_path / 'cache'))
        kwargs.setdefault('retry_base_delay', 0.02)
        kwargs.setdefault('poll_interval', 0.02)
        kwargs.setdefault('timeout', 5)
        warnings = kwargs.pop('warnings', None)
        if warnings is not None:
            kwargs['warn'] = warnings.append
        return PantheonClient(token, **kwargs)
    return factory
