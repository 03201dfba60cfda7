"""Checks that need more than one file: every backend defines the same queries,
and (SQLite) every query prepares against the migrated schema with the declared
result columns, and the migrations create exactly the tables of the schema."""

import ctypes
import ctypes.util
import sqlite3

from .model import GenError

TX_QUERIES = ("tx_begin", "tx_commit", "tx_rollback")
# Never wrapped in a write transaction: transaction control itself, and session
# setup (PRAGMA journal_mode cannot change inside a transaction).
NO_AUTO_TX = TX_QUERIES + ("session_setup", "session_relaxed_durability", "session_foreign_keys")


def _sig(q):
    params = [(p.name, p.type, p.nullable) for p in q.params]
    returns = [(c.name, c.type, c.nullable) for c in q.returns]
    return q.cardinality, params, returns, q.row_table


def check_backends(by_backend):
    """by_backend: dict backend -> [Query]. The first backend is the reference."""
    names = list(by_backend)
    ref_name = names[0]
    ref = {q.name: q for q in by_backend[ref_name]}
    for be in names:
        have = {q.name: q for q in by_backend[be]}
        for tx in TX_QUERIES:
            if tx not in have:
                raise GenError(f"queries/{be}", 1, f"backend {be} must define '{tx}' (:exec, no parameters)")
            q = have[tx]
            if q.cardinality != ":exec" or q.params:
                raise GenError(q.path, q.line, f"{tx} must be ':exec' with no parameters")
        for q in by_backend[be]:
            if be == "postgres" and len(q.statements) != 1:
                raise GenError(q.path, q.statements[1].line, f"{q.name}: a PostgreSQL query is one statement (use a CTE)")
        if be == ref_name:
            continue
        for name, q in have.items():
            if name not in ref:
                raise GenError(q.path, q.line, f"query '{name}' is missing from {ref_name}")
        for name, r in ref.items():
            if name not in have:
                raise GenError(r.path, r.line, f"query '{name}' is missing from {be}")
            q = have[name]
            a, b = _sig(r), _sig(q)
            what = ("cardinality", "parameters", "result columns", "result row")
            for i in range(4):
                if a[i] != b[i]:
                    raise GenError(q.path, q.line, f"{name}: {what[i]} differ from {r.path}:{r.line} ({_fmt(b[i])} vs {_fmt(a[i])})")


def _fmt(v):
    if isinstance(v, list):
        return ", ".join(f"{n} {t}{'?' if nl else ''}" for n, t, nl in v) or "none"
    return str(v) or "none"


# --- SQLite ------------------------------------------------------------------

def _libsqlite():
    path = ctypes.util.find_library("sqlite3")
    if not path:
        raise GenError("codegen", 1, "libsqlite3 not found (install libsqlite3-dev): needed to prepare SQLite queries")
    lib = ctypes.CDLL(path)
    vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    lib.sqlite3_open.argtypes = [cp, ctypes.POINTER(vp)]
    lib.sqlite3_exec.argtypes = [vp, cp, vp, vp, ctypes.POINTER(cp)]
    lib.sqlite3_prepare_v2.argtypes = [vp, cp, i, ctypes.POINTER(vp), ctypes.POINTER(cp)]
    lib.sqlite3_errmsg.argtypes = [vp]
    lib.sqlite3_errmsg.restype = cp
    lib.sqlite3_column_count.argtypes = [vp]
    lib.sqlite3_column_name.argtypes = [vp, i]
    lib.sqlite3_column_name.restype = cp
    lib.sqlite3_stmt_readonly.argtypes = [vp]
    lib.sqlite3_bind_parameter_count.argtypes = [vp]
    lib.sqlite3_finalize.argtypes = [vp]
    lib.sqlite3_close.argtypes = [vp]
    lib.sqlite3_free.argtypes = [vp]
    return lib


