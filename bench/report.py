#!/usr/bin/env python3
"""bench/report.py RUN_DIR RESULTS_DIR DOCS_MD: turns bench/scratch/run/{env.json,
results.jsonl} into bench/results/<date>-<host>.{json,md}, gnuplot SVG charts
(bench/results/<date>-<host>-<backend>-vs-{consumers,batch}.svg) and the latest
table in docs/benchmarks.md (between the BEGIN/END RESULTS markers)."""
import json, os, subprocess, sys

run, outdir, docs = sys.argv[1:4]
env = json.load(open(os.path.join(run, "env.json")))
rows = [json.loads(l) for l in open(os.path.join(run, "results.jsonl")) if l.strip()]
stamp = env["date"][:10] + "-" + env["host"] + ("-quick" if env["quick"] else "")
os.makedirs(outdir, exist_ok=True)

# the floor of each backend comes first: the minimal statements of the same loop on
# the bare client library (bench/floor_pg.c, bench/sqlite_bare.c)
FLOOR = {"postgres": "floor", "sqlite": "sqlite-bare"}
PEERS = {"postgres": ["floor", "pg-boss", "graphile-worker", "pgq"], "sqlite": ["sqlite-bare", "plainjob", "plainjob-as-shipped"]}
REF = {("postgres", 1, 1): 149.5, ("postgres", 1, 50): 6817, ("postgres", 4, 50): 20176,
       ("sqlite", 1, 1): 261, ("sqlite", 1, 50): 12630}

def get(sc, be, sysname, c, b):
    for r in rows:
        if (r["scenario"], r["backend"], r["system"], r["consumers"], r["batch"]) == (sc, be, sysname, c, b):
            return r
    return None

def rate(r):
    return r["result"]["msgs_per_s"] if r and r.get("result") else None

def fmt(x, d=0):
    if x is None: return "—"
    return f"{x:,.{d}f}"

def lat(res, key):
    l = res.get(key + "_ms") if res else None
    return f"{l['p50']:.2f} / {l['p95']:.2f} / {l['p99']:.2f}" if l else "—"

cells = sorted({(r["consumers"], r["batch"]) for r in rows if r["scenario"] == "drain"}, key=lambda x: (x[1], x[0]))
md = []
md.append(f"Run {env['date']} on `{env['host']}`: {env['cores']} cores ({env['cpu']}), {env['mem_gb']} GB, "
          f"kernel {env['kernel']}, {env['disk']}. {env['n_messages']:,} messages per cell, one repetition"
          + (" (QUICK smoke)" if env["quick"] else "") + ".")
ps = env["postgres_settings"]
md.append(f"PostgreSQL {env['postgres_version']}: " + ", ".join(f"`{k}={v}`" for k, v in sorted(ps.items())) + ".")
md.append(f"SQLite {env['sqlite_version']}: {env['sqlite_settings']}.")
md.append("Peers: " + ", ".join(f"{k} {v}" for k, v in env["peers"].items()) + ".")
cr = [r for r in rows if r["scenario"] == "commit_rate"]
if cr:
    md.append("Commit rate of this machine (pgbench, one-row INSERT per transaction): " +
              ", ".join(f"{fmt(r['result']['commits_per_s'])}/s with {r['consumers']} client(s)" for r in cr if r.get("result")) + ".")
md.append("")

