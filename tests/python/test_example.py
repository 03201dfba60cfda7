"""python/examples/quickstart.py runs on every backend."""

import os

from conftest import PYDIR, run_python

EXAMPLE = os.path.join(PYDIR, "examples", "quickstart.py")


def test_quickstart(dsn, backend, tmp_path):
    if backend == "sqlite-memory":
        dsn = "sqlite://quickstart.db"               # the example's default: relative to cwd
    for run in (1, 2):                               # install and create are idempotent
        r = run_python([EXAMPLE, dsn], cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[:2] == ["message %d: ada@example.com" % (2 * run - 1),
                             "message %d: alan@example.com" % (2 * run)], r.stdout
        be = "postgres (multi-process)" if backend == "postgres" else "sqlite (single-process)"
        assert lines[2].startswith("on %s: " % be) and "archived=%d" % (2 * run) in lines[2]
        assert r.stderr == ""
