# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: writes every task result to the JSON file named by PANTHEON_TEST_RESULTS_FILE.

Enabled by tests/helpers/ansible.py next to the default stdout callback, so tests get structured
results while the screen output stays what a user sees.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase
from ansible.vars.clean import module_response_deepcopy, strip_internal_keys

DOCUMENTATION = r'''
name: pantheon_test_results
type: aggregate
short_description: write task results to a JSON file (pantheon.platform tests only)
description:
  - Writes the task results and stats as JSON to the file named by E(PANTHEON_TEST_RESULTS_FILE).
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'pantheon_test_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tasks = []
        self._started = {}

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = time.monotonic()

    def _record(self, result, status):
        data = strip_internal_keys(module_response_deepcopy(result._result))
        if status == 'failed':
            data.setdefault('failed', True)
        # seconds from the worker's start to the result (benchmarks/clone_cost.py sums them for module tasks)
        started = self._started.pop((result._host.get_name(), result._task._uuid), None)
        self.tasks.append({'name': result._task.get_name(), 'host': result._host.get_name(),
                           'action': result._task.action, 'status': status, 'result': data,
                           'seconds': None if started is None else time.monotonic() - started})

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('PANTHEON_TEST_RESULTS_FILE')
        if not path:
            return
        summary = dict((host, stats.summarize(host)) for host in sorted(stats.processed.keys()))
        with open(path, 'w', encoding='utf-8') as f:
            json.dump({'tasks': self.tasks, 'stats': summary}, f, default=str)
