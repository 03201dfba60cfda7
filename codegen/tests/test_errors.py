"""Every input error is reported as 'path:line: message' at the right place."""

import os
import unittest

from tests.support import ProjectTestCase, run_main

PGQ, SQQ = "queries/postgres/items.sql", "queries/sqlite/items.sql"
PGM, SQM = "migrations/postgres/0001_init.sql", "migrations/sqlite/0001_init.sql"
SCHEMA = "schema/pgqrs.toml"


class FixtureTest(ProjectTestCase):
    def test_fixture_builds(self):
        out = self.build()
        self.assertEqual(sorted(out), [
            "generated/pgqrs_public.c", "generated/pgqrs_public.h",
            "generated/pgqrs_queries.h", "generated/pgqrs_rows.c", "generated/pgqrs_rows.h",
            "generated/queries_postgres.c", "generated/queries_sqlite.c", "generated/queries_turso.c",
            "python/pgqrs/_structs.py"])

    def test_sqlite_query_may_have_several_statements(self):
        self.edit(SQQ, "SET label = @label\nWHERE id = @id;",
                  "SET label = @label\nWHERE id = @id;\nDELETE FROM t_items WHERE id < 0;")
        out = self.build()
        self.assertIn("SQL_ITEM_RENAME_2", out["generated/queries_sqlite.c"])


class AnnotationErrors(ProjectTestCase):
    def test_unknown_annotation(self):
        self.edit(SQQ, "-- param: id i64\n", "-- param: id i64\n-- bogus: yes\n")
        self.assertGenError(SQQ, self.line(SQQ, "-- bogus:"), "unknown annotation 'bogus'")

    def test_unknown_cardinality(self):
        self.edit(PGQ, "-- name: item_labels :many", "-- name: item_labels :some")
        self.assertGenError(PGQ, self.line(PGQ, "item_labels :some"), "unknown cardinality ':some'")

    def test_malformed_name_line(self):
        self.edit(SQQ, "-- name: item_labels :many", "-- name: ItemLabels :many")
        self.assertGenError(SQQ, self.line(SQQ, "ItemLabels"), "expected '-- name: <snake_case_name> :<cardinality>'")

    def test_duplicate_query_name_in_one_file(self):
        self.edit(SQQ, "-- name: item_rename :execrows", "-- name: item_get :execrows")
        msg = self.assertGenError(SQQ, self.line(SQQ, "item_get :execrows"), "duplicate query name 'item_get'")
        self.assertIn(f"first defined at {SQQ}:1", msg)

    def test_duplicate_query_name_across_files(self):
        rel = "queries/postgres/more.sql"
        self.files[rel] = "-- name: item_get :exec\nDELETE FROM t_items;\n"
        self.assertGenError(rel, 1, f"duplicate query name 'item_get' (first defined at {PGQ}:1)")

    def test_parameter_used_but_not_declared(self):
        self.edit(SQQ, "WHERE i.id = @id;", "WHERE i.id = @id\n  AND i.label = @lbl;")
        self.assertGenError(SQQ, self.line(SQQ, "@lbl"), "item_get: parameter @lbl is not declared")

    def test_parameter_declared_but_never_used(self):
        self.edit(PGQ, "-- param: id i64\n", "-- param: id i64, extra text\n")
        self.assertGenError(PGQ, self.line(PGQ, "extra text"), "item_get: parameter extra is never used")

    def test_parameter_declared_twice(self):
        self.edit(PGQ, "-- param: id i64, label text", "-- param: id i64, label text, id i64")
        self.assertGenError(PGQ, self.line(PGQ, "label text, id"), "parameter id declared twice")

    def test_parameter_of_unknown_type(self):
        self.edit(SQQ, "-- param: id i64\n", "-- param: id int64\n")
        self.assertGenError(SQQ, self.line(SQQ, "id int64"), "parameter id: unknown type 'int64'")

    def test_result_column_not_in_schema(self):
        self.edit(PGQ, "-- returns: t_items.id, t_items.label text", "-- returns: t_items.id, t_items.nope text")
        self.assertGenError(PGQ, self.line(PGQ, "t_items.nope"), f"returns: column 't_items.nope' is not in {SCHEMA}")

    def test_result_table_not_in_schema(self):
        self.edit(SQQ, "-- returns: t_items.*", "-- returns: t_things.*")
        self.assertGenError(SQQ, self.line(SQQ, "t_things.*"), "returns: unknown table 't_things'")

    def test_result_column_of_wrong_type(self):
        self.edit(SQQ, "-- returns: t_items.id, t_items.label text", "-- returns: t_items.id, t_items.label i64")
        self.assertGenError(SQQ, self.line(SQQ, "t_items.label i64"),
                            f"returns: column 't_items.label' is text in {SCHEMA}, declared i64")

    def test_result_column_of_wrong_nullability(self):
        self.edit(SQQ, "-- returns: t_items.id, t_items.label text", "-- returns: t_items.id, t_items.label text?")
        self.assertGenError(SQQ, self.line(SQQ, "t_items.label text?"),
                            f"returns: column 't_items.label' is text in {SCHEMA}, declared text?")

    def test_one_without_returns(self):
        self.edit(PGQ, "-- returns: t_items.*\n", "")
        self.assertGenError(PGQ, self.line(PGQ, "item_get :one"), "item_get: :one needs a '-- returns:' line")

    def test_exec_with_returns(self):
        self.edit(PGQ, "-- param: id i64, label text\n", "-- param: id i64, label text\n-- returns: n i64\n")
        self.assertGenError(PGQ, self.line(PGQ, "-- returns: n i64"), "item_rename: :execrows returns no rows")

    def test_sql_outside_a_query(self):
        self.files[SQQ] = "SELECT 1;\n" + self.files[SQQ]
        self.assertGenError(SQQ, 1, "SQL outside a '-- name:' block")


