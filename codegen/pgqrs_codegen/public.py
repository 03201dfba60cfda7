"""The public side: the structs of include/pgqrs.h (parsed from the header, the one
source of truth for their fields and types) and schema/public.toml, which says
how the structs the library hands out are filled from generated rows. Every
problem is raised as GenError with a path:line position."""

import os
import re
import tomllib
from dataclasses import dataclass, field

from .model import GenError

HEADER = "include/pgqrs.h"
MAPPING = "schema/public.toml"

# C field types a public struct may have (rule 5/6 of the header: ctypes-friendly),
# canonical spelling -> ctypes spelling. A nested struct of the header is the other
# allowed type; an array of any of these is `type name[N]`.
C_TYPES = {
    "unsigned int": "ctypes.c_uint",
    "int": "ctypes.c_int",
    "int32_t": "ctypes.c_int32",
    "int64_t": "ctypes.c_int64",
    "size_t": "ctypes.c_size_t",
    "double": "ctypes.c_double",
    "const char *": "ctypes.c_char_p",
}

# Which row column types fill which field types. Strings: text and json are moved
# out of the row (the struct owns them), an enum becomes its static name.
FILLS = {
    "int64_t": ("i64", "timestamp"),
    "int32_t": ("i32",),
    "int": ("i32", "bool"),
    "double": ("f64",),
    "const char *": ("text", "json", "enum"),
}
ZERO_TYPES = ("unsigned int", "int", "int32_t", "int64_t", "size_t", "double", "const char *")
OWNED_TYPES = ("text", "json")


# ---- include/pgqrs.h -------------------------------------------------------------

@dataclass
class CField:
    name: str
    ctype: str           # a key of C_TYPES or the name of a struct of the header
    array: int           # element count, 0 for a plain field
    line: int


@dataclass
class CStruct:
    name: str
    fields: list
    line: int

    def field(self, name):
        return next((f for f in self.fields if f.name == name), None)


@dataclass
class Header:
    path: str
    structs: dict        # name -> CStruct, in header order
    versions: dict       # PGQRS_X_VERSION -> int, in header order
    functions: dict      # PGQRS_EXTERN function name -> line