for be in ["postgres", "sqlite"]:
    md.append(f"### Scenario 1, drain: {'PostgreSQL' if be == 'postgres' else 'SQLite'} — pgqrs-c")
    md.append("")
    md.append(f"| C × B | msg/s | drain s | dequeue p50/p95/p99 ms | archive p50/p95/p99 ms | errors | {FLOOR[be]} msg/s | pgqrs-c / {FLOOR[be]} | published pgqrs (Rust) | vs published |")
    md.append("|---|---:|---:|---|---|---:|---:|---:|---:|---:|")
    for c, b in cells:
        r = get("drain", be, "pgqrs", c, b)
        res = r["result"] if r and r.get("result") else None
        ref = REF.get((be, c, b))
        me = rate(r)
        fl = rate(get("drain", be, FLOOR[be], c, b))
        md.append(f"| {c} × {b} | {fmt(me)} | {fmt(res['seconds'], 2) if res else '—'} | {lat(res, 'dequeue')} | "
                  f"{lat(res, 'archive')} | {res['errors'] if res else (r['failure'] if r else '—')} | {fmt(fl)} | "
                  f"{(fmt(me / fl, 2) + '×') if (me and fl) else '—'} | {fmt(ref)} | "
                  f"{(fmt(me / ref, 1) + '×') if (me and ref) else '—'} |")
    md.append("")
    peers = [p for p in PEERS[be] if any(r["system"] == p and r["backend"] == be for r in rows)]
    if peers:
        md.append(f"### Scenario 1, drain: {'PostgreSQL' if be == 'postgres' else 'SQLite'} — pgqrs-c vs peers (msg/s; ratio = pgqrs-c / peer)")
        md.append("")
        md.append("| C × B | pgqrs-c | " + " | ".join(f"{p} | ratio" for p in peers) + " |")
        md.append("|---|---:|" + "---:|---:|" * len(peers))
        for c, b in cells:
            me = rate(get("drain", be, "pgqrs", c, b))
            line = f"| {c} × {b} | {fmt(me)} |"
            for p in peers:
                r = get("drain", be, p, c, b)
                pr = rate(r)
                if pr is None and r and r.get("failure"):
                    line += f" failed: {r['failure'][:60]} | — |"
                else:
                    line += f" {fmt(pr)} | {(fmt(me / pr, 2) + '×') if (me and pr) else '—'} |"
            md.append(line)
        md.append("")
        lats = [p for p in peers if p != "graphile-worker"]
        if lats:
            md.append("Peer latencies, dequeue / archive p50/p95/p99 ms (graphile-worker: not observable):")
            md.append("")
            md.append("| C × B | " + " | ".join(lats) + " |")
            md.append("|---|" + "---|" * len(lats))
            for c, b in cells:
                line = f"| {c} × {b} |"
                for p in lats:
                    r = get("drain", be, p, c, b)
                    res = r["result"] if r and r.get("result") else None
                    line += f" {lat(res, 'dequeue')} ; {lat(res, 'archive')} |"
                md.append(line)
            md.append("")

pl = [r for r in rows if r["scenario"] == "drain" and r["system"] == "pgqrs-pipelined"]
if pl:
    md.append("### Scenario 1, drain with `pgqrs_archive_and_dequeue` (each batch archived in the transaction that claims the next: one commit per batch)")
    md.append("")
    md.append("Same cells; `vs separate` = this / pgqrs-c with `pgqrs_dequeue` + `pgqrs_archive_batch` (two commits per batch) "
              "in the same run; the peer ratios are this / peer. Latency is the combined call's.")
    md.append("")
    for be in ["postgres", "sqlite"]:
        peers = [p for p in PEERS[be] if any(r["system"] == p and r["backend"] == be for r in rows)]
        md.append(f"{'PostgreSQL' if be == 'postgres' else 'SQLite'}:")
        md.append("")
        md.append("| C × B | msg/s | call p50/p95/p99 ms | vs separate | " + " | ".join(f"vs {p}" for p in peers) + " |")
        md.append("|---|---:|---|---:|" + "---:|" * len(peers))
        for c, b in cells:
            r = get("drain", be, "pgqrs-pipelined", c, b)
            me = rate(r)
            sep = rate(get("drain", be, "pgqrs", c, b))
            line = f"| {c} × {b} | {fmt(me)} | {lat(r['result'] if r and r.get('result') else None, 'dequeue')} | " \
                   f"{(fmt(me / sep, 2) + '×') if (me and sep) else '—'} |"
            for p in peers:
                pr = rate(get("drain", be, p, c, b))
                line += f" {(fmt(me / pr, 2) + '×') if (me and pr) else '—'} |"
            md.append(line)
        md.append("")

