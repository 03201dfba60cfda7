"""codegen/verify_pg.py. The tests that need a server run only when
PGQRS_TEST_PG_DSN is set, e.g.
    scripts/with-postgres.sh sh -c 'cd codegen && python3 -m unittest discover -s tests -t . -q'
"""

import io
import os
import shutil
import unittest

import verify_pg
from tests.support import GOLDEN_INPUT, REPO_ROOT, ProjectTestCase

DSN = os.environ.get("PGQRS_TEST_PG_DSN", "")
PGQ = "queries/postgres/items.sql"
PGM = "migrations/postgres/0001_init.sql"
SCHEMA = "schema/pgqrs.toml"


def run_verify(root, dsn=DSN):
    out, err = io.StringIO(), io.StringIO()
    status = verify_pg.verify(root, dsn, out, err)
    return status, out.getvalue(), err.getvalue()


class WithoutServer(ProjectTestCase):
    def test_no_dsn(self):
        status, out, err = run_verify(self.new_root(), "")
        self.assertEqual((status, out), (1, ""))
        self.assertIn("set PGQRS_TEST_PG_DSN", err)

    def test_input_errors_are_reported_before_connecting(self):
        self.edit(PGQ, "-- param: id i64\n", "-- param: id i64, extra text\n")
        status, _, err = run_verify(self.new_root(), "")
        self.assertEqual(status, 1)
        self.assertEqual(err, f"{PGQ}:3: item_get: parameter extra is never used\n")

    def test_unreachable_server(self):
        status, _, err = run_verify(self.new_root(), "postgresql://nobody@/nodb?host=/nonexistent-socket-dir")
        self.assertEqual(status, 1)
        self.assertIn("verify-queries: cannot connect to PostgreSQL", err)


@unittest.skipUnless(DSN, "PGQRS_TEST_PG_DSN is not set (run under scripts/with-postgres.sh)")
class WithServer(ProjectTestCase):
    def test_fixture_passes(self):
        status, out, err = run_verify(self.new_root())
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "verify-queries: 8 postgres queries prepared and checked\n")

    def test_golden_input_passes(self):
        status, out, err = run_verify(GOLDEN_INPUT)
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "verify-queries: 19 postgres queries prepared and checked\n")

    def problems(self):
        status, out, err = run_verify(self.new_root())
        self.assertEqual((status, out), (1, ""), err)
        lines = err.splitlines()
        self.assertTrue(lines[-1].startswith("verify-queries: "), err)
        return lines[:-1]

    def test_query_mismatches(self):
        self.edit(PGQ, "WHERE i.id = @id;", "WHERE i.id = @id::int;")                   # parameter type
        self.edit(PGQ, "SELECT id, label\n", "SELECT id::int4, label AS name\n")          # result names
        self.edit(PGQ, "SET label = @label\n", "SET label = @label\n  , nosuch = 1\n")     # prepare error
        self.assertEqual(self.problems(), [
            f"{PGQ}:1: item_get: parameter $1 (id i64) is int4 in PostgreSQL, expected int8",
            f"{PGQ}:9: item_labels: PostgreSQL returns columns (id, name), declared (id, label)",
            f"{PGQ}:21: item_rename: PostgreSQL cannot prepare it: column \"nosuch\" of relation \"t_items\" does not exist",
        ])

    def test_result_types(self):
        self.edit(PGQ, "SELECT i.id, i.label, i.color, i.meta, i.done",
                  "SELECT i.id::int4 AS id, i.label::varchar AS label, i.color, i.meta::json AS meta, i.done::int AS done")
        self.assertEqual(self.problems(), [
            f"{PGQ}:1: item_get: result column id is int4 in PostgreSQL, declared i64 (expects int8)",
            f"{PGQ}:1: item_get: result column done is int4 in PostgreSQL, declared bool (expects bool)",
        ])

    def test_migration_mismatches(self):
        self.edit(PGM, "label text NOT NULL", "label varchar(20)")
        self.edit(PGM, "    meta  jsonb,\n", "")
        t_items = self.files[SCHEMA].split("\n").index("[tables.t_items]") + 1
        self.assertEqual(self.problems(), [
            f"{SCHEMA}:{t_items}: table t_items: postgres columns (id, label, color, done) differ from the schema "
            "(id, label, color, meta, done)",
            f"{PGQ}:5: item_get: PostgreSQL cannot prepare it: column i.meta does not exist",
        ])
        self.edit(PGM, "    done ", "    meta  jsonb,\n    done ")
        self.assertEqual(self.problems(), [
            f"{SCHEMA}:{t_items}: table t_items.label: postgres type is character varying, schema says text",
            f"{SCHEMA}:{t_items}: table t_items.label: postgres nullability is NULL, schema says not null",
        ])

    def test_migration_rejected(self):
        self.files["migrations/postgres/0002_more.sql"] = "-- more\nCREATE INDEX ON t_items (id);\nCREATE TABL t_more (x int);\n"
        self.assertEqual(self.problems(), [
            "migrations/postgres/0002_more.sql:3: PostgreSQL rejected it: syntax error at or near \"TABL\""])

    def test_schema_is_dropped(self):
        self.edit(PGQ, "WHERE i.id = @id;", "WHERE i.id = @id::int;")
        self.problems()
        pg = verify_pg.Pg(verify_pg.load_libpq(), DSN)
        try:
            left = pg.must(f"SELECT nspname FROM pg_namespace WHERE nspname = 'pgqrs_verify_{os.getpid()}'")
        finally:
            pg.close()
        self.assertEqual(left, [])

    def test_multi_statement(self):
        self.edit(PGQ, "WHERE id = @id;", "WHERE id = @id;\nSELECT 1;")
        self.assertEqual(self.problems(), [
            f"{PGQ}:22: item_rename: a PostgreSQL query is one statement (use a CTE)"])