def _blank_comments(text):
    """text with every comment replaced by spaces (newlines kept, so offsets and
    line numbers still match the file)."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"/\*.*?\*/|//[^\n]*", blank, text, flags=re.S)


FIELD_DECL = re.compile(r"^(const\s+char|unsigned\s+int|int32_t|int64_t|size_t|double|int|pgqrs_[a-z0-9_]+)\s+(.+)$", re.S)
DECLARATOR = re.compile(r"^(\*?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[\s*(\d+)\s*\])?$")


def load_header(root, relpath=HEADER):
    path = os.path.join(root, relpath)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise GenError(relpath, 1, "the public header is missing: the public structs are read from it") from None
    code = _blank_comments(text)

    def line_at(offset):
        return code.count("\n", 0, offset) + 1

    structs = {}
    for m in re.finditer(r"typedef\s+struct\s+(pgqrs_[a-z0-9_]+)\s*\{([^{}]*)\}\s*([A-Za-z0-9_]+)\s*;", code):
        name, body, alias = m.group(1), m.group(2), m.group(3)
        sline = line_at(m.start())
        if alias != name:
            raise GenError(relpath, sline, f"struct {name} is typedef'd as {alias}: bindings need the same name")
        fields = []
        offset = m.start(2)
        for decl in body.split(";"):
            lead = len(decl) - len(decl.lstrip())
            dline = line_at(offset + lead)
            offset += len(decl) + 1
            decl = " ".join(decl.split())
            if not decl:
                continue
            fm = FIELD_DECL.match(decl)
            if not fm:
                raise GenError(relpath, dline, f"struct {name}: field '{decl}': a binding cannot mirror it (allowed: "
                               f"{', '.join(C_TYPES)}, a struct of this header, arrays of them)")
            base = " ".join(fm.group(1).split())
            for d in fm.group(2).split(","):
                dm = DECLARATOR.match(d.strip())
                if not dm:
                    raise GenError(relpath, dline, f"struct {name}: cannot read declarator '{d.strip()}'")
                star, fname, count = dm.group(1), dm.group(2), dm.group(3)
                if base == "const char":
                    if not star:
                        raise GenError(relpath, dline, f"struct {name}.{fname}: const char without '*'")
                    ctype = "const char *"
                elif star:
                    raise GenError(relpath, dline, f"struct {name}.{fname}: pointer to {base}: only const char * is allowed")
                elif base.startswith("pgqrs_"):
                    if base not in structs:
                        raise GenError(relpath, dline, f"struct {name}.{fname}: {base} is not a struct defined above it in {relpath}")
                    ctype = base
                else:
                    ctype = base
                if any(f.name == fname for f in fields):
                    raise GenError(relpath, dline, f"struct {name}: field {fname} declared twice")
                fields.append(CField(fname, ctype, int(count) if count else 0, dline))
        if not fields:
            raise GenError(relpath, sline, f"struct {name} has no fields")
        structs[name] = CStruct(name, fields, sline)
    versions = {}
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(PGQRS_[A-Z0-9_]+_VERSION)[ \t]+(\d+)[ \t]*$", code, re.M):
        versions[m.group(1)] = int(m.group(2))
    functions = {}
    for m in re.finditer(r"\bPGQRS_EXTERN\b[^;{()]*?\b(pgqrs_[a-z0-9_]+)\s*\(", code):
        functions.setdefault(m.group(1), line_at(m.start(1)))
    return Header(relpath, structs, versions, functions)


# ---- schema/public.toml ------------------------------------------------------------

@dataclass
class Source:
    kind: str            # "column", "zero", "string", "age"
    text: str            # as written in the mapping
    column: object = None    # the row column (model.Column or model.ResultCol)
    literal: str = ""    # kind "string": the C string literal


@dataclass
class Convert:
    struct: CStruct
    row: str             # base name: pgqrs_<row>_row, pgqrs__<row>_row_clear, ...
    fields: list         # (CField, Source), in the header's field order
    line: int

    @property
    def needs_now(self):
        return any(s.kind == "age" for _, s in self.fields)


@dataclass
class ListType:
    name: str            # pgqrs_queues
    item: CStruct
    line: int


@dataclass
class Public:
    path: str
    header: Header
    lists: list          # ListType, in mapping order
    singles: list        # CStruct handed out alone, in mapping order
    converts: list       # Convert, in mapping order
    owned: dict = field(default_factory=dict)   # struct name -> [field names it frees], header order


def _toml_lines(text):
    """(table path tuple, key) -> line, and table path tuple -> line of its header,
    for the simple TOML the mapping uses (bare keys, one key per line)."""
    keys, tables, cur = {}, {}, ()
    for i, line in enumerate(text.split("\n"), 1):
        m = re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if m:
            cur = tuple(p.strip() for p in m.group(1).split("."))
            tables.setdefault(cur, i)
            continue
        m = re.match(r"^\s*([A-Za-z0-9_-]+)\s*=", line)
        if m:
            keys.setdefault((cur, m.group(1)), i)
    return keys, tables


def base_name(c_name):
    """pgqrs_queue_info -> queue_info."""
    return c_name[len("pgqrs_"):] if c_name.startswith("pgqrs_") else c_name


def load_mapping(root, header, rows, relpath=MAPPING):
    """rows: {base name: (struct name, columns)} of every generated row struct."""
    path = os.path.join(root, relpath)
    try:
        with open(path, "rb") as f:
            raw = f.read().decode("utf-8")
    except FileNotFoundError:
        raise GenError(relpath, 1, "the mapping of the public structs is missing") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        at = re.search(r"\(at line (\d+)", str(e))
        line = getattr(e, "lineno", None) or (int(at.group(1)) if at else 1)
        raise GenError(relpath, line, f"invalid TOML: {e}") from None
    keys, tables = _toml_lines(raw)

    def kline(table, key):
        return keys.get((table, key), tables.get(table, 1))

    for k in data:
        if k not in ("single", "lists", "convert"):
            raise GenError(relpath, keys.get(((), k)) or tables.get((k,)) or 1,
                           f"unknown key '{k}' (expected single, [lists], [convert.<struct>.<row>])")

    def header_struct(name, line, what):
        if not isinstance(name, str) or name not in header.structs:
            raise GenError(relpath, line, f"{what}: '{name}' is not a struct of {header.path}")
        return header.structs[name]

    def header_function(fname, line, what):
        if fname not in header.functions:
            raise GenError(relpath, line, f"{what}: {header.path} does not declare {fname}")

    lists = []
    for lname, item in (data.get("lists") or {}).items():
        line = kline(("lists",), lname)
        s = header_struct(item, line, f"list {lname}")
        for suffix in ("_count", "_at", "_free"):
            header_function(lname + suffix, line, f"list {lname}")
        lists.append(ListType(lname, s, line))

    singles = []
    single = data.get("single", [])
    sline = kline((), "single")
    if not isinstance(single, list):
        raise GenError(relpath, sline, "single: expected a list of struct names")
    for name in single:
        s = header_struct(name, sline, "single")
        header_function(name + "_free", sline, f"single {name}")
        if s in singles:
            raise GenError(relpath, sline, f"single: {name} listed twice")
        singles.append(s)

    converts = []
    for sname, by_row in (data.get("convert") or {}).items():
        tline = tables.get(("convert", sname), 1)
        if not isinstance(by_row, dict):
            raise GenError(relpath, kline(("convert",), sname), f"convert.{sname}: expected [convert.{sname}.<row>] tables")
        for row, spec in by_row.items():
            where = ("convert", sname, row)
            line = tables.get(where, tline)
            s = header_struct(sname, line, f"convert.{sname}.{row}")
            if row not in rows:
                known = ", ".join(sorted(rows))
                raise GenError(relpath, line, f"convert.{sname}.{row}: unknown row '{row}' (rows: {known})")
            if not isinstance(spec, dict):
                raise GenError(relpath, line, f"convert.{sname}.{row}: expected a table of field = source")
            row_struct, cols = rows[row]
            colmap = {c.name: c for c in cols}
            for fname in spec:
                if not s.field(fname):
                    raise GenError(relpath, kline(where, fname), f"{sname} has no field '{fname}' in {header.path}")
            fields = []
            for f in s.fields:
                if f.name not in spec:
                    raise GenError(relpath, line, f"convert.{sname}.{row}: no source for field '{f.name}' "
                                                  f"({header.path}:{f.line}); every field needs one")
                fl = kline(where, f.name)
                fields.append((f, _source(spec[f.name], f, sname, row_struct, colmap, relpath, fl)))
            converts.append(Convert(s, row, fields, line))

    # every converter has a user and every handed-out struct a converter
    handed = {l.item.name for l in lists} | {s.name for s in singles}
    for c in converts:
        if c.struct.name not in handed:
            raise GenError(relpath, c.line, f"convert.{c.struct.name}.{c.row}: {c.struct.name} is neither a list "
                                            "item nor in single, so nothing would use this converter")
    for name in sorted(handed):
        if not any(c.struct.name == name for c in converts):
            line = next((l.line for l in lists if l.item.name == name), sline)
            raise GenError(relpath, line, f"{name} is handed out but no [convert.{name}.<row>] fills it")

    # what each struct owns: a field is owned when a converter moves a string into
    # it, and then no converter may put a static string there
    owned = {}
    for name in dict.fromkeys(c.struct.name for c in converts):
        cs = [c for c in converts if c.struct.name == name]
        struct = header.structs[name]
        mine = []
        for f in struct.fields:
            kinds = {}
            for c in cs:
                src = dict((ff.name, ss) for ff, ss in c.fields)[f.name]
                if src.kind == "column" and src.column.type in OWNED_TYPES:
                    kinds.setdefault("moved", c)
                elif src.kind == "string" or (src.kind == "column" and src.column.type.startswith("enum:")):
                    kinds.setdefault("static", c)
            if "moved" in kinds and "static" in kinds:
                c = kinds["static"]
                raise GenError(relpath, kline(("convert", name, c.row), f.name),
                               f"{name}.{f.name}: a static string here, but convert.{name}.{kinds['moved'].row} moves "
                               "an owned string into it: the free function could not tell them apart")
            if "moved" in kinds:
                mine.append(f.name)
        owned[name] = mine
    return Public(relpath, header, lists, singles, converts, owned)


def _source(value, f, sname, row_struct, colmap, relpath, line):
    what = f"{sname}.{f.name}"
    if not isinstance(value, str):
        raise GenError(relpath, line, f"{what}: a source is a string (a column, 0, a \"string\" or age(column))")
    text = value.strip()
    if f.array or f.ctype not in C_TYPES:
        raise GenError(relpath, line, f"{what}: a {f.ctype}{'[]' if f.array else ''} field cannot be filled from a row")
    if text == "0":
        if f.ctype not in ZERO_TYPES:
            raise GenError(relpath, line, f"{what}: 0 does not fit a {f.ctype}")
        return Source("zero", text)
    m = re.match(r'^"([^"\\]*)"$', text)
    if m:
        if f.ctype != "const char *":
            raise GenError(relpath, line, f"{what}: a string constant needs a const char * field, not {f.ctype}")
        return Source("string", text, literal=text)
    m = re.match(r"^age\(\s*([a-z_][a-z0-9_]*)\s*\)$", text)
    if m:
        col = colmap.get(m.group(1))
        if not col:
            raise GenError(relpath, line, f"{what}: {row_struct} has no column '{m.group(1)}'")
        if col.type != "timestamp":
            raise GenError(relpath, line, f"{what}: age() of {col.name}, which is {col.type}, not a timestamp")
        if f.ctype != "int64_t" or not f.name.endswith("_us"):
            raise GenError(relpath, line, f"{what}: age() is microseconds: it fills an int64_t field named *_us")
        return Source("age", text, column=col)
    if not re.match(r"^[a-z_][a-z0-9_]*$", text):
        raise GenError(relpath, line, f"{what}: unknown source '{value}' (expected a column of {row_struct}, 0, "
                                      "a \"string\" or age(column))")
    col = colmap.get(text)
    if not col:
        raise GenError(relpath, line, f"{what}: {row_struct} has no column '{text}'")
    base = "enum" if col.type.startswith("enum:") else col.type
    if base not in FILLS.get(f.ctype, ()):
        want = " or ".join(FILLS.get(f.ctype, ())) or "no column"
        raise GenError(relpath, line, f"{what}: type mismatch: the field is {f.ctype}, column {col.name} is "
                                      f"{col.type}{'?' if col.nullable else ''} (a {f.ctype} takes {want})")
    # units: microseconds only ever land in fields that say so
    if (col.type == "timestamp") != f.name.endswith("_us"):
        raise GenError(relpath, line, f"{what}: type mismatch: timestamps (UTC microseconds) fill fields named *_us "
                                      f"and only those; column {col.name} is {col.type}")
    return Source("column", text, column=col)
