# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/reliability.md from the results the tests leave in .tmp/reliability/.

    .venv/bin/python hacking/reliability_report.py [--results .tmp/reliability] [--out docs/reliability.md]

Inputs (each section is written only when its file exists; a missing one is said so):
    bad_input-*.json      tests/integration/test_bad_input.py (one per pytest worker): every case, its message, outcome
    secrets/*.jsonl       tests/helpers/secrets.py scan_run: one line per ansible-playbook run scanned at -vvvv
    fault_profile*.json   tests/integration/test_fault_profile.py: clones under the emulator's rough fault profile
    exposure.json         hacking/exposure.py (archive exposure windows per scenario), when present
`make reliability` runs the full fault profile and then this script.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(path):
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _cell(text, limit=140):
    text = ' '.join(str(text).split()).replace('|', '\\|')
    return text if len(text) <= limit else text[:limit - 3] + '...'


def bad_input(results):
    out = ['## Bad input (issue 11, point 7)', '']
    data, cases = {}, {}
    # one file per pytest worker; a later file's outcome of a case replaces an earlier one's
    for path in sorted(glob.glob(os.path.join(results, 'bad_input-*.json')), key=os.path.getmtime):
        part = _load(path) or {}
        data.update((k, v) for k, v in part.items() if k != 'cases')
        cases.update(part.get('cases', {}))
    if not cases:
        return out + ['No results: run `tests/integration/test_bad_input.py`.', '']
    held = [k for k, v in cases.items() if v['failed'] and v['matches'] and not v['writes'] and not v['traceback']]
    out += ['%d cases tried (%d module cases in-process, %d role and playbook cases in one clone_fleet.yml run); '
            '**%d held**: the run failed, with a message matching the case\'s pattern, no traceback at -vvv, '
            'and no write in the emulator\'s request log. The state of every site involved (content of each '
            'environment, workflows, the list of sites) was the same after the table as before it, except for what '
            'the cases listed as not held wrote.'
            % (len(cases), data.get('module_cases', 0), data.get('role_cases', 0), len(held)), '']
    out += ['| case | where | held | message |', '|---|---|---|---|']
    for case, v in sorted(cases.items(), key=lambda kv: (kv[1]['module'], kv[0])):
        ok = case in held
        out.append('| %s | %s | %s | %s |' % (case, v['module'], 'yes' if ok else '**no**', _cell(v['message'])))
    return out + ['']


def secrets(results):
    out = ['## Secrets at -vvvv (issue 11, point 9)', '']
    runs = []
    for path in sorted(glob.glob(os.path.join(results, 'secrets', '*.jsonl'))):
        with open(path, encoding='utf-8') as f:
            runs.extend(json.loads(line) for line in f if line.strip())
    if not runs:
        return out + ['No results: run the integration tests (every ansible-playbook run is scanned).', '']
    kinds = {}
    for run in runs:
        for kind, count in run['secrets'].items():
            kinds[kind] = kinds.get(kind, 0) + count
    tests = set(r['test'] for r in runs)
    hits = sum(r['hits'] for r in runs)
    out += ['%d ansible-playbook runs of %d tests (failures, killed and concurrent runs included) were made at '
            '-vvvv; their stdout, stderr, Ansible log, task results and reports (%.1f MB in all) were searched '
            'for the machine token and for what the emulator issued or saw during each run. **%d hits.**'
            % (len(runs), len(tests), sum(r['bytes'] for r in runs) / 1e6, hits), '',
            '| secret | searched for (sum over runs) |', '|---|---|']
    for kind, count in sorted(kinds.items()):
        out.append('| %s | %d |' % (kind, count))
    out += ['', 'Scanning cost %.1f s in all (%.3f s per run).' % (
        sum(r['seconds'] for r in runs), sum(r['seconds'] for r in runs) / len(runs)), '']
    return out


def faults(results):
    out = ['## A rough fault profile over a fleet (issue 11, point 8)', '',
           'The full profile (20 clones, pytest marker `long`) runs with `make reliability`, which then rewrites this '
           'page; CI (`make test`) runs the reduced one (2 clones) in '
           '`tests/integration/test_fault_profile.py::test_reduced_fault_profile`. Each clone completes and verifies, '
           'or fails with a clear message and completes and verifies on the next run (faults off); the platform\'s '
           'workflows show no duplicated work (one create_site per target, at most one succeeded import per target '
           'environment and kind, at most one succeeded do_export per source environment).', '']
    files = sorted(glob.glob(os.path.join(results, 'fault_profile*.json')))
    if not files:
        return out + ['No results: run `make reliability` (full profile) or '
                      '`tests/integration/test_fault_profile.py` (reduced).', '']
    for path in files:
        data = _load(path) or {}
        out += ['### %s: %d clones, seed %s' % (data.get('label', os.path.basename(path)), data.get('clones', 0),
                                                data.get('seed')), '',
                'Profile: %s.' % _cell(data.get('profile_text', ''), 400), '',
                '| what | count |', '|---|---|']
        for key, value in data.get('figures', {}).items():
            out.append('| %s | %s |' % (key, value))
        out += ['']
        for note in data.get('notes', []):
            out.append('- %s' % _cell(note, 400))
        out += ['']
    return out


def exposure(results):
    out = ['## Archive exposure windows (issue 11, point 4)', '']
    data = _load(os.path.join(results, 'exposure.json'))
    if not data:
        return out + ['No figures yet: `hacking/exposure.py` writes `.tmp/reliability/exposure.json` '
                      '(the archive-exposure tests and benchmark); this section is filled when it exists.', '']
    out += ['Bound: the writing of the archive, its import and its removal, plus at most %s s.' % data.get('bound_s'),
            '', '| scenario | archives | unremoved | max window (s) | max overhead (s) | within bound |',
            '|---|---|---|---|---|---|']
    for label, s in sorted(data.get('scenarios', {}).items()):
        out.append('| %s | %s | %s | %s | %s | %s |' % (label, s.get('archives'), s.get('unremoved'),
                                                        s.get('max_window_s'), s.get('max_overhead_s'),
                                                        'yes' if s.get('within_bound') else '**no**'))
    return out + ['']


def render(results):
    lines = ['# Reliability', '',
             '<!-- Generated by hacking/reliability_report.py from .tmp/reliability/; do not edit by hand. -->', '',
             'What was tried against the emulator, how often, and what held. Each section comes from the results '
             'the tests write under `.tmp/reliability/`; regenerate this page with '
             '`.venv/bin/python hacking/reliability_report.py` after running them (`make reliability` runs the full '
             'fault profile and then the script).', '']
    for section in (bad_input, faults, secrets, exposure):
        lines += section(results)
    return '\n'.join(lines).rstrip() + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', default=os.path.join(ROOT, '.tmp', 'reliability'))
    parser.add_argument('--out', default=os.path.join(ROOT, 'docs', 'reliability.md'))
    args = parser.parse_args(argv)
    text = render(args.results)
    with open(args.out, 'w', encoding='utf-8') as f:
        f.write(text)
    print('wrote %s' % args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
