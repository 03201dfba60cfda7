// bench/peers/pgboss.mjs: pg-boss (npm) on the same PostgreSQL cluster.
//   node pgboss.mjs drain   DSN SCHEMA CONSUMERS BATCH MESSAGES
//   node pgboss.mjs enqueue DSN SCHEMA PRODUCERS BATCH MESSAGES
//   node pgboss.mjs runtime DSN SCHEMA CONCURRENCY BATCH MESSAGES
// runtime: pg-boss's worker, work(), in one process: localConcurrency C workers,
// each fetching BATCH jobs (the handler gets the batch; pg-boss completes it when
// the no-op handler resolves), burstWhenBatchFull so a worker fetches again at once
// while batches come back full (without it, or at batchSize 1, work() waits
// pollingIntervalSeconds, at least 0.5 s, between fetches). Time: from work() to
// the last job handled plus offWork() (which waits for the completions).
// drain: each consumer process fetch({batchSize: B}) then complete(ids) until empty;
// the queue has expireInSeconds 30 (the visibility timeout). enqueue: send() for
// batch 1, insert() of B jobs otherwise. Maintenance and scheduling are off in the
// measured processes (supervise/schedule false), as a dedicated worker would run.
import { PgBoss } from 'pg-boss';
import { runChildren, readyThenGo, summarise, now, payload } from './common.mjs';

const [mode, a1, a2, a3, a4, a5, a6] = process.argv.slice(2);
const Q = 'bench';
const boss = (dsn, schema, max = 2) => new PgBoss({ connectionString: dsn, schema, max, supervise: false, schedule: false });

async function setup(dsn, schema) {
  const b = new PgBoss({ connectionString: dsn, schema, max: 2, supervise: false, schedule: false });
  b.on('error', (e) => console.error('pg-boss:', e.message));
  await b.start();
  await b.createQueue(Q, { expireInSeconds: 30, retryLimit: 5 });
  return b;
}

if (mode === 'drain') {
  const [dsn, schema, c, bsz, n] = [a1, a2, +a3, +a4, +a5];
  const b = await setup(dsn, schema);
  const p0 = now();
  for (let i = 0; i < n; i += 1000)
    await b.insert(Q, Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ data: payload(i + k) })));
  const prefill_s = Number(((now() - p0) / 1000).toFixed(2));
  await b.stop({ graceful: false, wait: true });
  const { start, results } = await runChildren(new URL(import.meta.url).pathname, c, ['drain-child', dsn, schema, String(bsz)]);
  console.log(JSON.stringify(summarise('drained', n, start, results, { prefill_s })));
  process.exit(0);
} else if (mode === 'enqueue') {
  const [dsn, schema, p, bsz, n] = [a1, a2, +a3, +a4, +a5];
  const b = await setup(dsn, schema);
  await b.stop({ graceful: false, wait: true });
  const per = Math.floor(n / p);
  const { start, results } = await runChildren(new URL(import.meta.url).pathname, p, ['enqueue-child', dsn, schema, String(bsz), String(per)]);
  console.log(JSON.stringify(summarise('enqueued', per * p, start, results)));
  process.exit(0);
} else if (mode === 'runtime') {
  const [dsn, schema, c, bsz, n] = [a1, a2, +a3, +a4, +a5];
  const b = await setup(dsn, schema);
  const p0 = now();
  for (let i = 0; i < n; i += 1000)
    await b.insert(Q, Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ data: payload(i + k) })));
  const prefill_s = Number(((now() - p0) / 1000).toFixed(2));
  await b.stop({ graceful: false, wait: true });
  const w = boss(dsn, schema, c + 2);
  w.on('error', (e) => console.error('pg-boss:', e.message));
  await w.start();
  let done = 0, finish;
  const finished = new Promise((r) => (finish = r));
  const start = now();
  await w.work(Q, { batchSize: bsz, localConcurrency: c, burstWhenBatchFull: bsz > 1, pollingIntervalSeconds: 0.5 },
    async (jobs) => { done += jobs.length; if (done >= n) finish(); });
  await finished;
  await w.offWork(Q, { wait: true });
  const secs = (now() - start) / 1000;
  const { default: pg } = await import('pg');
  const cl = new pg.Client({ connectionString: dsn });
  await cl.connect();
  const left = (await cl.query(`select count(*)::int as n from ${schema}.job where name = $1 and state <> 'completed'`, [Q])).rows[0].n;
  await cl.end();
  await w.stop({ graceful: false, wait: true }).catch(() => {});
  console.log(JSON.stringify({ messages: n, drained: done, seconds: Number(secs.toFixed(3)), msgs_per_s: Number((done / secs).toFixed(1)),
    prefill_s, left, errors: left || done !== n ? 1 : 0, mapping: `work(): localConcurrency ${c}, batchSize ${bsz}, burstWhenBatchFull ${bsz > 1}` }));
  process.exit(0);
} else if (mode === 'child') {
  const [idx, kind, dsn, schema, bsz, per] = [+a1, a2, a3, a4, +a5, +a6];
  const b = boss(dsn, schema);
  b.on('error', (e) => console.error('pg-boss:', e.message));
  await b.start();
  const r = { type: 'result', done: 0, errors: 0, end: 0, dequeue: [], archive: [], call: [] };
  await readyThenGo();
  if (kind === 'drain-child') {
    let empty = 0;
    for (;;) {
      let t0 = now(), jobs;
      try { jobs = await b.fetch(Q, { batchSize: bsz }); } catch (e) { r.errors++; console.error(e.message); if (r.errors > 100) break; continue; }
      let t1 = now();
      r.dequeue.push(t1 - t0);
      if (!jobs || jobs.length === 0) { if (++empty >= 2) break; await new Promise((s) => setTimeout(s, 2)); continue; }
      empty = 0;
      t0 = now();
      try { await b.complete(Q, jobs.map((j) => j.id)); r.done += jobs.length; } catch (e) { r.errors++; console.error(e.message); }
      t1 = now();
      r.archive.push(t1 - t0);
      r.end = t1;
    }
  } else {
    for (let i = 0; i < per; i += bsz) {
      const k = Math.min(bsz, per - i);
      const t0 = now();
      try {
        if (k === 1) await b.send(Q, payload(idx * per + i));
        else await b.insert(Q, Array.from({ length: k }, (_, j) => ({ data: payload(idx * per + i + j) })));
        r.done += k;
      } catch (e) { r.errors++; console.error(e.message); }
      const t1 = now();
      r.call.push(t1 - t0);
      r.end = t1;
    }
  }
  await b.stop({ graceful: false, wait: true }).catch(() => {});
  process.send(r, () => process.exit(0));
}
