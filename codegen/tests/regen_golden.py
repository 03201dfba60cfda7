#!/usr/bin/env python3
"""Rewrites codegen/tests/golden/expected/ from codegen/tests/golden/input/.

Run it when you change the generator's output on purpose (emit_c.py, the model or
the C conventions) or the golden input, then review the diff of expected/ like any
code change and commit it together with the change that caused it:

    python3 codegen/tests/regen_golden.py

test_golden.py fails, with a diff, whenever a fresh run no longer matches
expected/ byte for byte.
"""

import os
import shutil
import sys

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(TESTS_DIR))

import pgqrs_gen  # noqa: E402

INPUT = os.path.join(TESTS_DIR, "golden", "input")
EXPECTED = os.path.join(TESTS_DIR, "golden", "expected")


def main():
    files = pgqrs_gen.build(INPUT)
    shutil.rmtree(EXPECTED, ignore_errors=True)
    for rel, text in sorted(files.items()):
        path = os.path.join(EXPECTED, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
