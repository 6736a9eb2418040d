import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsecutiveFailureBreaker, OVERFLOW_STAT, ResourceLimits, THRESHOLD_DEFAULTS } from '../../src/mesh/index.js';

test('Envoy circuit breaker defaults', () => {
  assert.deepEqual({ ...THRESHOLD_DEFAULTS }, { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });
  const r = new ResourceLimits();
  assert.equal(r.limit('connections'), 1024);
  assert.equal(r.limit('retries'), 3);
  assert.equal(OVERFLOW_STAT.pendingRequests, 'upstream_rq_pending_overflow');
});

test('resource limits fail fast at the limit, count overflows, recover on release', () => {
  const r = new ResourceLimits({ maxPendingRequests: 2, maxConnections: 1 });
  assert.ok(r.tryAcquire('pendingRequests'));
  assert.ok(r.tryAcquire('pendingRequests'));
  assert.ok(r.isOpen('pendingRequests'));
  assert.equal(r.tryAcquire('pendingRequests'), false);
  assert.equal(r.tryAcquire('pendingRequests'), false);
  assert.equal(r.overflows.pendingRequests, 2);
  assert.equal(r.remaining('pendingRequests'), 0);
  r.release('pendingRequests');
  assert.equal(r.isOpen('pendingRequests'), false);
  assert.ok(r.tryAcquire('pendingRequests'));
  // resources are independent
  assert.ok(r.tryAcquire('connections'));
  assert.equal(r.tryAcquire('connections'), false);
  assert.ok(r.tryAcquire('requests'));
  // extra releases never push a counter below zero
  r.release('requests'); r.release('requests');
  assert.equal(r.used('requests'), 0);
  assert.equal(r.remaining('requests'), 1024);
});

test('max_retries = 0 refuses every retry; invalid limits are refused', () => {
  const r = new ResourceLimits({ maxRetries: 0 });
  assert.equal(r.tryAcquire('retries'), false);
  assert.equal(r.overflows.retries, 1);
  assert.throws(() => new ResourceLimits({ maxRequests: -1 }), /requests limit must be a non-negative integer/);
});

test('a retry budget replaces max_retries and scales with active + pending requests', () => {
  const r = new ResourceLimits({ maxRetries: 1, retryBudget: {} }); // 20 %, min 3
  assert.equal(r.limit('retries'), 3); // min_retry_concurrency with no load
  for (let i = 0; i < 3; i++) assert.ok(r.tryAcquire('retries'));
  assert.equal(r.tryAcquire('retries'), false);
  for (let i = 0; i < 20; i++) r.tryAcquire('requests');
  for (let i = 0; i < 5; i++) r.tryAcquire('pendingRequests');
  assert.equal(r.limit('retries'), 5); // 20 % of 25
  assert.ok(r.tryAcquire('retries'));
  assert.ok(r.tryAcquire('retries'));
  assert.equal(r.tryAcquire('retries'), false);
  assert.equal(r.overflows.retries, 2);
  r.release('retries');
  assert.equal(r.used('retries'), 4);
});

test('consecutive-failure breaker: closed → open → half-open → closed', () => {
  const b = new ConsecutiveFailureBreaker({ failureThreshold: 3, openDurationMs: 1000 });
  assert.equal(b.state(0), 'closed');
  b.onFailure(1); b.onFailure(2);
  b.onSuccess(3); // success resets the count
  b.onFailure(4); b.onFailure(5);
  assert.equal(b.state(5), 'closed');
  b.onFailure(6);
  assert.equal(b.state(6), 'open');
  assert.equal(b.allowRequest(500), false);
  assert.equal(b.retryAfterMs(500), 506);
  assert.equal(b.state(1005), 'open');
  assert.equal(b.state(1006), 'half-open');
  assert.ok(b.allowRequest(1006)); // one probe
  assert.equal(b.allowRequest(1007), false); // second probe refused while the first is out
  b.onSuccess(1010);
  assert.equal(b.state(1010), 'closed');
  assert.ok(b.allowRequest(1011));
  assert.deepEqual(b.drainTransitions().map((t) => `${t.from}>${t.to}@${t.at}`), ['closed>open@6', 'open>half-open@1006', 'half-open>closed@1010']);
  assert.deepEqual(b.drainTransitions(), []);
});

test('a failed probe re-opens for a full open duration', () => {
  const b = new ConsecutiveFailureBreaker({ failureThreshold: 1, openDurationMs: 100, halfOpenMaxProbes: 2, successThreshold: 2 });
  b.onFailure(0);
  assert.ok(b.allowRequest(100));
  assert.ok(b.allowRequest(100));
  assert.equal(b.allowRequest(100), false);
  b.onSuccess(110); // 1 of 2 successes
  assert.equal(b.state(110), 'half-open');
  b.onFailure(120);
  assert.equal(b.state(120), 'open');
  assert.equal(b.state(219), 'open');
  assert.equal(b.state(220), 'half-open');
  assert.ok(b.allowRequest(220));
  b.onSuccess(221);
  assert.ok(b.allowRequest(222));
  b.onSuccess(223);
  assert.equal(b.state(223), 'closed');
});

test('breaker options are validated', () => {
  assert.throws(() => new ConsecutiveFailureBreaker({ failureThreshold: 0 }), /failureThreshold must be a positive integer/);
  assert.throws(() => new ConsecutiveFailureBreaker({ openDurationMs: -1 }), /openDurationMs must be >= 0/);
});
