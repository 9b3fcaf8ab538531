# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: pauses the play as the task named by PANTHEON_TEST_PAUSE_TASK starts.

It writes PANTHEON_TEST_PAUSE_FILE + ``.reached`` and waits until PANTHEON_TEST_PAUSE_FILE exists,
so a kill test sets the emulator up for that task (a hold on the step it will take) before the
task runs, however slowly the test process is scheduled (tests/integration/test_role_interrupt.py).
"""

from __future__ import annotations

import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: pantheon_test_pause
type: aggregate
short_description: pause at the start of a task until a file exists (pantheon.platform tests only)
description:
  - When the task named by E(PANTHEON_TEST_PAUSE_TASK) starts, writes E(PANTHEON_TEST_PAUSE_FILE)C(.reached)
    and waits (at most 10 minutes) until E(PANTHEON_TEST_PAUSE_FILE) exists.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'pantheon_test_pause'
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        name = os.environ.get('PANTHEON_TEST_PAUSE_TASK')
        path = os.environ.get('PANTHEON_TEST_PAUSE_FILE')
        if not name or not path or task.get_name().split(' : ', 1)[-1] != name:
            return
        with open(path + '.reached', 'w', encoding='utf-8') as f:
            f.write(name)
        deadline = time.monotonic() + 600
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
