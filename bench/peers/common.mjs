// bench/peers/common.mjs: process fan-out, timing and percentiles for the Node peers.
// The parent forks N children of the calling script (argv "child"), waits for all
// to report "ready", sends "go", and merges their results; prints one JSON line.
import { fork } from 'node:child_process';

export const now = () => performance.timeOrigin + performance.now();  // ms, wall-aligned
export const payload = (i) => ({ task: 'send_email', n: i });

export function pct(arr, p) {
  if (!arr.length) return 0;
  return Number(arr[Math.round((p / 100) * (arr.length - 1))].toFixed(3));
}
export function lat(arr) {
  arr.sort((a, b) => a - b);
  return { n: arr.length, p50: pct(arr, 50), p95: pct(arr, 95), p99: pct(arr, 99) };
}

// Runs `n` children of `script` with `args`; resolves with { start, results[] }.
export function runChildren(script, n, args) {
  return new Promise((resolve, reject) => {
    const kids = [];
    let ready = 0, start = 0;
    const results = [];
    for (let i = 0; i < n; i++) {
      const k = fork(script, ['child', String(i), ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      kids.push(k);
      k.on('message', (m) => {
        if (m.type === 'ready' && ++ready === n) { start = now(); kids.forEach((c) => c.send({ type: 'go' })); }
        if (m.type === 'result') { results.push(m); if (results.length === n) resolve({ start, results }); }
      });
      k.on('exit', (code) => { if (code && results.length < n) reject(new Error(`child exited ${code}`)); });
    }
  });
}

// In a child: tell the parent we are set up, wait for "go".
export function readyThenGo() {
  return new Promise((resolve) => {
    process.on('message', (m) => { if (m.type === 'go') resolve(); });
    process.send({ type: 'ready' });
  });
}

export function summarise(kind, messages, start, results, extra = {}) {
  const end = Math.max(...results.map((r) => r.end));
  const done = results.reduce((s, r) => s + r.done, 0);
  const errors = results.reduce((s, r) => s + r.errors, 0);
  const secs = (end - start) / 1000;
  const out = { messages, [kind]: done, seconds: Number(secs.toFixed(3)), msgs_per_s: Number((done / secs).toFixed(1)),
    errors: errors + (done !== messages ? 1 : 0), ...extra };
  for (const key of ['dequeue', 'archive', 'call']) {
    const all = results.flatMap((r) => r[key] || []);
    if (all.length) out[`${key}_ms`] = lat(all);
  }
  return out;
}
