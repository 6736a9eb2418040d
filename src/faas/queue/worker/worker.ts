/**
 * The queue-worker: leases jobs, invokes the function through the injected invoke path
 * (the gateway's, so scale-from-zero applies), retries with backoff, posts callbacks, and
 * acks only after all that. Delivery is at-least-once: a worker that dies mid-job leaves
 * a lease that expires, and the job runs again; functions de-duplicate on X-Call-Id.
 */
import type { AsyncQueue, CallbackState, JobOutcome, Reservation } from '../types.js';
import { DEFAULT_RETRY_POLICY, decideAfterAttempt, parseRetryAfterMs, retryPolicyFor, type RetryPolicy } from './retry-policy.js';
import { DEFAULT_CALLBACK_OPTIONS, deliverCallback, type CallbackOptions } from './callback.js';
import type { FunctionMetaLookup, InvokeFn } from './types.js';
import { NO_METRICS, type QueueMetrics } from '../metrics.js';

export interface QueueWorkerOptions {
  queue: AsyncQueue;
  invoke: InvokeFn;
  /** Jobs in flight across all functions (OpenFaaS max_inflight). Default 10. */
  maxInflight?: number;
  /** Jobs in flight per function. Default = maxInflight. */
  maxInflightPerFunction?: number;
  /** Retry defaults (per-function annotations/labels override them). */
  retry?: Partial<RetryPolicy>;
  functionMeta?: FunctionMetaLookup;
  callback?: Partial<CallbackOptions>;
  /** The queue's lease length; the worker extends leases at a third of it. Default 30 s. */
  ackWaitMs?: number;
  log?: (line: string) => void;
  random?: () => number;
  metrics?: QueueMetrics;
}

export interface WorkerStats { inflight: number; succeeded: number; failed: number; retried: number; dead: number; callbacksFailed: number }

export class QueueWorker {
  private readonly maxInflight: number;
  private readonly perFunction: number;
  private readonly defaults: RetryPolicy;
  private readonly callbackOpts: CallbackOptions;
  private readonly perFnInflight = new Map<string, number>();
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  private readonly metrics: QueueMetrics;
  private inflight = 0;
  private running = false;
  private loop?: Promise<void>;
  private slotWaiter?: () => void;
  private readonly jobs = new Set<Promise<void>>();
  readonly stats: WorkerStats = { inflight: 0, succeeded: 0, failed: 0, retried: 0, dead: 0, callbacksFailed: 0 };

  constructor(private readonly o: QueueWorkerOptions) {
    this.maxInflight = Math.max(1, o.maxInflight ?? 10);
    this.perFunction = Math.max(1, o.maxInflightPerFunction ?? this.maxInflight);
    this.defaults = { ...DEFAULT_RETRY_POLICY, ...o.retry };
    this.callbackOpts = { ...DEFAULT_CALLBACK_OPTIONS, ...o.callback };
    this.random = o.random ?? Math.random;
    this.log = o.log ?? (() => undefined);
    this.metrics = o.metrics ?? NO_METRICS;
  }

  /** The retry policy for a function (defaults + its annotations/labels). */
  async policyFor(fn: string): Promise<RetryPolicy> {
    const meta = await this.o.functionMeta?.(fn);
    const { policy, problems } = retryPolicyFor(meta, this.defaults);
    for (const p of problems) this.log(`async: function ${fn}: ignoring ${p}`);
    return policy;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.pump();
  }

