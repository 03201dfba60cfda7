"""pgqrs_gen.main(): writing generated/ and --check."""

import os
import unittest

from tests.support import ProjectTestCase, read_tree, run_main


class CheckMode(ProjectTestCase):
    def generate(self):
        root = self.new_root()
        status, out, err = run_main(["--root", root])
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out.count("wrote generated/"), 8)
        self.assertEqual(out.count("wrote python/pgqrs/_structs.py"), 1)
        return root

    def check(self, root):
        return run_main(["--root", root, "--check"])

    def test_fresh_output_passes(self):
        root = self.generate()
        status, out, err = self.check(root)
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "generated/ and python/pgqrs/_structs.py are up to date (9 files)\n")

    def test_second_write_changes_nothing(self):
        root = self.generate()
        before = read_tree(os.path.join(root, "generated"))
        status, out, _ = run_main(["--root", root])
        self.assertEqual((status, out), (0, ""))
        self.assertEqual(read_tree(os.path.join(root, "generated")), before)

    def test_stale_file_fails(self):
        root = self.generate()
        with open(os.path.join(root, "generated", "queries_sqlite.c"), "a", encoding="utf-8") as f:
            f.write("/* edited by hand */\n")
        status, _, err = self.check(root)
        self.assertEqual(status, 1)
        self.assertEqual(err, "generated/queries_sqlite.c: stale (run `make generate`)\n")

    def test_stale_after_input_change_fails(self):
        root = self.generate()
        path = os.path.join(root, "queries", "postgres", "items.sql")
        with open(path, "a", encoding="utf-8") as f:
            f.write("\n-- name: item_purge :exec\nDELETE FROM t_items;\n")
        with open(os.path.join(root, "queries", "sqlite", "items.sql"), "a", encoding="utf-8") as f:
            f.write("\n-- name: item_purge :exec\nDELETE FROM t_items;\n")
        status, _, err = self.check(root)
        self.assertEqual(status, 1)
        self.assertIn("generated/queries_postgres.c: stale", err)
        self.assertIn("generated/pgqrs_queries.h: stale", err)

    def test_missing_file_fails(self):
        root = self.generate()
        os.remove(os.path.join(root, "generated", "pgqrs_rows.h"))
        status, _, err = self.check(root)
        self.assertEqual(status, 1)
        self.assertEqual(err, "generated/pgqrs_rows.h: stale (run `make generate`)\n")

    def test_missing_directory_fails(self):
        status, _, err = self.check(self.new_root())
        self.assertEqual(status, 1)
        self.assertEqual(err.count(": stale"), 9)

    def test_leftover_file_fails(self):
        root = self.generate()
        with open(os.path.join(root, "generated", "queries_mysql.c"), "w", encoding="utf-8") as f:
            f.write("/* from a backend that is gone */\n")
        status, _, err = self.check(root)
        self.assertEqual(status, 1)
        self.assertEqual(err, "generated/queries_mysql.c: stale (run `make generate`)\n")

    def test_out_directory(self):
        root, out_root = self.new_root(), os.path.join(self.tmp, "elsewhere")
        self.assertEqual(run_main(["--root", root, "--out", out_root])[0], 0)
        self.assertFalse(os.path.exists(os.path.join(root, "generated")))
        self.assertEqual(run_main(["--root", root, "--out", out_root, "--check"])[0], 0)
        self.assertEqual(run_main(["--root", root, "--check"])[0], 1)


if __name__ == "__main__":
    unittest.main()