class BackendErrors(ProjectTestCase):
    def drop_rename(self, rel):
        self.edit(rel, "\n-- name: item_rename :execrows\n-- param: id i64, label text\n"
                       "UPDATE t_items\nSET label = @label\nWHERE id = @id;\n", "")

    def test_query_missing_from_sqlite(self):
        self.drop_rename(SQQ)
        self.assertGenError(PGQ, self.line(PGQ, "item_rename :execrows"), "query 'item_rename' is missing from sqlite")

    def test_query_missing_from_postgres(self):
        self.drop_rename(PGQ)
        self.assertGenError(SQQ, self.line(SQQ, "item_rename :execrows"), "query 'item_rename' is missing from postgres")

    def test_parameters_differ(self):
        self.edit(SQQ, "-- param: id i64, label text", "-- param: id i32, label text")
        self.assertGenError(SQQ, self.line(SQQ, "item_rename :execrows"),
                            f"item_rename: parameters differ from {PGQ}:{self.line(PGQ, 'item_rename :execrows')} "
                            "(id i32, label text vs id i64, label text)")

    def test_parameter_order_differs(self):
        self.edit(PGQ, "-- param: id i64, label text", "-- param: label text, id i64")
        self.assertGenError(SQQ, self.line(SQQ, "item_rename :execrows"), "item_rename: parameters differ")

    def test_cardinality_differs(self):
        self.edit(PGQ, "-- name: item_rename :execrows", "-- name: item_rename :exec")
        self.assertGenError(SQQ, self.line(SQQ, "item_rename :execrows"), "item_rename: cardinality differ")

    def test_result_columns_differ(self):
        self.edit(PGQ, "-- returns: t_items.id, t_items.label text", "-- returns: t_items.id, label text?")
        self.edit(PGQ, "SELECT id, label\n", "SELECT id, 'x' AS label\n")
        self.assertGenError(SQQ, self.line(SQQ, "item_labels :many"), "item_labels: result columns differ")

    def test_tx_query_required(self):
        rel = "queries/sqlite/base.sql"
        self.edit(rel, "-- name: tx_commit :exec\nCOMMIT;\n", "")
        self.assertGenError("queries/sqlite", 1, "backend sqlite must define 'tx_commit'")

    def test_tx_query_takes_no_parameters(self):
        rel = "queries/postgres/base.sql"
        self.edit(rel, "-- name: tx_begin :exec\nBEGIN;", "-- name: tx_begin :exec\n-- param: mode text\nBEGIN @mode;")
        self.assertGenError(rel, self.line(rel, "tx_begin"), "tx_begin must be ':exec' with no parameters")

    def test_bootstrap_query_required(self):
        for be in ("postgres", "sqlite"):
            rel = f"queries/{be}/base.sql"
            self.files[rel] = self.files[rel].replace("-- name: schema_version_ensure", "-- name: version_ensure")
        self.assertGenError("queries/sqlite", 1, "backend sqlite must define 'schema_version_ensure'")

    def test_postgres_query_is_one_statement(self):
        self.edit(PGQ, "SET label = @label\nWHERE id = @id;", "SET label = @label\nWHERE id = @id;\n\nSELECT 1;")
        self.assertGenError(PGQ, self.line(PGQ, "SELECT 1;"), "item_rename: a PostgreSQL query is one statement (use a CTE)")


