"""Emits the public side from include/pgqrs.h and schema/public.toml:
generated/pgqrs_public.{h,c} (row -> public struct converters, the list handles'
_count/_at/_free, the handed-out structs' _free) and python/pgqrs/_structs.py
(a ctypes mirror of every struct of the header). Pure functions of their inputs."""

from .emit_c import GENERATOR, field_name, header
from .public import C_TYPES, OWNED_TYPES, base_name

PY_OUT = "python/pgqrs/_structs.py"


def fill_name(c):
    return f"fill_{base_name(c.struct.name)}_from_{c.row}"


def clear_name(struct_name):
    return f"{base_name(struct_name)}_clear"


def list_converter(l, c):
    return f"pgqrs__{base_name(l.name)}_from_{c.row}_rows"


def single_converter(c):
    return f"pgqrs__{base_name(c.struct.name)}_from_{c.row}_row"


def row_struct(c):
    return f"pgqrs_{c.row}_row"


def now_arg(c):
    return ", int64_t now_us" if c.needs_now else ""


def _assign(f, src):
    """The statements that fill field f of `v` from row `r`."""
    dst = f"v->{f.name}"
    if src.kind == "zero":
        return [f"{dst} = {'NULL' if f.ctype == 'const char *' else '0'};"]
    if src.kind == "string":
        return [f"{dst} = {src.literal};"]
    col = src.column
    fn = field_name(col.name, col.type)
    if src.kind == "age":
        if col.nullable:
            return [f"{dst} = r->has_{col.name} && now_us > r->{fn} ? now_us - r->{fn} : 0;"]
        return [f"{dst} = now_us > r->{fn} ? now_us - r->{fn} : 0;"]
    if col.type in OWNED_TYPES:
        return [f"{dst} = r->{fn};", f"r->{fn} = NULL;"]
    if col.type.startswith("enum:"):
        e = col.type[5:]
        if col.nullable:
            return [f"{dst} = r->has_{col.name} ? pgqrs__{e}_str(r->{fn}) : NULL;"]
        return [f"{dst} = pgqrs__{e}_str(r->{fn});"]
    if col.nullable:
        return [f"{dst} = r->has_{col.name} ? r->{fn} : 0;"]
    return [f"{dst} = r->{fn};"]


