/**
 * The embedded driver: one SQLite file (WAL, synchronous=FULL) in the data directory.
 * Every enqueue is committed before it resolves; leases are rows with an expiry, so the
 * jobs of a worker that died are delivered again once their lease runs out.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  QUEUE_DEFAULTS, type AsyncQueue, type EnqueueInput, type EnqueueResult, type FinalStatus, type JobOutcome,
  type JobState, type JobStatus, type Reservation, type QueueCommonOptions, type CallbackState,
} from './types.js';
import { decodeOutcome, encodeOutcome, nowNs } from './codec.js';

export interface SqliteQueueOptions extends QueueCommonOptions {
  /** Path of the database file, e.g. `<dataDir>/async-queue.db`. */
  file: string;
  /**
   * `full` (default): each enqueue batch is fsynced before it resolves (survives power loss).
   * `normal`: written to the WAL only (survives a process crash, not an OS crash); much
   * cheaper, and the same guarantee JetStream's default file store gives.
   */
  enqueueSync?: 'full' | 'normal';
  /** Injected clock (epoch ms) for tests. */
  now?: () => number;
}

interface Row {
  seq: number; call_id: string; fn: string; method: string; path: string; query: string; headers: string;
  body: Buffer; callback_url: string | null; status: JobStatus; attempts: number; max_attempts: number;
  not_before: number; lease_until: number | null; lease_token: string | null; enqueued_at: number;
  start_time_ns: string; started_at: number | null; finished_at: number | null; last_error: string | null;
  result: Buffer | null; callback: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  call_id TEXT NOT NULL UNIQUE, fn TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
  query TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL, callback_url TEXT,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
  not_before INTEGER NOT NULL, lease_until INTEGER, lease_token TEXT,
  enqueued_at INTEGER NOT NULL, start_time_ns TEXT NOT NULL, started_at INTEGER, finished_at INTEGER,
  last_error TEXT, result BLOB, callback TEXT
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (status, not_before, seq);
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (status, lease_until);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY, call_id TEXT NOT NULL, created_at INTEGER NOT NULL
);`;

export class SqliteQueue implements AsyncQueue {
  readonly driver = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly opts: Required<QueueCommonOptions>;
  private readonly wake = new EventEmitter();
  private closed = false;
  private lastSweep = 0;
  private readonly pending: Array<{ input: EnqueueInput; resolve: (r: EnqueueResult) => void; reject: (e: Error) => void }> = [];
  private readonly statements = new Map<string, Database.Statement>();
  private readonly fsyncEnqueue: boolean;

  constructor(options: SqliteQueueOptions) {
    mkdirSync(dirname(options.file), { recursive: true });
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    // Enqueues commit with synchronous=FULL (fsync before they resolve); state changes after
    // that use NORMAL: WAL writes still survive a process crash, and a power loss can at worst
    // roll a job back to an earlier state, so it runs again (at-least-once either way).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // Databases created before the callback column existed get it added.
    const cols = this.db.prepare('PRAGMA table_info(jobs)').all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === 'callback')) this.db.exec('ALTER TABLE jobs ADD COLUMN callback TEXT');
    this.now = options.now ?? Date.now;
    this.fsyncEnqueue = (options.enqueueSync ?? 'full') === 'full';
    this.opts = {
      ackWaitMs: options.ackWaitMs ?? QUEUE_DEFAULTS.ackWaitMs,
      resultTtlMs: options.resultTtlMs ?? QUEUE_DEFAULTS.resultTtlMs,
      idempotencyWindowMs: options.idempotencyWindowMs ?? QUEUE_DEFAULTS.idempotencyWindowMs,
      defaultMaxAttempts: options.defaultMaxAttempts ?? QUEUE_DEFAULTS.defaultMaxAttempts,
    };
    this.wake.setMaxListeners(0);
    // One gateway owns a data directory, so leases left by a previous process belong to a
    // dead worker: make them due now instead of after ack_wait (attempts are kept).
    this.stmt(`UPDATE jobs SET lease_until = ? WHERE status = 'running'`).run(this.now());
  }

  /**
   * Group commit: enqueues arriving in the same tick share one transaction and one fsync
   * (synchronous=FULL), and each resolves only after that commit.
   */
  enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    try { this.assertOpen(); } catch (err) { return Promise.reject(err); }
    return new Promise((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    if (this.closed) { for (const p of batch) p.reject(new Error('async queue is closed')); return; }
    const now = this.now();
    const results: Array<EnqueueResult | Error> = [];
    try {
      if (this.fsyncEnqueue) this.db.pragma('synchronous = FULL');
      this.db.transaction(() => {
        for (const p of batch) {
          try { results.push(this.insert(p.input, now)); } catch (err) { results.push(err as Error); }
        }
      }).immediate();
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
      return;
    } finally {
      if (this.fsyncEnqueue && !this.closed) this.db.pragma('synchronous = NORMAL');
    }
    batch.forEach((p, i) => { const r = results[i]; if (r instanceof Error) p.reject(r); else p.resolve(r); });
    this.wake.emit('job');
  }

  private insert(input: EnqueueInput, now: number): EnqueueResult {
    const callId = input.callId ?? randomUUID();
    if (input.idempotencyKey !== undefined) {
      const seen = this.stmt('SELECT call_id, created_at FROM idempotency WHERE key = ?')
        .get(input.idempotencyKey) as { call_id: string; created_at: number } | undefined;
      if (seen && seen.created_at > now - this.opts.idempotencyWindowMs) return { callId: seen.call_id, duplicate: true };
      this.stmt('INSERT OR REPLACE INTO idempotency (key, call_id, created_at) VALUES (?, ?, ?)')
        .run(input.idempotencyKey, callId, now);
    }
    const r = input.request;
    this.stmt(`INSERT INTO jobs (call_id, fn, method, path, query, headers, body, callback_url, status,
        max_attempts, not_before, enqueued_at, start_time_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)`)
      .run(callId, input.fn, r.method, r.path, r.query, JSON.stringify(r.headers), r.body, input.callbackUrl ?? null,
        input.maxAttempts ?? this.opts.defaultMaxAttempts, now, now, input.startTimeNs ?? nowNs());
    return { callId, duplicate: false };
  }

  /** Prepared statements are cached: preparing dominates small transactions otherwise. */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) { st = this.db.prepare(sql); this.statements.set(sql, st); }
    return st;
  }

  async reserve(max: number, waitMs: number): Promise<Reservation[]> {
    this.assertOpen();
    const deadline = this.now() + waitMs;
    for (;;) {
      const got = this.take(max);
      if (got.length > 0 || this.closed) return got;
      const left = deadline - this.now();
      if (left <= 0) return [];
      await this.nextWake(Math.min(left, 50));
    }
  }

  private take(max: number): Reservation[] {
    const now = this.now();
    this.sweep(now);
    const tx = this.db.transaction((): Reservation[] => {
      const rows = this.stmt(`SELECT * FROM jobs WHERE (status = 'queued' AND not_before <= ?)
          OR (status = 'running' AND lease_until <= ?) ORDER BY seq LIMIT ?`).all(now, now, max) as Row[];
      const out: Reservation[] = [];
      for (const row of rows) {
        if (row.status === 'running' && row.attempts >= row.max_attempts) {
          // Redelivered after its last attempt's lease ran out: a crash loop, dead-letter it.
          this.stmt(`UPDATE jobs SET status = 'dead', lease_token = NULL, lease_until = NULL, finished_at = ?,
              last_error = ? WHERE seq = ?`).run(now, 'lease expired on the last attempt', row.seq);
          continue;
        }
        const token = randomUUID();
        this.stmt(`UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, lease_token = ?,
            started_at = ? WHERE seq = ?`).run(now + this.opts.ackWaitMs, token, now, row.seq);
        out.push({ job: rowToJob(row), attempt: row.attempts + 1, token });
      }
      return out;
    });
    return tx.immediate();
  }

  async extend(r: Reservation): Promise<void> {
    this.stmt(`UPDATE jobs SET lease_until = ? WHERE lease_token = ? AND status = 'running'`)
      .run(this.now() + this.opts.ackWaitMs, r.token);
  }

  async finish(r: Reservation, status: FinalStatus, outcome: JobOutcome, callback?: CallbackState): Promise<void> {
    this.stmt(`UPDATE jobs SET status = ?, finished_at = ?, lease_token = NULL, lease_until = NULL,
        result = ?, last_error = ?, callback = ? WHERE lease_token = ? AND status = 'running'`)
      .run(status, this.now(), encodeOutcome(outcome), outcome.error ?? errorOf(outcome),
        callback ? JSON.stringify(callback) : null, r.token);
  }

  async nack(r: Reservation, delayMs: number, outcome?: JobOutcome): Promise<'queued' | 'dead'> {
    const now = this.now();
    const dead = r.attempt >= r.job.maxAttempts;
    this.stmt(`UPDATE jobs SET status = ?, not_before = ?, lease_token = NULL, lease_until = NULL,
        finished_at = ?, result = coalesce(?, result), last_error = ? WHERE lease_token = ? AND status = 'running'`)
      .run(dead ? 'dead' : 'queued', now + Math.max(0, delayMs), dead ? now : null,
        outcome ? encodeOutcome(outcome) : null, outcome ? (outcome.error ?? errorOf(outcome)) : null, r.token);
    return dead ? 'dead' : 'queued';
  }

  async release(r: Reservation, delayMs: number): Promise<void> {
    this.stmt(`UPDATE jobs SET status = 'queued', attempts = max(0, attempts - 1), not_before = ?,
        lease_token = NULL, lease_until = NULL WHERE lease_token = ? AND status = 'running'`)
      .run(this.now() + Math.max(0, delayMs), r.token);
    if (delayMs <= 0) this.wake.emit('job');
  }

  async status(callId: string): Promise<JobState | undefined> {
    this.sweep(this.now());
    const row = this.stmt('SELECT * FROM jobs WHERE call_id = ?').get(callId) as Row | undefined;
    return row ? rowToState(row) : undefined;
  }

  async list(filter: { status?: JobStatus; limit?: number } = {}): Promise<JobState[]> {
    const limit = Math.max(1, Math.min(filter.limit ?? 100, 10_000));
    const rows = filter.status
      ? this.stmt('SELECT * FROM jobs WHERE status = ? ORDER BY seq LIMIT ?').all(filter.status, limit)
      : this.stmt('SELECT * FROM jobs ORDER BY seq LIMIT ?').all(limit);
    return (rows as Row[]).map(rowToState);
  }

  async retry(callId: string): Promise<boolean> {
    const info = this.stmt(`UPDATE jobs SET status = 'queued', attempts = 0, not_before = ?, finished_at = NULL,
        lease_token = NULL, lease_until = NULL, callback = NULL WHERE call_id = ? AND status IN ('dead', 'failed')`).run(this.now(), callId);
    if (info.changes > 0) this.wake.emit('job');
    return info.changes > 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.wake.emit('job');
    this.db.close();
  }

  /** Drops finished results older than the TTL and expired idempotency keys (now and then). */
  private sweep(now: number): void {
    if (now - this.lastSweep < Math.min(10_000, this.opts.resultTtlMs / 2)) return;
    this.lastSweep = now;
    this.stmt(`DELETE FROM jobs WHERE status IN ('succeeded', 'failed', 'dead') AND finished_at < ?`)
      .run(now - this.opts.resultTtlMs);
    this.stmt('DELETE FROM idempotency WHERE created_at < ?').run(now - this.opts.idempotencyWindowMs);
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

function errorOf(o: JobOutcome): string | null {
  return o.statusCode >= 200 && o.statusCode < 300 ? null : `function returned ${o.statusCode}`;
}

function rowToJob(row: Row) {
  return {
    callId: row.call_id, fn: row.fn, maxAttempts: row.max_attempts, enqueuedAt: row.enqueued_at,
    startTimeNs: row.start_time_ns, ...(row.callback_url ? { callbackUrl: row.callback_url } : {}),
    request: { method: row.method, path: row.path, query: row.query, headers: JSON.parse(row.headers), body: row.body },
  };
}

function rowToState(row: Row): JobState {
  const s: JobState = {
    callId: row.call_id, fn: row.fn, status: row.status, attempts: row.attempts, maxAttempts: row.max_attempts,
    enqueuedAt: row.enqueued_at,
  };
  if (row.started_at !== null) s.startedAt = row.started_at;
  if (row.finished_at !== null) s.finishedAt = row.finished_at;
  if (row.status === 'queued' && row.attempts > 0) s.nextAttemptAt = row.not_before;
  if (row.last_error) s.lastError = row.last_error;
  if (row.callback_url) s.callbackUrl = row.callback_url;
  if (row.result) s.result = decodeOutcome(row.result);
  if (row.callback) s.callback = JSON.parse(row.callback) as CallbackState;
  return s;
}
