import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scheduleFlush, type Flushable } from '../../src/redis/flush-scheduler.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A flushable that records its flushes; `again` makes its flush ask for one more turn. */
function recorder(log: string[], name: string, again = 0): Flushable {
  let left = again;
  const f: Flushable = {
    flushQueued: false,
    flush() {
      log.push(name);
      if (left-- > 0) scheduleFlush(f);
    },
  };
  return f;
}

test('each queued connection is flushed once per turn, in order; one asking again during its flush is flushed next turn', async () => {
  const log: string[] = [];
  const a = recorder(log, 'a');
  const b = recorder(log, 'b', 1);
  const c = recorder(log, 'c');
  scheduleFlush(a);
  scheduleFlush(b);
  scheduleFlush(a); // already queued: listed once
  scheduleFlush(c);
  await turn();
  assert.deepEqual(log, ['a', 'b', 'c']);
  await turn();
  assert.deepEqual(log, ['a', 'b', 'c', 'b']);
  // Turns of different sizes reuse the lists without leftovers from earlier turns.
  for (const n of [50, 3, 5000, 1, 0, 7]) {
    log.length = 0;
    const fs = Array.from({ length: n }, (_, i) => recorder(log, String(i)));
    for (const f of fs) scheduleFlush(f);
    await turn();
    await turn();
    assert.deepEqual(log, fs.map((_, i) => String(i)), `turn of ${n}`);
    assert.ok(fs.every((f) => !f.flushQueued));
  }
});
