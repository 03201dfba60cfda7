"""Reads schema/pgqrs.toml, queries/<backend>/*.sql and migrations/<backend>/*.sql
into plain objects. Every problem is raised as GenError with a path:line position."""

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field

SCALAR_TYPES = ("i64", "i32", "f64", "text", "json", "timestamp", "bool")
ARRAY_TYPES = ("i64[]", "json[]")
# Array types the generator once bound and no longer does: nothing used them, and
# their encoders left src/drivers/encode.c. Named so the error can say so.
DROPPED_ARRAY_TYPES = ("text[]",)
CARDINALITIES = (":one", ":many", ":exec", ":execrows")
# `-- statement: <name>` blocks: SQL a driver's transport sends itself (not a query
# of the interface), one statement without parameters. STATEMENT marks them.
STATEMENT = ":statement"
# A parameter of this name is the query's clock: bound by every accessor from
# pgqrs__conn_now(), never passed by the caller (docs/pipeline.md, "Time").
NOW_PARAM = "now"
ANNOTATIONS = ("name", "param", "returns")
IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class GenError(Exception):
    """A problem in an input file; str() is 'path:line: message'."""

    def __init__(self, path, line, message):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass
class Enum:
    name: str
    values: list
    doc: str


@dataclass
class Column:
    name: str
    type: str            # logical type: i64 ... or enum:<name>
    nullable: bool
    sql_types: dict      # backend -> SQL type as written in migrations


@dataclass
class Table:
    name: str
    row: str
    doc: str
    columns: list
    line: int

    def column(self, name):
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class Schema:
    path: str
    enums: dict
    tables: dict         # name -> Table, in file order


@dataclass
class Param:
    name: str
    type: str            # scalar, enum:<x>, or array type
    nullable: bool

    @property
    def is_array(self):
        return self.type.endswith("[]")


@dataclass
class ResultCol:
    name: str
    type: str
    nullable: bool
    source: str          # "table.column" or "" for a computed column


@dataclass
class Statement:
    sql: str             # with backend placeholders
    raw: str             # as written, with @names
    line: int
    params: list         # names used, in placeholder order of first use


@dataclass
class Query:
    name: str
    cardinality: str
    params: list
    returns: list        # ResultCol list; empty for :exec/:execrows
    row_table: str       # table name when 'returns: table.*', else ""
    doc: list
    statements: list
    path: str
    line: int
    backend: str


def _rel(root, path):
    return os.path.relpath(path, root)


def load_schema(root, relpath="schema/pgqrs.toml"):
    path = os.path.join(root, relpath)
    with open(path, "rb") as f:
        text = f.read()
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        # TOMLDecodeError has .lineno from Python 3.14 only; before, just "(at line N, ...)"
        at = re.search(r"\(at line (\d+)", str(e))
        line = getattr(e, "lineno", None) or (int(at.group(1)) if at else 1)
        raise GenError(relpath, line, f"invalid TOML: {e}") from None
    lines = text.decode("utf-8").splitlines()

    def line_of(needle):
        for i, l in enumerate(lines, 1):
            if needle in l:
                return i
        return 1

    types = data.get("types", {})
    enums = {}
    for name, e in data.get("enums", {}).items():
        values = e.get("values", [])
        if not values or len(set(values)) != len(values):
            raise GenError(relpath, line_of(f"[enums.{name}]"), f"enum {name}: values must be non-empty and unique")
        enums[name] = Enum(name, list(values), e.get("doc", ""))
    tables = {}
    for tname, t in data.get("tables", {}).items():
        tline = line_of(f"[tables.{tname}]")
        if "row" not in t or not IDENT.match(t["row"]):
            raise GenError(relpath, tline, f"table {tname}: 'row' must name the C row struct")
        cols = []
        for c in t.get("columns", []):
            ctype = c.get("type", "")
            base = "enum" if ctype.startswith("enum:") else ctype
            if base not in SCALAR_TYPES and base != "enum":
                raise GenError(relpath, line_of(f'name = "{c.get("name")}"'), f"table {tname}: column {c.get('name')}: unknown type '{ctype}'")
            if base == "enum" and ctype[5:] not in enums:
                raise GenError(relpath, line_of(f'name = "{c.get("name")}"'), f"table {tname}: column {c.get('name')}: unknown enum '{ctype[5:]}'")
            sql_types = dict(types.get(base, {}))
            for be in ("postgres", "sqlite"):
                if be in c:
                    sql_types[be] = c[be]
            cols.append(Column(c["name"], ctype, bool(c.get("nullable", False)), sql_types))
        if len({c.name for c in cols}) != len(cols):
            raise GenError(relpath, tline, f"table {tname}: duplicate column")
        tables[tname] = Table(tname, t["row"], t.get("doc", ""), cols, tline)
    rows = [t.row for t in tables.values()]
    if len(set(rows)) != len(rows):
        raise GenError(relpath, 1, "two tables share a row struct name")
    return Schema(relpath, enums, tables)