class SqliteErrors(ProjectTestCase):
    def test_sqlite_sql_that_does_not_prepare(self):
        self.edit(SQQ, "SELECT id, label\nFROM t_items\n", "SELECT id, label\nFROM t_itemz\n")
        self.assertGenError(SQQ, self.line(SQQ, "SELECT id, label"), "SQLite cannot prepare it: no such table: t_itemz")

    def test_sqlite_syntax_error_in_later_statement(self):
        self.edit(SQQ, "WHERE id = @id;\n", "WHERE id = @id;\nDELETE FORM t_items;\n")
        self.assertGenError(SQQ, self.line(SQQ, "DELETE FORM"), "SQLite cannot prepare it:")

    def test_sqlite_result_columns_differ_from_returns(self):
        self.edit(SQQ, "SELECT id, label\n", "SELECT id AS ident, label\n")
        self.assertGenError(SQQ, self.line(SQQ, "id AS ident"),
                            "item_labels: SQLite returns columns (ident, label), declared (id, label)")

    def test_sqlite_earlier_statement_returns_rows(self):
        self.edit(SQQ, "SELECT id, label\n", "SELECT 1;\nSELECT id, label\n")
        self.assertGenError(SQQ, self.line(SQQ, "SELECT 1;"), "item_labels: only the last statement of a query may return rows")


