/**
 * The embedded driver: one SQLite file (WAL) in the data directory. Every enqueue is
 * committed (and, by default, fsynced) before it resolves. The database lives on a
 * dedicated worker thread (sqlite-thread.ts): fsyncs and writes never block the gateway's
 * event loop, and enqueues that arrive while a commit runs share the next one (group commit).
 */
import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import {
  QUEUE_DEFAULTS, type AsyncQueue, type CallbackState, type EnqueueInput, type EnqueueResult, type FinalStatus,
  type JobOutcome, type JobState, type JobStatus, type Reservation, type QueueCommonOptions,
} from './types.js';
import { SqliteStore, asBuffer, type EnqueueAnswer, type SqliteStoreOptions } from './sqlite-store.js';
import { StoreHost, exact, type StoreOp } from './sqlite-host.js';

export interface SqliteQueueOptions extends QueueCommonOptions {
  /** Path of the database file, e.g. `<dataDir>/async-queue.db`. */
  file: string;
  /**
   * `full` (default): each enqueue batch is fsynced before it resolves (survives power loss).
   * `normal`: written to the WAL only (survives a process crash, not an OS crash); much
   * cheaper, and the same guarantee JetStream's default file store gives.
   */
  enqueueSync?: 'full' | 'normal';
  /** Injected clock (epoch ms) for tests; implies running the store inline (no thread). */
  now?: () => number;
  /** Run the database on this thread instead of a storage thread (default: a thread). */
  inline?: boolean;
}

type Call = (op: StoreOp | 'enqueue' | 'close', args: unknown[]) => Promise<unknown>;

export class SqliteQueue implements AsyncQueue {
  readonly driver = 'sqlite' as const;
  /** Resolves once the database is open (rejects with the reason it could not be). */
  readonly ready: Promise<void>;
  private readonly now: () => number;
  private readonly wake = new EventEmitter();
  private readonly call: Call;
  private readonly shutdown: () => Promise<void>;
  private closed = false;

  constructor(options: SqliteQueueOptions) {
    this.now = options.now ?? Date.now;
    this.wake.setMaxListeners(0);
    const storeOpts: SqliteStoreOptions = {
      file: options.file, enqueueSync: options.enqueueSync ?? 'full',
      ackWaitMs: options.ackWaitMs ?? QUEUE_DEFAULTS.ackWaitMs,
      resultTtlMs: options.resultTtlMs ?? QUEUE_DEFAULTS.resultTtlMs,
      idempotencyWindowMs: options.idempotencyWindowMs ?? QUEUE_DEFAULTS.idempotencyWindowMs,
      defaultMaxAttempts: options.defaultMaxAttempts ?? QUEUE_DEFAULTS.defaultMaxAttempts,
    };
    const onWake = () => this.wake.emit('job');
    if (options.inline || options.now) {
      const host = new StoreHost(new SqliteStore(storeOpts, this.now), onWake);
      this.ready = Promise.resolve();
      this.call = async (op, args) => {
        if (op === 'enqueue') return new Promise<EnqueueAnswer>((r) => host.enqueue(args[0] as EnqueueInput, r));
        if (op === 'close') return host.close();
        return host.run(op, args);
      };
      this.shutdown = async () => undefined;
    } else {
      const t = startThread(storeOpts, onWake);
      this.ready = t.ready;
      this.ready.catch(() => undefined);
      this.call = t.call;
      this.shutdown = t.terminate;
    }
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    this.assertOpen();
    const body = exact(input.request.body) as Buffer;
    const a = await this.call('enqueue', [{ ...input, request: { ...input.request, body } }]) as EnqueueAnswer;
    if ('error' in a) throw new Error(a.error);
    return a;
  }

