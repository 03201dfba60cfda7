#!/usr/bin/env python3
"""PostgreSQL half of query verification: prepares every queries/postgres/ query
against a freshly migrated schema and checks it against its declaration.

    scripts/with-postgres.sh python3 codegen/verify_pg.py      (make verify-queries)
    python3 codegen/verify_pg.py [--root DIR] [--dsn URI]

The DSN defaults to $PGQRS_TEST_PG_DSN. Everything happens in a throwaway schema
pgqrs_verify_<pid>, dropped at the end. In it the postgres schema_version_ensure
query and every migrations/postgres/ file are run, then:
  - the tables match schema/pgqrs.toml (information_schema.columns: column names
    in order, data_type, is_nullable);
  - every query prepares (PQprepare + PQdescribePrepared): PostgreSQL sees as many
    parameters as are declared, of a type compatible with the declared one, and a
    :one/:many query returns the declared columns, by name and type, in order.
Problems are printed as 'path:line: message'; the exit status is 1 when there is
any. The SQLite half runs inside codegen/pgqrs_gen.py. Python stdlib only: ctypes
over libpq.
"""

import argparse
import ctypes
import ctypes.util
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgqrs_codegen import model  # noqa: E402

BOOTSTRAP = "schema_version_ensure"

# Type OIDs (pg_type.dat; stable across server versions).
BOOL, NAME, INT8, INT4, TEXT, JSON, FLOAT8, UNKNOWN, TEXT_ARRAY, INT8_ARRAY, VARCHAR, TIMESTAMPTZ, JSONB = (
    16, 19, 20, 23, 25, 114, 701, 705, 1009, 1016, 1043, 1184, 3802)
TEXTUAL = (TEXT, VARCHAR, NAME)

# What PostgreSQL may infer for a parameter of each declared type. Parameters are
# sent in text format, so an i32 may land in an int4 or an int8.
PARAM_OIDS = {
    "i64": (INT8,),
    "i32": (INT4, INT8),
    "f64": (FLOAT8,),
    "text": TEXTUAL + (UNKNOWN,),
    "enum": (TEXT,),
    "json": (JSONB, JSON),
    "timestamp": (TIMESTAMPTZ,),
    "bool": (BOOL,),
    "i64[]": (INT8_ARRAY,),
    "text[]": (TEXT_ARRAY,),
    "json[]": (JSONB, JSON),   # sent as one JSON array document
}

# What a result column of each declared type must be (results are read in binary).
RESULT_OIDS = {
    "i64": (INT8,),
    "i32": (INT4,),
    "f64": (FLOAT8,),
    "text": TEXTUAL,
    "enum": TEXTUAL,
    "json": (JSONB, JSON),
    "timestamp": (TIMESTAMPTZ,),
    "bool": (BOOL,),
}

PGRES_COMMAND_OK, PGRES_TUPLES_OK = 1, 2
CONNECTION_OK = 0
PQTRANS_IDLE = 0
PG_DIAG_MESSAGE_PRIMARY = ord("M")
PG_DIAG_STATEMENT_POSITION = ord("P")


class Failure(Exception):
    """A problem that stops verification (after it is reported)."""