class MigrationErrors(ProjectTestCase):
    def setUp(self):
        super().setUp()
        self.t_items = self.line(SCHEMA, "[tables.t_items]")

    def test_migration_missing_a_column(self):
        self.edit(SQM, "    meta  TEXT,\n", "")
        self.assertGenError(SCHEMA, self.t_items,
                            "table t_items: sqlite columns (id, label, color, done) differ from the schema "
                            "(id, label, color, meta, done)")

    def test_migration_column_of_wrong_type(self):
        self.edit(SQM, "label TEXT NOT NULL", "label BLOB NOT NULL")
        self.assertGenError(SCHEMA, self.t_items, "table t_items.label: sqlite type is BLOB, schema says TEXT")

    def test_migration_column_of_wrong_nullability(self):
        self.edit(SQM, "meta  TEXT,", "meta  TEXT NOT NULL,")
        self.assertGenError(SCHEMA, self.t_items, "table t_items.meta: sqlite nullability is NOT NULL, schema says nullable")

    def test_migration_table_missing_from_schema(self):
        self.files["migrations/sqlite/0002_extra.sql"] = "CREATE TABLE t_extra (x INTEGER);\n"
        self.assertGenError("migrations/sqlite/0002_extra.sql", 1, "sqlite migrations create table t_extra, which "
                            f"{SCHEMA} does not describe")

    def test_schema_table_missing_from_migrations(self):
        self.files[SQM] = "-- nothing yet\nSELECT 1;\n"
        self.assertGenError(SCHEMA, self.t_items, "table t_items is not created by the sqlite migrations")

    def test_migration_that_sqlite_rejects(self):
        self.files[SQM] += "CREATE TABL oops;\n"
        self.assertGenError(SQM, 1, "SQLite rejected it: near \"TABL\": syntax error")

    def test_duplicate_migration_numbers(self):
        for be in ("postgres", "sqlite"):
            with self.subTest(backend=be):
                self.files = dict(self.files)
                rel = f"migrations/{be}/0001_more.sql"
                self.files[rel] = "SELECT 1;\n"
                self.assertGenError(rel, 1, "migration 1 does not follow 1")
                del self.files[rel]

    def test_a_skipped_migration_number_is_allowed(self):
        # a number reserved for another branch's migration: the gap is filled when it lands
        for be in ("postgres", "sqlite"):
            self.files[f"migrations/{be}/0003_more.sql"] = "SELECT 1;\n"
        out = self.build()
        self.assertIn("0003_more", out["generated/queries_postgres.c"])
        self.assertIn("0003_more", out["generated/queries_sqlite.c"])

    def test_migrations_start_at_one(self):
        self.files["migrations/postgres/0002_init.sql"] = self.files.pop(PGM)
        self.assertGenError("migrations/postgres/0002_init.sql", 1, "migrations start at 0001")

    def test_migration_file_name(self):
        self.files["migrations/sqlite/0002-More.sql"] = "SELECT 1;\n"
        self.assertGenError("migrations/sqlite/0002-More.sql", 1, "migration file names are NNNN_snake_case.sql")

    def test_missing_migrations_directory(self):
        del self.files[SQM]
        self.assertGenError(SCHEMA, self.t_items, "table t_items is not created by the sqlite migrations")


class SchemaErrors(ProjectTestCase):
    def test_unknown_column_type(self):
        self.edit(SCHEMA, '{ name = "done", type = "bool" }', '{ name = "done", type = "boolean" }')
        self.assertGenError(SCHEMA, self.line(SCHEMA, '"done"'), "table t_items: column done: unknown type 'boolean'")

    def test_unknown_enum(self):
        self.edit(SCHEMA, 'type = "enum:color"', 'type = "enum:colour"')
        self.assertGenError(SCHEMA, self.line(SCHEMA, '"color"'), "unknown enum 'colour'")

    def test_invalid_toml(self):
        self.edit(SCHEMA, 'doc = "A colour."', 'doc = "A colour.')
        msg = self.assertGenError(SCHEMA, self.line(SCHEMA, '"A colour.'), "invalid TOML")
        self.assertNotIn("Traceback", msg)


class ParameterRules(ProjectTestCase):
    def test_text_array_parameter_is_refused(self):
        self.edit(PGQ, "-- param: id i64, label text", "-- param: id i64, label text[]")
        self.assertGenError(PGQ, self.line(PGQ, "label text[]"),
                            "parameter label: array type 'text[]' is not supported (only i64[], json[]")

    def test_now_must_be_a_nullable_timestamp(self):
        for decl in ("now timestamp", "now i64?"):
            with self.subTest(decl=decl):
                self.files = dict(self.files)
                self.edit(SQQ, "-- param: id i64\n", f"-- param: id i64, {decl}\n")
                self.assertGenError(SQQ, self.line(SQQ, decl), "parameter now is the connection's clock")
                self.edit(SQQ, f"-- param: id i64, {decl}\n", "-- param: id i64\n")

    def test_now_is_bound_by_the_accessor(self):
        for rel in (PGQ, SQQ):
            self.edit(rel, "-- param: id i64, label text\nUPDATE t_items\nSET label = @label\nWHERE id = @id;",
                      "-- param: id i64, label text, now timestamp?\nUPDATE t_items\nSET label = @label\n"
                      "WHERE id = @id AND coalesce(@now, 0) >= 0;")
        out = self.build()
        rows_h = out["generated/pgqrs_rows.h"]
        self.assertIn("typedef struct pgqrs_item_rename_params {\n    int64_t id;\n    const char *label;\n}", rows_h)
        for be in ("postgres", "sqlite", "turso"):
            c = out[f"generated/queries_{be}.c"]
            self.assertIn("const bool has_now = pgqrs__conn_now(c, &now_us);", c, be)
            self.assertIn("has_now ? ", c, be)


