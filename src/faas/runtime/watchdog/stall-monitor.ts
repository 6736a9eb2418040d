/**
 * Guards against a handler that blocks the event loop (a synchronous endless loop): such a
 * handler cannot be interrupted from inside its own thread, and no timer of ours can fire.
 * A worker thread watches a heartbeat the main thread bumps; when it stops for longer than
 * the limit, the worker reports on fd 3 and SIGKILLs the process. The provider sees the exit
 * and replaces the instance (an async hang, by contrast, is answered with 504 and the
 * instance keeps serving).
 *
 * The worker is started early (`prepareStallMonitor`, at process start) and sleeps on an
 * Atomics.wait until `arm(limitMs)`: booting a worker isolate costs tens of ms of CPU, which
 * must not land on a (warm-pool) cold start's critical path.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const cells = new Int32Array(workerData.sab);
Atomics.wait(cells, 1, 0); // until armed with a limit
const limitMs = Atomics.load(cells, 1);
let last = Atomics.load(cells, 0), since = Date.now();
setInterval(() => {
  const now = Date.now(), cur = Atomics.load(cells, 0);
  if (cur !== last) { last = cur; since = now; return; }
  if (now - since > limitMs) {
    const msg = 'handler blocked the event loop for more than ' + limitMs + ' ms (exec timeout); killing the instance';
    try { fs.writeSync(2, 'watchdog: ' + msg + '\\n'); } catch {}
    try { fs.writeSync(${3}, JSON.stringify({ fatal: msg }) + '\\n'); } catch {}
    process.kill(process.pid, 'SIGKILL');
  }
}, Math.max(20, Math.min(250, limitMs / 10)));
`;

export interface StallMonitor {
  /** Starts watching with this limit (once); returns a stop function. */
  arm(limitMs: number): () => void;
}

export function prepareStallMonitor(): StallMonitor {
  const sab = new SharedArrayBuffer(8);
  const cells = new Int32Array(sab);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab } });
  worker.unref();
  let armed = false;
  return {
    arm(limitMs: number) {
      if (armed) throw new Error('stall monitor already armed');
      armed = true;
      const tick = setInterval(() => Atomics.add(cells, 0, 1), Math.max(10, Math.min(100, limitMs / 20)));
      tick.unref();
      Atomics.store(cells, 1, Math.max(1, Math.round(limitMs)));
      Atomics.notify(cells, 1);
      return () => { clearInterval(tick); void worker.terminate(); };
    },
  };
}

export function startStallMonitor(limitMs: number): () => void {
  return prepareStallMonitor().arm(limitMs);
}
