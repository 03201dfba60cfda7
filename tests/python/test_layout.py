"""The ctypes mirrors (python/pgqrs/_structs.py, generated) against the C compiler.

Reads include/pgqrs.h on its own (not through the generator), compiles a small C
program that prints sizeof and offsetof of every field of every struct there, and
compares with the ctypes classes: the same structs, the same fields in the same
order, the same offsets and sizes, the same total size. A field added to the header
and not to the mirrors (schema/public.toml, then `make generate`) fails here."""

import ctypes
import os
import re
import shutil
import subprocess

import pytest

from pgqrs import _structs
from conftest import ROOT

HEADER = os.path.join(ROOT, "include", "pgqrs.h")


def header_structs():
    """{struct name: [field names]} of every `typedef struct NAME { ... } NAME;`."""
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    out = {}
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{([^{}]*)\}\s*(\w+)\s*;", text):
        assert m.group(1) == m.group(3), m.group(0)
        names = []
        for decl in filter(None, (d.strip() for d in m.group(2).split(";"))):
            for piece in decl.split(","):   # int64_t total, ready, ...;
                dm = re.search(r"(\w+)\s*(\[\s*\d+\s*\])?\s*$", piece)
                assert dm, "cannot read %r in %s" % (piece, m.group(1))
                names.append(dm.group(1))
        out[m.group(1)] = names
    return out


def header_versions():
    with open(HEADER, encoding="utf-8") as f:
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"^#define (PGQRS_\w+_VERSION) (\d+)\s*$", f.read(), re.M)}


def compiled_layout(structs, tmp_path):
    """{name: size, name.field: (offset, size)} as the C compiler lays them out."""
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        pytest.fail("the layout test needs a C compiler (%s not found; set CC)" % cc)
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "pgqrs.h"', "int main(void)", "{"]
    for name, fields in structs.items():
        lines.append('    printf("%s %%zu\\n", sizeof(%s));' % (name, name))
        for f in fields:
            lines.append('    printf("%s.%s %%zu %%zu\\n", offsetof(%s, %s), sizeof(((%s *)0)->%s));'
                         % (name, f, name, f, name, f))
    lines += ["    return 0;", "}"]
    src, exe = tmp_path / "layout.c", tmp_path / "layout"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", os.path.join(ROOT, "include"), str(src), "-o", str(exe)],
                   check=True)
    got = {}
    for line in subprocess.check_output([str(exe)], text=True).splitlines():
        key, *nums = line.split()
        got[key] = tuple(int(n) for n in nums) if len(nums) > 1 else int(nums[0])
    return got


def test_every_header_struct_is_mirrored_field_for_field(tmp_path):
    structs = header_structs()
    assert len(structs) >= 18, sorted(structs)       # the parser still finds them
    assert sorted(_structs.BY_C_NAME) == sorted(structs), \
        "python/pgqrs/_structs.py mirrors other structs than include/pgqrs.h defines (run `make generate`)"
    got = compiled_layout(structs, tmp_path)
    for name, fields in structs.items():
        cls = _structs.BY_C_NAME[name]
        mirrored = [f for f, _ in cls._fields_]
        assert mirrored == fields, "%s: header fields %s, python/pgqrs/_structs.py %s (run `make generate`)" % (
            name, fields, mirrored)
        for f in fields:
            want = got["%s.%s" % (name, f)]
            desc = getattr(cls, f)
            assert (desc.offset, desc.size) == want, "%s.%s: C offset/size %s, ctypes %s" % (
                name, f, want, (desc.offset, desc.size))
        assert ctypes.sizeof(cls) == got[name], "%s: sizeof %d in C, %d in ctypes" % (name, got[name], ctypes.sizeof(cls))


def test_version_numbers_match_the_header():
    versions = header_versions()
    assert versions, "no PGQRS_*_VERSION in the header"
    for name, value in versions.items():
        assert getattr(_structs, name, None) == value, name
