"""Shared helpers: a tiny but complete fake project root, written to a temp dir,
that each test copies and breaks in one place."""

import contextlib
import io
import os
import shutil
import tempfile
import unittest

import pgqrs_gen
from pgqrs_codegen import model

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
CODEGEN_DIR = os.path.dirname(TESTS_DIR)
REPO_ROOT = os.path.dirname(CODEGEN_DIR)
GOLDEN_INPUT = os.path.join(TESTS_DIR, "golden", "input")
GOLDEN_EXPECTED = os.path.join(TESTS_DIR, "golden", "expected")

SCHEMA = """\
[types.i64]
postgres = "bigint"
sqlite = "INTEGER"
[types.i32]
postgres = "integer"
sqlite = "INTEGER"
[types.text]
postgres = "text"
sqlite = "TEXT"
[types.json]
postgres = "jsonb"
sqlite = "TEXT"
[types.timestamp]
postgres = "timestamp with time zone"
sqlite = "INTEGER"
[types.bool]
postgres = "boolean"
sqlite = "INTEGER"
[types.enum]
postgres = "text"
sqlite = "TEXT"

[enums.color]
doc = "A colour."
values = ["red", "green"]

[tables.t_version]
row = "version"
doc = "Applied migrations."
columns = [
  { name = "version", type = "i32" },
  { name = "applied_at", type = "timestamp" },
]

[tables.t_items]
row = "item"
doc = "Things."
columns = [
  { name = "id", type = "i64" },
  { name = "label", type = "text" },
  { name = "color", type = "enum:color" },
  { name = "meta", type = "json", nullable = true },
  { name = "done", type = "bool" },
]
"""

PG_MIGRATION = """\
CREATE TABLE t_items (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label text NOT NULL,
    color text NOT NULL,
    meta  jsonb,
    done  boolean NOT NULL DEFAULT false
);
"""

SQLITE_MIGRATION = """\
CREATE TABLE t_items (
    id    INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    color TEXT NOT NULL,
    meta  TEXT,
    done  INTEGER NOT NULL DEFAULT 0
);
"""

BASE_QUERIES = """\
-- Transactions, session and bootstrap.

-- name: tx_begin :exec
BEGIN;

-- name: tx_commit :exec
COMMIT;

-- name: tx_rollback :exec
ROLLBACK;

-- name: session_setup :exec
SELECT 1;

-- name: schema_version_ensure :exec
CREATE TABLE IF NOT EXISTS t_version (
    version    {int} PRIMARY KEY,
    applied_at {ts} NOT NULL
);
"""

ITEM_QUERIES = """\
-- name: item_get :one
-- Looks one item up.
-- param: id i64
-- returns: t_items.*
SELECT i.id, i.label, i.color, i.meta, i.done
FROM t_items AS i
WHERE i.id = @id;

-- name: item_labels :many
-- param: color enum:color
-- returns: t_items.id, t_items.label text
SELECT id, label
FROM t_items
WHERE color = @color
ORDER BY id;

-- name: item_rename :execrows
-- param: id i64, label text
UPDATE t_items
SET label = @label
WHERE id = @id;
"""

TURSO_TRANSPORT = """\
-- statement: changes
-- The affected row count, asked in the same batch.
SELECT changes();
"""

HEADER = """\
/* The fixture's public header: the structs python/pgqrs/_structs.py mirrors. */
#include <stddef.h>
#include <stdint.h>

typedef struct pgqrs_items pgqrs_items;

typedef struct pgqrs_item_info {   /* handed out: filled from t_items */
    int64_t id;
    const char *label;            /* moved out of the row */
    const char *color;            /* static */
    const char *meta;             /* JSON or NULL */
    int done;
} pgqrs_item_info;
PGQRS_EXTERN size_t pgqrs_items_count(const pgqrs_items *l);
PGQRS_EXTERN const pgqrs_item_info *pgqrs_items_at(const pgqrs_items *l, size_t i);
PGQRS_EXTERN void pgqrs_items_free(pgqrs_items *l);
PGQRS_EXTERN void pgqrs_item_info_free(pgqrs_item_info *info);

typedef struct pgqrs_item_options {
    unsigned int version;        /* PGQRS_ITEM_OPTIONS_VERSION */
    int64_t limit;
} pgqrs_item_options;
#define PGQRS_ITEM_OPTIONS_VERSION 1
"""

MAPPING = """\
single = ["pgqrs_item_info"]

[lists]
pgqrs_items = "pgqrs_item_info"

[convert.pgqrs_item_info.item]
id = "id"
label = "label"
color = "color"
meta = "meta"
done = "done"
"""

FILES = {
    "schema/pgqrs.toml": SCHEMA,
    "schema/public.toml": MAPPING,
    "include/pgqrs.h": HEADER,
    "queries/turso/transport.sql": TURSO_TRANSPORT,
    "migrations/postgres/0001_init.sql": PG_MIGRATION,
    "migrations/sqlite/0001_init.sql": SQLITE_MIGRATION,
    "queries/postgres/base.sql": BASE_QUERIES.format(int="integer", ts="timestamp with time zone"),
    "queries/sqlite/base.sql": BASE_QUERIES.format(int="INTEGER", ts="INTEGER"),
    "queries/postgres/items.sql": ITEM_QUERIES,
    "queries/sqlite/items.sql": ITEM_QUERIES,
}


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)


def read_tree(root):
    """{relative path: text} of every file under root."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            with open(path, encoding="utf-8", newline="") as f:
                out[os.path.relpath(path, root).replace(os.sep, "/")] = f.read()
    return out


def line_of(text, needle):
    """1-based line of the one line of text that contains needle."""
    hits = [i for i, l in enumerate(text.split("\n"), 1) if needle in l]
    if len(hits) != 1:
        raise AssertionError(f"{needle!r} is on lines {hits} of the fixture, expected exactly one")
    return hits[0]


class ProjectTestCase(unittest.TestCase):
    """Each test gets self.files (a fresh copy of FILES) and a temp dir."""

    def setUp(self):
        self.files = dict(FILES)
        self.tmp = tempfile.mkdtemp(prefix="pgqrs-codegen-test-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self._n = 0

    def new_root(self, files=None):
        self._n += 1
        root = os.path.join(self.tmp, f"p{self._n}")
        write_tree(root, self.files if files is None else files)
        return root

    def edit(self, rel, old, new):
        text = self.files[rel]
        self.assertEqual(text.count(old), 1, f"{old!r} must occur once in {rel}")
        self.files[rel] = text.replace(old, new)

    def line(self, rel, needle):
        return line_of(self.files[rel], needle)

    def build(self):
        return pgqrs_gen.build(self.new_root())

    def assertGenError(self, rel, line, fragment):
        """build() fails with 'rel:line: ...fragment...'."""
        with self.assertRaises(model.GenError) as cm:
            self.build()
        msg = str(cm.exception)
        prefix = f"{rel}:{line}: "
        self.assertTrue(msg.startswith(prefix), f"expected prefix {prefix!r}, got {msg!r}")
        self.assertIn(fragment, msg[len(prefix):])
        return msg


def run_main(argv):
    """pgqrs_gen.main(argv) -> (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = pgqrs_gen.main(argv)
    return status, out.getvalue(), err.getvalue()
