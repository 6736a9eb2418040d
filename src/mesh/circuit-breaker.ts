/**
 * Two kinds of breaker, both pure (the caller passes `now` in ms):
 *
 * 1. ResourceLimits — Envoy's circuit_breakers.thresholds: counters with hard limits
 *    (max_connections, max_pending_requests, max_requests, max_retries; defaults 1024, 1024,
 *    1024, 3). tryAcquire() fails fast at the limit and counts an overflow (Envoy stats
 *    upstream_cx_overflow, upstream_rq_pending_overflow, upstream_rq_overflow,
 *    upstream_rq_retry_overflow). With a retry budget configured, it replaces max_retries, as
 *    in Envoy.
 *
 * 2. ConsecutiveFailureBreaker — the classic closed → open → half-open state machine: after
 *    `failureThreshold` consecutive failures it opens for `openDurationMs`, then lets up to
 *    `halfOpenMaxProbes` probe requests through; `successThreshold` probe successes close it,
 *    any probe failure re-opens it.
 */
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';

export type Resource = 'connections' | 'pendingRequests' | 'requests' | 'retries';
export const RESOURCES: readonly Resource[] = Object.freeze(['connections', 'pendingRequests', 'requests', 'retries'] as const);

export interface Thresholds {
  /** Envoy max_connections; default 1024. */
  maxConnections?: number;
  /** Envoy max_pending_requests; default 1024. */
  maxPendingRequests?: number;
  /** Envoy max_requests; default 1024. */
  maxRequests?: number;
  /** Envoy max_retries; default 3 (ignored when retryBudget is set). */
  maxRetries?: number;
  /** Envoy retry_budget: when present, limits concurrent retries instead of maxRetries. */
  retryBudget?: RetryBudgetOptions;
}

export const THRESHOLD_DEFAULTS = Object.freeze({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });

/** Envoy's stat name for each resource's overflow counter. */
export const OVERFLOW_STAT: Readonly<Record<Resource, string>> = Object.freeze({
  connections: 'upstream_cx_overflow',
  pendingRequests: 'upstream_rq_pending_overflow',
  requests: 'upstream_rq_overflow',
  retries: 'upstream_rq_retry_overflow',
});

export class ResourceLimits {
  readonly limits: Readonly<Record<Exclude<Resource, 'retries'>, number>> & { retries: number };
  private readonly inUse: Record<Resource, number> = { connections: 0, pendingRequests: 0, requests: 0, retries: 0 };
  readonly overflows: Record<Resource, number> = { connections: 0, pendingRequests: 0, requests: 0, retries: 0 };
  readonly retryBudget: RetryBudget | undefined;

  constructor(t: Thresholds = {}) {
    const limits = {
      connections: t.maxConnections ?? THRESHOLD_DEFAULTS.maxConnections,
      pendingRequests: t.maxPendingRequests ?? THRESHOLD_DEFAULTS.maxPendingRequests,
      requests: t.maxRequests ?? THRESHOLD_DEFAULTS.maxRequests,
      retries: t.maxRetries ?? THRESHOLD_DEFAULTS.maxRetries,
    };
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isInteger(v) || v < 0) throw new Error(`circuit breaker: ${k} limit must be a non-negative integer, got ${v}`);
    }
    this.limits = limits;
    this.retryBudget = t.retryBudget ? new RetryBudget(t.retryBudget) : undefined;
  }

  /** Current limit for a resource (for retries under a budget it depends on current load). */
  limit(r: Resource): number {
    if (r === 'retries' && this.retryBudget) return this.retryBudget.maxConcurrentRetries(this.inUse.requests, this.inUse.pendingRequests);
    return this.limits[r];
  }

  used(r: Resource): number {
    return r === 'retries' && this.retryBudget ? this.retryBudget.activeRetries : this.inUse[r];
  }

  remaining(r: Resource): number {
    return Math.max(0, this.limit(r) - this.used(r));
  }

  /** True while the resource is at its limit (Envoy's cx_open / rq_pending_open … gauges). */
  isOpen(r: Resource): boolean {
    return this.used(r) >= this.limit(r);
  }

  /** Takes one unit of the resource, or counts an overflow and returns false. */
  tryAcquire(r: Resource): boolean {
    if (r === 'retries' && this.retryBudget) {
      const ok = this.retryBudget.tryAcquire(this.inUse.requests, this.inUse.pendingRequests);
      if (!ok) this.overflows.retries++;
      return ok;
    }
    if (this.inUse[r] >= this.limits[r]) {
      this.overflows[r]++;
      return false;
    }
    this.inUse[r]++;
    return true;
  }

  /** Gives back one unit taken with tryAcquire (extra releases are ignored). */
  release(r: Resource): void {
    if (r === 'retries' && this.retryBudget) this.retryBudget.release();
    else if (this.inUse[r] > 0) this.inUse[r]--;
  }
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface ConsecutiveFailureBreakerOptions {
  /** Consecutive failures that open the breaker; default 5 (as Envoy's consecutive_5xx). */
  failureThreshold?: number;
  /** How long it stays open before probing; default 30 s (as Envoy's base_ejection_time). */
  openDurationMs?: number;
  /** Concurrent probe requests allowed while half-open; default 1. */
  halfOpenMaxProbes?: number;
  /** Probe successes needed to close again; default 1. */
  successThreshold?: number;
}

