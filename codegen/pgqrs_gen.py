#!/usr/bin/env python3
"""pgqrs code generator: schema/ + queries/<backend>/ + migrations/<backend>/ + include/pgqrs.h
-> generated/ and python/pgqrs/_structs.py.

    python3 codegen/pgqrs_gen.py            write generated/ and python/pgqrs/_structs.py
    python3 codegen/pgqrs_gen.py --check    exit 1 if any of them differs from a fresh run
    python3 codegen/pgqrs_gen.py --root DIR --out DIR

Errors are printed as 'path:line: message' and exit with status 2. Python stdlib only.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgqrs_codegen import check, emit_c, emit_public, model, public  # noqa: E402

BACKENDS = ("postgres", "sqlite")
# Backends that speak another's SQL dialect: every query of the base backend, with
# queries/<backend>/*.sql replacing some of them by name (the same interface check
# applies). turso: the SQLite dialect sent over Hrana (HTTP) to a Turso/libSQL server.
DERIVED = {"turso": "sqlite"}
EMITTED = BACKENDS + tuple(DERIVED)
BOOTSTRAP = "schema_version_ensure"
# '-- statement:' blocks a backend's transport needs (queries/<backend>/*.sql), and
# what for. turso: servers need not report affected_row_count (tursodb says 0), so
# every :execrows request asks changes() in the same batch.
TRANSPORT_STATEMENTS = {"turso": ("changes",)}


def build(root):
    """Returns {relative output path: text}. Raises model.GenError."""
    schema = model.load_schema(root)
    by_backend = {}
    for be in BACKENDS:
        queries = model.load_queries(root, be, schema)
        for q in queries:
            model.placeholders(q, "$" if be == "postgres" else "?")
        by_backend[be] = queries
    overrides = {}
    statements = {be: {} for be in TRANSPORT_STATEMENTS}
    for be, base in DERIVED.items():
        queries = model.load_queries(root, be, schema, override_of=by_backend[base], statements=statements.get(be))
        overrides[be] = [q for q in queries if q.backend == be]
        for q in overrides[be]:
            model.placeholders(q, "$" if base == "postgres" else "?")
        by_backend[be] = queries
    check.check_backends(by_backend)
    for be, names in TRANSPORT_STATEMENTS.items():
        for st in statements[be].values():
            if st.name not in names:
                raise model.GenError(st.path, st.line, f"statement {st.name}: the {be} transport sends no such statement "
                                                       f"(it sends: {', '.join(names)})")
            model.placeholders(st, "?")
        for name in names:
            if name not in statements[be]:
                raise model.GenError(f"queries/{be}", 1, f"backend {be} must define '-- statement: {name}'")
    migrations = {be: model.load_migrations(root, be) for be in BACKENDS}
    for be, base in DERIVED.items():
        migrations[be] = migrations[base]

    sq = {q.name: q for q in by_backend["sqlite"]}
    if BOOTSTRAP not in sq:
        raise model.GenError("queries/sqlite", 1, f"backend sqlite must define '{BOOTSTRAP}'")
    bootstrap = sq[BOOTSTRAP].statements[0].sql
    check.check_sqlite_schema(schema, migrations["sqlite"], bootstrap)
    probe = check.SqliteProbe(migrations["sqlite"], bootstrap)
    try:
        check.check_sqlite_queries(probe, by_backend["sqlite"])
        check.check_sqlite_queries(probe, overrides["turso"])
        check.check_sqlite_queries(probe, list(statements["turso"].values()))
    finally:
        probe.close()

    ref = by_backend["postgres"]
    ref_order = [q.name for q in ref]
    locations = {q.name: [] for q in ref}
    for be in EMITTED:
        for q in by_backend[be]:
            if not any(q is seen for seen in locations[q.name]):
                locations[q.name].append(q)

    def files_of(be):
        return sorted({q.path for q in by_backend[be]})

    schema_src = [schema.path]
    all_query_src = files_of("postgres") + files_of("sqlite") + sorted({q.path for q in overrides["turso"]})
    shapes = emit_c.row_shapes(schema, ref)
    header = public.load_header(root)
    mapping = public.load_mapping(root, header, {base: (struct, cols) for struct, base, cols, _ in shapes})
    out = {}
    rows_h, rows_c = emit_c.emit_rows(schema, ref, schema_src + files_of("postgres"))
    out["generated/pgqrs_rows.h"] = rows_h
    out["generated/pgqrs_rows.c"] = rows_c
    out["generated/pgqrs_queries.h"] = emit_c.emit_interface(schema, ref, locations, schema_src + all_query_src)
    for be in EMITTED:
        transport = {st.path for st in statements.get(be, {}).values()}
        srcs = schema_src + sorted(set(files_of(be)) | transport) + [m.path for m in migrations[be]]
        out[f"generated/queries_{be}.c"] = emit_c.emit_backend(be, schema, by_backend[be], ref_order, migrations[be], srcs,
                                                               statements.get(be))
    pub_h, pub_c = emit_public.emit_public_c(mapping, [header.path, mapping.path] + schema_src + files_of("postgres"))
    out["generated/pgqrs_public.h"] = pub_h
    out["generated/pgqrs_public.c"] = pub_c
    out[emit_public.PY_OUT] = emit_public.emit_structs_py(header, [header.path])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=None, help="output root (default: --root)")
    ap.add_argument("--check", action="store_true", help="fail if generated/ is stale")
    args = ap.parse_args(argv)
    try:
        files = build(args.root)
    except model.GenError as e:
        print(str(e), file=sys.stderr)
        return 2
    out_root = args.out or args.root
    if args.check:
        stale = []
        gen_dir = os.path.join(out_root, "generated")
        present = set()
        if os.path.isdir(gen_dir):
            present = {f"generated/{f}" for f in os.listdir(gen_dir) if f.endswith((".c", ".h"))}
        for rel, text in sorted(files.items()):
            path = os.path.join(out_root, rel)
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(rel)
            except FileNotFoundError:
                stale.append(rel)
        stale += sorted(present - set(files))
        if stale:
            for rel in stale:
                print(f"{rel}: stale (run `make generate`)", file=sys.stderr)
            return 1
        print(f"generated/ and {emit_public.PY_OUT} are up to date ({len(files)} files)")
        return 0
    for rel, text in sorted(files.items()):
        path = os.path.join(out_root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
