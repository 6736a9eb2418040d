import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedRateLimiter, TokenBucket } from '../../src/mesh/index.js';

test('bucket starts full, allows a burst, then refills at the rate', () => {
  const b = new TokenBucket({ ratePerSec: 10, burst: 5 }, 1000);
  for (let i = 0; i < 5; i++) assert.ok(b.tryTake(1000), `burst ${i}`);
  assert.equal(b.tryTake(1000), false);
  assert.equal(b.retryAfterMs(1000), 100); // 1 token at 10/s
  assert.equal(b.tryTake(1099), false);
  assert.ok(b.tryTake(1100));
  assert.equal(b.tryTake(1100), false);
  // long idle: refills to burst, not beyond
  assert.equal(b.available(60_000), 5);
  assert.ok(b.isFull(60_000));
});

test('steady state: over 10 s a 100/s limiter admits ~100/s + burst', () => {
  const b = new TokenBucket({ ratePerSec: 100, burst: 20 }, 0);
  let admitted = 0;
  for (let t = 0; t <= 10_000; t++) { // 1000 attempts per second
    if (b.tryTake(t)) admitted++;
  }
  assert.equal(admitted, 20 + 1000);
});

test('taking n tokens, retryAfterMs for n, and n > burst', () => {
  const b = new TokenBucket({ ratePerSec: 2, burst: 4 }, 0);
  assert.ok(b.tryTake(0, 3));
  assert.equal(b.tryTake(0, 2), false);
  assert.equal(b.retryAfterMs(0, 2), 500);
  assert.ok(b.tryTake(500, 2));
  assert.equal(b.tryTake(500, 5), false);
  assert.equal(b.retryAfterMs(500, 5), Infinity);
  assert.equal(b.retryAfterMs(10_000, 1), 0);
});

test('a clock stepping backwards neither refills nor breaks the bucket', () => {
  const b = new TokenBucket({ ratePerSec: 1, burst: 1 }, 10_000);
  assert.ok(b.tryTake(10_000));
  assert.equal(b.tryTake(5_000), false);
  assert.equal(b.tryTake(10_500), false);
  assert.ok(b.tryTake(11_000));
});

test('invalid options are clear errors', () => {
  assert.throws(() => new TokenBucket({ ratePerSec: 0 }, 0), /ratePerSec must be a positive number/);
  assert.throws(() => new TokenBucket({ ratePerSec: 1, burst: 0.5 }, 0), /burst must be >= 1/);
  assert.throws(() => new KeyedRateLimiter({ ratePerSec: 1, maxKeys: 0 }), /maxKeys must be a positive integer/);
});

test('keyed limiter: callers are limited independently', () => {
  const l = new KeyedRateLimiter({ ratePerSec: 1, burst: 2 });
  assert.ok(l.tryTake('svc-a', 0));
  assert.ok(l.tryTake('svc-a', 0));
  assert.equal(l.tryTake('svc-a', 0), false);
  assert.equal(l.retryAfterMs('svc-a', 0), 1000);
  assert.ok(l.tryTake('svc-b', 0)); // b unaffected by a
  assert.equal(l.retryAfterMs('never-seen', 0), 0);
  assert.ok(l.tryTake('svc-a', 1000));
});

test('keyed limiter: bounded size evicts the least recently used key', () => {
  const l = new KeyedRateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 3 });
  for (const k of ['a', 'b', 'c']) assert.ok(l.tryTake(k, 0));
  assert.equal(l.tryTake('a', 0), false); // touches a: now b is the LRU key
  assert.ok(l.tryTake('d', 0)); // evicts b
  assert.equal(l.size, 3);
  assert.equal(l.evictions, 1);
  assert.equal(l.tryTake('a', 0), false, 'a kept its (empty) bucket');
  assert.equal(l.tryTake('c', 0), false, 'c kept its (empty) bucket');
  assert.ok(l.tryTake('b', 0), 'b was forgotten and comes back full');
  for (let i = 0; i < 10_000; i++) l.tryTake(`caller-${i}`, i);
  assert.equal(l.size, 3);
});

test('keyed limiter: sweepIdle forgets only refilled callers', () => {
  const l = new KeyedRateLimiter({ ratePerSec: 1, burst: 2 });
  l.tryTake('busy', 0); l.tryTake('busy', 0);
  l.tryTake('idle', 0);
  assert.equal(l.sweepIdle(1000), 1); // idle is full again at t=1s, busy has 1 of 2
  assert.equal(l.size, 1);
  assert.equal(l.sweepIdle(2000), 1);
  assert.equal(l.size, 0);
});
