/**
 * Pure retry decisions for the queue-worker, OpenFaaS Pro style: retry on 408, 429, 500,
 * 502, 503, 504 and connection errors, exponential backoff with jitter from min_wait to
 * max_wait, honour Retry-After, at most `attempts` attempts; per-function overrides through
 * the `com.openfaas.retry.{attempts,codes,min_wait,max_wait}` annotations (or labels).
 */

export interface RetryPolicy {
  maxAttempts: number;
  minWaitMs: number;
  maxWaitMs: number;
  retryCodes: ReadonlySet<number>;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 10,
  minWaitMs: 10_000,
  maxWaitMs: 120_000,
  retryCodes: new Set([408, 429, 500, 502, 503, 504]),
};

export const RETRY_LABELS = {
  attempts: 'com.openfaas.retry.attempts',
  codes: 'com.openfaas.retry.codes',
  minWait: 'com.openfaas.retry.min_wait',
  maxWait: 'com.openfaas.retry.max_wait',
} as const;

/** Go-style duration (`10s`, `1m30s`, `500ms`) or plain seconds → ms; undefined when invalid. */
export function parseDurationMs(s: string): number | undefined {
  const t = s.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]];
    consumed += m[0].length;
  }
  return consumed === t.length && consumed > 0 ? total : undefined;
}

/**
 * The policy for one function: its annotations/labels over the defaults. Invalid values are
 * reported in `problems` and ignored, never fatal (one bad function must not stop the worker).
 */
export function retryPolicyFor(
  meta: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
  defaults: RetryPolicy = DEFAULT_RETRY_POLICY,
): { policy: RetryPolicy; problems: string[] } {
  const get = (k: string) => meta?.annotations?.[k] ?? meta?.labels?.[k];
  const problems: string[] = [];
  const policy: RetryPolicy = { ...defaults };
  const attempts = get(RETRY_LABELS.attempts);
  if (attempts !== undefined) {
    const n = Number(attempts);
    if (Number.isInteger(n) && n >= 1 && n <= 1000) policy.maxAttempts = n;
    else problems.push(`${RETRY_LABELS.attempts}: "${attempts}" is not an integer in 1..1000`);
  }
  for (const [key, field] of [[RETRY_LABELS.minWait, 'minWaitMs'], [RETRY_LABELS.maxWait, 'maxWaitMs']] as const) {
    const v = get(key);
    if (v === undefined) continue;
    const ms = parseDurationMs(v);
    if (ms !== undefined && ms >= 0) policy[field] = ms;
    else problems.push(`${key}: "${v}" is not a duration`);
  }
  if (policy.maxWaitMs < policy.minWaitMs) policy.maxWaitMs = policy.minWaitMs;
  const codes = get(RETRY_LABELS.codes);
  if (codes !== undefined) {
    const list = codes.split(/[,\s]+/).filter(Boolean).map(Number);
    if (list.length > 0 && list.every((c) => Number.isInteger(c) && c >= 100 && c <= 599)) policy.retryCodes = new Set(list);
    else problems.push(`${RETRY_LABELS.codes}: "${codes}" is not a list of HTTP status codes`);
  }
  return { policy, problems };
}

/** Backoff before attempt `attempt + 1`: min·2^(attempt-1) capped at max, with equal jitter. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: number): number {
  const base = Math.min(policy.maxWaitMs, policy.minWaitMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (base / 2) * random);
}

/** Retry-After as ms from now: delta-seconds or an HTTP-date; undefined when absent/invalid. */
export function parseRetryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export type AttemptDecision =
  | { action: 'succeeded' }
  | { action: 'failed' }
  | { action: 'retry'; delayMs: number }
  | { action: 'dead' };

/**
 * What to do after an attempt. `statusCode` undefined = the function could not be reached.
 * Retry-After can lengthen the wait (capped at max_wait) but never shortens it below backoff.
 */
export function decideAfterAttempt(input: {
  statusCode: number | undefined;
  attempt: number;
  maxAttempts: number;
  policy: RetryPolicy;
  retryAfterMs?: number;
  random: number;
}): AttemptDecision {
  const { statusCode, attempt, policy } = input;
  if (statusCode !== undefined && statusCode >= 200 && statusCode < 400) return { action: 'succeeded' };
  const retryable = statusCode === undefined || policy.retryCodes.has(statusCode);
  if (!retryable) return { action: 'failed' };
  if (attempt >= input.maxAttempts) return { action: 'dead' };
  let delayMs = backoffMs(attempt, policy, input.random);
  if (input.retryAfterMs !== undefined) delayMs = Math.max(delayMs, Math.min(input.retryAfterMs, policy.maxWaitMs));
  return { action: 'retry', delayMs };
}
