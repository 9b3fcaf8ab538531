#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peak memory of pantheon.platform.files_sync against the size of the files backup it moves.

    .venv/bin/python benchmarks/files_sync_memory.py [--sizes 16MB,64MB,256MB]

Starts the emulator, seeds one source site per size whose live files backup (incompressible
files) is about that big, and runs files_sync (backup -> a target site's dev, over real SSH and
rsync) through ansible-playbook. The module runs under a Python wrapper that reads the module
process's peak resident memory (``ru_maxrss`` from ``wait4``). It prints, side by side, the
backup size, the module's peak RSS and their ratio: flat memory shows as a constant peak and a
falling ratio.

The wrapper is also used by tests/integration/test_files_sync.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, 'tests')
PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')

WRAPPER = '''#!{python}
"""Run the real interpreter, then record the child's peak RSS (ru_maxrss, KiB) in {log}."""
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv({python!r}, [{python!r}] + sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
with open({log!r}, 'a') as handle:
    handle.write(json.dumps({{'argv': sys.argv[1:], 'maxrss_kib': usage.ru_maxrss}}) + '\\n')
sys.exit(os.waitstatus_to_exitcode(status) if os.waitstatus_to_exitcode(status) >= 0 else 1)
'''


def make_rss_wrapper(directory, python=PYTHON):
    """Write an interpreter wrapper into ``directory``; returns (wrapper path, log path)."""
    os.makedirs(directory, exist_ok=True)
    log = os.path.join(directory, 'peak-rss.jsonl')
    path = os.path.join(directory, 'python-rss')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(WRAPPER.format(python=python, log=log))
    os.chmod(path, 0o755)
    return path, log


def module_peaks(log, module='files_sync'):
    """Peak RSS in bytes of every recorded run of ``module`` (AnsiballZ_<module>.py)."""
    peaks = []
    if not os.path.exists(log):
        return peaks
    with open(log, encoding='utf-8') as handle:
        for line in handle:
            entry = json.loads(line)
            if any(('AnsiballZ_%s.py' % module) in arg for arg in entry['argv']):
                peaks.append(entry['maxrss_kib'] * 1024)
    return peaks


def inventory_for(wrapper):
    return 'localhost ansible_connection=local ansible_python_interpreter=%s\n' % wrapper


def _mib(value):
    return value / (1024.0 * 1024.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='16MB,64MB,256MB', help='comma-separated backup sizes (default %(default)s)')
    args = parser.parse_args(argv)
    sys.path.insert(0, TESTS)
    from helpers.ansible import run_playbook  # pylint: disable=import-outside-toplevel
    from pantheon_emulator.pytest_plugin import start_emulator  # pylint: disable=import-outside-toplevel
    from pantheon_emulator.seed import parse_size  # pylint: disable=import-outside-toplevel

    work = tempfile.mkdtemp(prefix='files-sync-memory-')
    emulator = start_emulator(os.path.join(work, 'emulator'))
    try:
        wrapper, log = make_rss_wrapper(os.path.join(work, 'wrapper'))
        env = dict(emulator.env, PANTHEON_CACHE_DIR=os.path.join(work, 'cache'))
        rows = []
        for index, size in enumerate(s.strip() for s in args.sizes.split(',') if s.strip()):
            total = parse_size(size)
            count = 8
            name = 'bench%d' % index
            emulator.seed({'seed': index + 1, 'sites': [
                {'name': name + '-src', 'framework': 'drupal8', 'envs': ['dev', 'live'],
                 'files': {'count': 4, 'size': 1024,
                           'big': [{'name': 'media/big-%d.bin' % n, 'size': max(total // count, 1), 'compressible': False}
                                   for n in range(count)]},
                 'backups': [{'env': 'live', 'elements': ['files']}]},
                {'name': name + '-dst', 'framework': 'drupal8', 'envs': ['dev'], 'files': {'count': 0}},
            ]})
            catalog = emulator.api().get('%s/site-names/%s' % (emulator.api_url, name + '-src'), timeout=30).json()
            backup = emulator.api().get('%s/sites/%s/environments/live/backups/catalog' % (emulator.api_url, catalog['id']),
                                        timeout=30).json()
            archive = max((v for k, v in backup.items() if k.endswith('_files') and v.get('filename')),
                          key=lambda v: v['timestamp'])
            playbook = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: sync
      pantheon.platform.files_sync:
        overwrite: true
        site: %s-dst
        env: dev
        backup: {site: %s-src, env: live}
''' % (name, name)
            before = len(module_peaks(log))
            started = time.time()
            res = run_playbook(playbook, env=env, inventory=inventory_for(wrapper), timeout=3600, scan=False)
            elapsed = time.time() - started
            if res.rc != 0:
                print(res.output, file=sys.stderr)
                return 1
            peak = module_peaks(log)[before]
            rows.append((size, int(archive['size']), peak, elapsed))
        print('%-10s %14s %16s %10s %10s' % ('files', 'backup (MiB)', 'peak RSS (MiB)', 'RSS/backup', 'seconds'))
        for size, archive_size, peak, elapsed in rows:
            ratio = float(peak) / archive_size
            print('%-10s %14.1f %16.1f %10.3f %10.1f' % (size, _mib(archive_size), _mib(peak), ratio, elapsed))
        return 0
    finally:
        emulator.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
