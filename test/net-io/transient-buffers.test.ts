import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transientBuffer } from '../../src/net-io/transient-buffers.js';

test('transientBuffer: slices never overlap, stay 8-byte aligned, and roll over to a new slab', () => {
  const live: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const n = 1 + ((i * 37) % 300);
    const b = transientBuffer(n);
    assert.equal(b.length, n);
    assert.equal(b.byteOffset % 8, 0);
    b.fill(i & 0xff);
    live.push(b);
  }
  // Every buffer still holds what was written into it: no later slice reused its bytes.
  live.forEach((b, i) => assert.ok(b.every((x) => x === (i & 0xff)), `buffer ${i} was overwritten`));
  assert.ok(new Set(live.map((b) => b.buffer)).size > 1, 'several slabs were used');
});

test('transientBuffer: large sizes get their own memory', () => {
  const big = transientBuffer(40 * 1024);
  assert.equal(big.length, 40 * 1024);
  const small = transientBuffer(16);
  assert.notEqual(big.buffer, small.buffer);
});
