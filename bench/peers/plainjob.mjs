// bench/peers/plainjob.mjs: plainjob (npm, SQLite via better-sqlite3).
//   node plainjob.mjs drain PATH CONSUMERS BATCH MESSAGES
//   node plainjob.mjs runtime PATH CONCURRENCY BATCH MESSAGES
// runtime: plainjob's worker (defineWorker) in one process: CONCURRENCY workers
// on one queue with a no-op processor, pollIntervall 10 ms; each claims one job
// at a time (plainjob has no batch claim; BATCH is ignored). better-sqlite3 is
// synchronous, so the workers take turns on the one connection.
// plainjob has no batch claim: a batch of B = B claims (getAndMarkJobAsProcessing,
// one BEGIN IMMEDIATE each) + getJobById (the payload, as its worker does), then B
// markJobAsDone. Each consumer is its own process on the file. plainjob sets
// journal_mode WAL and synchronous NORMAL itself (no fsync per commit); with
// PLAINJOB_SYNC=FULL the bench sets synchronous FULL after it, the setting pgqrs-c
// runs at (SQLite's default), so both pay the same durability.
import Database from 'better-sqlite3';
import { defineQueue, defineWorker, better } from 'plainjob';
import { runChildren, readyThenGo, summarise, now, payload } from './common.mjs';

const [mode, a1, a2, a3, a4, a5] = process.argv.slice(2);
const quiet = { error: console.error, warn: () => {}, info: () => {}, debug: () => {} };
const open = (path) => {
  const db = new Database(path);
  const q = defineQueue({ connection: better(db), logger: quiet, timeout: 30000 });
  if (process.env.PLAINJOB_SYNC) db.pragma(`synchronous = ${process.env.PLAINJOB_SYNC}`);
  return q;
};

if (mode === 'drain') {
  const [path, c, bsz, n] = [a1, +a2, +a3, +a4];
  const q = open(path);
  const p0 = now();
  for (let i = 0; i < n; i += 1000)
    q.addMany('send_email', Array.from({ length: Math.min(1000, n - i) }, (_, k) => payload(i + k)));
  const prefill_s = Number(((now() - p0) / 1000).toFixed(2));
  q.close();
  const { start, results } = await runChildren(new URL(import.meta.url).pathname, c, ['drain-child', path, String(bsz)]);
  console.log(JSON.stringify(summarise('drained', n, start, results, { prefill_s })));
  process.exit(0);
} else if (mode === 'runtime') {
  const [path, c, , n] = [a1, +a2, +a3, +a4];
  const q = open(path);
  const p0 = now();
  for (let i = 0; i < n; i += 1000)
    q.addMany('send_email', Array.from({ length: Math.min(1000, n - i) }, (_, k) => payload(i + k)));
  const prefill_s = Number(((now() - p0) / 1000).toFixed(2));
  let done = 0, finish;
  const finished = new Promise((r) => (finish = r));
  const workers = Array.from({ length: c }, () => defineWorker('send_email', () => {}, {
    queue: q, pollIntervall: 10, logger: quiet, onCompleted: () => { if (++done === n) finish(); } }));
  const start = now();
  const runs = workers.map((w) => w.start());
  await finished;
  await Promise.all(workers.map((w) => w.stop()));
  await Promise.all(runs).catch(() => {});
  const secs = (now() - start) / 1000;
  const left = q.countJobs({ type: 'send_email', status: 0 }) + q.countJobs({ type: 'send_email', status: 1 });
  q.close();
  console.log(JSON.stringify({ messages: n, drained: done, seconds: Number(secs.toFixed(3)), msgs_per_s: Number((done / secs).toFixed(1)),
    prefill_s, left, errors: left || done !== n ? 1 : 0, mapping: `defineWorker x ${c}, pollIntervall 10 ms` }));
  process.exit(0);
} else if (mode === 'child') {
  const [path, bsz] = [a3, +a4];
  const q = open(path);
  const r = { type: 'result', done: 0, errors: 0, end: 0, dequeue: [], archive: [] };
  await readyThenGo();
  for (let stop = false; !stop;) {
    const ids = [];
    let t0 = now();
    for (let k = 0; k < bsz; k++) {
      let job;
      try { job = q.getAndMarkJobAsProcessing('send_email'); } catch (e) { r.errors++; console.error(e.message); continue; }
      if (!job) { stop = true; break; }
      const full = q.getJobById(job.id);
      JSON.parse(full.data);
      ids.push(job.id);
    }
    let t1 = now();
    r.dequeue.push(t1 - t0);
    if (!ids.length) break;
    t0 = now();
    for (const id of ids) { try { q.markJobAsDone(id); r.done++; } catch (e) { r.errors++; console.error(e.message); } }
    t1 = now();
    r.archive.push(t1 - t0);
    r.end = t1;
  }
  q.close();
  process.send(r, () => process.exit(0));
}
