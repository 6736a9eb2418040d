/**
 * Retry policy deciders, after Envoy:
 * - retry budget (circuit_breakers.thresholds.retry_budget): concurrent retries may not exceed
 *   `budget_percent` (default 20 %) of active + pending requests, but at least
 *   `min_retry_concurrency` (default 3) are always allowed;
 * - fully jittered exponential back-off (route retry_back_off): retry N waits a uniform
 *   random time in [0, (2^N − 1) × base_interval), capped at max_interval
 *   (defaults 25 ms and 10 × base);
 * - Retry-After (rate_limited_retry_back_off): a server-supplied delay is honoured when it is
 *   at most `max_interval` (default 300 s); a longer one is discarded and the regular back-off used.
 */

export interface RetryBudgetOptions {
  /** Envoy budget_percent.value; default 20. */
  budgetPercent?: number;
  /** Envoy min_retry_concurrency; default 3. */
  minRetryConcurrency?: number;
}

export const RETRY_BUDGET_DEFAULTS = Object.freeze({ budgetPercent: 20, minRetryConcurrency: 3 });

export class RetryBudget {
  readonly budgetPercent: number;
  readonly minRetryConcurrency: number;
  private active = 0;
  /** Retries refused because the budget was spent (Envoy upstream_rq_retry_overflow). */
  overflows = 0;

  constructor(opts: RetryBudgetOptions = {}) {
    this.budgetPercent = opts.budgetPercent ?? RETRY_BUDGET_DEFAULTS.budgetPercent;
    this.minRetryConcurrency = opts.minRetryConcurrency ?? RETRY_BUDGET_DEFAULTS.minRetryConcurrency;
    if (!(this.budgetPercent >= 0 && this.budgetPercent <= 100)) throw new Error(`retry budget: budgetPercent must be 0..100, got ${this.budgetPercent}`);
    if (!Number.isInteger(this.minRetryConcurrency) || this.minRetryConcurrency < 0) {
      throw new Error(`retry budget: minRetryConcurrency must be a non-negative integer, got ${this.minRetryConcurrency}`);
    }
  }

  /** Concurrent retries allowed with this many active and pending requests. */
  maxConcurrentRetries(activeRequests: number, pendingRequests = 0): number {
    const byBudget = Math.floor(((activeRequests + pendingRequests) * this.budgetPercent) / 100);
    return Math.max(this.minRetryConcurrency, byBudget);
  }

  /** Retries in flight. */
  get activeRetries(): number {
    return this.active;
  }

  /** Starts a retry if the budget allows; pair every true with release(). */
  tryAcquire(activeRequests: number, pendingRequests = 0): boolean {
    if (this.active >= this.maxConcurrentRetries(activeRequests, pendingRequests)) {
      this.overflows++;
      return false;
    }
    this.active++;
    return true;
  }

  release(): void {
    if (this.active > 0) this.active--;
  }
}

export const BACKOFF_DEFAULTS = Object.freeze({ baseMs: 25, maxMs: 250, rateLimitedMaxMs: 300_000 });

/**
 * Delay before retry number `attempt` (1 = first retry): uniform in
 * [0, min(maxMs, (2^attempt − 1) × baseMs)). `rand` returns [0, 1).
 */
export function backoffMs(attempt: number, baseMs: number = BACKOFF_DEFAULTS.baseMs, maxMs = baseMs * 10, rand: () => number = Math.random): number {
  if (!(attempt >= 1)) return 0;
  const ceiling = Math.min(maxMs, (2 ** Math.min(attempt, 52) - 1) * baseMs);
  return Math.floor(rand() * ceiling);
}

/**
 * Parses a Retry-After value (delta seconds, or an HTTP date) into milliseconds from `now`.
 * Returns undefined when absent or unparsable; a date in the past gives 0.
 */
export function parseRetryAfter(value: string | undefined | null, now: number): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export interface RetryDelayInput {
  attempt: number;
  baseMs?: number;
  maxMs?: number;
  rand?: () => number;
  /** Server-requested delay (e.g. from parseRetryAfter). */
  retryAfterMs?: number;
  /** Longest server-requested delay honoured; default 300 s. */
  rateLimitedMaxMs?: number;
}

/** The delay before the next retry: Retry-After when given and not too long, else back-off. */
export function retryDelayMs(i: RetryDelayInput): number {
  const cap = i.rateLimitedMaxMs ?? BACKOFF_DEFAULTS.rateLimitedMaxMs;
  if (i.retryAfterMs !== undefined && i.retryAfterMs >= 0 && i.retryAfterMs <= cap) return i.retryAfterMs;
  const base = i.baseMs ?? BACKOFF_DEFAULTS.baseMs;
  return backoffMs(i.attempt, base, i.maxMs ?? base * 10, i.rand);
}