export interface BreakerTransition { from: BreakerState; to: BreakerState; at: number }

export class ConsecutiveFailureBreaker {
  readonly failureThreshold: number;
  readonly openDurationMs: number;
  readonly halfOpenMaxProbes: number;
  readonly successThreshold: number;
  private st: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  /** Transitions since the last drainTransitions() (for logs and stats; last 64 kept). */
  private transitions: BreakerTransition[] = [];

  constructor(o: ConsecutiveFailureBreakerOptions = {}) {
    this.failureThreshold = o.failureThreshold ?? 5;
    this.openDurationMs = o.openDurationMs ?? 30_000;
    this.halfOpenMaxProbes = o.halfOpenMaxProbes ?? 1;
    this.successThreshold = o.successThreshold ?? 1;
    for (const k of ['failureThreshold', 'halfOpenMaxProbes', 'successThreshold'] as const) {
      if (!Number.isInteger(this[k]) || this[k] < 1) throw new Error(`breaker: ${k} must be a positive integer, got ${this[k]}`);
    }
    if (!(this.openDurationMs >= 0)) throw new Error(`breaker: openDurationMs must be >= 0, got ${this.openDurationMs}`);
  }

  private go(to: BreakerState, now: number): void {
    if (to === this.st) return;
    if (this.transitions.length >= 64) this.transitions.shift(); // bounded when nobody drains
    this.transitions.push({ from: this.st, to, at: now });
    this.st = to;
    if (to === 'open') this.openedAt = now;
    if (to === 'half-open') { this.probesInFlight = 0; this.probeSuccesses = 0; }
    if (to === 'closed') this.failures = 0;
  }

  /** State at `now` (open turns half-open once openDurationMs has passed). */
  state(now: number): BreakerState {
    if (this.st === 'open' && now - this.openedAt >= this.openDurationMs) this.go('half-open', now);
    return this.st;
  }

  /** Whether a request may go out now; in half-open this reserves one probe slot. */
  allowRequest(now: number): boolean {
    const s = this.state(now);
    if (s === 'closed') return true;
    if (s === 'open') return false;
    if (this.probesInFlight >= this.halfOpenMaxProbes) return false;
    this.probesInFlight++;
    return true;
  }

  /** Milliseconds until an open breaker starts probing (0 when not open). */
  retryAfterMs(now: number): number {
    return this.state(now) === 'open' ? Math.max(0, this.openedAt + this.openDurationMs - now) : 0;
  }

  onSuccess(now: number): void {
    const s = this.state(now);
    if (s === 'closed') { this.failures = 0; return; }
    if (s === 'half-open') {
      if (this.probesInFlight > 0) this.probesInFlight--;
      if (++this.probeSuccesses >= this.successThreshold) this.go('closed', now);
    }
    // A late success of a request sent before opening does not close an open breaker.
  }

  onFailure(now: number): void {
    const s = this.state(now);
    if (s === 'closed') {
      if (++this.failures >= this.failureThreshold) this.go('open', now);
    } else if (s === 'half-open') {
      this.go('open', now);
    }
  }

  /** Returns and clears the transitions recorded so far. */
  drainTransitions(): BreakerTransition[] {
    const t = this.transitions;
    this.transitions = [];
    return t;
  }
}
