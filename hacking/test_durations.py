"""Write tests/durations.json, the test-order hint of tests/conftest.py, from a pytest run's durations.

    .venv/bin/python -m pytest -n 2 --dist worksteal -m "not long" --durations=0 | tee .tmp/durations.log
    .venv/bin/python hacking/test_durations.py .tmp/durations.log

Sums each test's setup, call and teardown seconds from the "slowest durations" table and keeps the tests
that took at least --min seconds (default 5), rounded to the second. Only the order of the tests depends on
it (the long ones are dealt out first, one share per worker); a test missing from it runs among the short ones.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys

LINE = re.compile(r'^\s*([0-9.]+)s (setup|call|teardown)\s+(\S+)\s*$')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('log', help='the output of a pytest run with --durations=0')
    parser.add_argument('--min', type=float, default=5.0, help='keep tests that took at least this (seconds)')
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'tests', 'durations.json'))
    args = parser.parse_args()
    seconds = collections.defaultdict(float)
    with open(args.log, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = LINE.match(line)
            if m:
                seconds[m.group(3)] += float(m.group(1))
    if not seconds:
        sys.exit('no durations in %s (run pytest with --durations=0)' % args.log)
    kept = dict((test, round(s)) for test, s in sorted(seconds.items()) if s >= args.min)
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(kept, f, indent=1, sort_keys=True)
        f.write('\n')
    print('%d of %d tests took at least %g s: %s' % (len(kept), len(seconds), args.min, os.path.normpath(args.out)))


if __name__ == '__main__':
    main()