class StatementErrors(ProjectTestCase):
    TU = "queries/turso/transport.sql"

    def test_turso_needs_the_changes_statement(self):
        del self.files[self.TU]
        self.assertGenError("queries/turso", 1, "backend turso must define '-- statement: changes'")

    def test_unknown_statement(self):
        self.edit(self.TU, "-- statement: changes", "-- statement: rows_changed")
        self.assertGenError(self.TU, 1, "statement rows_changed: the turso transport sends no such statement")

    def test_statement_takes_no_parameters(self):
        self.edit(self.TU, "-- The affected row count", "-- param: x i64\n-- The affected row count")
        self.assertGenError(self.TU, 2, "statement changes: a '-- statement:' takes no '-- param:'")

    def test_statement_is_one_sql_statement(self):
        self.edit(self.TU, "SELECT changes();", "SELECT changes();\nSELECT 1;")
        self.assertGenError(self.TU, self.line(self.TU, "SELECT 1;"), "one SQL statement per '-- statement:'")

    def test_statement_only_where_a_transport_reads_it(self):
        self.files["queries/sqlite/transport.sql"] = self.files[self.TU]
        self.assertGenError("queries/sqlite/transport.sql", 1, "backend sqlite reads no '-- statement:' blocks")

    def test_statement_is_prepared_against_sqlite(self):
        self.edit(self.TU, "SELECT changes();", "SELECT changez();")
        self.assertGenError(self.TU, self.line(self.TU, "changez"), "SQLite cannot prepare it")


PUB, HDR = "schema/public.toml", "include/pgqrs.h"


