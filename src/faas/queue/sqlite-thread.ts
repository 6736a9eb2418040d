/**
 * The sqlite driver's storage thread: owns the database connection, so WAL writes and the
 * enqueue fsyncs happen here and never block the gateway's event loop. Messages in:
 * `{id, op, args}`; out: `{id, value}` | `{id, error}` | `{wake: true}` | `{ready: true}` | `{fatal}`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import { StoreHost, compactAnswer, type StoreOp } from './sqlite-host.js';
import type { EnqueueInput } from './types.js';

const port = parentPort!;
let host!: StoreHost;
try {
  host = new StoreHost(new SqliteStore(workerData as SqliteStoreOptions), () => port.postMessage({ wake: true }));
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ fatal: (err as Error).message });
  port.close();
}

port.on('message', (m: { id: number; op: StoreOp | 'enqueue' | 'close'; args: unknown[] }) => {
  if (m.op === 'enqueue') {
    host.enqueue(m.args[0] as EnqueueInput, (value) => port.postMessage({ id: m.id, value }));
    return;
  }
  if (m.op === 'close') {
    try { host.close(); } catch { /* closing anyway */ }
    port.postMessage({ id: m.id, value: undefined });
    port.close();
    return;
  }
  try {
    port.postMessage({ id: m.id, value: compactAnswer(m.op, host.run(m.op, m.args)) });
  } catch (err) {
    port.postMessage({ id: m.id, error: (err as Error).message });
  }
});
