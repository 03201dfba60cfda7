"""Loading, connecting, capabilities, schema install, errors, handles."""

import os
import textwrap

import pytest

import pgqrs
from conftest import PG_DSN, T0, run_python, with_param


def test_version_and_library():
    assert pgqrs.version() == pgqrs.__version__ == "0.2.0"
    assert os.path.exists(pgqrs.library_path())
    assert pgqrs.errstr(pgqrs.Status.ENOTFOUND)


def test_connect_capabilities(store, backend):
    caps = store.capabilities
    assert set(caps) == {"skip_locked", "multi_process", "transactions", "database_clock", "concurrency_model",
                         "app_transactions"}
    assert caps["app_transactions"] is True   # PostgreSQL and SQLite: pgqrs.app_tx (Turso: False)
    if backend == "postgres":
        assert store.backend == "postgres"
        assert store.concurrency_model == "multi-process"
        assert caps["skip_locked"] is True and caps["multi_process"] is True
    else:
        assert store.backend == "sqlite"
        assert store.concurrency_model == "single-process"
        assert caps["skip_locked"] is False and caps["multi_process"] is False
    caps["concurrency_model"] = "x"                 # a copy: the store's is unchanged
    assert store.capabilities["concurrency_model"] != "x"


def test_install_idempotent_and_verify(store):
    admin = store.admin()
    admin.install()
    admin.install()
    assert admin.verify() is None


def test_verify_before_install_is_illegal_state(dsn):
    with pgqrs.connect(dsn) as store:
        with pytest.raises(pgqrs.IllegalState) as e:
            store.admin().verify()
        assert e.value.status == pgqrs.Status.ESTATE and str(e.value)


def test_malformed_dsn_is_invalid_input():
    with pytest.raises(pgqrs.InvalidInput) as e:
        pgqrs.connect("mysql://nope")
    assert "mysql" in str(e.value) and e.value.status == pgqrs.Status.EINVAL
    assert isinstance(e.value, ValueError) and isinstance(e.value, pgqrs.PgqrsError)
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.connect("sqlite::memory:\0x")


def test_wrong_password_is_connection_error_without_the_password():
    with pytest.raises(pgqrs.DatabaseConnectionError) as e:
        pgqrs.connect("postgres://u:hunter2@127.0.0.1:1/db", connect_timeout_s=5)
    assert isinstance(e.value, pgqrs.ConnectionError)
    assert e.value.status == pgqrs.Status.ECONN
    assert str(e.value) and "hunter2" not in str(e.value) and "hunter2" not in repr(e.value)
    assert "hunter2" not in e.value.message


@pytest.mark.skipif(not PG_DSN, reason="PGQRS_TEST_PG_DSN is not set")
def test_wrong_password_on_a_live_server_is_redacted():
    # a user that does not exist on the live server: the server refuses, the
    # message must still not echo the password
    import urllib.parse
    u = urllib.parse.urlsplit(PG_DSN)
    dsn = u._replace(netloc="nosuchuser_pgqrs:hunter2@" + u.netloc.rpartition("@")[2]).geturl()
    with pytest.raises(pgqrs.PgqrsError) as e:
        pgqrs.connect(dsn)
    assert "hunter2" not in str(e.value)


def test_connect_options():
    with pytest.raises(TypeError):
        pgqrs.connect("sqlite::memory:", no_such_option=1)
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.connect("sqlite::memory:", pool_size=2 ** 40)     # would be truncated by ctypes
    with pytest.raises(pgqrs.InvalidInput):
        pgqrs.connect("sqlite::memory:", max_batch_size=10001)  # the library's limit
    with pgqrs.connect("sqlite::memory:", max_batch_size=3, default_vt_seconds=7) as s:
        s.admin().install()
        s.admin().create_queue("q")
        p = s.producer("q")
        assert len(p.enqueue_batch([1, 2, 3])) == 3
        with pytest.raises(pgqrs.InvalidInput):
            p.enqueue_batch([1, 2, 3, 4])
        s.set_time(T0)
        (m,) = s.consumer("q").dequeue()
        assert (m.vt - T0).total_seconds() == 7


