/** Pure parts of the runtime: crash back-off decider, limits parsing, fprocess splitting, log ring. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterCrash, settle, waitBeforeStart, DEFAULT_BACKOFF, parseDuration, parseMemory, splitCommandLine, LogBuffer } from '../../src/faas/runtime/index.js';

test('crash back-off doubles from 100 ms to a 10 s cap, flags a loop from the 3rd crash, resets after 30 s up', () => {
  let s = { restarts: 0, crashLoop: false };
  const delays: number[] = [];
  let now = 1_000_000;
  for (let i = 0; i < 10; i++) {
    s = afterCrash(s, 50, now);
    delays.push(waitBeforeStart(s, now));
    if (i === 1) assert.equal(s.crashLoop, false);
    if (i === 2) assert.equal(s.crashLoop, true);
    now += 20_000;
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  assert.equal(waitBeforeStart(s, now), 0, 'no wait once the back-off passed');
  const afterLongRun = afterCrash(s, DEFAULT_BACKOFF.resetAfterMs, now);
  assert.equal(afterLongRun.restarts, 1, 'a crash after 30 s up starts counting again');
  assert.equal(settle(s, 29_000, now + 31_000).restarts, 10, 'not up long enough');
  assert.equal(settle(s, 31_000, now + 31_000).restarts, 0, 'an instance up 30 s clears the loop');
});

test('memory quantities and durations parse like Kubernetes and Go; bad ones explain themselves', () => {
  assert.equal(parseMemory('128Mi'), 128 * 1024 * 1024);
  assert.equal(parseMemory('1Gi'), 1024 ** 3);
  assert.equal(parseMemory('256M'), 256e6);
  assert.equal(parseMemory('67108864'), 64 * 1024 * 1024);
  assert.throws(() => parseMemory('lots'), /invalid memory quantity "lots"/);
  assert.throws(() => parseMemory('1Mi'), /below the 16Mi minimum/);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration(2.5), 2500);
  assert.equal(parseDuration('10'), 10_000);
  assert.throws(() => parseDuration('soon'), /invalid duration "soon"/);
  assert.throws(() => parseDuration('5s later'), /invalid duration/);
});

test('fprocess is split without a shell, honouring quotes', () => {
  assert.deepEqual(splitCommandLine('cat'), ['cat']);
  assert.deepEqual(splitCommandLine('  python3   -u  handler.py '), ['python3', '-u', 'handler.py']);
  assert.deepEqual(splitCommandLine(`sh -c 'echo "$X" | tr a b'`), ['sh', '-c', 'echo "$X" | tr a b']);
  assert.deepEqual(splitCommandLine('printf "a\\"b" ""'), ['printf', 'a"b', '']);
  assert.deepEqual(splitCommandLine('echo $(rm -rf /) ; ls'), ['echo', '$(rm', '-rf', '/)', ';', 'ls']);
  assert.throws(() => splitCommandLine(`sh -c 'oops`), /unterminated ' quote/);
});

test('log ring keeps the newest lines, filters by since/tail and feeds followers', () => {
  const b = new LogBuffer(3);
  const seen: string[] = [];
  const stop = b.follow((l) => seen.push(l.text));
  for (let i = 1; i <= 5; i++) b.push({ timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), name: 'f', instance: 'i', stream: 'stdout', text: `l${i}` });
  stop();
  b.push({ timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, 6)).toISOString(), name: 'f', instance: 'i', stream: 'stdout', text: 'l6' });
  assert.deepEqual(seen, ['l1', 'l2', 'l3', 'l4', 'l5']);
  assert.deepEqual(b.read().map((l) => l.text), ['l4', 'l5', 'l6']);
  assert.deepEqual(b.read({ tail: 1 }).map((l) => l.text), ['l6']);
  assert.deepEqual(b.read({ since: new Date(Date.UTC(2026, 0, 1, 0, 0, 5)) }).map((l) => l.text), ['l5', 'l6']);
});
