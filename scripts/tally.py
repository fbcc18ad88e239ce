#!/usr/bin/env python3
"""Total the tests of one or more meson build trees.

Reads each tree's meson-logs/testlog.json.  A test that prints Check's
summary line ("NN%: Checks: N, Failures: F, Errors: E") counts its N checks,
F+E of them failed; any other test counts as one, passed or failed by its
meson result.  A Check test whose process failed without reporting a
failure (a crash, a timeout) adds one failure.  Prints, last, the plain
line 'N passed, M failed' and exits non-zero if anything failed.
"""
import json
import re
import sys

CHECK = re.compile(r"\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")


def tally(path):
    passed = failed = 0
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
            found = CHECK.findall(t.get("stdout", "") or "")
            if found:
                for n, fl, er in found:
                    bad = int(fl) + int(er)
                    passed += int(n) - bad
                    failed += bad
                if not ok and all(int(fl) + int(er) == 0 for _, fl, er in found):
                    failed += 1
            elif t["result"] != "SKIP":
                passed += ok
                failed += not ok
    return passed, failed


def main():
    total_p = total_f = 0
    for build in sys.argv[1:]:
        p, f = tally(f"{build}/meson-logs/testlog.json")
        print(f"{build}: {p} passed, {f} failed", file=sys.stderr)
        total_p += p
        total_f += f
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f or total_p == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
