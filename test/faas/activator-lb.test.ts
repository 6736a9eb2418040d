import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstAvailable, HoldQueue, policyFor, powerOfTwoChoices, roundRobin } from '../../src/faas/activator/index.js';

const b = (inflight: number, eligible = true) => ({ inflight, eligible });

test('power of two choices picks the less loaded of two random picks, skips ineligible', () => {
  const bs = [b(5), b(1), b(9)];
  // random() → 0 picks index 0; second draw floor(0.25 × 2) = 0, shifted past i → index 1: 5 vs 1 → [1]
  const seq = [0, 0.25];
  assert.equal(powerOfTwoChoices(bs, 0, () => seq.shift()!), bs[1]);
  const seq2 = [0.99, 0]; // i = 2, j = 0: 9 vs 5 → [0]
  assert.equal(powerOfTwoChoices(bs, 0, () => seq2.shift()!), bs[0]);
  const draining = [b(0, false), b(3)];
  for (let k = 0; k < 20; k++) assert.equal(powerOfTwoChoices(draining, 0), draining[1]);
  assert.equal(powerOfTwoChoices([b(0, false)], 0), undefined);
  // with a limit, full backends are skipped, falling back to a scan
  const full = [b(2), b(2), b(1)];
  const seq3 = [0, 0];
  assert.equal(powerOfTwoChoices(full, 2, () => seq3.shift()!), full[2]);
});

test('first available and round robin respect the per-instance limit', () => {
  const bs = [b(1), b(0), b(0)];
  assert.equal(firstAvailable(bs, 1), bs[1]);
  assert.equal(firstAvailable([b(1), b(1)], 1), undefined);
  const rr = roundRobin<ReturnType<typeof b>>();
  const four = [b(0), b(4), b(0), b(0)];
  assert.deepEqual([rr(four, 4), rr(four, 4), rr(four, 4), rr(four, 4)], [four[0], four[2], four[3], four[0]]);
  // Knative's choice by containerConcurrency
  assert.equal(policyFor(2), firstAvailable);
});

test('hold queue: FIFO, bounded, O(1) removal', () => {
  const q = new HoldQueue<number>(3);
  const h1 = q.push(1)!;
  q.push(2);
  q.push(3);
  assert.equal(q.push(4), undefined);
  assert.equal(q.full, true);
  assert.equal(q.remove(h1), true);
  assert.equal(q.remove(h1), false);
  assert.equal(q.size, 2);
  q.push(5);
  assert.equal(q.peek(), 2);
  assert.deepEqual(q.drain(), [2, 3, 5]);
  assert.equal(q.size, 0);
  assert.equal(q.shift(), undefined);
});