enq = [r for r in rows if r["scenario"] == "enqueue"]
if enq:
    md.append("### Scenario 2, enqueue (msg/s; ratio = pgqrs-c PostgreSQL / peer)")
    md.append("")
    md.append("| producers × batch | pgqrs-c PostgreSQL | call p50/p95/p99 ms | pgqrs-c SQLite | call p50/p95/p99 ms | pg-boss (send / insert) | ratio | PgQ insert_event | ratio |")
    md.append("|---|---:|---|---:|---|---:|---:|---:|---:|")
    for p, b in sorted({(r["consumers"], r["batch"]) for r in enq}, key=lambda x: (x[1], x[0])):
        pg, sq = get("enqueue", "postgres", "pgqrs", p, b), get("enqueue", "sqlite", "pgqrs", p, b)
        pb, pq = get("enqueue", "postgres", "pg-boss", p, b), get("enqueue", "postgres", "pgq", p, b)
        me = rate(pg)
        md.append(f"| {p} × {b} | {fmt(me)} | {lat(pg['result'] if pg else None, 'call')} | {fmt(rate(sq))} | "
                  f"{lat(sq['result'] if sq else None, 'call')} | {fmt(rate(pb))} | {(fmt(me / rate(pb), 2) + '×') if me and rate(pb) else '—'} | "
                  f"{fmt(rate(pq))} | {(fmt(me / rate(pq), 2) + '×') if me and rate(pq) else '—'} |")
    md.append("")
tu = [r for r in rows if r["scenario"] == "drain" and r["backend"] == "turso"]
if tu:
    md.append("### Scenario 1 on Turso: pgqrs-c over Hrana/HTTP (tursodb) vs the same drain on SQLite")
    md.append("")
    md.append("tursodb is Turso's local test server, not Turso Cloud; the messages per cell are fewer (see the JSON).")
    md.append("")
    md.append("| C × B | Turso msg/s | SQLite msg/s (same cell size) | Turso / SQLite |")
    md.append("|---|---:|---:|---:|")
    for r in [x for x in tu if x["system"] == "pgqrs"]:
        c, b = r["consumers"], r["batch"]
        t, q = rate(r), rate(get("drain", "turso", "pgqrs-sqlite", c, b))
        md.append(f"| {c} × {b} | {fmt(t)} | {fmt(q)} | {(fmt(t / q, 3) + '×') if (t and q) else '—'} |")
    md.append("")

lt = [r for r in rows if r["scenario"] == "latency"]
if lt:
    md.append("### Scenario 3, end-to-end latency under steady load")
    md.append("")
    md.append("Modes: `pgqrs` polls every 10 ms when the queue is empty; `pgqrs-wait` uses `pgqrs_dequeue_wait` "
              "(LISTEN/NOTIFY on PostgreSQL, capped jittered backoff polling on SQLite); `*-trickle` rows run at "
              "20 msg/s, so the consumers mostly wait on an empty queue: their latency is the pickup latency, "
              "fixed 100 ms polling (`poll100`) against wake-up (`wait`).")
    md.append("")
    md.append("| backend | mode | target rate | achieved | consumers × batch | sent | archived | enqueue→archive p50/p95/p99 ms | errors |")
    md.append("|---|---|---:|---:|---|---:|---:|---|---:|")
    for r in lt:
        res = r.get("result")
        if not res:
            md.append(f"| {r['backend']} | {r['system']} | — | — | {r['consumers']} × {r['batch']} | — | — | failed: {r['failure']} | — |")
            continue
        md.append(f"| {r['backend']} | {r['system']} | {res['rate']} | {fmt(res['achieved_rate'])} | {r['consumers']} × {r['batch']} | {res['sent']} | "
                  f"{res['archived']} | {lat(res, 'e2e')} | {res['errors']} |")
    md.append("")