class SqliteProbe:
    """An in-memory database built from the bootstrap query and the migrations."""

    def __init__(self, migrations, bootstrap_sql):
        self.lib = _libsqlite()
        self.db = ctypes.c_void_p()
        if self.lib.sqlite3_open(b":memory:", ctypes.byref(self.db)) != 0:
            raise GenError("codegen", 1, "cannot open an in-memory SQLite database")
        self._exec(bootstrap_sql, "bootstrap (schema_version_ensure)", 1)
        for m in migrations:
            self._exec(m.sql, m.path, 1)
        self.migrations = migrations
        self.bootstrap_sql = bootstrap_sql

    def _exec(self, sql, path, line):
        err = ctypes.c_char_p()
        if self.lib.sqlite3_exec(self.db, sql.encode(), None, None, ctypes.byref(err)) != 0:
            msg = err.value.decode() if err.value else "error"
            raise GenError(path, line, f"SQLite rejected it: {msg}")

    def describe(self, sql, path, line):
        """Prepares sql; returns (column names, readonly, parameter count)."""
        stmt = ctypes.c_void_p()
        rc = self.lib.sqlite3_prepare_v2(self.db, sql.encode(), -1, ctypes.byref(stmt), None)
        if rc != 0:
            raise GenError(path, line, f"SQLite cannot prepare it: {self.lib.sqlite3_errmsg(self.db).decode()}")
        try:
            n = self.lib.sqlite3_column_count(stmt)
            names = [self.lib.sqlite3_column_name(stmt, i).decode() for i in range(n)]
            return names, bool(self.lib.sqlite3_stmt_readonly(stmt)), self.lib.sqlite3_bind_parameter_count(stmt)
        finally:
            self.lib.sqlite3_finalize(stmt)

    def close(self):
        self.lib.sqlite3_close(self.db)


def check_sqlite_queries(probe, queries):
    """Fills q.writes for each query. Raises on SQL errors and column mismatches."""
    for q in queries:
        q.writes = False
        for i, st in enumerate(q.statements):
            names, readonly, _ = probe.describe(st.sql, q.path, st.line)
            if q.name in NO_AUTO_TX:
                continue
            q.writes = q.writes or not readonly
            last = i == len(q.statements) - 1
            if not last and names:
                raise GenError(q.path, st.line, f"{q.name}: only the last statement of a query may return rows")
            if last and q.cardinality in (":one", ":many"):
                want = [c.name for c in q.returns]
                if names != want:
                    raise GenError(q.path, st.line, f"{q.name}: SQLite returns columns ({', '.join(names) or 'none'}), declared ({', '.join(want) or 'none'})")


def check_sqlite_schema(schema, migrations, bootstrap_sql):
    """The migrated SQLite database has exactly the schema's tables and columns."""
    db = sqlite3.connect(":memory:")
    try:
        _run_script(db, bootstrap_sql, "bootstrap (schema_version_ensure)")
        for m in migrations:
            _run_script(db, m.sql, m.path)
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        _compare_tables(schema, tables, lambda t: [
            (r[1], r[2], not r[3] and not r[5]) for r in db.execute(f"PRAGMA table_info({t})")], "sqlite",
            migrations[-1].path if migrations else "migrations/sqlite")
    finally:
        db.close()


def _run_script(db, sql, path):
    try:
        db.executescript(sql)
    except sqlite3.Error as e:
        raise GenError(path, 1, f"SQLite rejected it: {e}") from None


def _compare_tables(schema, tables, columns_of, backend, where):
    for t in tables:
        if t not in schema.tables:
            raise GenError(where, 1, f"{backend} migrations create table {t}, which {schema.path} does not describe")
    for t in schema.tables.values():
        if t.name not in tables:
            raise GenError(schema.path, t.line, f"table {t.name} is not created by the {backend} migrations")
        have = columns_of(t.name)
        want = [(c.name, c.sql_types[backend], c.nullable) for c in t.columns]
        # a primary key column reads as nullable in SQLite's table_info; compare names and types strictly
        if [h[0] for h in have] != [w[0] for w in want]:
            raise GenError(schema.path, t.line, f"table {t.name}: {backend} columns ({', '.join(h[0] for h in have)}) differ from the schema ({', '.join(w[0] for w in want)})")
        for h, w in zip(have, want):
            if h[1].lower() != w[1].lower():
                raise GenError(schema.path, t.line, f"table {t.name}.{w[0]}: {backend} type is {h[1]}, schema says {w[1]}")
            if h[2] != w[2]:
                raise GenError(schema.path, t.line, f"table {t.name}.{w[0]}: {backend} nullability is {'NULL' if h[2] else 'NOT NULL'}, schema says {'nullable' if w[2] else 'not null'}")
