"""Transactional enqueue from Python (pgqrs.app_tx): messages and runs enqueued on
the application's own psycopg2 connection exist if and only if it commits.

PostgreSQL only (psycopg2, Debian python3-psycopg2): the store's schema goes on
the application connection's search_path, as an application would configure it.
SQLite stores and Python's sqlite3 connections are refused (documented in
pgqrs.app_tx)."""

import sqlite3
import urllib.parse
import uuid

import pytest

import pgqrs
from conftest import PG_DSN, make_dsn

psycopg2 = pytest.importorskip("psycopg2", reason="python3-psycopg2 is not installed (scripts/deps.sh installs it)")


@pytest.fixture
def pg(tmp_path):
    """(store, app_connection) on a fresh PostgreSQL schema."""
    if not PG_DSN:
        pytest.skip("PostgreSQL: PGQRS_TEST_PG_DSN is not set (scripts/with-postgres.sh sets it)")
    dsn, cleanup = make_dsn("postgres", tmp_path)
    schema = urllib.parse.parse_qs(urllib.parse.urlsplit(dsn).query)["schema"][0]
    store = pgqrs.connect(dsn, heartbeat_interval_s=-1)
    store.admin().install()
    store.admin().create_queue("emails")
    conn = psycopg2.connect(PG_DSN, options="-c search_path=%s" % schema)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE orders (id int PRIMARY KEY)")
    yield store, conn
    conn.close()
    store.close()
    cleanup()


def ids_in(store, queue="emails"):
    return sorted(m.id for m in store.admin().list_messages(queue))


def test_capability_reported(pg):
    store, _ = pg
    assert store.capabilities["app_transactions"] is True


def test_commit_makes_it_visible_and_a_consumer_never_sees_it_before(pg):
    store, conn = pg
    consumer = store.consumer("emails")
    with store.app_tx(conn) as tx:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO orders VALUES (1)")
        mid = tx.enqueue("emails", {"order": 1})
        ids = tx.enqueue_batch("emails", [{"n": 1}, {"n": 2}])
        assert len(ids) == 2 and mid not in ids
        # uncommitted: no other connection sees or claims it
        assert consumer.dequeue(batch_size=10) == []
        assert ids_in(store) == []
        conn.commit()
    got = consumer.dequeue(batch_size=10)
    assert sorted(m.id for m in got) == sorted([mid] + ids)
    assert {m.id: m.payload for m in got}[mid] == {"order": 1}


def test_rollback_leaves_nothing(pg):
    store, conn = pg
    with store.app_tx(conn) as tx:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO orders VALUES (2)")
        tx.enqueue("emails", {"order": 2})
        conn.rollback()
    assert ids_in(store) == []
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders")
        assert cur.fetchone()[0] == 0


def test_a_transaction_that_later_fails_leaves_nothing(pg):
    store, conn = pg
    with store.app_tx(conn) as tx:
        with pytest.raises(psycopg2.IntegrityError):
            with conn:   # psycopg2: commit on success, roll back on an exception
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO orders VALUES (3)")
                    tx.enqueue("emails", {"order": 3})
                    cur.execute("INSERT INTO orders VALUES (3)")   # duplicate key
    assert ids_in(store) == []


def test_a_failed_enqueue_keeps_the_application_transaction_usable(pg):
    store, conn = pg
    with store.app_tx(conn) as tx:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO orders VALUES (4)")
        with pytest.raises(pgqrs.NotFound):
            tx.enqueue("no-such-queue", {})
        with pytest.raises(pgqrs.InvalidInput):
            tx.enqueue_json("emails", "{not json")
        mid = tx.enqueue("emails", {"order": 4})
        conn.commit()
    assert ids_in(store) == [mid]
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM orders")
        assert cur.fetchall() == [(4,)]


def test_trigger_in_the_transaction(pg):
    store, conn = pg
    store.define(lambda run, inp: inp, name="wf")
    with store.app_tx(conn) as tx:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")   # psycopg2 opens the transaction at the first statement
        rid, created = tx.trigger("wf", {"x": 1})
        assert created
        conn.rollback()
    with pytest.raises(pgqrs.NotFound):
        store.run_get(rid)
    with store.app_tx(conn) as tx:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        key = uuid.uuid4().hex
        rid, created = tx.trigger("wf", {"x": 2}, idempotency_key=key)
        assert created and tx.trigger("wf", {"x": 2}, idempotency_key=key) == (rid, False)
        conn.commit()
    assert store.run_get(rid).status == "PENDING"


def test_no_open_transaction_is_refused(pg):
    store, conn = pg
    conn.commit()   # idle: psycopg2 has not begun one
    with store.app_tx(conn) as tx:
        with pytest.raises(pgqrs.IllegalState) as e:
            tx.enqueue("emails", {})
        assert "no transaction is open" in str(e.value)
    assert ids_in(store) == []


def test_unsupported_connections_are_refused(pg, tmp_path):
    store, conn = pg
    with pytest.raises(pgqrs.NotSupported):
        store.app_tx(sqlite3.connect(str(tmp_path / "x.db")))
    conn.close()
    with pytest.raises(pgqrs.InvalidInput) as e:
        store.app_tx(conn)
    assert "closed" in str(e.value)


def test_a_sqlite_store_refuses_a_postgres_connection(pg, tmp_path):
    _, conn = pg
    dsn, _ = make_dsn("sqlite", tmp_path)
    s = pgqrs.connect(dsn)
    try:
        with pytest.raises(pgqrs.InvalidInput):
            s.app_tx(conn)
    finally:
        s.close()