wf = [r for r in rows if r["scenario"] == "workflow"]
if wf:
    md.append("### Scenario 4, workflows: a 3-step workflow (runs/s) and the cost of a replayed step")
    md.append("")
    md.append("`pgqrs-replay`: each run's first attempt fails after its 3 steps and is retried 1 ms later, "
              "so the second attempt replays 3 completed steps (their stored outputs are returned, the step "
              "bodies do not run). A step call's latency when it executes (`exec`: records RUNNING, runs the "
              "body, stores SUCCESS) against when it replays is the replay overhead.")
    md.append("")
    md.append("| backend | mode | workers | runs | succeeded | runs/s | triggers/s | step exec p50/p95/p99 ms | step replay p50/p95/p99 ms | errors |")
    md.append("|---|---|---:|---:|---:|---:|---:|---|---|---:|")
    for r in sorted(wf, key=lambda x: (x["backend"], x["system"], x["consumers"])):
        res = r.get("result")
        if not res:
            md.append(f"| {r['backend']} | {r['system']} | {r['consumers']} | — | — | — | — | failed: {r['failure']} | — | — |")
            continue
        rp = res.get("step_replay_ms", {})
        md.append(f"| {r['backend']} | {r['system']} | {r['consumers']} | {res['runs']} | {res['succeeded']} | {fmt(res['runs_per_s'])} | "
                  f"{fmt(res.get('triggers_per_s'))} | {lat(res, 'step_exec')} | {lat(res, 'step_replay') if rp.get('n') else '—'} | {res['errors']} |")
    md.append("")

def best(rows_, backend, system):
    vals = [r["result"]["runs_per_s"] for r in rows_ if r["backend"] == backend and r["system"] == system and r.get("result")]
    return max(vals) if vals else None

if wf and any(r["system"] == "dbos" for r in wf):
    p, d = best(wf, "postgres", "pgqrs"), best(wf, "postgres", "dbos")
    if p and d:
        md.append(f"Best runs/s on PostgreSQL: pgqrs-c {fmt(p)}, DBOS {fmt(d)}: ratio pgqrs-c / DBOS = {p / d:.2f}.")
        md.append("")

sr = [r for r in rows if r["scenario"] == "sendrecv"]
if sr:
    md.append("### Scenario 4c, the send-to-recv round trip")
    md.append("")
    md.append("A run waits in recv; one message is sent to it, one at a time. pgqrs-c suspends the run and frees "
              "its worker (the send makes the run runnable and wakes the idle worker, which executes the run "
              "again); DBOS keeps the workflow waiting in memory in `DBOS.recv`. send→recv: the send call → "
              "recv returns in the workflow; send→result: the send call → the caller has the run's result.")
    md.append("")
    md.append("| backend | system | n | send→recv p50/p95/p99 ms | send→result p50/p95/p99 ms | errors |")
    md.append("|---|---|---:|---|---|---:|")
    for r in sr:
        res = r.get("result")
        if not res:
            md.append(f"| {r['backend']} | {r['system']} | — | failed: {r['failure']} | — | — |")
            continue
        md.append(f"| {r['backend']} | {r['system']} | {res['n']} | {lat(res, 'send_to_recv')} | "
                  f"{lat(res, 'send_to_result')} | {res['errors']} |")
    p = [r["result"] for r in sr if r["backend"] == "postgres" and r["system"] == "pgqrs" and r.get("result")]
    d = [r["result"] for r in sr if r["system"] == "dbos" and r.get("result")]
    if p and d:
        md.append("")
        md.append(f"p50 send→recv, DBOS / pgqrs-c = {d[0]['send_to_recv_ms']['p50'] / p[0]['send_to_recv_ms']['p50']:.2f} "
                  "(above 1: pgqrs-c is faster).")
    md.append("")

wk = [r for r in rows if r["scenario"] == "wakeup"]
if wk:
    md.append("### Scenario 4b, wake-up latency of an idle system")
    md.append("")
    md.append("One workflow worker idles in `pgqrs_workflow_worker_poll`; runs are triggered one at a time "
              "(a random 0.5–1.5× the gap apart) and waited for with `pgqrs_run_wait`. pickup: trigger → the "
              "handler starts (the worker's idle wait); wait wake: the handler returns → `pgqrs_run_wait` "
              "returns (the finishing commit included); e2e: trigger → `pgqrs_run_wait` returns.")
    md.append("")
    md.append("| backend | mode | runs | gap ms | pickup p50/p95/p99 ms | wait wake p50/p95/p99 ms | e2e p50/p95/p99 ms | errors |")
    md.append("|---|---|---:|---:|---|---|---|---:|")
    for r in wk:
        res = r.get("result")
        if not res:
            md.append(f"| {r['backend']} | {r['system']} | — | {r['batch']} | failed: {r['failure']} | — | — | — |")
            continue
        md.append(f"| {r['backend']} | {r['system']} | {res['runs']} | {res['gap_ms']} | {lat(res, 'pickup')} | "
                  f"{lat(res, 'wait_wake')} | {lat(res, 'e2e')} | {res['errors']} |")
    md.append("")

