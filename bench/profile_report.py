#!/usr/bin/env python3
"""bench/profile_report.py: the two halves of bench/profile.sh's bookkeeping.
  sqlite-summary PREFIX VARIANT C B REP RESULT_JSON
      folds bench/sqlite_trace.so's records (PREFIX.jsonl, PREFIX.<pid>.holds) of
      one drain into one JSON line (the consumers only: the records that claimed);
  report JSONL OUT_MD
      writes the tables of the profile (docs/benchmarks.md, "Profile of the claim
      path") from profile.sh's records."""
import glob, json, os, re, statistics, sys
from array import array


def sqlite_summary(prefix, variant, c, b, rep, result):
    recs = [json.loads(l) for l in open(prefix + ".jsonl") if l.strip()]
    claim_keys = ("message_dequeue", "UPDATE m SET vt")
    cons = [r for r in recs if any(k.startswith(claim_keys) for k in r["stmts"])]
    tot = {k: sum(r[k] for r in cons) for k in
           ("begin", "begin_us", "commit", "hold_us", "busy_calls", "busy_us", "fsync", "fsync_us", "pages_written", "cache_miss")}
    stmts = {}
    for r in cons:
        for k, v in r["stmts"].items():
            s = stmts.setdefault(k, {"calls": 0, "us": 0, "vm": 0, "fullscan": 0})
            for f in s:
                s[f] += v[f]
    holds = []
    for r in cons:
        for path in glob.glob(f"{prefix}.{r['pid']}.holds"):
            a = array("d")
            with open(path, "rb") as f:
                a.frombytes(f.read())
            holds += [(a[i], a[i + 1], r["pid"]) for i in range(0, len(a) - 1, 2)]
    holds.sort()
    lock = None
    if holds:
        span = holds[-1][1] - holds[0][0]
        held, end, handoffs = 0.0, holds[0][0], 0
        for i, (s, e, pid) in enumerate(holds):
            if e > end:
                held += e - max(s, end)
                end = e
            if i and pid != holds[i - 1][2]:
                handoffs += 1
        lock = {"span_us": span, "held_us": held, "idle_frac": 1 - held / span if span else 0, "holds": len(holds),
                "handoffs": handoffs}
    print(json.dumps({"kind": "sqlite", "variant": variant, "c": int(c), "b": int(b), "rep": int(rep),
                      "result": json.loads(result), "consumers": len(cons), "totals": tot, "stmts": stmts, "lock": lock}))


# ---- the report --------------------------------------------------------------------------
def fmt(x, d=0):
    if x is None:
        return "—"
    return f"{x:,.{d}f}"


PG_NAMES = [
    ("claim", lambda q, t: t and (q.startswith("-- name: message_dequeue") or re.match(r"UPDATE \w+\.q SET vt", q))),
    ("archive", lambda q, t: t and (q.startswith("-- name: message_archive") or q.startswith("WITH d AS (DELETE"))),
    ("dead-letter check", lambda q, t: t and q.startswith("-- name: message_dead_letter")),
    ("  RI check, pgqrs_workers (fired by the claim)", lambda q, t: not t and "pgqrs_workers" in q and "FOR KEY SHARE" in q),
    ("  RI check, pgqrs_queues (fired by the archive)", lambda q, t: not t and "pgqrs_queues" in q and "FOR KEY SHARE" in q),
]


def pg_stmt(run, name):
    rows = [p for p in run["stats"]["pgss"] or [] if dict(PG_NAMES)[name](p["query"], p["toplevel"])]
    if not rows:
        return None
    agg = {k: sum(r.get(k) or 0 for r in rows) for k in ("calls", "total_ms", "plans", "plan_ms", "hit", "read", "dirtied", "written", "wal_records", "wal_fpi", "wal_bytes", "rows")}
    agg["wal_bytes"] = float(agg["wal_bytes"])
    agg["mean_ms"] = agg["total_ms"] / agg["calls"] if agg["calls"] else None
    agg["plan_mean_ms"] = agg["plan_ms"] / agg["calls"] if agg["calls"] else None
    return agg


def pg_drained(run):
    return run["result"]["drained"] or run["n"]