class PublicMappingErrors(ProjectTestCase):
    def test_fixture_converters(self):
        out = self.build()
        pub = out["generated/pgqrs_public.c"]
        self.assertIn("pgqrs_items *pgqrs__items_from_item_rows(pgqrs_item_row *rows, size_t n)", pub)
        self.assertIn("pgqrs_item_info *pgqrs__item_info_from_item_row(pgqrs_item_row *row)", pub)
        self.assertIn("v->color = pgqrs__color_str(r->color);", pub)
        self.assertIn("v->label = r->label;\n    r->label = NULL;", pub)
        self.assertIn("PGQRS_EXTERN size_t pgqrs_items_count(const pgqrs_items *l)", pub)
        self.assertIn("PGQRS_EXTERN void pgqrs_item_info_free(pgqrs_item_info *v)\n{\n    if (!v)\n        return;", pub)
        py = out["python/pgqrs/_structs.py"]
        self.assertIn("class ItemOptionsC(ctypes.Structure):", py)
        self.assertIn("PGQRS_ITEM_OPTIONS_VERSION = 1", py)

    def test_unknown_row(self):
        self.edit(PUB, "[convert.pgqrs_item_info.item]", "[convert.pgqrs_item_info.itme]")
        self.assertGenError(PUB, self.line(PUB, ".itme]"), "convert.pgqrs_item_info.itme: unknown row 'itme'")

    def test_unknown_column(self):
        self.edit(PUB, 'label = "label"', 'label = "lable"')
        self.assertGenError(PUB, self.line(PUB, '"lable"'), "pgqrs_item_info.label: pgqrs_item_row has no column 'lable'")

    def test_type_mismatch(self):
        self.edit(PUB, 'done = "done"', 'done = "label"')
        self.assertGenError(PUB, self.line(PUB, 'done = "label"'),
                            "pgqrs_item_info.done: type mismatch: the field is int, column label is text")

    def test_string_into_an_integer(self):
        self.edit(PUB, 'id = "id"', "id = '\"seven\"'")
        self.assertGenError(PUB, self.line(PUB, "seven"), "pgqrs_item_info.id: a string constant needs a const char * field")

    def test_age_of_a_column_that_is_not_a_timestamp(self):
        self.edit(PUB, 'id = "id"', 'id = "age(id)"')
        self.assertGenError(PUB, self.line(PUB, "age(id)"), "age() of id, which is i64, not a timestamp")

    def test_unknown_source_expression(self):
        self.edit(PUB, 'id = "id"', 'id = "id + 1"')
        self.assertGenError(PUB, self.line(PUB, "id + 1"), "pgqrs_item_info.id: unknown source 'id + 1'")

    def test_field_without_a_source(self):
        self.edit(PUB, 'done = "done"\n', "")
        self.assertGenError(PUB, self.line(PUB, "[convert.pgqrs_item_info.item]"),
                            f"convert.pgqrs_item_info.item: no source for field 'done' ({HDR}:{self.line(HDR, 'int done;')})")

    def test_field_added_to_the_header_but_not_to_the_mapping(self):
        self.edit(HDR, "    int done;\n", "    int done;\n    int64_t extra;\n")
        self.assertGenError(PUB, self.line(PUB, "[convert.pgqrs_item_info.item]"), "no source for field 'extra'")

    def test_source_for_a_field_the_struct_lacks(self):
        self.edit(PUB, 'done = "done"\n', 'done = "done"\nextra = "id"\n')
        self.assertGenError(PUB, self.line(PUB, "extra ="), f"pgqrs_item_info has no field 'extra' in {HDR}")

    def test_unknown_struct(self):
        self.edit(PUB, 'pgqrs_items = "pgqrs_item_info"', 'pgqrs_items = "pgqrs_thing"')
        self.assertGenError(PUB, self.line(PUB, "pgqrs_thing"), f"list pgqrs_items: 'pgqrs_thing' is not a struct of {HDR}")

    def test_list_accessor_not_declared(self):
        self.edit(HDR, "PGQRS_EXTERN const pgqrs_item_info *pgqrs_items_at(const pgqrs_items *l, size_t i);\n", "")
        self.assertGenError(PUB, self.line(PUB, "pgqrs_items ="), f"list pgqrs_items: {HDR} does not declare pgqrs_items_at")

    def test_single_free_not_declared(self):
        self.edit(HDR, "PGQRS_EXTERN void pgqrs_item_info_free(pgqrs_item_info *info);\n", "")
        self.assertGenError(PUB, self.line(PUB, "single ="), f"does not declare pgqrs_item_info_free")

    def test_converter_nobody_uses(self):
        self.edit(PUB, 'single = ["pgqrs_item_info"]\n', "")
        self.edit(PUB, 'pgqrs_items = "pgqrs_item_info"\n', "")
        self.assertGenError(PUB, self.line(PUB, "[convert.pgqrs_item_info.item]"), "nothing would use this converter")

    def test_owned_and_static_in_one_field(self):
        self.files[PUB] += ('\n[convert.pgqrs_item_info.item_labels]\nid = "id"\nlabel = \'"x"\'\ncolor = "0"\n'
                            'meta = "0"\ndone = "0"\n')
        self.assertGenError(PUB, self.line(PUB, "label = '\"x\"'"), "pgqrs_item_info.label: a static string here")

    def test_unknown_top_level_key(self):
        self.files[PUB] = "singles = []\n" + self.files[PUB]
        self.assertGenError(PUB, 1, "unknown key 'singles'")

    def test_invalid_toml(self):
        self.edit(PUB, 'id = "id"', 'id = "id')
        self.assertGenError(PUB, self.line(PUB, 'id = "id'), "invalid TOML")

    def test_missing_mapping(self):
        del self.files[PUB]
        self.assertGenError(PUB, 1, "the mapping of the public structs is missing")


