/**
 * The sqlite driver's storage: one SQLite file (WAL). Synchronous (better-sqlite3); run by
 * SqliteQueue on a dedicated worker thread (sqlite-thread.ts) so fsyncs never block the
 * gateway's event loop, or inline when a test injects a clock. Leases are rows with an
 * expiry, so the jobs of a worker that died are delivered again once their lease runs out.
 * Each lease also names the store that holds it (`pid:uuid`): a store that opens takes back at
 * once the leases of processes that no longer exist (a crashed gateway), never those of a live
 * one (a standalone `trellis async worker` beside the gateway), and a store that closes gives
 * back its own. Process ids mean something on one machine only, as the sqlite driver is.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  type CallbackState, type EnqueueInput, type EnqueueResult, type FinalStatus, type Job, type JobOutcome,
  type JobState, type JobStatus, type Reservation,
} from './types.js';
import { decodeOutcome, encodeOutcome, nowNs } from './codec.js';

export interface SqliteStoreOptions {
  file: string;
  /** `full`: each enqueue batch is fsynced before it resolves; `normal`: WAL write only. */
  enqueueSync: 'full' | 'normal';
  ackWaitMs: number;
  resultTtlMs: number;
  idempotencyWindowMs: number;
  defaultMaxAttempts: number;
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
  last_error TEXT, result BLOB, callback TEXT, lease_owner TEXT
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (status, not_before, seq);
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (status, lease_until);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY, call_id TEXT NOT NULL, created_at INTEGER NOT NULL
);`;

/** An enqueue's answer in a batch: its result, or the message of the error it met. */
export type EnqueueAnswer = EnqueueResult | { error: string };

export class SqliteStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private lastSweep = 0;
  /** Written into every lease this store takes. */
  private readonly owner = `${process.pid}:${randomUUID()}`;

  constructor(private readonly o: SqliteStoreOptions, private readonly now: () => number = Date.now) {
    mkdirSync(dirname(o.file), { recursive: true });
    this.db = new Database(o.file);
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
    if (!cols.some((c) => c.name === 'lease_owner')) this.db.exec('ALTER TABLE jobs ADD COLUMN lease_owner TEXT');
    this.reclaimOrphanedLeases();
  }

  /**
   * Leases whose process is gone are due now instead of after ack_wait (attempts are kept).
   * Leases written before owners were recorded count as orphaned, as they did then.
   */
  private reclaimOrphanedLeases(): void {
    const owners = this.stmt(`SELECT DISTINCT lease_owner FROM jobs WHERE status = 'running'`).all() as Array<{ lease_owner: string | null }>;
    for (const { lease_owner: owner } of owners) {
      if (owner !== null && processAlive(Number(owner.slice(0, owner.indexOf(':'))))) continue;
      this.stmt(`UPDATE jobs SET lease_until = ? WHERE status = 'running' AND lease_owner IS ?`).run(this.now(), owner);
    }
  }

  /** Group commit: the whole batch in one transaction and (with `full`) one fsync. */
  enqueueBatch(inputs: EnqueueInput[]): EnqueueAnswer[] {
    const now = this.now();
    const results: EnqueueAnswer[] = [];
    const full = this.o.enqueueSync === 'full';
    try {
      if (full) this.db.pragma('synchronous = FULL');
      this.db.transaction(() => {
        for (const input of inputs) {
          try { results.push(this.insert(input, now)); } catch (err) { results.push({ error: (err as Error).message }); }
        }
      }).immediate();
    } finally {
      if (full && this.db.open) this.db.pragma('synchronous = NORMAL');
    }
    return results;
  }

  private insert(input: EnqueueInput, now: number): EnqueueResult {
    const callId = input.callId ?? randomUUID();
    if (input.idempotencyKey !== undefined) {
      const seen = this.stmt('SELECT call_id, created_at FROM idempotency WHERE key = ?')
        .get(input.idempotencyKey) as { call_id: string; created_at: number } | undefined;
      if (seen && seen.created_at > now - this.o.idempotencyWindowMs) return { callId: seen.call_id, duplicate: true };
      this.stmt('INSERT OR REPLACE INTO idempotency (key, call_id, created_at) VALUES (?, ?, ?)')
        .run(input.idempotencyKey, callId, now);
    }
    const r = input.request;
    this.stmt(`INSERT INTO jobs (call_id, fn, method, path, query, headers, body, callback_url, status,
        max_attempts, not_before, enqueued_at, start_time_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)`)
      .run(callId, input.fn, r.method, r.path, r.query, JSON.stringify(r.headers), asBuffer(r.body), input.callbackUrl ?? null,
        input.maxAttempts ?? this.o.defaultMaxAttempts, now, now, input.startTimeNs ?? nowNs());
    return { callId, duplicate: false };
  }

  /** Prepared statements are cached: preparing dominates small transactions otherwise. */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) { st = this.db.prepare(sql); this.statements.set(sql, st); }
    return st;
  }

  take(max: number): Reservation[] {
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
            lease_owner = ?, started_at = ? WHERE seq = ?`).run(now + this.o.ackWaitMs, token, this.owner, now, row.seq);
        out.push({ job: rowToJob(row), attempt: row.attempts + 1, token });
      }
      return out;
    });
    return tx.immediate();
  }

  extend(token: string): void {
    this.stmt(`UPDATE jobs SET lease_until = ? WHERE lease_token = ? AND status = 'running'`)
      .run(this.now() + this.o.ackWaitMs, token);
  }

  finish(token: string, status: FinalStatus, outcome: JobOutcome, callback?: CallbackState): void {
    this.stmt(`UPDATE jobs SET status = ?, finished_at = ?, lease_token = NULL, lease_until = NULL,
        result = ?, last_error = ?, callback = ? WHERE lease_token = ? AND status = 'running'`)
      .run(status, this.now(), encodeOutcome(withBuffer(outcome)), outcome.error ?? errorOf(outcome),
        callback ? JSON.stringify(callback) : null, token);
  }

  nack(token: string, dead: boolean, delayMs: number, outcome?: JobOutcome): void {
    const now = this.now();
    this.stmt(`UPDATE jobs SET status = ?, not_before = ?, lease_token = NULL, lease_until = NULL,
        finished_at = ?, result = coalesce(?, result), last_error = ? WHERE lease_token = ? AND status = 'running'`)
      .run(dead ? 'dead' : 'queued', now + Math.max(0, delayMs), dead ? now : null,
        outcome ? encodeOutcome(withBuffer(outcome)) : null, outcome ? (outcome.error ?? errorOf(outcome)) : null, token);
  }

  release(token: string, delayMs: number): void {
    this.stmt(`UPDATE jobs SET status = 'queued', attempts = max(0, attempts - 1), not_before = ?,
        lease_token = NULL, lease_until = NULL WHERE lease_token = ? AND status = 'running'`)
      .run(this.now() + Math.max(0, delayMs), token);
  }

  status(callId: string): JobState | undefined {
    this.sweep(this.now());
    const row = this.stmt('SELECT * FROM jobs WHERE call_id = ?').get(callId) as Row | undefined;
    return row ? rowToState(row) : undefined;
  }

  list(filter: { status?: JobStatus; limit?: number } = {}): JobState[] {
    const limit = Math.max(1, Math.min(filter.limit ?? 100, 10_000));
    const rows = filter.status
      ? this.stmt('SELECT * FROM jobs WHERE status = ? ORDER BY seq LIMIT ?').all(filter.status, limit)
      : this.stmt('SELECT * FROM jobs ORDER BY seq LIMIT ?').all(limit);
    return (rows as Row[]).map(rowToState);
  }

  retry(callId: string): boolean {
    const info = this.stmt(`UPDATE jobs SET status = 'queued', attempts = 0, not_before = ?, finished_at = NULL,
        lease_token = NULL, lease_until = NULL, callback = NULL WHERE call_id = ? AND status IN ('dead', 'failed')`).run(this.now(), callId);
    return info.changes > 0;
  }

  /** Leases still held are given back (due now, attempts kept): nobody will finish them here. */
  close(): void {
    if (!this.db.open) return;
    this.stmt(`UPDATE jobs SET lease_until = ? WHERE status = 'running' AND lease_owner = ?`).run(this.now(), this.owner);
    this.db.close();
  }

  /** Drops finished results older than the TTL and expired idempotency keys (now and then). */
  private sweep(now: number): void {
    if (now - this.lastSweep < Math.min(10_000, this.o.resultTtlMs / 2)) return;
    this.lastSweep = now;
    this.stmt(`DELETE FROM jobs WHERE status IN ('succeeded', 'failed', 'dead') AND finished_at < ?`)
      .run(now - this.o.resultTtlMs);
    this.stmt('DELETE FROM idempotency WHERE created_at < ?').run(now - this.o.idempotencyWindowMs);
  }
}

/** Bytes that crossed a thread boundary arrive as plain Uint8Arrays. */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function withBuffer(o: JobOutcome): JobOutcome {
  return Buffer.isBuffer(o.body) ? o : { ...o, body: asBuffer(o.body) };
}

function errorOf(o: JobOutcome): string | null {
  return o.statusCode >= 200 && o.statusCode < 300 ? null : `function returned ${o.statusCode}`;
}

function rowToJob(row: Row): Job {
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

/** Whether a process with this id exists on this machine (EPERM: it does, owned by another user). */
function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}
