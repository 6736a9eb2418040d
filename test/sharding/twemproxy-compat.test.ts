/**
 * Placement must agree with the real twemproxy: keys are written THROUGH nutcracker, then
 * each backend is read directly, and every key must sit on the backend createDistributor()
 * picks for it. (ioredis must not send CLIENT SETINFO: twemproxy closes the connection on it.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisServer, startNutcracker, startRedisMany } from '../helpers/servers.js';
import {
  HASH_NAMES, createDistributor, type DistributionName, type HashName, type ShardServer,
} from '../../src/sharding/index.js';

/** Deterministic keys: plain, hash-tagged, and binary ones with bytes >= 0x80. */
function makeKeys(n: number, seed: number): Buffer[] {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
  const keys: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    switch (i % 5) {
      case 0: keys.push(Buffer.from(`key:${i}`)); break;
      case 1: keys.push(Buffer.from(`{user${i % 37}}:field:${i}`)); break;
      case 2: keys.push(Buffer.from(`caf\u00e9:${i}:\u00fc\u00f1\u00ee`)); break;
      case 3: keys.push(Buffer.from(`a{${i % 11}}b{c}:${i}`)); break;
      default: {
        const len = 1 + Math.floor(rnd() * 40);
        keys.push(Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256))));
      }
    }
  }
  keys.push(...['foo', 'bar', 'hello', 'apple', 'user:1000', 'k160', 'k161', 'k162', '{}', 'x{}y'].map((k) => Buffer.from(k)));
  return keys;
}

interface Pool {
  title: string;
  backends: RedisServer[];
  weights?: number[];
  names?: string[];
  hash?: HashName;
  distribution?: DistributionName;
  hashTag?: string;
  keys: number;
}