class PublicHeaderErrors(ProjectTestCase):
    def test_field_type_a_binding_cannot_mirror(self):
        self.edit(HDR, "    int64_t limit;\n", "    int64_t limit;\n    int *count;\n")
        self.assertGenError(HDR, self.line(HDR, "int *count;"), "struct pgqrs_item_options.count: pointer to int: "
                            "only const char * is allowed")

    def test_field_of_unknown_type(self):
        self.edit(HDR, "    int64_t limit;\n", "    int64_t limit;\n    long legacy;\n")
        self.assertGenError(HDR, self.line(HDR, "long legacy;"), "field 'long legacy': a binding cannot mirror it")

    def test_nested_struct_defined_later(self):
        self.edit(HDR, "    int64_t limit;\n", "    int64_t limit;\n    pgqrs_later later;\n")
        self.assertGenError(HDR, self.line(HDR, "pgqrs_later later;"), "pgqrs_later is not a struct defined above it")

    def test_multi_line_comment_keeps_line_numbers(self):
        self.edit(HDR, "    int64_t limit;\n", "    int64_t limit;   /* one\n                    * two */\n    float f;\n")
        self.assertGenError(HDR, self.line(HDR, "float f;"), "field 'float f'")

    def test_missing_header(self):
        del self.files[HDR]
        self.assertGenError(HDR, 1, "the public header is missing")


class MainReportsErrors(ProjectTestCase):
    def test_main_prints_the_error_and_returns_2(self):
        self.edit(SQQ, "-- name: item_labels :many", "-- name: item_labels :some")
        root = self.new_root()
        status, out, err = run_main(["--root", root])
        self.assertEqual(status, 2)
        self.assertEqual(err, f"{SQQ}:{self.line(SQQ, ':some')}: unknown cardinality ':some' "
                              "(expected one of :one, :many, :exec, :execrows)\n")
        self.assertFalse(os.path.exists(os.path.join(root, "generated")))


TUQ = "queries/turso/items.sql"
TURSO_RENAME = """\
-- name: item_rename :execrows
-- param: id i64, label text
UPDATE t_items SET label = @label WHERE id = @id AND 1 = 1;
"""


class TursoOverrides(ProjectTestCase):
    def test_turso_inherits_sqlite(self):
        out = self.build()
        tu = out["generated/queries_turso.c"]
        self.assertIn("static pgqrs_status tu_item_rename(", tu)
        self.assertIn("queries/sqlite/items.sql", tu)
        self.assertIn("st = pgqrs__tu_stmt(&call, STMT_CHANGES, 0);", tu)   # :execrows asks changes() in the batch
        self.assertIn('static const char STMT_CHANGES[] = "SELECT changes()";', tu)

    def test_override_replaces_by_name(self):
        self.files[TUQ] = TURSO_RENAME
        out = self.build()
        tu = out["generated/queries_turso.c"]
        self.assertIn("AND 1 = 1", tu)
        self.assertNotIn("AND 1 = 1", out["generated/queries_sqlite.c"])
        self.assertIn("queries/turso/items.sql", out["generated/pgqrs_queries.h"])

    def test_override_of_unknown_query(self):
        self.files[TUQ] = TURSO_RENAME.replace("item_rename", "item_nope")
        self.assertGenError(TUQ, 1, "query 'item_nope' overrides nothing")

    def test_override_keeps_the_interface(self):
        self.files[TUQ] = TURSO_RENAME.replace("-- param: id i64, label text", "-- param: id i32, label text")
        self.assertGenError(TUQ, 1, "item_rename: parameters differ")

    def test_override_is_prepared_against_sqlite(self):
        self.files[TUQ] = TURSO_RENAME.replace("UPDATE t_items", "UPDATE t_nope")
        self.assertGenError(TUQ, 3, "SQLite cannot prepare it")


if __name__ == "__main__":
    unittest.main()
