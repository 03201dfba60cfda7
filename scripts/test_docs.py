#!/usr/bin/env python3
"""Every code block in the docs is compiled or run, so the docs cannot rot.

    python3 scripts/test_docs.py [BUILD]       (default build/)

Rules, per fenced block, by its language tag:
  c       a complete program (has `int main`): compiled against BUILD/libpgqrs.a
          and run in a scratch directory; must exit 0.
          Preceded by `<!-- excerpt: path -->`: every line must appear, in
          order, in that file (which `make` compiles), so the excerpt stays true.
  python  run with the package on PYTHONPATH in a scratch directory.
  sh      lines starting with `pgqrs ` run the CLI against a scratch SQLite
          database (PGQRS_DSN), in order, sharing it; each must exit 0, or the
          code written after `# exit` at the end of the line. Other sh lines
          (make, cc, pip ...) are not run: they are the commands the test itself uses.
  other   (sql, toml, text, console ...) not executed.
A block preceded by `<!-- doctest: skip (reason) -->` is skipped, counted and
printed as `SKIP file:line (lang): reason`.
Prints `docs: N passed, N failed, N skipped` and exits non-zero on any failure.
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBS = ["-lpq", "-lsqlite3", "-ljansson", "-lcurl", "-lpthread", "-lm"]


def doc_files():
    out = [os.path.join(ROOT, "README.md")]
    for d in ("docs", "python"):
        p = os.path.join(ROOT, d)
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".md"))
    return [f for f in out if os.path.exists(f)]


def blocks(path):
    """Yields (line, lang, text, marker) for each fenced block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, lang, body = i + 1, m.group(1), []
        marker = ""
        for back in (i - 1, i - 2):
            if back >= 0 and lines[back].strip().startswith("<!--"):
                marker = lines[back].strip()
                break
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        yield start, lang, "\n".join(body) + "\n", marker


def check_excerpt(text, target):
    path = os.path.join(ROOT, target)
    if not os.path.exists(path):
        return f"excerpt source {target} does not exist"
    src = [l.strip() for l in open(path, encoding="utf-8").read().split("\n")]
    pos = 0
    for line in (l.strip() for l in text.split("\n")):
        if not line or line in ("...", "/* ... */", "// ..."):
            continue
        try:
            pos = src.index(line, pos) + 1
        except ValueError:
            return f"line not found (in order) in {target}: {line}"
    return None


def run_c(text, build, scratch):
    src = os.path.join(scratch, "doc.c")
    exe = os.path.join(scratch, "doc")
    with open(src, "w") as f:
        f.write(text)
    cc = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                         "-I", os.path.join(ROOT, "include"), src, os.path.join(build, "libpgqrs.a"), "-o", exe]
                        + LIBS, capture_output=True, text=True)
    if cc.returncode:
        return "does not compile:\n" + cc.stderr[-2000:]
    r = subprocess.run([exe], cwd=scratch, capture_output=True, text=True, timeout=60)
    return None if r.returncode == 0 else f"exited {r.returncode}:\n{r.stdout[-1000:]}{r.stderr[-1000:]}"


def run_python(text, build, scratch):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"),
               PGQRS_LIBRARY=os.path.join(build, "libpgqrs.so"))
    r = subprocess.run([sys.executable, "-c", text], cwd=scratch, capture_output=True, text=True, timeout=60,
                       env=env)
    return None if r.returncode == 0 else f"exited {r.returncode}:\n{r.stderr[-2000:]}"


def run_sh(text, build, scratch, state):
    env = dict(os.environ, PATH=build + os.pathsep + os.environ["PATH"],
               PGQRS_DSN="sqlite://" + os.path.join(scratch, "docs.db"))
    env.pop("PGQRS_LOG", None)
    ran = 0
    for line in text.split("\n"):
        cmd = line.strip()
        if cmd.startswith("$ "):
            cmd = cmd[2:]
        if not cmd.startswith("pgqrs ") and cmd != "pgqrs":
            continue
        want = 0
        m = re.search(r"#\s*exit\s+(\d+)\s*$", cmd)
        if m:
            want = int(m.group(1))
        cmd = re.sub(r"\s+#.*$", "", cmd)
        r = subprocess.run(["bash", "-c", cmd], cwd=scratch, env=env, capture_output=True, text=True, timeout=60,
                           input="")
        ran += 1
        if r.returncode != want:
            return f"`{cmd}` exited {r.returncode}, expected {want}:\n{r.stderr[-1000:]}"
    state["ran"] = ran
    return None


def check_logged_events():
    """Every event the library logs (pgqrs__log / pgqrs__logf with a literal name)
    is in the events table of docs/operations.md; tests/test_events.c checks the
    other way, that every documented event fires."""
    logged = set()
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        for f in files:
            if f.endswith(".c"):
                with open(os.path.join(d, f)) as fh:
                    text = fh.read()
                for call in re.findall(r'pgqrs__logf?\((.*?)\);', text, re.S):
                    logged |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', call))
    with open(os.path.join(ROOT, "docs", "operations.md")) as fh:
        documented = set()
        for line in fh:
            if line.startswith("| `"):
                documented |= set(re.findall(r"`([a-z_]+\.[a-z_]+)`", line.split("|")[1]))
    missing = sorted(logged - documented)
    if not logged:
        return "found no pgqrs__log calls in src/"
    return "logged but not in docs/operations.md: " + ", ".join(missing) if missing else None


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    passed = failed = skipped = 0
    for path in doc_files():
        rel = os.path.relpath(path, ROOT)
        with tempfile.TemporaryDirectory(prefix="pgqrs-doc.") as scratch:   # shared by a file's sh blocks
            for line, lang, text, marker in blocks(path):
                where = f"{rel}:{line}"
                if marker.startswith("<!-- doctest: skip"):
                    skipped += 1
                    m = re.match(r"<!--\s*doctest:\s*skip\s*\(?(.*?)\)?\s*-->", marker)
                    reason = m.group(1).strip() if m and m.group(1).strip() else "(no reason given)"
                    print(f"SKIP {where} ({lang or 'text'}): {reason}")
                    continue
                err, state = None, {}
                if lang == "c":
                    m = re.match(r"<!--\s*excerpt:\s*(\S+)\s*-->", marker)
                    if m:
                        err = check_excerpt(text, m.group(1))
                    elif "int main" in text:
                        with tempfile.TemporaryDirectory(prefix="pgqrs-docc.") as d:
                            err = run_c(text, build, d)
                    else:
                        err = "a C block must be a whole program or marked <!-- excerpt: file -->"
                elif lang == "python":
                    with tempfile.TemporaryDirectory(prefix="pgqrs-docpy.") as d:
                        err = run_python(text, build, d)
                elif lang in ("sh", "bash", "shell"):
                    err = run_sh(text, build, scratch, state)
                    if not err and not state.get("ran"):
                        continue   # no pgqrs command in it: nothing to run
                else:
                    continue
                if err:
                    failed += 1
                    print(f"FAIL {where} ({lang}): {err}", file=sys.stderr)
                else:
                    passed += 1
                    print(f"  ok {where} ({lang})")
    err = check_logged_events()
    if err:
        failed += 1
        print(f"FAIL docs/operations.md (events): {err}", file=sys.stderr)
    else:
        passed += 1
        print("  ok docs/operations.md (events): every logged event is documented")
    print(f"docs: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
