/**
 * Wiring: open the configured queue driver, mount the async API on a gateway, and run a
 * queue-worker that invokes through the gateway's own invoke path. `trellis gateway` calls
 * `attachAsync(host, asyncConfigFromEnv(process.env, dataDir))`.
 */
import { join } from 'node:path';
import type { AsyncQueue, QueueCommonOptions } from './types.js';
import { SqliteQueue } from './sqlite-queue.js';
import { NatsQueue } from './nats-queue.js';
import { createAsyncApi, type AsyncRouteHandler } from './api.js';
import { QueueWorker } from './worker/worker.js';
import { parseDurationMs, type RetryPolicy } from './worker/retry-policy.js';
import type { CallbackOptions } from './worker/callback.js';
import type { FunctionMetaLookup } from './worker/types.js';
import type { Registry } from 'prom-client';
import { NO_METRICS, createQueueMetrics } from './metrics.js';

export interface AsyncConfig extends QueueCommonOptions {
  /** `sqlite` (embedded, default) or `nats` (JetStream). */
  driver: 'sqlite' | 'nats';
  /** sqlite: the data directory (file `async-queue.db`). */
  dataDir?: string;
  /** sqlite: fsync each enqueue batch (`full`, default) or only write the WAL (`normal`). */
  sqliteSync?: 'full' | 'normal';
  /** sqlite: run the database on a storage thread (default true); false = on the event loop. */
  sqliteThread?: boolean;
  /** nats: server URL(s). */
  natsServers?: string[];
  /** nats: stream name (default TRELLIS_ASYNC). */
  natsStream?: string;
  /** Run a queue-worker in this process (default true). */
  worker?: boolean;
  maxInflight?: number;
  maxInflightPerFunction?: number;
  retry?: Partial<RetryPolicy>;
  callback?: Partial<CallbackOptions>;
  maxBodyBytes?: number;
}

/** What the queue needs from a gateway (structurally the gateway's own surface). */
export interface AsyncHost {
  addRoute(method: string, pathPrefix: string, handler: AsyncRouteHandler): void;
  invoke(name: string, req: { method: string; path: string; query: string; headers: Record<string, string>; body: Buffer }):
    Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }>;
  functionMeta: FunctionMetaLookup;
  log?: (line: string) => void;
  /** The gateway's /metrics registry: queue_worker_* metrics are registered there when given. */
  metricsRegistry?: Registry;
}

export interface AsyncService {
  queue: AsyncQueue;
  worker?: QueueWorker;
  close(): Promise<void>;
}

export async function openQueue(c: AsyncConfig): Promise<AsyncQueue> {
  const common: QueueCommonOptions = {
    ...(c.ackWaitMs !== undefined ? { ackWaitMs: c.ackWaitMs } : {}),
    ...(c.resultTtlMs !== undefined ? { resultTtlMs: c.resultTtlMs } : {}),
    ...(c.idempotencyWindowMs !== undefined ? { idempotencyWindowMs: c.idempotencyWindowMs } : {}),
    ...(c.defaultMaxAttempts !== undefined ? { defaultMaxAttempts: c.defaultMaxAttempts } : {}),
  };
  if (c.driver === 'nats') {
    if (!c.natsServers?.length) throw new Error('async queue driver "nats" needs at least one server URL (TRELLIS_NATS_URL)');
    return NatsQueue.connect({ servers: c.natsServers, ...(c.natsStream ? { stream: c.natsStream } : {}), ...common });
  }
  if (!c.dataDir) throw new Error('async queue driver "sqlite" needs a data directory');
  const q = new SqliteQueue({ file: join(c.dataDir, 'async-queue.db'), ...(c.sqliteSync ? { enqueueSync: c.sqliteSync } : {}),
    ...(c.sqliteThread === false ? { inline: true } : {}), ...common });
  try { await q.ready; } catch (err) { await q.close(); throw err; }
  return q;
}

export async function attachAsync(host: AsyncHost, c: AsyncConfig): Promise<AsyncService> {
  const queue = await openQueue(c);
  const log = host.log ?? (() => undefined);
  const metrics = host.metricsRegistry ? createQueueMetrics(host.metricsRegistry) : NO_METRICS;
  const api = createAsyncApi({
    queue, functionMeta: host.functionMeta, log, metrics,
    ...(c.retry ? { retry: c.retry } : {}), ...(c.maxBodyBytes ? { maxBodyBytes: c.maxBodyBytes } : {}),
  });
  host.addRoute('*', '/async-function/', api.invokeAsync);
  host.addRoute('*', '/system/async', api.system);
  let worker: QueueWorker | undefined;
  if (c.worker !== false) {
    worker = new QueueWorker({
      queue, log, metrics, functionMeta: host.functionMeta,
      invoke: async (fn, req) => {
        const r = await host.invoke(fn, req);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        return { status: r.status, headers, body: r.body };
      },
      ...(c.maxInflight ? { maxInflight: c.maxInflight } : {}),
      ...(c.maxInflightPerFunction ? { maxInflightPerFunction: c.maxInflightPerFunction } : {}),
      ...(c.retry ? { retry: c.retry } : {}), ...(c.callback ? { callback: c.callback } : {}),
      ...(c.ackWaitMs ? { ackWaitMs: c.ackWaitMs } : {}),
    });
    worker.start();
  }
  return {
    queue, worker,
    async close() {
      await worker?.stop(5000);
      await queue.close();
    },
  };
}