def _parse_type(token, enums, path, line, what, allow_array):
    nullable = token.endswith("?")
    t = token[:-1] if nullable else token
    if t.startswith("enum:"):
        if t[5:] not in enums:
            raise GenError(path, line, f"{what}: unknown enum '{t[5:]}'")
    elif t in DROPPED_ARRAY_TYPES:
        raise GenError(path, line, f"{what}: array type '{t}' is not supported (only {', '.join(ARRAY_TYPES)}: "
                                   "no driver encodes a text array; pass JSON text as json[])")
    elif t in ARRAY_TYPES:
        if not allow_array:
            raise GenError(path, line, f"{what}: array type '{t}' is only allowed for parameters")
        if nullable:
            raise GenError(path, line, f"{what}: array parameters cannot be nullable")
    elif t not in SCALAR_TYPES:
        raise GenError(path, line, f"{what}: unknown type '{t}'")
    return t, nullable


def _split_statements(body):
    """Split SQL on ';' outside quotes and comments. Returns [(offset, text)]."""
    out, start, i, n = [], 0, 0, len(body)
    while i < n:
        ch = body[i]
        if ch in ("'", '"'):
            j = body.find(ch, i + 1)
            while j != -1 and j + 1 < n and body[j + 1] == ch:
                j = body.find(ch, j + 2)
            i = n if j == -1 else j + 1
            continue
        if body.startswith("--", i):
            j = body.find("\n", i)
            i = n if j == -1 else j + 1
            continue
        if body.startswith("/*", i):
            j = body.find("*/", i + 2)
            i = n if j == -1 else j + 2
            continue
        if ch == ";":
            out.append((start, body[start:i]))
            start = i + 1
        i += 1
    out.append((start, body[start:]))
    return [(o, s) for o, s in out if _strip_sql_comments(s).strip()]


def _strip_sql_comments(s):
    return re.sub(r"--[^\n]*", "", s)


PARAM_REF = re.compile(r"@([a-z_][a-z0-9_]*)")


