#!/usr/bin/env python3
"""Keeps the README's code snippets in step with the files they show.

    readme_snippets.py README.md SOURCE_ROOT

A fenced code block right after a line `<!-- snippet: PATH -->` (PATH
relative to SOURCE_ROOT) is an excerpt of that file: every line of the
block, except those containing "..." (elisions), must appear in the file,
in the same order, compared without leading and trailing blanks.  Exits 1
naming the first line that does not, or when the README has no snippet
marker at all (the check would pass vacuously).
"""
import os
import re
import sys

MARK = re.compile(r"^<!-- snippet: (\S+) -->\s*$")


def snippets(lines):
    """(path, marker line number, [(line number, text)]) per marked block."""
    out = []
    for i, line in enumerate(lines):
        m = MARK.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            out.append((m.group(1), i + 1, None))
            continue
        body, j = [], i + 2
        while j < len(lines) and not lines[j].startswith("```"):
            body.append((j + 1, lines[j]))
            j += 1
        out.append((m.group(1), i + 1, body))
    return out


def check(readme, root):
    with open(readme) as f:
        lines = f.read().splitlines()
    found = snippets(lines)
    if not found:
        return [f"{readme}: no '<!-- snippet: PATH -->' marker"]
    errors = []
    for path, at, body in found:
        if body is None:
            errors.append(f"{readme}:{at}: the marker is not followed by a code block")
            continue
        with open(os.path.join(root, path)) as f:
            source = [s.strip() for s in f.read().splitlines()]
        pos, checked = 0, 0
        for number, text in body:
            want = text.strip()
            if "..." in want or not want:
                continue
            try:
                pos = source.index(want, pos) + 1
                checked += 1
            except ValueError:
                errors.append(f"{readme}:{number}: not in {path} (in this order): {want}")
                break
        if checked == 0:
            errors.append(f"{readme}:{at}: the snippet of {path} has no line to check")
    return errors


def main():
    errors = check(sys.argv[1], sys.argv[2])
    for e in errors:
        print("readme-snippets:", e)
    print(f"readme-snippets: {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
