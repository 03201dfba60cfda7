// bench/peers/graphile.mjs: graphile-worker (npm) on the same PostgreSQL cluster.
//   node graphile.mjs drain DSN SCHEMA CONSUMERS BATCH MESSAGES
// Mapping: graphile-worker pushes jobs to task functions; C consumers = one worker
// (run()) with concurrency C and a no-op task; batch B > 1 = its local queue of
// size B (one query locks B jobs) with batched completion (completeJobBatchDelay 0);
// B = 1 = the default (one get_job per job, one complete per job). Jobs are
// prefilled with addJobs in chunks of 1000. Per-call latencies are internal to the
// worker and not reported. Time = from run() until stop() has flushed completions.
import { run, makeWorkerUtils } from 'graphile-worker';
import { now, payload } from './common.mjs';

const [mode, dsn, schema, c, bsz, n] = process.argv.slice(2).map((v, i) => (i >= 3 ? +v : v));
if (mode !== 'drain') { console.error('usage: graphile.mjs drain DSN SCHEMA C B N'); process.exit(2); }
const logFactory = () => () => {};
const { Logger } = await import('graphile-worker');
const logger = new Logger(logFactory);
const utils = await makeWorkerUtils({ connectionString: dsn, schema, logger });
await utils.migrate();
const p0 = now();
for (let i = 0; i < n; i += 1000)
  await utils.addJobs(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ identifier: 'noop', payload: payload(i + k) })));
const prefill_s = Number(((now() - p0) / 1000).toFixed(2));
await utils.release();
let done = 0, finish;
const finished = new Promise((r) => (finish = r));
const worker = bsz > 1 ? { localQueue: { size: bsz }, completeJobBatchDelay: 0 } : {};
const start = now();
const runner = await run({
  connectionString: dsn, schema, concurrency: c, logger, noHandleSignals: true, pollInterval: 100, maxPoolSize: c + 2,
  preset: { worker }, taskList: { noop: async () => { if (++done === n) finish(); } },
});
await finished;
await runner.stop();
const end = now();
const secs = (end - start) / 1000;
// count what is left (should be 0)
const { default: pg } = await import('pg');
const cl = new pg.Client({ connectionString: dsn });
await cl.connect();
const left = (await cl.query(`select count(*)::int as n from ${schema}._private_jobs`)).rows[0].n;
await cl.end();
console.log(JSON.stringify({ messages: n, drained: done, seconds: Number(secs.toFixed(3)), msgs_per_s: Number((done / secs).toFixed(1)),
  prefill_s, left_in_table: left, errors: left ? 1 : 0, mapping: bsz > 1 ? `concurrency ${c}, localQueue.size ${bsz}` : `concurrency ${c}` }));
process.exit(0);
