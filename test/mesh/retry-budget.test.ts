import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryBudget, backoffMs, parseRetryAfter, retryDelayMs } from '../../src/mesh/index.js';

test('retry budget: 20 % of active + pending, at least min_retry_concurrency (3)', () => {
  const b = new RetryBudget();
  assert.equal(b.budgetPercent, 20);
  assert.equal(b.minRetryConcurrency, 3);
  assert.equal(b.maxConcurrentRetries(0), 3);
  assert.equal(b.maxConcurrentRetries(10), 3);
  assert.equal(b.maxConcurrentRetries(100), 20);
  assert.equal(b.maxConcurrentRetries(80, 20), 20);
  const c = new RetryBudget({ budgetPercent: 25, minRetryConcurrency: 0 });
  assert.equal(c.maxConcurrentRetries(100), 25); // Envoy's documented example
  assert.equal(c.maxConcurrentRetries(3), 0);
});

test('retry budget: acquire/release track concurrent retries', () => {
  const b = new RetryBudget({ budgetPercent: 50, minRetryConcurrency: 1 });
  assert.ok(b.tryAcquire(4)); // limit 2
  assert.ok(b.tryAcquire(4));
  assert.equal(b.tryAcquire(4), false);
  assert.equal(b.overflows, 1);
  assert.ok(b.tryAcquire(6)); // more load, more budget
  b.release(); b.release(); b.release(); b.release();
  assert.equal(b.activeRetries, 0);
  assert.throws(() => new RetryBudget({ budgetPercent: 120 }), /budgetPercent must be 0..100/);
});

test('backoff: full jitter in [0, (2^n − 1) × base), capped at max', () => {
  const max = () => 0.999999;
  assert.equal(backoffMs(1, 25, 250, max), 24);
  assert.equal(backoffMs(2, 25, 250, max), 74);
  assert.equal(backoffMs(3, 25, 250, max), 174);
  assert.equal(backoffMs(4, 25, 250, max), 249); // capped
  assert.equal(backoffMs(60, 25, 250, max), 249);
  assert.equal(backoffMs(3, 25, 250, () => 0), 0);
  assert.equal(backoffMs(0, 25, 250, max), 0);
  // default max is 10 × base, as Envoy
  assert.equal(backoffMs(10, 100, undefined, max), 999);
  // every value stays in range for random input
  for (let n = 1; n < 12; n++) {
    for (let i = 0; i < 50; i++) {
      const v = backoffMs(n, 10, 1000);
      assert.ok(v >= 0 && v < Math.min(1000, (2 ** n - 1) * 10), `attempt ${n}: ${v}`);
    }
  }
});

test('Retry-After parsing: seconds and HTTP dates', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('1.5', now), 1500);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
  assert.equal(parseRetryAfter('', now), undefined);
});

test('retry delay honours Retry-After up to the cap, else backs off', () => {
  const rand = () => 0.5;
  assert.equal(retryDelayMs({ attempt: 1, retryAfterMs: 2000, rand }), 2000);
  assert.equal(retryDelayMs({ attempt: 2, rand }), 37); // 0.5 × 75
  assert.equal(retryDelayMs({ attempt: 2, retryAfterMs: 400_000, rand }), 37); // over 300 s: discarded
  assert.equal(retryDelayMs({ attempt: 2, retryAfterMs: 5000, rateLimitedMaxMs: 1000, rand, baseMs: 100 }), 150);
});