rt = [r for r in rows if r["scenario"] == "runtime"]
if rt:
    md.append("### Scenario 5, the worker runtime: a no-op handler in one process (jobs/s; ratio = pgqrs-c / peer)")
    md.append("")
    md.append("Every system claims batches of 10 over a prefilled backlog: pgqrs-c `pgqrs_runtime` (concurrency C, "
              "batch_size 10, settles with the next claim), graphile-worker's runner (concurrency C, localQueue 10, "
              "batched completions), pg-boss `work()` (localConcurrency C, batchSize 10, burstWhenBatchFull), "
              "plainjob's `defineWorker` x C (one job per claim; it has no batch claim). Same durability: "
              "PostgreSQL synchronous_commit=on, SQLite synchronous=FULL (plainjob-as-shipped: its own NORMAL).")
    md.append("")
    for be, peers in (("postgres", ["pg-boss", "graphile-worker"]), ("sqlite", ["plainjob", "plainjob-as-shipped"])):
        concs = sorted({r["consumers"] for r in rt if r["backend"] == be})
        if not concs:
            continue
        md.append(f"{'PostgreSQL' if be == 'postgres' else 'SQLite'}:")
        md.append("")
        md.append("| concurrency | pgqrs-c | " + " | ".join(f"{p} | ratio" for p in peers) + " |")
        md.append("|---:|---:|" + "---:|---:|" * len(peers))
        for c in concs:
            me = rate(get("runtime", be, "pgqrs", c, 10))
            cells_ = []
            for p in peers:
                r = get("runtime", be, p, c, 10)
                v = rate(r)
                cells_.append(f"{fmt(v)} | {(f'{me / v:.2f}×' if me and v else ('failed' if r and r.get('failure') else '—'))}")
            md.append(f"| {c} | {fmt(me)} | " + " | ".join(cells_) + " |")
        md.append("")

# ---- charts ---------------------------------------------------------------------------
charts = []
def chart(be, axis):
    systems = ["pgqrs", "pgqrs-pipelined"] + PEERS[be]
    name = f"{stamp}-{be}-vs-{axis}.svg"
    dat = os.path.join(run, f"{be}-{axis}.dat")
    xs = sorted({c for c, b in cells}) if axis == "consumers" else sorted({b for c, b in cells})
    fixed = max(b for c, b in cells) if axis == "consumers" else 1
    present = [s for s in systems if any(rate(get("drain", be, s, (x if axis == "consumers" else fixed), (fixed if axis == "consumers" else x))) for x in xs)]
    if not present: return None
    with open(dat, "w") as f:
        for x in xs:
            vals = []
            for s in present:
                v = rate(get("drain", be, s, x, fixed) if axis == "consumers" else get("drain", be, s, fixed, x))
                vals.append(str(v) if v else "NaN")
            f.write(f"{x} " + " ".join(vals) + "\n")
    title = (f"{'PostgreSQL' if be == 'postgres' else 'SQLite'} drain, batch {fixed}: msg/s vs consumers" if axis == "consumers"
             else f"{'PostgreSQL' if be == 'postgres' else 'SQLite'} drain, 1 consumer: msg/s vs batch size")
    plot = ", ".join(f"'{dat}' using 1:{i + 2} with linespoints lw 2 title '{'pgqrs-c' if s == 'pgqrs' else ('pgqrs-c archive_and_dequeue' if s == 'pgqrs-pipelined' else s)}'" for i, s in enumerate(present))
    gp = (f"set terminal svg size 720,420 dynamic font 'sans,11' background '#ffffff'\nset output '{os.path.join(outdir, name)}'\n"
          f"set title \"{title}\"\nset logscale y\nset grid\nset key outside right\nset xlabel '{'consumers' if axis == 'consumers' else 'batch size'}'\n"
          f"set ylabel 'messages/s (log)'\nset xtics ({', '.join(str(x) for x in xs)})\n" + ("set logscale x\n" if axis == "batch" else "") +
          f"plot {plot}\n")
    try:
        subprocess.run(["gnuplot"], input=gp.encode(), check=True)
        return name
    except Exception as e:
        print(f"report: gnuplot failed: {e}", file=sys.stderr)
        return None
