"""Generated output of a fixed project, byte for byte, and its determinism."""

import difflib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import pgqrs_gen
from tests.support import CODEGEN_DIR, GOLDEN_EXPECTED, GOLDEN_INPUT, read_tree

REGEN = "python3 codegen/tests/regen_golden.py"


class GoldenOutput(unittest.TestCase):
    def test_output_matches_expected_byte_for_byte(self):
        got = {rel: text.encode("utf-8") for rel, text in pgqrs_gen.build(GOLDEN_INPUT).items()}
        want = {}
        for rel in read_tree(GOLDEN_EXPECTED):
            with open(os.path.join(GOLDEN_EXPECTED, rel), "rb") as f:
                want[rel] = f.read()
        self.assertEqual(sorted(got), sorted(want),
                         f"generated file set differs from codegen/tests/golden/expected/ (intended? run `{REGEN}`)")
        for rel in sorted(got):
            if got[rel] == want[rel]:
                continue
            diff = difflib.unified_diff(want[rel].decode("utf-8", "replace").splitlines(),
                                        got[rel].decode("utf-8").splitlines(),
                                        f"expected/{rel}", f"fresh/{rel}", lineterm="", n=2)
            shown = "\n".join(list(diff)[:80])
            self.fail(f"{rel} differs from codegen/tests/golden/expected/{rel} "
                      f"(intended? run `{REGEN}` and review):\n{shown}")

    def test_golden_input_exercises_every_shape(self):
        # keeps the golden project meaningful if someone trims it
        files = pgqrs_gen.build(GOLDEN_INPUT)
        rows_h, pg = files["generated/pgqrs_rows.h"], files["generated/queries_postgres.c"]
        sq = files["generated/queries_sqlite.c"]
        self.assertIn("typedef struct pgqrs_job_row", rows_h)              # table row
        self.assertIn("typedef struct pgqrs_job_summary_row", rows_h)      # ad hoc struct
        self.assertIn("typedef struct pgqrs_job_max_owner_row", rows_h)    # nullable single column
        self.assertIn("typedef struct pgqrs_job_clear_owner_params", rows_h)
        self.assertIn("PGQRS_DB_JOB_STATE_RUNNING", rows_h)
        self.assertIn("pgqrs__enc_i64_pgarray", pg)
        self.assertIn("pgqrs__enc_json_array", pg)
        self.assertIn("SQL_JOB_PURGE_OWNER_2", sq)                          # two SQLite statements
        self.assertIn("pgqrs__sq_write_begin", sq)
        self.assertIn("static pgqrs_status pg_job_count(int64_t *out", pg)  # scalar result
        # `now` is bound by the accessor: not in any params struct or signature
        self.assertNotIn("has_now;", rows_h)
        self.assertIn("pg_job_summary(pgqrs_job_summary_row **rows_out, size_t *n_out, pgqrs_conn *c, "
                      "const int64_t *ids, size_t ids_len)", pg)
        self.assertIn("const bool has_now = pgqrs__conn_now(c, &now_us);", sq)
        self.assertIn("STMT_CHANGES", files["generated/queries_turso.c"])
        pub, py = files["generated/pgqrs_public.c"], files["python/pgqrs/_structs.py"]
        self.assertIn("v->state = pgqrs__job_state_str(r->state);", pub)          # enum
        self.assertIn("r->payload = NULL;", pub)                                  # moved string
        self.assertIn("v->owner_id = r->has_owner_id ? r->owner_id : 0;", pub)    # nullable
        self.assertIn('v->kind = "job";', pub)                                    # constant
        self.assertIn("now_us > r->run_at_us ? now_us - r->run_at_us : 0;", pub)  # age()
        self.assertIn("pgqrs__summaries_from_job_summary_rows", pub)              # ad hoc row
        self.assertIn("PGQRS_EXTERN void pgqrs_job_info_free(", pub)              # single
        self.assertIn('("retry", JobRetryC),', py)                                # nested struct
        self.assertIn('("counts", ctypes.c_int64 * 4),', py)                      # array
        self.assertIn('("high", ctypes.c_int64),', py)                            # a, b on one line
        self.assertIn("PGQRS_JOB_OPTIONS_VERSION = 2", py)


class Determinism(unittest.TestCase):
    def test_two_runs_give_identical_output(self):
        self.assertEqual(pgqrs_gen.build(GOLDEN_INPUT), pgqrs_gen.build(GOLDEN_INPUT))

    def test_output_does_not_depend_on_location_or_hash_seed(self):
        tmp = tempfile.mkdtemp(prefix="pgqrs-codegen-det-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        outs = []
        for i, seed in enumerate(("1", "2")):
            root = os.path.join(tmp, f"copy{i}", "nested" * i)
            shutil.copytree(GOLDEN_INPUT, root)
            env = dict(os.environ, PYTHONHASHSEED=seed)
            subprocess.run([sys.executable, os.path.join(CODEGEN_DIR, "pgqrs_gen.py"), "--root", root],
                           check=True, env=env, stdout=subprocess.DEVNULL)
            outs.append(read_tree(os.path.join(root, "generated")))
        self.assertEqual(len(outs[0]), 8)
        self.assertEqual(outs[0], outs[1])


if __name__ == "__main__":
    unittest.main()
