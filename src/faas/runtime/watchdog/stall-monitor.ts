/**
 * Guards against a handler that blocks the event loop (a synchronous endless loop): such a
 * handler cannot be interrupted from inside its own thread, and no timer of ours can fire.
 * A worker thread watches a heartbeat the main thread bumps; when it stops for longer than
 * the limit, the worker reports on fd 3 and SIGKILLs the process. The provider sees the exit
 * and replaces the instance (an async hang, by contrast, is answered with 504 and the
 * instance keeps serving).
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const beat = new Int32Array(workerData.sab);
let last = Atomics.load(beat, 0), since = Date.now();
setInterval(() => {
  const now = Date.now(), cur = Atomics.load(beat, 0);
  if (cur !== last) { last = cur; since = now; return; }
  if (now - since > workerData.limitMs) {
    const msg = 'handler blocked the event loop for more than ' + workerData.limitMs + ' ms (exec timeout); killing the instance';
    try { fs.writeSync(2, 'watchdog: ' + msg + '\\n'); } catch {}
    try { fs.writeSync(${3}, JSON.stringify({ fatal: msg }) + '\\n'); } catch {}
    process.kill(process.pid, 'SIGKILL');
  }
}, Math.max(20, Math.min(250, workerData.limitMs / 10)));
`;

export function startStallMonitor(limitMs: number): () => void {
  const sab = new SharedArrayBuffer(4);
  const beat = new Int32Array(sab);
  const tick = setInterval(() => Atomics.add(beat, 0, 1), Math.max(10, Math.min(100, limitMs / 20)));
  tick.unref();
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, limitMs } });
  worker.unref();
  return () => { clearInterval(tick); void worker.terminate(); };
}
