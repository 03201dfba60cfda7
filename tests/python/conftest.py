"""Fixtures for the pgqrs Python tests: every test that takes `dsn` or `store`
runs on SQLite (a temp file and :memory:) and, when PGQRS_TEST_PG_DSN is set
(scripts/with-postgres.sh sets it), on PostgreSQL in a fresh schema of its own.

The package is imported from python/ (or wherever it is installed); the library
is found as the package finds it (PGQRS_LIBRARY, python/pgqrs/libpgqrs.so after
`make python`, find_library), falling back to build/libpgqrs.so for convenience."""

import datetime
import os
import shutil
import subprocess
import sys
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYDIR = os.path.join(ROOT, "python")
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)
if not os.environ.get("PGQRS_LIBRARY") and not os.path.exists(os.path.join(PYDIR, "pgqrs", "libpgqrs.so")):
    _built = os.path.join(ROOT, "build", "libpgqrs.so")
    if os.path.exists(_built):
        os.environ["PGQRS_LIBRARY"] = _built

import pgqrs  # noqa: E402

PG_DSN = os.environ.get("PGQRS_TEST_PG_DSN", "")
BACKENDS = ["sqlite", "sqlite-memory", "postgres"]
T0 = datetime.datetime(2030, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def with_param(dsn, key, value):
    """Appends ?key=value or &key=value to a DSN that may already have a query."""
    return "%s%s%s=%s" % (dsn, "&" if "?" in dsn else "?", key, value)


def psql(sql):
    exe = shutil.which("psql") or os.path.join(os.environ.get("PGQRS_TEST_PG_BIN", ""), "psql")
    subprocess.run([exe, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", PG_DSN, "-c", sql],
                   check=True, stdout=subprocess.DEVNULL, timeout=60)


def make_dsn(backend, tmp_path):
    """(dsn, cleanup) for a fresh database of `backend`."""
    if backend == "sqlite":
        return "sqlite://" + str(tmp_path / "pgqrs.db"), None      # sqlite:// + /abs/path
    if backend == "sqlite-memory":
        return "sqlite::memory:", None
    if not PG_DSN:
        pytest.skip("PostgreSQL: PGQRS_TEST_PG_DSN is not set (scripts/with-postgres.sh sets it)")
    schema = "pyt_" + uuid.uuid4().hex[:16]
    psql("CREATE SCHEMA %s" % schema)
    return with_param(PG_DSN, "schema", schema), lambda: psql("DROP SCHEMA %s CASCADE" % schema)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(params=["sqlite", "postgres"])
def file_backend(request):
    """Backends another process can open too (not :memory:)."""
    return request.param


@pytest.fixture
def dsn(backend, tmp_path):
    d, cleanup = make_dsn(backend, tmp_path)
    yield d
    if cleanup:
        cleanup()


@pytest.fixture
def file_dsn(file_backend, tmp_path):
    d, cleanup = make_dsn(file_backend, tmp_path)
    yield d
    if cleanup:
        cleanup()


@pytest.fixture
def store(dsn):
    # no background heartbeats: tests move time with set_time and count heartbeats
    s = pgqrs.connect(dsn, heartbeat_interval_s=-1)
    s.admin().install()
    yield s
    s.close()


@pytest.fixture
def admin(store):
    return store.admin()


@pytest.fixture
def queue(admin):
    admin.create_queue("tasks")
    return "tasks"


def run_python(args, env_extra=None, cwd=None, timeout=120):
    """Runs the same interpreter in a subprocess with the package importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PYDIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(env_extra or {})
    return subprocess.run([sys.executable] + list(args), env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
