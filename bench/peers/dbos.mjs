// bench/peers/dbos.mjs: DBOS Transact (npm @dbos-inc/dbos-sdk) on the same PostgreSQL cluster.
//   node dbos.mjs workflow DSN SCHEMA CONCURRENCY RUNS
//   node dbos.mjs sendrecv DSN SCHEMA N
// workflow: RUNS runs of a 3-step workflow (each step returns a small object, as
// pgqrs_bench's steps do), CONCURRENCY of them in flight at once in one process
// (DBOS executes a workflow in the process that starts it; each step is
// checkpointed in the system database). Time: from the first start to the last
// result. runs_per_s = RUNS / that time.
// sendrecv: N times, one at a time: start a workflow that waits in DBOS.recv('t'),
// pause 20 ms (it waits in recv by then), then DBOS.send; the workflow returns the
// wall time at which recv returned. send_to_recv: send called -> recv returned;
// send_to_result: send called -> the caller has the workflow's result.
// DBOS keeps a waiting workflow in memory (recv waits in the process, woken by the
// system database's notifications), where pgqrs-c suspends the run and frees its
// worker (the run is executed again, replaying its steps, when the message comes).
import { DBOS } from '@dbos-inc/dbos-sdk';
import { lat, now } from './common.mjs';

const [mode, rawDsn, schema, a3, a4] = process.argv.slice(2);
// DBOS parses the URL with new URL(), which refuses an empty host: a unix socket
// given as ?host=/dir gets a placeholder host (node-postgres takes the query's)
const dsn = rawDsn.replace('@/', '@localhost/');

DBOS.setConfig({ name: 'pgqrs-bench', systemDatabaseUrl: dsn, systemDatabaseSchemaName: schema,
  systemDatabasePoolSize: 20, logLevel: 'error' });

const step = (i) => async () => ({ step: i, at: Date.now() });
const threeSteps = DBOS.registerWorkflow(async (n) => {
  const a = await DBOS.runStep(step(1), { name: 's1' });
  const b = await DBOS.runStep(step(2), { name: 's2' });
  const c = await DBOS.runStep(step(3), { name: 's3' });
  return { n, a: a.step, b: b.step, c: c.step };
}, { name: 'three_steps' });

const receiver = DBOS.registerWorkflow(async () => {
  const m = await DBOS.recv('t', 60);
  return { recv: now(), m };
}, { name: 'receiver' });

await DBOS.launch();
let out;
if (mode === 'workflow') {
  const conc = +a3, runs = +a4;
  let next = 0, ok = 0, errors = 0;
  const t0 = now();
  const lane = async () => {
    for (let i = next++; i < runs; i = next++) {
      try { const r = await threeSteps(i); if (r && r.c === 3) ok++; else errors++; } catch (e) { errors++; console.error(e.message); }
    }
  };
  await Promise.all(Array.from({ length: conc }, lane));
  const secs = (now() - t0) / 1000;
  out = { runs, succeeded: ok, seconds: Number(secs.toFixed(3)), runs_per_s: Number((ok / secs).toFixed(1)),
    errors: errors + (ok !== runs ? 1 : 0) };
} else if (mode === 'sendrecv') {
  const n = +a3;
  const rt = [], res = [];
  let errors = 0;
  for (let i = 0; i < n; i++) {
    const h = await DBOS.startWorkflow(receiver)();
    await new Promise((r) => setTimeout(r, 20));   // it waits in recv by now
    const t = now();
    await DBOS.send(h.workflowID, { i }, 't');
    const r = await h.getResult();
    const back = now();
    if (r && r.m && r.m.i === i) { rt.push(r.recv - t); res.push(back - t); } else errors++;
  }
  out = { n, errors, send_to_recv_ms: lat(rt), send_to_result_ms: lat(res) };
} else {
  console.error('usage: node dbos.mjs workflow DSN SCHEMA CONCURRENCY RUNS | sendrecv DSN SCHEMA N');
  process.exit(2);
}
console.log(JSON.stringify(out));
await DBOS.shutdown();
process.exit(0);