@unittest.skipUnless(DSN, "PGQRS_TEST_PG_DSN is not set (run under scripts/with-postgres.sh)")
class Plans(ProjectTestCase):
    """The plan check, on a copy of this repository's own schema, queries and migrations."""

    def repo_copy(self):
        root = os.path.join(self.tmp, "repo")
        for d in ("schema", "queries/postgres", "migrations/postgres"):
            shutil.copytree(os.path.join(REPO_ROOT, d), os.path.join(root, d))
        return root

    def replace(self, root, rel, old, new):
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(text.count(old), 1, f"{old!r} must occur once in {rel}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))

    def test_repository_passes(self):
        status, out, err = run_verify(self.repo_copy())
        self.assertEqual(status, 0, err)

    def test_a_probe_that_scans_the_backlog_fails(self):
        # the enqueue wake-up probe without its ORDER BY: a Seq Scan under LIMIT 1
        # once the table has a backlog (and a probe that grows with it)
        root = self.repo_copy()
        rel = "queries/postgres/messages.sql"
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        first = text.index("ORDER BY m.vt LIMIT 1) v")
        with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
            f.write(text[:first] + "LIMIT 1) v" + text[first + len("ORDER BY m.vt LIMIT 1) v"):])
        status, out, err = run_verify(root)
        self.assertEqual((status, out), (1, ""), err)
        self.assertEqual(err.splitlines()[:-1], [
            f"{rel}:5: message_enqueue: its generic plan, planned with a backlog, reads every row of "
            "pgqrs_messages (Seq Scan on pgqrs_messages), so it slows down as the backlog grows"])

    def test_a_join_planned_on_empty_tables_fails(self):
        # message_retry as it was: a join with unnest(ids), which PostgreSQL plans
        # as a Seq Scan while the table is empty, for the rest of the session
        root = self.repo_copy()
        rel = "queries/postgres/messages.sql"
        self.replace(root, rel, "+ (@delays_ms::bigint[])[array_position(@ids::bigint[], m.id)] * interval",
                     "+ r.delay_ms * interval")
        self.replace(root, rel, "WHERE m.id = ANY(@ids::bigint[]) AND coalesce(m.consumer_worker_id, 0) = @worker_id\n"
                                "RETURNING m.id;",
                     "FROM unnest(@ids::bigint[], @delays_ms::bigint[]) AS r(id, delay_ms)\n"
                     "WHERE m.id = r.id AND coalesce(m.consumer_worker_id, 0) = @worker_id\nRETURNING m.id;")
        status, out, err = run_verify(root)
        self.assertEqual((status, out), (1, ""), err)
        problems = err.splitlines()[:-1]
        self.assertEqual(len(problems), 1, err)
        self.assertRegex(problems[0], rf"^{rel}:\d+: message_retry: its generic plan, planned on empty tables, "
                                      r"reads every row of pgqrs_messages \(Seq Scan on pgqrs_messages\)")

    def test_allowlist_names_real_queries(self):
        root = self.repo_copy()
        self.replace(root, "queries/postgres/messages.sql", "-- name: message_purge :execrows",
                     "-- name: message_purge_all :execrows")
        status, _, err = run_verify(root)
        self.assertEqual(status, 1)
        self.assertIn("codegen/verify_pg.py:1: READS_THE_BACKLOG names message_purge, which no postgres query "
                      "defines", err)


if __name__ == "__main__":
    unittest.main()