  /** Stops taking jobs and waits up to graceMs for in-flight ones; the rest are redelivered later. */
  async stop(graceMs = 10_000): Promise<void> {
    this.running = false;
    this.slotWaiter?.();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.jobs]), new Promise((r) => { timer = setTimeout(r, graceMs); })]);
    clearTimeout(timer);
  }

  private async pump(): Promise<void> {
    while (this.running) {
      const free = this.maxInflight - this.inflight;
      if (free <= 0) {
        await new Promise<void>((r) => { this.slotWaiter = r; });
        continue;
      }
      let batch: Reservation[];
      try {
        batch = await this.o.queue.reserve(free, 1000);
      } catch (err) {
        if (!this.running) break;
        this.log(`async: reserve failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      let started = 0;
      for (const r of batch) {
        if ((this.perFnInflight.get(r.job.fn) ?? 0) >= this.perFunction || !this.running) {
          // Saturated function (or stopping): hand it back without spending an attempt.
          await this.o.queue.release(r, this.running ? 100 + Math.round(this.random() * 200) : 0).catch(() => undefined);
          continue;
        }
        this.track(r);
        started++;
      }
      // Only saturated functions' jobs are waiting: pause instead of spinning on them.
      if (batch.length > 0 && started === 0 && this.running) await new Promise((r) => setTimeout(r, 50));
    }
  }

  private track(r: Reservation): void {
    this.inflight++;
    this.stats.inflight = this.inflight;
    this.perFnInflight.set(r.job.fn, (this.perFnInflight.get(r.job.fn) ?? 0) + 1);
    this.metrics.inflight(r.job.fn, 1);
    const p = this.process(r)
      .catch((err) => this.log(`async: job ${r.job.callId} (${r.job.fn}): ${(err as Error).message}; it will be redelivered`))
      .finally(() => {
        this.jobs.delete(p);
        this.metrics.inflight(r.job.fn, -1);
        this.inflight--;
        this.stats.inflight = this.inflight;
        const n = (this.perFnInflight.get(r.job.fn) ?? 1) - 1;
        if (n <= 0) this.perFnInflight.delete(r.job.fn); else this.perFnInflight.set(r.job.fn, n);
        const w = this.slotWaiter;
        this.slotWaiter = undefined;
        w?.();
      });
    this.jobs.add(p);
  }

  private async process(r: Reservation): Promise<void> {
    const { job } = r;
    const q = this.o.queue;
    const every = Math.max(200, Math.floor((this.o.ackWaitMs ?? 30_000) / 3));
    const keepalive = setInterval(() => { q.extend(r).catch(() => undefined); }, every);
    try {
      const startedAt = Date.now();
      const t0 = performance.now();
      let outcome: JobOutcome;
      let reached = true;
      try {
        const res = await this.o.invoke(job.fn, {
          method: job.request.method, path: job.request.path, query: job.request.query, body: job.request.body,
          headers: { ...job.request.headers, 'x-call-id': job.callId, 'x-start-time': job.startTimeNs },
        });
        outcome = { statusCode: res.status, headers: res.headers, body: res.body, durationMs: performance.now() - t0, startedAt };
      } catch (err) {
        reached = false;
        const msg = (err as Error).message || String(err);
        outcome = { statusCode: 503, headers: { 'content-type': 'text/plain' }, body: Buffer.from(msg), durationMs: performance.now() - t0, startedAt, error: msg };
      }
      const policy = await this.policyFor(job.fn);
      const decision = decideAfterAttempt({
        statusCode: reached ? outcome.statusCode : undefined, attempt: r.attempt, maxAttempts: job.maxAttempts, policy,
        retryAfterMs: parseRetryAfterMs(outcome.headers['retry-after'], Date.now()), random: this.random(),
      });
      if (decision.action === 'retry') {
        this.stats.retried++;
        this.metrics.retried(job.fn);
        await q.nack(r, decision.delayMs, outcome);
        return;
      }
      let callback: CallbackState | undefined;
      if (job.callbackUrl) {
        const cb = await deliverCallback(job.callbackUrl, { callId: job.callId, fn: job.fn, startTimeNs: job.startTimeNs, outcome }, this.callbackOpts, { random: this.random });
        callback = {
          url: job.callbackUrl, status: cb.ok ? 'delivered' : 'failed', attempts: cb.attempts, at: Date.now(),
          ...(cb.status !== undefined ? { statusCode: cb.status } : {}),
          ...(!cb.ok ? { lastError: cb.error ?? `HTTP ${cb.status}` } : {}),
        };
        if (!cb.ok) {
          this.stats.callbacksFailed++;
          this.metrics.callbackFailed(job.fn);
          this.log(`async: callback for ${job.callId} to ${job.callbackUrl} failed after ${cb.attempts} attempts: ${callback.lastError}`);
        }
      }
      await q.finish(r, decision.action, outcome, callback);
      this.stats[decision.action]++;
      this.metrics.processed(job.fn, decision.action);
    } finally {
      clearInterval(keepalive);
    }
  }
}
