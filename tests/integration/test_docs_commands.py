# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every shell block of README.md and docs/*.md runs as written.

The blocks are read from the Markdown (fences opened with ```bash). A comment on the line right
before a fence says how the block is treated (CONTRIBUTING.md, "Commands in the documentation"):

* none: the block runs;
* ``<!-- docs-test: skip (why) -->``: not run, with the reason (a real account, the network);
* ``<!-- docs-test: last -->``: runs after every other block (stopping what "Try it locally" started);
* ``<!-- docs-test: file NAME -->`` before a non-shell block: its text is written to NAME first, so the
  blocks can run the file the page shows (a playbook, an inventory).

The runnable blocks run in document order, README.md first, in ONE bash session (as a reader types
them in one terminal), in a copy of the checkout (the .venv is shared), with a fresh HOME (the
collection is installed into it) and no PANTHEON_* variables: the emulator the README starts is the
only one. A failure names the block that failed.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from helpers.ansible import REPO

MARK = re.compile(r'^<!-- docs-test: (?:skip \((?P<reason>[^)]+)\)|file (?P<file>[\w./-]+)|(?P<last>last)) -->$')
SHELL = ('bash', 'sh', 'shell')


def _pages():
    return ['README.md'] + sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, 'docs', '*.md')))


def _blocks(page):
    """(page, line, language, text, marker match or None) of each fenced block of ``page``."""
    with open(os.path.join(REPO, page), encoding='utf-8') as f:
        lines = f.read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = re.match(r'^```(\S*)\s*$', lines[i])
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith('```'))
            mark = MARK.match(lines[i - 1]) if i else None
            blocks.append((page, i + 1, fence.group(1), '\n'.join(lines[i + 1:end]) + '\n', mark))
            i = end
        i += 1
    return blocks


def _all_blocks():
    return [b for page in _pages() for b in _blocks(page)]


def test_markers_are_well_formed():
    """A docs-test comment is always one of the three forms and stands right before a fence; `file`
    goes with a non-shell block, `skip`/`last` with a shell block."""
    for page in _pages():
        with open(os.path.join(REPO, page), encoding='utf-8') as f:
            lines = f.read().splitlines()
        for n, line in enumerate(lines):
            if 'docs-test' not in line or line.startswith('```'):
                continue
            where = '%s:%d' % (page, n + 1)
            mark = MARK.match(line)
            assert mark, '%s: not a docs-test marker form (skip (why) | file NAME | last): %s' % (where, line)
            assert n + 1 < len(lines) and lines[n + 1].startswith('```'), '%s: a marker stands right before a fence' % where
            shell = lines[n + 1][3:].strip() in SHELL
            assert shell == (mark.group('file') is None), '%s: file NAME marks a non-shell block; skip/last a shell block' % where


def _script(blocks):
    runnable = [b for b in blocks if b[2] in SHELL and not (b[4] and b[4].group('reason'))]
    ordered = [b for b in runnable if not (b[4] and b[4].group('last'))] + \
        [b for b in runnable if b[4] and b[4].group('last')]
    parts = ['set -euo pipefail']
    for page, line, _lang, text, _mark in ordered:
        parts.append('echo "### docs-test: %s:%d" >&2' % (page, line))
        parts.append(text)
    return '\n'.join(parts) + '\n', ['%s:%d' % (b[0], b[1]) for b in ordered]


def _copy_checkout(dest):
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split('\0')
    for name in filter(None, files):
        src = os.path.join(REPO, name)
        if not os.path.lexists(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, name), follow_symlinks=False)
    os.symlink(os.path.join(REPO, '.venv'), os.path.join(dest, '.venv'))


def _running(pid):
    """Whether ``pid`` is alive (a zombie left to an init that does not reap counts as gone)."""
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _stop(pid_file, timeout=120):
    """Stop the emulator "Try it locally" started, if it still runs; True once it is gone."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return True
    if _running(pid):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _running(pid)


def test_documented_commands_run(tmp_path):
    blocks = _all_blocks()
    script, order = _script(blocks)
    # the three "Try it locally" commands, the install, the module_defaults playbook and check mode run
    assert len(order) >= 5, order
    repo = tmp_path / 'repo'
    _copy_checkout(repo)
    for page, line, _lang, text, mark in blocks:
        if mark and mark.group('file'):
            (repo / mark.group('file')).write_text(text, encoding='utf-8')
    home = tmp_path / 'home'
    home.mkdir()
    venv_bin = os.path.join(REPO, '.venv', 'bin')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('PANTHEON_', 'TERMINUS_', 'ANSIBLE_COLLECTIONS_PATH', 'VIRTUAL_ENV'))}
    env.update(HOME=str(home), ANSIBLE_NOCOLOR='1',
               PATH=os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep)
                                    if os.path.realpath(p) != os.path.realpath(venv_bin)))
    (tmp_path / 'docs-commands.sh').write_text(script, encoding='utf-8')
    pid_file = repo / '.tmp' / 'try' / 'emulator.pid'
    # own session: a block that does not return is stopped with everything it started
    proc = subprocess.Popen(['bash', str(tmp_path / 'docs-commands.sh')], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=480)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail('a block did not finish in 480 s:\n%s' % (stdout + stderr)[-6000:])
    finally:
        stopped = _stop(pid_file)
    output = stdout + stderr
    failed = re.findall(r'^### docs-test: (\S+)$', stderr, re.M)
    assert proc.returncode == 0, 'the block at %s failed:\n%s' % (failed[-1] if failed else '?', output[-6000:])
    assert re.findall(r'^### docs-test: (\S+)$', stderr, re.M) == order
    # what the blocks did, read back: the collection installed in HOME, the clone's report, the playbook's output
    assert (home / '.ansible' / 'collections' / 'ansible_collections' / 'pantheon' / 'platform' / 'MANIFEST.json').is_file()
    report = json.loads((repo / 'clone-reports' / 'demo-d7-small.live-to-demo-d7-small-copy.dev.json').read_text())
    assert report['status'] == 'succeeded', report
    assert 'drupal8; live and dev run the same code: True' in stdout
    # the check-mode clone with the progress callback: a line per phase, nothing created
    phases = re.findall(r'^demo-wp\.live-to-demo-wp-copy\.dev: \d+ (\w+) \w+ .* - (.*)$', stdout, re.M)
    assert phases[0][0] == 'preflight', stdout[-3000:]
    assert [d for n, d in phases if n == 'target'][0].startswith('would create demo-wp-copy (label demo-wp-copy, upstream ')
    # the plan: a source without a backup is measured without making one, and each step says method and size
    assert [d for n, d in phases if n == 'measure'][0].startswith('measured without a backup: code ')
    assert [d for n, d in phases if n == 'code'][0].startswith('code by code_push (git push from the source repository): ')
    # the emulator the README started is gone (the README's last block stopped it)
    assert stopped