async function checkPool(pool: Pool, direct: Map<RedisServer, Redis>, t: { after(fn: () => unknown): void }): Promise<void> {
  const servers: ShardServer[] = pool.backends.map((b, i) => ({
    host: b.host, port: b.port, weight: pool.weights?.[i] ?? 1, ...(pool.names ? { name: pool.names[i] } : {}),
  }));
  const yaml = ['redis: true', 'timeout: 5000'];
  if (pool.hash) yaml.push(`hash: ${pool.hash}`); // else twemproxy's defaults: fnv1a_64 …
  if (pool.distribution) yaml.push(`distribution: ${pool.distribution}`); // … and ketama
  if (pool.hashTag) yaml.push(`hash_tag: "${pool.hashTag}"`);
  yaml.push('servers:', ...servers.map((s) => `  - ${s.host}:${s.port}:${s.weight}${s.name ? ` ${s.name}` : ''}`));

  await Promise.all(pool.backends.map((b) => direct.get(b)!.flushall()));
  const nc = await startNutcracker(yaml.join('\n'), t);
  const proxy = new Redis({ host: '127.0.0.1', port: nc.port, enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: 0, lazyConnect: true });
  try {
    await proxy.connect();
    const keys = makeKeys(pool.keys, pool.keys * 7 + pool.backends.length);
    const pipe = proxy.pipeline();
    keys.forEach((k, i) => pipe.set(k, String(i)));
    const results = await pipe.exec();
    assert.ok(results && results.every(([err, v]) => !err && v === 'OK'), `SET through nutcracker failed for pool ${pool.title}`);
  } finally {
    proxy.disconnect();
    await nc.stop();
  }

  const holder = new Map<string, number>();
  await Promise.all(pool.backends.map(async (b, i) => {
    for (const k of await direct.get(b)!.keysBuffer('*')) holder.set(k.toString('hex'), i);
  }));
  const dist = createDistributor({
    distribution: pool.distribution ?? 'ketama', hash: pool.hash ?? 'fnv1a_64', hashTag: pool.hashTag, servers,
  });
  const keys = makeKeys(pool.keys, pool.keys * 7 + pool.backends.length);
  const distinct = new Set(keys.map((k) => k.toString('hex')));
  assert.equal(holder.size, distinct.size, `every key was stored once (${pool.title})`);
  const wrong: string[] = [];
  for (const k of keys) {
    const want = dist.serverFor(k);
    const got = holder.get(k.toString('hex'));
    if (want !== got) wrong.push(`${JSON.stringify(k.toString('latin1'))}: trellis ${want}, twemproxy ${got}`);
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${pool.title}: ${wrong.length} of ${keys.length} keys placed differently`);
  const used = new Set(holder.values());
  // crc32 (libmemcached) is a 15-bit hash: on a ketama ring nearly all keys share one point
  if (pool.hash !== 'crc32' || pool.distribution === 'modula') assert.ok(used.size > Math.min(pool.backends.length, 3) - 1, `${pool.title}: keys spread over several backends`);
}

test('placement agrees with the real nutcracker', { timeout: 120_000 }, async (t) => {
  const backends = await startRedisMany(25, t);
  const direct = new Map(backends.map((b) => [b, new Redis({ host: b.host, port: b.port, lazyConnect: false })]));
  t.after(() => { for (const c of direct.values()) c.disconnect(); });

  const pools: Pool[] = [
    { title: '3 named servers', backends: backends.slice(0, 3), names: ['server1', 'server2', 'server3'], keys: 1500 },
    { title: '4 host:port servers, twemproxy defaults', backends: backends.slice(3, 7), keys: 1500 },
    { title: '25 equal servers (156 points each)', backends, hash: 'fnv1a_64', distribution: 'ketama', keys: 4000 },
    { title: 'weights 1/2/3', backends: backends.slice(0, 3), weights: [1, 2, 3], keys: 1500 },
    { title: 'hash_tag {}', backends: backends.slice(0, 6), hashTag: '{}', keys: 1500 },
    { title: 'modula, weights 1/2/3', backends: backends.slice(0, 3), weights: [1, 2, 3], distribution: 'modula', keys: 1500 },
    { title: 'hash md5', backends: backends.slice(0, 5), hash: 'md5', keys: 1500 },
    { title: 'named + weights + hash_tag $$ + murmur', backends: backends.slice(10, 14), names: ['a', 'b', 'c', 'd'], weights: [3, 1, 2, 5], hash: 'murmur', hashTag: '$$', keys: 800 },
    // nutcracker orders servers by name (shorter first): modula must follow that order
    { title: 'modula, names of different lengths', backends: backends.slice(7, 11), names: ['zeta', 'b', 'alpha', 'cc'], weights: [1, 2, 1, 3], distribution: 'modula', keys: 800 },
    ...HASH_NAMES.map((h): Pool => ({ title: `ketama + ${h}`, backends: backends.slice(14, 19), hash: h, keys: 500 })),
    ...HASH_NAMES.map((h): Pool => ({ title: `modula + ${h}`, backends: backends.slice(19, 25), hash: h, distribution: 'modula', keys: 300 })),
  ];
  for (const pool of pools) await t.test(pool.title, (st) => checkPool(pool, direct, st));

  // Port 11211: the identity is the host alone. Other loopback addresses keep 11211 free of clashes.
  await t.test('port 11211 servers are named by host only', async (st) => {
    const extra: RedisServer[] = [];
    for (const host of ['127.0.0.2', '127.0.0.3']) {
      try {
        extra.push(await RedisServer.start({ host, port: 11211 }));
      } catch {
        break;
      }
    }
    st.after(() => Promise.all(extra.map((s) => s.stop())));
    if (extra.length < 2) return st.skip('could not bind 127.0.0.2/127.0.0.3:11211');
    for (const s of extra) direct.set(s, new Redis({ host: s.host, port: s.port }));
    st.after(() => { for (const s of extra) direct.get(s)!.disconnect(); });
    const mixed = [extra[0], backends[0], extra[1]];
    await checkPool({ title: 'ketama 11211', backends: mixed, keys: 600 }, direct, st);
    await checkPool({ title: 'modula 11211', backends: mixed, distribution: 'modula', weights: [2, 1, 3], keys: 600 }, direct, st);
  });
});
