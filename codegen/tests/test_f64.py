"""The f64 logical type (a C double): columns, parameters and public fields."""

from tests.support import ProjectTestCase


class F64(ProjectTestCase):
    def setUp(self):
        super().setUp()
        self.edit("schema/pgqrs.toml", '[types.text]', '[types.f64]\npostgres = "double precision"\nsqlite = "REAL"\n[types.text]')
        self.edit("schema/pgqrs.toml", '  { name = "done", type = "bool" },\n',
                  '  { name = "done", type = "bool" },\n  { name = "weight", type = "f64" },\n')
        self.edit("migrations/postgres/0001_init.sql", "done  boolean NOT NULL DEFAULT false\n",
                  "done  boolean NOT NULL DEFAULT false,\n    weight double precision NOT NULL DEFAULT 1\n")
        self.edit("migrations/sqlite/0001_init.sql", "done  INTEGER NOT NULL DEFAULT 0\n",
                  "done  INTEGER NOT NULL DEFAULT 0,\n    weight REAL NOT NULL DEFAULT 1\n")
        for be in ("postgres", "sqlite"):
            rel = f"queries/{be}/items.sql"
            self.edit(rel, "SELECT i.id, i.label, i.color, i.meta, i.done\n", "SELECT i.id, i.label, i.color, i.meta, i.done, i.weight\n")
            self.files[rel] += ("\n-- name: item_weigh :execrows\n-- param: id i64, weight f64\n"
                                "UPDATE t_items SET weight = @weight WHERE id = @id;\n")
        self.edit("include/pgqrs.h", "    int done;\n} pgqrs_item_info;", "    int done;\n    double weight;\n} pgqrs_item_info;")
        self.edit("schema/public.toml", 'done = "done"\n', 'done = "done"\nweight = "weight"\n')

    def test_generated_code(self):
        out = self.build()
        rows = out["generated/pgqrs_rows.h"]
        self.assertIn("    double weight;", rows)
        pg, sq, tu = (out[f"generated/queries_{be}.c"] for be in ("postgres", "sqlite", "turso"))
        self.assertIn("pgqrs__pg_get_f64(&row->weight, NULL,", pg)
        self.assertIn("pgqrs__pg_f64(b_weight, p->weight)", pg)
        self.assertIn("char b_weight[PGQRS__PG_F64_LEN];", pg)
        self.assertIn("pgqrs__sq_get_f64(&row->weight, NULL,", sq)
        self.assertIn("pgqrs__sq_bind_f64(c, stmt, 2, p->weight)", sq)
        self.assertIn("pgqrs__tu_get_f64(&row->weight, NULL,", tu)
        self.assertIn("pgqrs__tu_arg_f64(&call, 2, p->weight)", tu)
        self.assertIn("weight", out["generated/pgqrs_public.c"])
        self.assertIn('("weight", ctypes.c_double)', out["python/pgqrs/_structs.py"])

    def test_a_double_field_takes_only_f64(self):
        self.edit("schema/public.toml", 'weight = "weight"\n', 'weight = "id"\n')
        self.assertGenError("schema/public.toml", self.line("schema/public.toml", 'weight = "id"'), "type mismatch")