# The plan check (Verifier.check_plans). The driver prepares each statement once
# per session, so its generic plan is the one that runs; a plan that reads every
# row of pgqrs_messages makes a per-message statement grow with the backlog (the
# enqueue wake-up probe did: a hash semi join, then a Seq Scan under LIMIT 1).
# Two queues of 20,000 visible messages each, 2,000 in flight in the first, and
# the archive's share: enough rows that PostgreSQL costs a scan of the backlog as
# what it is.
PLAN_TABLE = "pgqrs_messages"
PLAN_FIXTURE = """
INSERT INTO pgqrs_queues (name) VALUES ('plan_a'), ('plan_b');
INSERT INTO pgqrs_workers (queue_id, hostname, pid, kind)
    SELECT (SELECT min(id) FROM pgqrs_queues), 'plan', g, 'consumer' FROM generate_series(1, 20) g;
INSERT INTO pgqrs_messages (queue_id, payload, vt)
    SELECT (SELECT min(id) FROM pgqrs_queues) + g % 2, '{}', now() - interval '1 hour' + g * interval '1 ms'
    FROM generate_series(1, 40000) g;
INSERT INTO pgqrs_messages (queue_id, payload, vt, read_ct, dequeued_at, consumer_worker_id)
    SELECT (SELECT min(id) FROM pgqrs_queues), '{}', now() + interval '1 hour', 1, now(),
           (SELECT min(id) FROM pgqrs_workers) + g % 20
    FROM generate_series(1, 2000) g;
INSERT INTO pgqrs_archive (id, queue_id, payload, enqueued_at, read_ct, reason)
    SELECT 1000000 + g, (SELECT min(id) FROM pgqrs_queues), '{}', now(), 1, 'archived' FROM generate_series(1, 20000) g;
ANALYZE;
"""
# query name -> why its plan may read every row of pgqrs_messages
READS_THE_BACKLOG = {
    "message_purge": "deletes every message of a queue",
    "queue_metrics": "counts every message of a queue, or of all of them",
    "integrity_orphans": "checks every message for a queue or worker that does not exist",
}


def _backlog_reads(node, under_hash=False, out=None):
    """The nodes of an EXPLAIN (FORMAT JSON) plan that read all of PLAN_TABLE."""
    out = [] if out is None else out
    if node.get("Relation Name") == PLAN_TABLE and (node["Node Type"] == "Seq Scan" or under_hash):
        out.append(node["Node Type"] + (" under a Hash" if under_hash else "") + f" on {PLAN_TABLE}")
    for child in node.get("Plans", []):
        _backlog_reads(child, under_hash or node["Node Type"] == "Hash", out)
    return out


def _base(ltype):
    return "enum" if ltype.startswith("enum:") else ltype