  async reserve(max: number, waitMs: number): Promise<Reservation[]> {
    this.assertOpen();
    const deadline = this.now() + waitMs;
    for (;;) {
      const got = await this.call('take', [max]) as Reservation[];
      if (got.length > 0 || this.closed) {
        for (const r of got) r.job.request.body = asBuffer(r.job.request.body);
        return got;
      }
      const left = deadline - this.now();
      if (left <= 0) return [];
      await this.nextWake(Math.min(left, 50));
    }
  }

  async extend(r: Reservation): Promise<void> {
    await this.call('extend', [r.token]);
  }

  async finish(r: Reservation, status: FinalStatus, outcome: JobOutcome, callback?: CallbackState): Promise<void> {
    await this.call('finish', [r.token, status, compactOutcome(outcome), callback]);
  }

  async nack(r: Reservation, delayMs: number, outcome?: JobOutcome): Promise<'queued' | 'dead'> {
    const dead = r.attempt >= r.job.maxAttempts;
    await this.call('nack', [r.token, dead, delayMs, outcome && compactOutcome(outcome)]);
    return dead ? 'dead' : 'queued';
  }

  async release(r: Reservation, delayMs: number): Promise<void> {
    await this.call('release', [r.token, delayMs]);
  }

  async status(callId: string): Promise<JobState | undefined> {
    const s = await this.call('status', [callId]) as JobState | undefined;
    return s && fixState(s);
  }

  async list(filter: { status?: JobStatus; limit?: number } = {}): Promise<JobState[]> {
    return (await this.call('list', [filter]) as JobState[]).map(fixState);
  }

  async retry(callId: string): Promise<boolean> {
    return await this.call('retry', [callId]) as boolean;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake.emit('job');
    try { await this.call('close', []); } catch { /* the thread is gone already */ }
    await this.shutdown();
  }

  private nextWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.wake.off('job', done); resolve(); };
      const timer = setTimeout(done, ms);
      this.wake.once('job', done);
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('async queue is closed');
  }
}

function compactOutcome(o: JobOutcome): JobOutcome {
  return { ...o, body: exact(o.body) as Buffer };
}

function fixState(s: JobState): JobState {
  if (s.result) s.result.body = asBuffer(s.result.body);
  return s;
}

/** Starts the storage thread; calls are answered in any order, matched by id. */
function startThread(opts: SqliteStoreOptions, onWake: () => void): { ready: Promise<void>; call: Call; terminate: () => Promise<void> } {
  // Under tsx (tests, `node --import tsx`) the thread must load TypeScript too.
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(`./sqlite-thread.${ts ? 'ts' : 'js'}`, import.meta.url);
  const worker = ts
    ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true, workerData: opts })
    : new Worker(entry, { workerData: opts });
  const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let broken: Error | undefined;
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { resolveReady = res; rejectReady = rej; });
  const fail = (err: Error) => {
    broken ??= err;
    rejectReady(broken);
    for (const c of calls.values()) c.reject(broken);
    calls.clear();
    worker.unref();
  };
  worker.unref(); // referenced only while calls are outstanding
  worker.on('message', (m: { id?: number; value?: unknown; error?: string; wake?: true; ready?: true; fatal?: string }) => {
    if (m.wake) return onWake();
    if (m.ready) return resolveReady();
    if (m.fatal !== undefined) return fail(new Error(`async queue database ${opts.file}: ${m.fatal}`));
    const c = calls.get(m.id!);
    if (!c) return;
    calls.delete(m.id!);
    if (calls.size === 0) worker.unref();
    if (m.error !== undefined) c.reject(new Error(m.error)); else c.resolve(m.value);
  });
  worker.on('error', (err) => fail(new Error(`async queue storage thread failed: ${err.message}`)));
  worker.on('exit', () => fail(new Error('async queue is closed')));
  const call: Call = (op, args) => {
    if (broken) return Promise.reject(broken);
    return new Promise((resolve, reject) => {
      const id = nextId++;
      if (calls.size === 0) worker.ref();
      calls.set(id, { resolve, reject });
      worker.postMessage({ id, op, args });
    });
  };
  return { ready, call, terminate: async () => { await worker.terminate(); } };
}
