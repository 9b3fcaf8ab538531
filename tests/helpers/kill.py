# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kill a run the way a lost machine would, at a point the emulator holds still.

The emulator's fault rules can *hold* an event (``{"action": {"hold": NAME}}``: a workflow before
it runs, an SSH command before it starts, an API request before it is answered) until the test
releases it. A kill test waits until the run is held there (``emulator.wait_hold(NAME)``), kills
it, then releases the hold, so the kill lands inside the step every time, however loaded the
machine is; no test depends on a delay lapsing.

    proc = start_module(emulator, tmp_path, 'code_push', {...})
    emulator.wait_hold('push')
    kill_tree(proc.pid)
    emulator.release('push')
    emulator.wait_hold('push', until='finished')   # the platform's side of the step ended

``start_module`` runs a module as its own process (``python -m ansible_collections...``, the way
Ansible's ``AnsiballZ`` wrapper ends up running it, without Ansible): a module that holds its own
state is killed and rerun on its own, in a second, instead of through a whole role run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

from helpers.ansible import PYTHON, collections_path

__all__ = ['hold', 'kill_tree', 'start_module', 'module_result', 'run_module_process']


def hold(name, channel, path, method=None, times=1):
    """A fault rule that holds the next ``times`` events matching ``channel``/``path`` (regex)."""
    match = {'channel': channel, 'path': path}
    if method:
        match['method'] = method
    return {'match': match, 'action': {'hold': name}, 'times': times}


def _descendants(pid):
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, encoding='ascii', errors='replace') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid):
    """SIGKILL a process and everything under it, as a lost machine would. ansible-core's workers
    call setsid(), so killing the process group alone would leave the running module (and its git,
    rsync and ssh children) to finish the step. Stop them all first, so none forks or is reparented
    while the tree is walked."""
    stopped = set()
    while True:
        fresh = [p for p in [pid] + _descendants(pid) if p not in stopped]
        if not fresh:
            break
        for p in fresh:
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped.update(fresh)
    for p in stopped:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _module_env(env):
    full = dict(os.environ)
    full.update(env or {})
    full['PYTHONPATH'] = collections_path() + (os.pathsep + full['PYTHONPATH'] if full.get('PYTHONPATH') else '')
    return full


def start_module(module, args, env, work):
    """Start pantheon.platform.``module`` with ``args`` as a process of its own (stdout: its JSON result)."""
    os.makedirs(str(work), exist_ok=True)
    args_path = os.path.join(str(work), '%s-args.json' % module)
    with open(args_path, 'w', encoding='utf-8') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, f)
    cmd = [PYTHON, '-m', 'ansible_collections.pantheon.platform.plugins.modules.%s' % module, args_path]
    return subprocess.Popen(cmd, env=_module_env(env), cwd=str(work), stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def module_result(proc, timeout=600):
    """Wait for a module process; returns its JSON result (AssertionError naming the output if none)."""
    out, err = proc.communicate(timeout=timeout)
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError('module printed no JSON result (rc=%s)\n--- stdout\n%s\n--- stderr\n%s'
                             % (proc.returncode, out[-4000:], err[-4000:])) from None


def run_module_process(module, args, env, work, timeout=600):
    """Run a module to the end as its own process; returns its JSON result."""
    return module_result(start_module(module, args, env, work), timeout=timeout)