def report(jsonl, out):
    recs = [json.loads(l) for l in open(jsonl) if l.strip()]
    env = next((r for r in recs if r["kind"] == "env"), {})
    pgenv = next((r for r in recs if r["kind"] == "pg_env"), None)
    md = [f"# Profile of the claim path, {env.get('date', '?')} on `{env.get('host', '?')}`", ""]
    per_drain = f"; {fmt(env.get('n'))} messages per drain" if any(r["kind"] in ("pg", "sqlite") for r in recs) else ""
    md.append(f"{env.get('cores')} cores ({env.get('cpu')}), kernel {env.get('kernel')}, {env.get('disk')}; "
              f"load average before the run {env.get('load_before')}{per_drain}.")
    if pgenv:
        md.append("PostgreSQL: " + ", ".join(f"`{k}={v}`" for k, v in sorted(pgenv["settings"].items())) + ".")
    md.append("")
    pg = [r for r in recs if r["kind"] == "pg"]
    cells = sorted({(r["c"], r["b"]) for r in pg}, key=lambda x: (x[1], x[0]))
    for c, b in cells:
        md.append(f"## PostgreSQL, {c} consumer(s) × batch {b}: per statement (pg_stat_statements), per message")
        md.append("")
        md.append("Buffers and WAL of a statement include what its triggers ran (the RI checks, listed again "
                  "indented). WAL of the commit records is not in any statement.")
        md.append("")
        md.append("| system | statement | calls | mean ms | plan ms/call | hit/msg | dirtied/msg | written/msg | WAL records/msg | FPI/msg | WAL bytes/msg |")
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for v in ("base", "nofk", "lean", "floor"):
            run = next((r for r in pg if (r["variant"], r["c"], r["b"]) == (v, c, b)), None)
            if not run:
                continue
            n = pg_drained(run)
            label = {"base": "pgqrs-c", "nofk": "pgqrs-c, no FKs", "lean": "pgqrs-c, lean", "floor": "floor"}[v]
            for name, _ in PG_NAMES:
                s = pg_stmt(run, name)
                if not s:
                    continue
                md.append(f"| {label} | {name} | {fmt(s['calls'])} | {fmt(s['mean_ms'], 3)} | {fmt(s['plan_mean_ms'], 3)} | {fmt(s['hit'] / n, 2)} | "
                          f"{fmt(s['dirtied'] / n, 3)} | {fmt(s['written'] / n, 3)} | {fmt(s['wal_records'] / n, 2)} | "
                          f"{fmt(s['wal_fpi'] / n, 3)} | {fmt(s['wal_bytes'] / n, 0)} |")
        md.append("")
    if pg:
        md.append("## PostgreSQL: whole drain per message, by schema variant")
        md.append("")
        md.append("`pg_stat_wal` and the WAL position from the end of the prefill to the end of the drain (commit "
                  "records, heartbeats and worker registration included); msg/s is one run on a shared machine.")
        md.append("")
        md.append("| C × B | variant | msg/s | WAL bytes/msg (LSN) | WAL records/msg | FPI/msg | claim+archive mean ms (+ planning) | claim+archive hit/msg | dirtied/msg |")
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for c, b in cells:
            for r in [x for x in pg if (x["c"], x["b"]) == (c, b)]:
                n = pg_drained(r)
                w = r["stats"]["wal"]
                cl, ar = pg_stmt(r, "claim"), pg_stmt(r, "archive")
                ms = (cl["mean_ms"] or 0) + (ar["mean_ms"] or 0) if cl and ar else None
                pl = (cl["plan_mean_ms"] or 0) + (ar["plan_mean_ms"] or 0) if cl and ar else None
                hit = (cl["hit"] + ar["hit"]) / n if cl and ar else None
                dirt = (cl["dirtied"] + ar["dirtied"]) / n if cl and ar else None
                md.append(f"| {c} × {b} | {r['variant']} | {fmt(r['result']['msgs_per_s'])} | {fmt(r['lsn_bytes'] / n)} | "
                          f"{fmt(w['records'] / n, 2)} | {fmt(w['fpi'] / n, 3)} | {fmt(ms, 3)} (+ {fmt(pl, 3)}) | {fmt(hit, 2)} | {fmt(dirt, 3)} |")
        md.append("")
        md.append("## PostgreSQL: updates and index entries after the drain")
        md.append("")
        md.append("| C × B | variant | table | inserts | updates | HOT updates | deletes | index | entries | dead | size kB |")
        md.append("|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|")
        for c, b in cells:
            for r in [x for x in pg if (x["c"], x["b"]) == (c, b) and x["variant"] in ("base", "lean", "analyzed", "floor")]:
                tabs = {t["table"]: t for t in r["stats"]["tables"] or []}
                for ix in r["stats"]["indexes"] or []:
                    t = tabs.get(ix["table"], {})
                    md.append(f"| {c} × {b} | {r['variant']} | {ix['table']} | {fmt(t.get('ins'))} | {fmt(t.get('upd'))} | "
                              f"{fmt(t.get('hot'))} | {fmt(t.get('del'))} | {ix['index']} | {fmt(ix['entries'])} | {fmt(ix['dead'])} | "
                              f"{fmt(ix['bytes'] / 1024)} |")
        md.append("")
    for e in [r for r in recs if r["kind"] == "explain"]:
        md.append(f"## EXPLAIN (ANALYZE, BUFFERS, WAL), {e['system']}: one claim and one archive of batch 10")
        md.append("")
        md.append("```")
        md.append(e["plan"].rstrip())
        md.append("```")
        md.append("")

    sq = [r for r in recs if r["kind"] == "sqlite"]
    if sq:
        md.append("## SQLite: per drain (median msg/s over the repetitions; counters averaged)")
        md.append("")
        md.append("Per transaction: `BEGIN IMMEDIATE` wait (busy handler included), write-lock hold (BEGIN returned → "
                  "COMMIT returned), busy-handler calls, page-cache misses. Lock idle = share of the drain the write lock "
                  "was free; handoffs = consecutive transactions by different processes.")
        md.append("")
        md.append("| C × B | variant | msg/s | tx/msg | wait µs/tx | hold µs/tx | busy calls/tx | cache misses/tx | pages written/msg | fsync/msg | VM steps/msg claim | VM steps/msg archive | claim µs/call | archive µs/call | commit µs/call | lock idle | handoffs/100 tx |")
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        groups = {}
        for r in sq:
            groups.setdefault((r["b"], r["c"], r["variant"]), []).append(r)
        order = ["pgqrs", "bare", "pgqrs-builtin-busy", "pgqrs-nofk", "pgqrs-noconsidx"]
        for (b, c, v) in sorted(groups, key=lambda k: (-k[0], k[1], order.index(k[2]) if k[2] in order else 9)):
            rs = groups[(b, c, v)]
            rate = statistics.median(r["result"]["msgs_per_s"] for r in rs)
            def avg(f):
                return statistics.mean(f(r) for r in rs)
            n = lambda r: r["result"]["drained"] or 1
            tx = lambda r: r["totals"]["commit"] or 1
            def st(r, keys):
                return [v for k, v in r["stmts"].items() if k.startswith(keys)]
            claim_k = ("message_dequeue", "UPDATE m SET vt")
            arch_k = ("message_archive", "INSERT INTO a", "DELETE FROM m")
            commit_k = ("tx_commit", "COMMIT")
            def per_call(r, keys, first_only_calls=True):
                ss = st(r, keys)
                calls = max((s["calls"] for s in ss), default=0)
                return sum(s["us"] for s in ss) / calls if calls else 0
            md.append(
                f"| {c} × {b} | {v} | {fmt(rate)} | {fmt(avg(lambda r: r['totals']['commit'] / n(r)), 3)} | "
                f"{fmt(avg(lambda r: r['totals']['begin_us'] / tx(r)))} | {fmt(avg(lambda r: r['totals']['hold_us'] / tx(r)))} | "
                f"{fmt(avg(lambda r: r['totals']['busy_calls'] / tx(r)), 2)} | {fmt(avg(lambda r: r['totals']['cache_miss'] / tx(r)), 2)} | "
                f"{fmt(avg(lambda r: r['totals']['pages_written'] / n(r)), 3)} | {fmt(avg(lambda r: r['totals']['fsync'] / n(r)), 3)} | "
                f"{fmt(avg(lambda r: sum(s['vm'] for s in st(r, claim_k)) / n(r)), 1)} | "
                f"{fmt(avg(lambda r: sum(s['vm'] for s in st(r, arch_k)) / n(r)), 1)} | "
                f"{fmt(avg(lambda r: per_call(r, claim_k)))} | {fmt(avg(lambda r: per_call(r, arch_k)))} | "
                f"{fmt(avg(lambda r: per_call(r, commit_k)))} | "
                f"{fmt(avg(lambda r: 100 * r['lock']['idle_frac'] if r['lock'] else 0))} % | "
                f"{fmt(avg(lambda r: 100 * r['lock']['handoffs'] / r['lock']['holds'] if r['lock'] else 0), 1)} |")
        md.append("")

    cmp = [r for r in recs if r["kind"] == "compare"]
    if cmp:
        md.append("## PostgreSQL: the floor and pgqrs-c side by side (one small run, each cell twice in alternating order)")
        md.append("")
        systems = [s for s in ("floor", "pgqrs") if any(r["system"] == s for r in cmp)]
        systems += sorted({r["system"] for r in cmp} - {"floor", "pgqrs"})
        md.append(f"{fmt(cmp[0]['result']['messages'])} messages per cell; msg/s of each run, then the mean's ratio to the "
                  "floor's; p50 of the claim / archive call in ms (means of the runs).")
        md.append("")
        md.append("| C × B | " + " | ".join(f"{s} msg/s | {s} / floor | {s} p50 ms" for s in systems) + " |")
        md.append("|---|" + "---|---:|---|" * len(systems))
        for c, b in sorted({(r["c"], r["b"]) for r in cmp}, key=lambda x: (x[1], x[0])):
            res = {s: [r["result"] for r in cmp if (r["system"], r["c"], r["b"]) == (s, c, b)] for s in systems}
            fl = res.get("floor")
            f_m = statistics.mean(x["msgs_per_s"] for x in fl) if fl else None
            line = f"| {c} × {b} |"
            for s in systems:
                xs = res[s]
                if not xs:
                    line += " — | — | — |"
                    continue
                m = statistics.mean(x["msgs_per_s"] for x in xs)
                lat = " / ".join(fmt(statistics.mean(x[k]["p50"] for x in xs), 2) for k in ("dequeue_ms", "archive_ms"))
                line += f" {', '.join(fmt(x['msgs_per_s']) for x in xs)} | {(fmt(m / f_m, 2) + '×') if f_m else '—'} | {lat} |"
            md.append(line)
        md.append("")
    open(out, "w").write("\n".join(md) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "sqlite-summary":
        sqlite_summary(*sys.argv[2:8])
    elif sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: profile_report.py sqlite-summary ... | report JSONL OUT_MD")
