/**
 * The async queue's vocabulary: a job is a whole HTTP request for a function, stored
 * durably, delivered at least once to a worker under a lease (JetStream's ack_wait).
 * One interface, two drivers (sqlite embedded, NATS JetStream); both pass the same
 * contract suite (test/faas/queue-contract.test.ts).
 */

/** The request as the caller sent it; replayed verbatim to the function. */
export interface AsyncRequest {
  method: string;
  /** Sub-path after the function name, always starting with `/` (`/` when none). */
  path: string;
  /** Raw query string without the `?` ('' when none). */
  query: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface EnqueueInput {
  fn: string;
  request: AsyncRequest;
  callbackUrl?: string;
  /** A repeat with the same key inside the idempotency window returns the first call id. */
  idempotencyKey?: string;
  maxAttempts?: number;
  /** Caller-supplied call id (validated by the API); generated when absent. */
  callId?: string;
  /** X-Start-Time: when the gateway received the request, Unix nanoseconds as a string. */
  startTimeNs?: string;
}

export interface Job {
  callId: string;
  fn: string;
  request: AsyncRequest;
  callbackUrl?: string;
  maxAttempts: number;
  /** Epoch ms the job was first accepted. */
  enqueuedAt: number;
  startTimeNs: string;
}

/** A leased job. `attempt` counts this delivery (1 = first attempt). */
export interface Reservation {
  job: Job;
  attempt: number;
  /** Opaque lease handle, valid until ack/nack/release or lease expiry. */
  readonly token: string;
}

/** What one attempt produced (the function's response, or a connection error). */
export interface JobOutcome {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
  durationMs: number;
  /** Epoch ms the attempt started. */
  startedAt: number;
  /** Set when the function could not be reached (statusCode is then 503). */
  error?: string;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'dead'];
export type FinalStatus = 'succeeded' | 'failed' | 'dead';

/** How the X-Callback-Url POST ended (after its retries). */
export interface CallbackState {
  url: string;
  status: 'delivered' | 'failed';
  /** POSTs made (1 = delivered or rejected at the first try). */
  attempts: number;
  /** The receiver's last HTTP status, when it answered. */
  statusCode?: number;
  /** Why the last POST failed (connection error or `HTTP <code>`). */
  lastError?: string;
  /** Epoch ms of the last POST. */
  at: number;
}

export interface JobState {
  callId: string;
  fn: string;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  /** Epoch ms timestamps. */
  enqueuedAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** While queued for a retry: not before this epoch ms. */
  nextAttemptAt?: number;
  lastError?: string;
  callbackUrl?: string;
  /** Last outcome (final result once finished); kept for the result TTL. */
  result?: JobOutcome;
  /** Set once the callback was attempted (a re-drive clears it). */
  callback?: CallbackState;
}

export interface EnqueueResult {
  callId: string;
  /** True when the idempotency key matched an earlier job (nothing new was queued). */
  duplicate: boolean;
}

export interface AsyncQueue {
  readonly driver: 'sqlite' | 'nats';
  /** Resolves only once the job is durably stored. */
  enqueue(input: EnqueueInput): Promise<EnqueueResult>;
  /**
   * Leases up to `max` ready jobs (oldest first), waiting up to `waitMs` for the first.
   * Each reservation counts an attempt and marks the job running; a job whose lease
   * expires is delivered again. A job redelivered past its maxAttempts is dead-lettered.
   */
  reserve(max: number, waitMs: number): Promise<Reservation[]>;
  /** Extends the lease (JetStream `working()`), for long-running attempts. */
  extend(r: Reservation): Promise<void>;
  /** Finishes the job with a final status, outcome and callback result; ack happens only here. */
  finish(r: Reservation, status: FinalStatus, outcome: JobOutcome, callback?: CallbackState): Promise<void>;
  /** Retry later: queued again after delayMs, or dead when this was the last attempt. */
  nack(r: Reservation, delayMs: number, outcome?: JobOutcome): Promise<'queued' | 'dead'>;
  /** Gives the job back after delayMs without counting the attempt (worker saturated). */
  release(r: Reservation, delayMs: number): Promise<void>;
  status(callId: string): Promise<JobState | undefined>;
  list(filter?: { status?: JobStatus; limit?: number }): Promise<JobState[]>;
  /** Re-drives a dead (or failed) job with a fresh attempt budget; false if not re-drivable. */
  retry(callId: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface QueueCommonOptions {
  /** Lease length (OpenFaaS ack_wait). Default 30 s. */
  ackWaitMs?: number;
  /** How long finished results stay queryable. Default 24 h. */
  resultTtlMs?: number;
  /** How long an idempotency key maps to its first call id. Default 24 h. */
  idempotencyWindowMs?: number;
  /** Default attempt budget when enqueue gives none. Default 10. */
  defaultMaxAttempts?: number;
}

export const QUEUE_DEFAULTS = {
  ackWaitMs: 30_000,
  resultTtlMs: 24 * 3600_000,
  idempotencyWindowMs: 24 * 3600_000,
  defaultMaxAttempts: 10,
} as const;