@pytest.mark.skipif(not PG_DSN, reason="PGQRS_TEST_PG_DSN is not set")
def test_schema_option_and_dsn_parameter(tmp_path):
    from conftest import make_dsn
    dsn, cleanup = make_dsn("postgres", tmp_path)
    try:
        schema = dsn.rsplit("schema=", 1)[1]
        with pgqrs.connect(PG_DSN, schema=schema) as s:      # the same schema via the option
            s.admin().install()
            s.admin().create_queue("via_option")
        with pgqrs.connect(dsn) as s:
            assert [q.name for q in s.admin().list_queues()] == ["via_option"]
    finally:
        cleanup()
    assert with_param("postgresql://u@/db?host=/tmp", "schema", "s") == "postgresql://u@/db?host=/tmp&schema=s"
    assert with_param("postgresql://u@h/db", "schema", "s") == "postgresql://u@h/db?schema=s"


def test_store_context_manager_and_close(dsn):
    with pgqrs.connect(dsn) as store:
        assert not store.closed
        admin = store.admin()
        admin.install()
        admin.create_queue("q")
        producer = store.producer("q")
        consumer = store.consumer("q")
    assert store.closed and producer.closed and consumer.closed
    store.close()                                   # idempotent
    producer.close()
    with pytest.raises(pgqrs.Misuse) as e:
        admin.list_queues()
    assert "store is closed" in str(e.value)
    with pytest.raises(pgqrs.Misuse):
        producer.enqueue({})
    with pytest.raises(pgqrs.Misuse):
        consumer.dequeue()
    with pytest.raises(pgqrs.Misuse):
        store.producer("q")
    assert "closed" in repr(store)


def test_store_cannot_be_constructed_directly():
    with pytest.raises(TypeError):
        pgqrs.Store()
    with pytest.raises(TypeError):
        pgqrs.Producer()


def test_exception_hierarchy():
    pairs = {
        pgqrs.NotFound: -2, pgqrs.AlreadyExists: -3, pgqrs.InvalidInput: -4, pgqrs.Busy: -5,
        pgqrs.NotOwned: -6, pgqrs.IllegalState: -7, pgqrs.DatabaseConnectionError: -8, pgqrs.Timeout: -9,
        pgqrs.OutOfMemory: -10, pgqrs.NotSupported: -11, pgqrs.Misuse: -12,
    }
    from pgqrs.errors import error_class, make_error
    for cls, code in pairs.items():
        assert issubclass(cls, pgqrs.PgqrsError) and cls.status == code and error_class(code) is cls
        e = make_error(code, "boom")
        assert type(e) is cls and e.status == code and str(e) == "boom"
    assert error_class(-1) is pgqrs.PgqrsError
    e = make_error(-99, "from the future")          # a status newer than the binding
    assert type(e) is pgqrs.PgqrsError and e.status == -99
    assert pgqrs.ConnectionError is pgqrs.DatabaseConnectionError
    assert "ConnectionError" not in pgqrs.__all__      # `import *` does not shadow the builtin
    assert issubclass(pgqrs.NotFound, LookupError)


def test_set_time(store, queue):
    store.set_time(T0)
    p = store.producer(queue)
    mid = p.enqueue({"n": 1})
    (m,) = store.admin().list_messages(queue)
    assert m.id == mid and m.enqueued_at == T0
    store.set_time(T0.replace(tzinfo=None))            # naive = UTC
    store.set_time_us(0)
    store.set_time(None)
    with pytest.raises(pgqrs.InvalidInput):
        store.set_time("2030-01-01")


def test_library_not_found_is_reported(tmp_path):
    r = run_python(["-c", textwrap.dedent("""
        import pgqrs
        try:
            pgqrs.connect("sqlite::memory:")
        except pgqrs.LibraryNotFound as e:
            print("LNF", e)
    """)], env_extra={"PGQRS_LIBRARY": str(tmp_path / "nope.so")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("LNF") and "nope.so" in r.stdout and "PGQRS_LIBRARY" in r.stdout


def test_handles_left_open_at_interpreter_exit(file_dsn, tmp_path):
    """No close() at all: the finalisers free everything at shutdown without a
    crash or a warning, and the consumer's messages are released."""
    r = run_python(["-c", textwrap.dedent("""
        import sys, pgqrs
        store = pgqrs.connect(sys.argv[1])
        store.admin().install()
        store.admin().create_queue("q")
        producer = store.producer("q")
        producer.enqueue({"n": 1})
        consumer = store.consumer("q")
        held = consumer.dequeue(vt=600)
        assert len(held) == 1
        cycle = [store, producer, consumer]
        cycle.append(cycle)                  # also reachable only through a cycle
        print("ok")
    """), file_dsn])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok" and r.stderr == ""
    with pgqrs.connect(file_dsn) as store:
        (m,) = store.admin().metrics("q")
        assert m.pending == 1 and m.in_flight == 0         # released by consumer_free
        assert {w.status for w in store.admin().list_workers("q")} == {"stopped"}