/**
 * Async settings from the environment (names follow OpenFaaS' queue-worker where it has them):
 * TRELLIS_ASYNC_DRIVER=sqlite|nats, TRELLIS_NATS_URL (comma-separated), TRELLIS_NATS_STREAM,
 * max_inflight / TRELLIS_ASYNC_MAX_INFLIGHT, TRELLIS_ASYNC_MAX_INFLIGHT_PER_FUNCTION,
 * ack_wait / TRELLIS_ASYNC_ACK_WAIT, TRELLIS_ASYNC_RETRY_ATTEMPTS, TRELLIS_ASYNC_RETRY_MIN_WAIT,
 * TRELLIS_ASYNC_RETRY_MAX_WAIT, TRELLIS_ASYNC_CALLBACK_ATTEMPTS, TRELLIS_ASYNC_RESULT_TTL,
 * TRELLIS_ASYNC_IDEMPOTENCY_WINDOW, TRELLIS_ASYNC_SQLITE_SYNC=full|normal, TRELLIS_ASYNC_SQLITE_THREAD=false, TRELLIS_ASYNC_WORKER=false (API only). Durations are Go
 * style (`30s`) or seconds. Invalid values throw with the variable's name.
 */
export function asyncConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string): AsyncConfig {
  const driver = (env.TRELLIS_ASYNC_DRIVER ?? (env.TRELLIS_NATS_URL ? 'nats' : 'sqlite')).toLowerCase();
  if (driver !== 'sqlite' && driver !== 'nats') throw new Error(`TRELLIS_ASYNC_DRIVER must be sqlite or nats, got "${driver}"`);
  const dur = (name: string, alt?: string) => {
    const v = env[name] ?? (alt ? env[alt] : undefined);
    if (v === undefined || v === '') return undefined;
    const ms = parseDurationMs(v);
    if (ms === undefined) throw new Error(`${name}: "${v}" is not a duration (e.g. 30s, 500ms)`);
    return ms;
  };
  const int = (name: string, alt?: string) => {
    const v = env[name] ?? (alt ? env[alt] : undefined);
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: "${v}" is not a positive integer`);
    return n;
  };
  const c: AsyncConfig = { driver, dataDir };
  if (env.TRELLIS_NATS_URL) c.natsServers = env.TRELLIS_NATS_URL.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.TRELLIS_NATS_STREAM) c.natsStream = env.TRELLIS_NATS_STREAM;
  const sync = env.TRELLIS_ASYNC_SQLITE_SYNC?.toLowerCase();
  if (sync !== undefined && sync !== '') {
    if (sync !== 'full' && sync !== 'normal') throw new Error(`TRELLIS_ASYNC_SQLITE_SYNC must be full or normal, got "${sync}"`);
    c.sqliteSync = sync;
  }
  const thread = env.TRELLIS_ASYNC_SQLITE_THREAD?.toLowerCase();
  if (thread !== undefined && thread !== '') {
    if (!['true', 'false', '1', '0'].includes(thread)) throw new Error(`TRELLIS_ASYNC_SQLITE_THREAD must be true or false, got "${thread}"`);
    c.sqliteThread = thread === 'true' || thread === '1';
  }
  const set = <K extends keyof AsyncConfig>(k: K, v: AsyncConfig[K] | undefined) => { if (v !== undefined) c[k] = v; };
  set('maxInflight', int('TRELLIS_ASYNC_MAX_INFLIGHT', 'max_inflight'));
  set('maxInflightPerFunction', int('TRELLIS_ASYNC_MAX_INFLIGHT_PER_FUNCTION'));
  set('ackWaitMs', dur('TRELLIS_ASYNC_ACK_WAIT', 'ack_wait'));
  set('resultTtlMs', dur('TRELLIS_ASYNC_RESULT_TTL'));
  set('idempotencyWindowMs', dur('TRELLIS_ASYNC_IDEMPOTENCY_WINDOW'));
  const retry: Partial<RetryPolicy> = {};
  const attempts = int('TRELLIS_ASYNC_RETRY_ATTEMPTS');
  if (attempts !== undefined) { retry.maxAttempts = attempts; c.defaultMaxAttempts = attempts; }
  const minW = dur('TRELLIS_ASYNC_RETRY_MIN_WAIT');
  const maxW = dur('TRELLIS_ASYNC_RETRY_MAX_WAIT');
  if (minW !== undefined) retry.minWaitMs = minW;
  if (maxW !== undefined) retry.maxWaitMs = maxW;
  if (Object.keys(retry).length) c.retry = retry;
  const cbAttempts = int('TRELLIS_ASYNC_CALLBACK_ATTEMPTS');
  const cbMin = dur('TRELLIS_ASYNC_CALLBACK_MIN_WAIT');
  if (cbAttempts !== undefined || cbMin !== undefined) {
    c.callback = { ...(cbAttempts !== undefined ? { attempts: cbAttempts } : {}), ...(cbMin !== undefined ? { minWaitMs: cbMin } : {}) };
  }
  if (env.TRELLIS_ASYNC_WORKER === 'false' || env.TRELLIS_ASYNC_WORKER === '0') c.worker = false;
  return c;
}
