/**
 * Differential: random sequences of MULTI/EXEC/DISCARD/WATCH/UNWATCH, queued commands (some
 * malformed) and a second client's interfering writes give the same replies through the
 * proxy (keys sharing one hash tag, 3 shards) as from one Redis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startRedisMany } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { RawClient, type Plain } from './client-commands-raw.js';
import { prng } from '../helpers/prng.js';


type Step = { who: 0 | 1; line: string[] };

function script(seed: number, n: number): Step[] {
  const r = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const key = () => pick(['{tx}a', '{tx}b', '{tx}c']);
  const gen: Array<() => string[]> = [
    () => ['MULTI'], () => ['MULTI'], () => ['EXEC'], () => ['EXEC'], () => ['DISCARD'],
    () => ['WATCH', key()], () => ['WATCH', key(), key()], () => ['UNWATCH'],
    () => ['SET', key(), String(Math.floor(r() * 100))], () => ['INCR', key()], () => ['GET', key()],
    () => ['DEL', key()], () => ['APPEND', key(), 'x'], () => ['PING'], () => ['ECHO', 'e'],
    () => ['GET'], () => ['NOSUCH', 'x'], () => ['MGET', key(), key()],
  ];
  const steps: Step[] = [];
  for (let i = 0; i < n; i++) {
    if (r() < 0.2) steps.push({ who: 1, line: ['SET', key(), `other${i}`] });
    else steps.push({ who: 0, line: pick(gen)() });
  }
  steps.push({ who: 0, line: ['DISCARD'] }, { who: 0, line: ['MGET', '{tx}a', '{tx}b', '{tx}c'] });
  return steps;
}

async function run(port: number, steps: Step[]): Promise<Plain[]> {
  const a = await RawClient.connect(port);
  const b = await RawClient.connect(port);
  try {
    await a.call('DEL', '{tx}a', '{tx}b', '{tx}c');
    const out: Plain[] = [];
    for (const s of steps) out.push(await (s.who === 0 ? a : b).call(...s.line));
    return out;
  } finally {
    a.close();
    b.close();
  }
}

test('differential: transactions and WATCH through the proxy answer like one Redis', async (t) => {
  const direct = await startRedis(t);
  const backends = await startRedisMany(3, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}' });
  t.after(() => proxy.close(100));
  let watchAborts = 0;
  let execAborts = 0;
  for (const seed of [1, 2, 3, 4, 5]) {
    const steps = script(seed, 150);
    const want = await run(direct.port, steps);
    steps.forEach((s, i) => {
      if (s.line[0] !== 'EXEC') return;
      if (want[i] === null) watchAborts++;
      if ((want[i] as { error?: string } | null)?.error?.startsWith('EXECABORT')) execAborts++;
    });
    const got = await run(proxy.address().port, steps);
    for (let i = 0; i < steps.length; i++) {
      assert.deepEqual(got[i], want[i], `seed ${seed} step ${i}: ${steps[i].who === 0 ? 'A' : 'B'} ${steps[i].line.join(' ')}`);
    }
  }
  // The scripts did exercise WATCH conflicts and queueing errors.
  assert.ok(watchAborts > 0 && execAborts > 0, `watch aborts ${watchAborts}, exec aborts ${execAborts}`);
});