def ratio_chart(be):
    """pgqrs-c / floor against consumers, one line per batch size."""
    name = f"{stamp}-{be}-vs-floor.svg"
    dat = os.path.join(run, f"{be}-vs-floor.dat")
    xs = sorted({c for c, b in cells})
    bs = sorted({b for c, b in cells})
    def ratio(c, b):
        me, fl = rate(get("drain", be, "pgqrs", c, b)), rate(get("drain", be, FLOOR[be], c, b))
        return me / fl if me and fl else None
    bs = [b for b in bs if any(ratio(c, b) for c in xs)]
    if not bs: return None
    with open(dat, "w") as f:
        for c in xs:
            f.write(f"{c} " + " ".join(str(ratio(c, b) or "NaN") for b in bs) + "\n")
    title = f"{'PostgreSQL' if be == 'postgres' else 'SQLite'} drain: pgqrs-c / {FLOOR[be]} (1 = the floor)"
    plot = ", ".join(f"'{dat}' using 1:{i + 2} with linespoints lw 2 title 'batch {b}'" for i, b in enumerate(bs))
    gp = (f"set terminal svg size 720,420 dynamic font 'sans,11' background '#ffffff'\nset output '{os.path.join(outdir, name)}'\n"
          f"set title \"{title}\"\nset grid\nset key outside right\nset xlabel 'consumers'\nset ylabel 'pgqrs-c msg/s / floor msg/s'\n"
          f"set yrange [0:*]\nset xtics ({', '.join(str(x) for x in xs)})\nplot {plot}, 1 with lines dt 2 lc 'black' notitle\n")
    try:
        subprocess.run(["gnuplot"], input=gp.encode(), check=True)
        return name
    except Exception as e:
        print(f"report: gnuplot failed: {e}", file=sys.stderr)
        return None
for be in ["postgres", "sqlite"] if cells else []:
    for axis in ["consumers", "batch"]:
        n = chart(be, axis)
        if n: charts.append(n)
    n = ratio_chart(be)
    if n: charts.append(n)

table = "\n".join(md)
with open(os.path.join(outdir, stamp + ".md"), "w") as f:
    f.write(f"# pgqrs-c benchmarks, {stamp}\n\n" + table + "\n" + "".join(f"![{c}]({c})\n" for c in charts))
with open(os.path.join(outdir, stamp + ".json"), "w") as f:
    json.dump({"env": env, "results": rows, "charts": charts}, f, indent=1)
print(f"report: wrote {os.path.join(outdir, stamp)}.{{json,md}} and {len(charts)} charts", file=sys.stderr)
print(table)

if not env["quick"] and os.path.exists(docs):
    text = open(docs).read()
    b, e = "<!-- BEGIN RESULTS -->", "<!-- END RESULTS -->"
    if b in text and e in text:
        rel = os.path.relpath(outdir, os.path.dirname(docs))
        new = (b + "\n\n" + f"Source: [`bench/results/{stamp}.json`]({rel}/{stamp}.json)\n\n" + table + "\n" +
               "".join(f"![{c}]({rel}/{c})\n" for c in charts) + "\n" + e)
        text = text[:text.index(b)] + new + text[text.index(e) + len(e):]
        open(docs, "w").write(text)
        print(f"report: updated {docs}", file=sys.stderr)