def _named_params(sql):
    """Yields (start, end, name) of @name references outside quotes and comments."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            j = sql.find(ch, i + 1)
            i = n if j == -1 else j + 1
            continue
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j == -1 else j + 1
            continue
        if ch == "@":
            m = PARAM_REF.match(sql, i)
            if m:
                yield m.start(), m.end(), m.group(1)
                i = m.end()
                continue
        i += 1


def parse_query_file(root, relpath, backend, schema):
    """Parses one query file into Query objects (placeholders left for the backend)."""
    path = os.path.join(root, relpath)
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    queries, cur, header = [], None, False
    pending_doc = []
    for lineno, line in enumerate(lines, 1):
        m = re.match(r"^--\s*([a-z_][a-z0-9_-]*):\s*(.*)$", line)
        if m and m.group(1) == "statement":
            if cur:
                queries.append(cur)
            name = m.group(2).strip()
            if not IDENT.match(name):
                raise GenError(relpath, lineno, "expected '-- statement: <snake_case_name>'")
            cur = dict(name=name, card=STATEMENT, params=[], returns=None, doc=pending_doc,
                       body=[], line=lineno, params_line=lineno, returns_line=lineno)
            pending_doc, header = [], True
            continue
        if m and m.group(1) == "name":
            if cur:
                queries.append(cur)
            parts = m.group(2).split()
            if len(parts) != 2 or not IDENT.match(parts[0]):
                raise GenError(relpath, lineno, "expected '-- name: <snake_case_name> :<cardinality>'")
            if parts[1] not in CARDINALITIES:
                raise GenError(relpath, lineno, f"unknown cardinality '{parts[1]}' (expected one of {', '.join(CARDINALITIES)})")
            cur = dict(name=parts[0], card=parts[1], params=[], returns=None, doc=pending_doc,
                       body=[], line=lineno, params_line=lineno, returns_line=lineno)
            pending_doc, header = [], True
            continue
        if header and m:
            key, val = m.group(1), m.group(2).strip()
            if key not in ANNOTATIONS:
                raise GenError(relpath, lineno, f"unknown annotation '{key}' (expected one of {', '.join(ANNOTATIONS)})")
            if cur["card"] == STATEMENT:
                raise GenError(relpath, lineno, f"statement {cur['name']}: a '-- statement:' takes no '-- {key}:' "
                                                "(it is sent as written, without parameters or result shape)")
            if key == "param":
                for item in filter(None, (x.strip() for x in val.split(","))):
                    bits = item.split()
                    if len(bits) != 2 or not IDENT.match(bits[0]):
                        raise GenError(relpath, lineno, f"bad parameter '{item}' (expected '<name> <type>')")
                    t, nullable = _parse_type(bits[1], schema.enums, relpath, lineno, f"parameter {bits[0]}", True)
                    if any(p.name == bits[0] for p in cur["params"]):
                        raise GenError(relpath, lineno, f"parameter {bits[0]} declared twice")
                    if bits[0] == NOW_PARAM and (t != "timestamp" or not nullable):
                        raise GenError(relpath, lineno, f"parameter {NOW_PARAM} is the connection's clock, bound by the "
                                                        f"accessor: declare it '{NOW_PARAM} timestamp?' (NULL: the "
                                                        "database's clock), or rename it")
                    cur["params"].append(Param(bits[0], t, nullable))
                cur["params_line"] = lineno
            elif key == "returns":
                if cur["returns"] is not None:
                    raise GenError(relpath, lineno, "returns declared twice")
                cur["returns"] = (val, lineno)
            continue
        if header and line.startswith("--"):
            cur["doc"].append(line[2:].strip())
            continue
        header = False
        if cur is None:
            # a comment block separated from the next '-- name:' by a blank line
            # describes the file, not the query
            if line.startswith("--"):
                pending_doc.append(line[2:].strip())
            elif not line.strip():
                pending_doc = []
            else:
                raise GenError(relpath, lineno, "SQL outside a '-- name:' block")
            continue
        if not line.strip() and not cur["body"]:
            continue
        if line.startswith("--") and not cur["body"]:
            cur["doc"].append(line[2:].strip())
            continue
        cur["body"].append((lineno, line))
    if cur:
        queries.append(cur)
    return [_finish_query(q, relpath, backend, schema) for q in queries]


def _resolve_returns(spec, schema, relpath, line):
    text = spec.strip()
    if re.match(r"^[a-z_][a-z0-9_]*\.\*$", text):
        tname = text[:-2]
        table = schema.tables.get(tname)
        if not table:
            raise GenError(relpath, line, f"returns: unknown table '{tname}'")
        cols = [ResultCol(c.name, c.type, c.nullable, f"{tname}.{c.name}") for c in table.columns]
        return cols, tname
    cols = []
    for item in filter(None, (x.strip() for x in text.split(","))):
        bits = item.split()
        if len(bits) == 1 and "." in bits[0]:
            tname, cname = bits[0].split(".", 1)
            table = schema.tables.get(tname)
            col = table.column(cname) if table else None
            if not col:
                raise GenError(relpath, line, f"returns: column '{bits[0]}' is not in {schema.path}")
            cols.append(ResultCol(cname, col.type, col.nullable, bits[0]))
        elif len(bits) == 2 and "." in bits[0]:
            tname, cname = bits[0].split(".", 1)
            table = schema.tables.get(tname)
            col = table.column(cname) if table else None
            if not col:
                raise GenError(relpath, line, f"returns: column '{bits[0]}' is not in {schema.path}")
            t, nullable = _parse_type(bits[1], schema.enums, relpath, line, f"result {bits[0]}", False)
            if t != col.type or nullable != col.nullable:
                want = col.type + ("?" if col.nullable else "")
                raise GenError(relpath, line, f"returns: column '{bits[0]}' is {want} in {schema.path}, declared {bits[1]}")
            cols.append(ResultCol(cname, col.type, col.nullable, bits[0]))
        elif len(bits) == 2 and IDENT.match(bits[0]):
            t, nullable = _parse_type(bits[1], schema.enums, relpath, line, f"result {bits[0]}", False)
            cols.append(ResultCol(bits[0], t, nullable, ""))
        else:
            raise GenError(relpath, line, f"returns: bad column '{item}' (expected 'table.column' or '<name> <type>')")
    names = [c.name for c in cols]
    if len(set(names)) != len(names):
        raise GenError(relpath, line, "returns: duplicate column name")
    return cols, ""


def _finish_query(q, relpath, backend, schema):
    card = q["card"]
    if card == STATEMENT:
        returns, row_table = [], ""
    elif card in (":one", ":many"):
        if q["returns"] is None:
            raise GenError(relpath, q["line"], f"{q['name']}: {card} needs a '-- returns:' line")
        returns, row_table = _resolve_returns(q["returns"][0], schema, relpath, q["returns"][1])
    else:
        if q["returns"] is not None:
            raise GenError(relpath, q["returns"][1], f"{q['name']}: {card} returns no rows; drop the '-- returns:' line")
        returns, row_table = [], ""
    body_lines = q["body"]
    while body_lines and not body_lines[-1][1].strip():
        body_lines.pop()
    if not body_lines:
        raise GenError(relpath, q["line"], f"{q['name']}: no SQL")
    first_line = body_lines[0][0]
    body = "\n".join(l for _, l in body_lines)
    statements = []
    declared = {p.name: p for p in q["params"]}
    used = []
    for offset, text in _split_statements(body):
        # line of the statement's first non-blank character
        lead = len(text) - len(text.lstrip())
        stmt_line = first_line + body[: offset + lead].count("\n")
        raw = text.strip()
        names = []
        for start, _, name in _named_params(raw):
            if name not in declared:
                line = stmt_line + raw[:start].count("\n")
                raise GenError(relpath, line, f"{q['name']}: parameter @{name} is not declared")
            if name not in names:
                names.append(name)
            if name not in used:
                used.append(name)
        statements.append(Statement(sql="", raw=raw, line=stmt_line, params=names))
    if card == STATEMENT and len(statements) != 1:
        raise GenError(relpath, statements[1].line, f"statement {q['name']}: one SQL statement per '-- statement:'")
    for p in q["params"]:
        if p.name not in used:
            raise GenError(relpath, q["params_line"], f"{q['name']}: parameter {p.name} is never used")
    return Query(q["name"], card, q["params"], returns, row_table, q["doc"], statements,
                 relpath, q["line"], backend)


def placeholders(query, style):
    """Fills Statement.sql: '$n' (postgres) or '?n' (sqlite), numbered by declaration order."""
    index = {p.name: i + 1 for i, p in enumerate(query.params)}
    for st in query.statements:
        out, last = [], 0
        for start, end, name in _named_params(st.raw):
            out.append(st.raw[last:start])
            out.append(f"{style}{index[name]}")
            last = end
        out.append(st.raw[last:])
        st.sql = "".join(out)


def load_queries(root, backend, schema, override_of=None, statements=None):
    """All queries of one backend, in file order then position. With override_of
    (the base backend's [Query]), this backend is the base one with the queries
    defined here replacing theirs by name, in the base's order; a query here that
    replaces nothing is an error. The backend's '-- statement:' blocks are
    appended to `statements` (a dict name -> Query); without it they are an error."""
    d = os.path.join(root, "queries", backend)
    found = {}
    order = []
    for fname in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not fname.endswith(".sql"):
            continue
        for q in parse_query_file(root, f"queries/{backend}/{fname}", backend, schema):
            if q.cardinality == STATEMENT:
                if statements is None:
                    raise GenError(q.path, q.line, f"statement {q.name}: backend {backend} reads no '-- statement:' "
                                                   "blocks (only a transport that sends SQL of its own does)")
                if q.name in statements:
                    prev = statements[q.name]
                    raise GenError(q.path, q.line, f"duplicate statement '{q.name}' (first defined at {prev.path}:{prev.line})")
                statements[q.name] = q
                continue
            if q.name in found:
                prev = found[q.name]
                raise GenError(q.path, q.line, f"duplicate query name '{q.name}' (first defined at {prev.path}:{prev.line})")
            found[q.name] = q
            order.append(q.name)
    if override_of is None:
        return [found[n] for n in order]
    base = {q.name for q in override_of}
    for n in order:
        if n not in base:
            q = found[n]
            raise GenError(q.path, q.line, f"query '{n}' overrides nothing: queries/{override_of[0].backend if override_of else '?'} has no such query")
    return [found.get(q.name, q) for q in override_of]


@dataclass
class Migration:
    version: int
    name: str
    path: str
    sql: str
    checksum: str


def load_migrations(root, backend):
    d = os.path.join(root, "migrations", backend)
    out = []
    for fname in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not fname.endswith(".sql"):
            continue
        rel = f"migrations/{backend}/{fname}"
        m = re.match(r"^(\d{4})_([a-z0-9_]+)\.sql$", fname)
        if not m:
            raise GenError(rel, 1, "migration file names are NNNN_snake_case.sql")
        with open(os.path.join(d, fname), "rb") as f:
            data = f.read()
        version = int(m.group(1))
        if out and version != out[-1].version + 1:
            raise GenError(rel, 1, f"migration {version} does not follow {out[-1].version}")
        if not out and version != 1:
            raise GenError(rel, 1, "migrations start at 0001")
        out.append(Migration(version, fname[:-4], rel, data.decode("utf-8"), hashlib.sha256(data).hexdigest()))
    return out