def load_libpq():
    path = ctypes.util.find_library("pq")
    if not path:
        raise Failure("verify-queries: libpq not found (install libpq-dev)")
    lib = ctypes.CDLL(path)
    vp, cp, i, u = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint
    sigs = {
        "PQconnectdb": ([cp], vp),
        "PQstatus": ([vp], i),
        "PQerrorMessage": ([vp], cp),
        "PQtransactionStatus": ([vp], i),
        "PQexec": ([vp, cp], vp),
        "PQprepare": ([vp, cp, cp, i, vp], vp),
        "PQdescribePrepared": ([vp, cp], vp),
        "PQresultStatus": ([vp], i),
        "PQresultErrorMessage": ([vp], cp),
        "PQresultErrorField": ([vp, i], cp),
        "PQnparams": ([vp], i),
        "PQparamtype": ([vp, i], u),
        "PQnfields": ([vp], i),
        "PQfname": ([vp, i], cp),
        "PQftype": ([vp, i], u),
        "PQntuples": ([vp], i),
        "PQgetvalue": ([vp, i, i], cp),
        "PQclear": ([vp], None),
        "PQfinish": ([vp], None),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


def _s(b):
    return b.decode("utf-8", "replace") if b else ""


class Result:
    """A PGresult, cleared on exit from the with block."""

    def __init__(self, pg, res):
        self.lib, self.res, self.conn = pg.lib, res, pg.conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.res:
            self.lib.PQclear(self.res)

    def ok(self):
        return bool(self.res) and self.lib.PQresultStatus(self.res) in (PGRES_COMMAND_OK, PGRES_TUPLES_OK)

    def error(self):
        """(primary message, 1-based character position or 0)."""
        if not self.res:
            return _s(self.lib.PQerrorMessage(self.conn)).strip() or "no result", 0
        msg = _s(self.lib.PQresultErrorField(self.res, PG_DIAG_MESSAGE_PRIMARY))
        msg = msg or _s(self.lib.PQresultErrorMessage(self.res)).strip()
        pos = _s(self.lib.PQresultErrorField(self.res, PG_DIAG_STATEMENT_POSITION))
        return msg, int(pos) if pos.isdigit() else 0

    def rows(self):
        lib, r = self.lib, self.res
        return [tuple(_s(lib.PQgetvalue(r, t, f)) for f in range(lib.PQnfields(r)))
                for t in range(lib.PQntuples(r))]


class Pg:
    def __init__(self, lib, dsn):
        self.lib = lib
        self.conn = lib.PQconnectdb(dsn.encode())
        if not self.conn or lib.PQstatus(self.conn) != CONNECTION_OK:
            msg = _s(lib.PQerrorMessage(self.conn)).strip() if self.conn else "out of memory"
            self.close()
            raise Failure(f"verify-queries: cannot connect to PostgreSQL: {msg}")

    def exec(self, sql):
        return Result(self, self.lib.PQexec(self.conn, sql.encode()))

    def must(self, sql):
        """Runs sql (ours, not the project's) and returns its rows."""
        with self.exec(sql) as r:
            if not r.ok():
                raise Failure(f"verify-queries: {sql.split(chr(10))[0]}: {r.error()[0]}")
            return r.rows()

    def prepare(self, name, sql):
        return Result(self, self.lib.PQprepare(self.conn, name.encode(), sql.encode(), 0, None))

    def describe(self, name):
        return Result(self, self.lib.PQdescribePrepared(self.conn, name.encode()))

    def run(self, sql):
        """Runs sql, ignoring its outcome."""
        with self.exec(sql):
            pass

    def idle(self):
        return self.lib.PQtransactionStatus(self.conn) == PQTRANS_IDLE

    def close(self):
        if self.conn:
            self.lib.PQfinish(self.conn)
            self.conn = None


def _line_at(sql, first_line, pos):
    """The file line of 1-based character position pos in sql starting at first_line."""
    return first_line + sql[: max(pos - 1, 0)].count("\n")


class Verifier:
    def __init__(self, pg, root):
        self.pg, self.root = pg, root
        self.problems = []
        self.typname = {}

    def fail(self, path, line, message):
        self.problems.append(f"{path}:{line}: {message}")

    def oid_name(self, oid):
        return self.typname.get(oid, f"oid {oid}")

    def names(self, oids):
        names = [self.oid_name(o) for o in oids]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

    # -- schema ---------------------------------------------------------------

    def migrate(self, bootstrap, migrations):
        """Runs the bootstrap query and the migrations; False when one fails."""
        st = bootstrap.statements[0]
        with self.pg.exec(st.sql) as r:
            if not r.ok():
                msg, pos = r.error()
                self.fail(bootstrap.path, _line_at(st.sql, st.line, pos), f"{BOOTSTRAP}: PostgreSQL rejected it: {msg}")
                return False
        for m in migrations:
            with self.pg.exec(m.sql) as r:
                if not r.ok():
                    msg, pos = r.error()
                    self.fail(m.path, _line_at(m.sql, 1, pos), f"PostgreSQL rejected it: {msg}")
                    return False
        return True

    def check_tables(self, schema, migrations, nsp):
        rows = self.pg.must(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            f"WHERE table_schema = '{nsp}' ORDER BY table_name, ordinal_position")
        have = {}
        for tname, cname, dtype, nullable in rows:
            have.setdefault(tname, []).append((cname, dtype, nullable == "YES"))
        where = migrations[-1].path if migrations else "migrations/postgres"
        for tname in sorted(have):
            if tname not in schema.tables:
                self.fail(where, 1, f"postgres migrations create table {tname}, which {schema.path} does not describe")
        for t in schema.tables.values():
            cols = have.get(t.name)
            if cols is None:
                self.fail(schema.path, t.line, f"table {t.name} is not created by the postgres migrations")
                continue
            want = [(c.name, c.sql_types.get("postgres", "?"), c.nullable) for c in t.columns]
            if [c[0] for c in cols] != [w[0] for w in want]:
                self.fail(schema.path, t.line, f"table {t.name}: postgres columns ({', '.join(c[0] for c in cols)}) "
                                               f"differ from the schema ({', '.join(w[0] for w in want)})")
                continue
            for (cname, dtype, nullable), (_, wtype, wnull) in zip(cols, want):
                if dtype.lower() != wtype.lower():
                    self.fail(schema.path, t.line, f"table {t.name}.{cname}: postgres type is {dtype}, schema says {wtype}")
                if nullable != wnull:
                    self.fail(schema.path, t.line, f"table {t.name}.{cname}: postgres nullability is "
                                                   f"{'NULL' if nullable else 'NOT NULL'}, schema says "
                                                   f"{'nullable' if wnull else 'not null'}")

    # -- queries --------------------------------------------------------------

    def check_query(self, q, index):
        if len(q.statements) != 1:
            self.fail(q.path, q.statements[1].line, f"{q.name}: a PostgreSQL query is one statement (use a CTE)")
            return
        st = q.statements[0]
        stmt = f"pgqrs_verify_{index}"
        with self.pg.prepare(stmt, st.sql) as r:
            if not r.ok():
                msg, pos = r.error()
                self.fail(q.path, _line_at(st.sql, st.line, pos) if pos else q.line,
                          f"{q.name}: PostgreSQL cannot prepare it: {msg}")
                return
        lib = self.pg.lib
        with self.pg.describe(stmt) as d:
            if not d.ok():
                self.fail(q.path, q.line, f"{q.name}: PostgreSQL cannot describe it: {d.error()[0]}")
                return
            ptypes = [lib.PQparamtype(d.res, i) for i in range(lib.PQnparams(d.res))]
            cols = [(_s(lib.PQfname(d.res, i)), lib.PQftype(d.res, i)) for i in range(lib.PQnfields(d.res))]
        self.pg.must(f"DEALLOCATE {stmt}")

        if len(ptypes) != len(q.params):
            self.fail(q.path, q.line, f"{q.name}: PostgreSQL sees {len(ptypes)} parameters, {len(q.params)} declared")
        for i, (p, oid) in enumerate(zip(q.params, ptypes), 1):
            allowed = PARAM_OIDS[_base(p.type)]
            if oid not in allowed:
                self.fail(q.path, q.line, f"{q.name}: parameter ${i} ({p.name} {p.type}) is {self.oid_name(oid)} "
                                          f"in PostgreSQL, expected {self.names(allowed)}")
        if q.cardinality not in (":one", ":many"):
            return
        got, want = [c[0] for c in cols], [c.name for c in q.returns]
        if got != want:
            self.fail(q.path, q.line, f"{q.name}: PostgreSQL returns columns ({', '.join(got) or 'none'}), "
                                      f"declared ({', '.join(want) or 'none'})")
            return
        for (name, oid), c in zip(cols, q.returns):
            allowed = RESULT_OIDS[_base(c.type)]
            if oid not in allowed:
                self.fail(q.path, q.line, f"{q.name}: result column {name} is {self.oid_name(oid)} in PostgreSQL, "
                                          f"declared {c.type} (expects {self.names(allowed)})")

    def check_plans(self, queries, nsp):
        """Fails each query whose generic plan reads every row of PLAN_TABLE, planned
        on the freshly migrated (empty, never analyzed) tables, as by a session that
        starts before the first message, and again with PLAN_FIXTURE's backlog."""
        if not self.pg.must(f"SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = '{nsp}' AND tablename = '{PLAN_TABLE}'"):
            return
        names = {q.name for q in queries}
        for name in sorted(set(READS_THE_BACKLOG) - names):
            self.fail("codegen/verify_pg.py", 1, f"READS_THE_BACKLOG names {name}, which no postgres query defines")
        self.pg.must("SET plan_cache_mode = force_generic_plan")
        self.plan_pass(queries, "planned on empty tables")
        self.pg.must(PLAN_FIXTURE)
        self.plan_pass(queries, "planned with a backlog")
        self.pg.must("RESET plan_cache_mode")

    def plan_pass(self, queries, state):
        for i, q in enumerate(queries):
            if q.name == BOOTSTRAP or q.cardinality == model.STATEMENT or len(q.statements) != 1:
                continue
            stmt = f"pgqrs_plan_{i}"
            with self.pg.prepare(stmt, q.statements[0].sql) as r:
                if not r.ok():
                    continue   # reported by check_query
            # placeholders are numbered by declaration order, so one NULL per declared parameter
            args = f"({', '.join(['NULL'] * len(q.params))})" if q.params else ""
            with self.pg.exec(f"EXPLAIN (FORMAT JSON) EXECUTE {stmt}{args}") as r:
                top = json.loads(r.rows()[0][0])[0] if r.ok() else None
                why = "" if r.ok() else r.error()[0]
            self.pg.must(f"DEALLOCATE {stmt}")
            if top is None:
                self.fail(q.path, q.line, f"{q.name}: PostgreSQL cannot explain its generic plan: {why}")
                continue
            if not isinstance(top, dict):   # "Utility Statement" (LISTEN, SAVEPOINT): no plan
                continue
            reads = sorted(set(_backlog_reads(top["Plan"])))
            if reads and q.name not in READS_THE_BACKLOG:
                self.fail(q.path, q.line, f"{q.name}: its generic plan, {state}, reads every row of {PLAN_TABLE} "
                                          f"({', '.join(reads)}), so it slows down as the backlog grows")


def verify(root, dsn, out=sys.stdout, err=sys.stderr):
    """Returns the exit status: 0 when everything checks, 1 otherwise."""
    try:
        schema = model.load_schema(root)
        queries = model.load_queries(root, "postgres", schema)
        for q in queries:
            model.placeholders(q, "$")
        migrations = model.load_migrations(root, "postgres")
    except model.GenError as e:
        print(str(e), file=err)
        return 1
    bootstrap = next((q for q in queries if q.name == BOOTSTRAP), None)
    if bootstrap is None:
        print(f"queries/postgres:1: backend postgres must define '{BOOTSTRAP}'", file=err)
        return 1
    if not dsn:
        print("verify-queries: no PostgreSQL to verify against: set PGQRS_TEST_PG_DSN or pass --dsn "
              "(make verify-queries starts a throwaway server)", file=err)
        return 1

    nsp = f"pgqrs_verify_{os.getpid()}"
    try:
        pg = Pg(load_libpq(), dsn)
    except Failure as e:
        print(str(e), file=err)
        return 1
    v = Verifier(pg, root)
    created = False
    try:
        pg.must("SET client_min_messages TO warning")
        v.typname = {int(oid): name for oid, name in pg.must("SELECT oid, typname FROM pg_catalog.pg_type")}
        pg.must(f"DROP SCHEMA IF EXISTS {nsp} CASCADE")
        pg.must(f"CREATE SCHEMA {nsp}")
        created = True
        pg.must(f"SET search_path TO {nsp}")
        if v.migrate(bootstrap, migrations):
            if not pg.idle():
                pg.run("ROLLBACK")
                v.fail(migrations[-1].path if migrations else bootstrap.path, 1,
                       "leaves a transaction open on the session")
            v.check_tables(schema, migrations, nsp)
            for i, q in enumerate(queries):
                v.check_query(q, i)
            v.check_plans(queries, nsp)
    except Failure as e:
        v.problems.append(str(e))
    finally:
        try:
            if created and pg.conn:
                if not pg.idle():
                    pg.run("ROLLBACK")
                pg.must(f"DROP SCHEMA IF EXISTS {nsp} CASCADE")
        except Failure as e:
            v.problems.append(str(e))
        pg.close()

    for p in v.problems:
        print(p, file=err)
    if v.problems:
        print(f"verify-queries: {len(v.problems)} problem(s) in the postgres queries, migrations or schema", file=err)
        return 1
    print(f"verify-queries: {len(queries)} postgres queries prepared and checked", file=out)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--dsn", default=os.environ.get("PGQRS_TEST_PG_DSN", ""),
                    help="libpq connection string (default: $PGQRS_TEST_PG_DSN)")
    args = ap.parse_args(argv)
    return verify(args.root, args.dsn)


if __name__ == "__main__":
    sys.exit(main())