def emit_public_c(pub, sources):
    h, c = [header(sources)], [header(sources)]
    h.append("#ifndef PGQRS_GENERATED_PUBLIC_H\n#define PGQRS_GENERATED_PUBLIC_H\n")
    h.append("#include <stddef.h>\n#include <stdint.h>\n")
    h.append('#include "pgqrs.h"\n#include "pgqrs_rows.h"\n')
    h.append("/* Converters from generated rows to the public structs of include/pgqrs.h, as")
    h.append(f" * {pub.path} maps them. Each takes ownership of the rows' strings: the rows")
    h.append(" * are cleared (and an array of them freed) whatever happens. A list converter")
    h.append(" * returns the list handle, a single one the struct (freed with its public _free);")
    h.append(" * NULL only when out of memory. now_us: the instant ages are computed against. */")
    c.append('#include "pgqrs_public.h"\n\n#include "base/alloc.h"\n#include "queue/lists.h"\n')

    c.append("/* The list handles: one generic list (queue/lists.h) of one public struct each. */")
    for l in pub.lists:
        c.append(f"struct {l.name} {{ pgqrs__list l; }};   /* {l.item.name} */")
    c.append("")

    for name, fields in pub.owned.items():
        if not fields:
            continue
        c.append(f"/* Frees the strings a {name} owns ({', '.join(fields)}). */")
        c.append(f"static void {clear_name(name)}(void *item)\n{{")
        c.append(f"    {name} *v = item;")
        for fname in fields:
            c.append(f"    pgqrs__free((char *)v->{fname});")
        c.append("}\n")

    for cv in pub.converts:
        c.append(f"/* {cv.struct.name} from {row_struct(cv)} ({pub.path}:{cv.line}). */")
        c.append(f"static void {fill_name(cv)}({cv.struct.name} *v, {row_struct(cv)} *r{now_arg(cv)})\n{{")
        for f, src in cv.fields:
            for line in _assign(f, src):
                c.append("    " + line)
        c.append("}\n")

    for l in pub.lists:
        item = l.item.name
        clear = clear_name(item) if pub.owned.get(item) else "NULL"
        for cv in (x for x in pub.converts if x.struct.name == item):
            fn = list_converter(l, cv)
            sig = f"{l.name} *{fn}({row_struct(cv)} *rows, size_t n{now_arg(cv)})"
            h.append(f"/* {l.name} of {item} from {row_struct(cv)} ({pub.path}:{cv.line}). */")
            h.append(sig + ";")
            c.append(sig + "\n{")
            c.append(f"    {l.name} *l = pgqrs__list_new(n, sizeof({item}), {clear});")
            c.append("    for (size_t i = 0; l && i < n; i++)")
            now = ", now_us" if cv.needs_now else ""
            c.append(f"        {fill_name(cv)}(({item} *)l->l.items + i, &rows[i]{now});")
            c.append(f"    pgqrs__{cv.row}_rows_free(rows, n);")
            c.append("    return l;\n}\n")
        c.append(f"PGQRS_EXTERN size_t {l.name}_count(const {l.name} *l) {{ return pgqrs__list_count(l); }}\n")
        c.append(f"PGQRS_EXTERN const {item} *{l.name}_at(const {l.name} *l, size_t i) {{ return pgqrs__list_at(l, i); }}\n")
        c.append(f"PGQRS_EXTERN void {l.name}_free({l.name} *l) {{ pgqrs__list_free(l); }}\n")

    for s in pub.singles:
        for cv in (x for x in pub.converts if x.struct.name == s.name):
            fn = single_converter(cv)
            sig = f"{s.name} *{fn}({row_struct(cv)} *row{now_arg(cv)})"
            h.append(f"/* One {s.name} from a {row_struct(cv)} ({pub.path}:{cv.line}). */")
            h.append(sig + ";")
            c.append(sig + "\n{")
            c.append(f"    {s.name} *v = pgqrs__calloc(1, sizeof *v);")
            c.append("    if (v)")
            now = ", now_us" if cv.needs_now else ""
            c.append(f"        {fill_name(cv)}(v, row{now});")
            c.append(f"    pgqrs__{cv.row}_row_clear(row);")
            c.append("    return v;\n}\n")
        c.append(f"PGQRS_EXTERN void {s.name}_free({s.name} *v)\n{{")
        c.append("    if (!v)\n        return;")
        if pub.owned.get(s.name):
            c.append(f"    {clear_name(s.name)}(v);")
        c.append("    pgqrs__free(v);\n}\n")
    h.append("\n#endif")
    return "\n".join(h) + "\n", "\n".join(c).rstrip("\n") + "\n"


# ---- Python ----------------------------------------------------------------------

def py_class(struct_name):
    """pgqrs_queue_info -> QueueInfoC: the C mirror, named apart from the Python models."""
    return "".join(w.capitalize() for w in base_name(struct_name).split("_")) + "C"


def py_header(sources):
    lines = [f"# Code generated by {GENERATOR}. DO NOT EDIT.", "# Sources:"]
    for s in sources:
        lines.append(f"#   {s}")
    lines.append("# Change the sources and run `make generate`.")
    return "\n".join(lines) + "\n"


def emit_structs_py(hdr, sources):
    out = [py_header(sources)]
    out.append(f'"""ctypes mirrors of every struct of {hdr.path}, field for field in the header\'s')
    out.append("order, and its PGQRS_*_VERSION numbers. Structs the library hands out are only")
    out.append("read through pointers, so a newer library that appends fields stays compatible;")
    out.append('the structs a caller allocates (options, outputs) must match exactly."""\n')
    out.append("import ctypes\n")
    for name, value in hdr.versions.items():
        out.append(f"{name} = {value}")
    out.append("")
    for s in hdr.structs.values():
        out.append("")
        out.append(f"class {py_class(s.name)}(ctypes.Structure):")
        out.append(f'    """{s.name}"""')
        out.append("    _fields_ = [")
        for f in s.fields:
            t = C_TYPES[f.ctype] if f.ctype in C_TYPES else py_class(f.ctype)
            if f.array:
                t = f"{t} * {f.array}"
            out.append(f'        ("{f.name}", {t}),')
        out.append("    ]\n")
    out.append("")
    out.append("# C name -> mirror, for the layout test (tests/python/test_layout.py).")
    out.append("BY_C_NAME = {")
    for s in hdr.structs.values():
        out.append(f'    "{s.name}": {py_class(s.name)},')
    out.append("}")
    return "\n".join(out) + "\n"
