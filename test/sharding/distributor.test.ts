import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  KetamaContinuum, createDistributor, ketamaPoints, keySlot, serverIdentity, twemproxyOrder, type ShardServer,
} from '../../src/sharding/index.js';

const local = (ports: number[], weights?: number[]): ShardServer[] =>
  ports.map((port, i) => ({ host: '127.0.0.1', port, weight: weights?.[i] ?? 1 }));
const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);
const ketama = (servers: ShardServer[], extra: object = {}) =>
  createDistributor({ distribution: 'ketama', hash: 'fnv1a_64', servers, ...extra });
const placed = (servers: ShardServer[], key: string, extra: object = {}) =>
  serverIdentity(servers[ketama(servers, extra).serverFor(Buffer.from(key))]);

test('server identity: name, host for 11211, else host:port; weight never part of it', () => {
  assert.equal(serverIdentity({ host: '10.0.0.1', port: 6379, weight: 3 }), '10.0.0.1:6379');
  assert.equal(serverIdentity({ host: '10.0.0.1', port: 11211, weight: 1 }), '10.0.0.1');
  assert.equal(serverIdentity({ host: '10.0.0.1', port: 6379, weight: 1, name: 'shard-a' }), 'shard-a');
});

test('points per server use float32 arithmetic (25 equal servers → 156 each)', () => {
  assert.equal(ketamaPoints(1, 3, 3), 160);
  assert.equal(ketamaPoints(1, 25, 25), 156);
  assert.equal(ketamaPoints(1, 24, 24), 160);
  // weights 1/2/3 → 80/160/240; the README's 100000:1 pool gives the small one 0 points
  assert.deepEqual([1, 2, 3].map((w) => ketamaPoints(w, 6, 3)), [80, 160, 240]);
  assert.deepEqual([100000, 1].map((w) => ketamaPoints(w, 100001, 2)), [316, 0]);
  const odd = [25, 47, 50, 55, 61, 71, 94, 100, 107, 109, 110, 115, 122, 142, 159, 163, 188, 193, 200];
  for (let n = 1; n <= 200; n++) assert.equal(ketamaPoints(1, n, n), odd.includes(n) ? 156 : 160, `n=${n}`);
});

test('3-server ring: 480 points, known first/last points and placements', () => {
  const servers = local([6379, 6380, 6381]);
  const ring = new KetamaContinuum(servers.map((s) => ({ identity: serverIdentity(s), weight: 1 })));
  assert.equal(ring.points, 480);
  assert.deepEqual([...ring.values.subarray(0, 3)], [20075150, 23409604, 29345296]);
  assert.deepEqual([...ring.owners.subarray(0, 3)], [0, 1, 1]);
  assert.equal(ring.values[479], 4289099568);
  assert.equal(ring.owners[479], 2);
  for (let i = 1; i < ring.points; i++) assert.ok(ring.values[i - 1] <= ring.values[i]);
  assert.equal(ring.lookup(0), 0); // below the first point
  assert.equal(ring.lookup(4289099568), 2); // exactly on the last point
  assert.equal(ring.lookup(4289099569), 0); // past the last point wraps
  const want: Record<string, number> = { foo: 6381, bar: 6379, hello: 6379, apple: 6379, 'user:1000': 6381, 'key:0': 6380, 'key:1': 6380, 'key:2': 6380 };
  for (const [k, port] of Object.entries(want)) assert.equal(placed(servers, k), `127.0.0.1:${port}`, k);
});

test('named servers and 4 host:port servers', () => {
  const named = range(1, 4).map((i) => ({ host: '127.0.0.1', port: 7000 + i, weight: 1, name: `server${i}` }));
  const want: Record<string, string> = { foo: 'server1', bar: 'server4', hello: 'server4', apple: 'server1' };
  for (const [k, v] of Object.entries(want)) assert.equal(placed(named, k), v, k);
  const four = local(range(6379, 4));
  const want4: Record<string, number> = { foo: 6381, bar: 6379, hello: 6379, apple: 6379 };
  for (const [k, port] of Object.entries(want4)) assert.equal(placed(four, k), `127.0.0.1:${port}`, k);
});

test('25 equal servers: 3900 points; k160/k161/k162 → :7016 (a double-precision port says :7023)', () => {
  const servers = local(range(7000, 25));
  const ring = new KetamaContinuum(servers.map((s) => ({ identity: serverIdentity(s), weight: 1 })));
  assert.equal(ring.points, 3900);
  assert.ok(ring.pointsPerServer.every((p) => p === 156));
  for (const k of ['k160', 'k161', 'k162']) assert.equal(placed(servers, k), '127.0.0.1:7016', k);
});

test('weights 1/2/3 give 80/160/240 points', () => {
  const ring = new KetamaContinuum([1, 2, 3].map((w, i) => ({ identity: `127.0.0.1:${6379 + i}`, weight: w })));
  assert.deepEqual(ring.pointsPerServer, [80, 160, 240]);
  assert.equal(ring.points, 480);
});

test('hash tag: keys sharing a tag land together; empty key and single-server pool', () => {
  const servers = local(range(7000, 8));
  const d = ketama(servers, { hashTag: '{}' });
  const home = d.serverFor(Buffer.from('{user42}'));
  for (let i = 0; i < 50; i++) assert.equal(d.serverFor(Buffer.from(`{user42}:field${i}`)), home);
  assert.equal(d.serverFor(Buffer.from('a{user42}b')), d.serverFor(Buffer.from('user42')));
  // empty key hashes to 0 → owner of the first point
  const ring = new KetamaContinuum(servers.map((s) => ({ identity: serverIdentity(s), weight: 1 })));
  assert.equal(d.serverFor(Buffer.alloc(0)), ring.owners[0]);
  // an empty tag hashes the whole key
  assert.equal(d.serverFor(Buffer.from('x{}y')), ketama(servers).serverFor(Buffer.from('x{}y')));
  const one = ketama(local([7000]), { hash: 'md5' });
  assert.equal(one.serverFor(Buffer.from('anything')), 0);
});

test('start/end place a slice of a larger buffer without copying', () => {
  const servers = local(range(7000, 5));
  const d = ketama(servers);
  const buf = Buffer.from('junk{x}user:1000more');
  assert.equal(d.serverFor(buf, 7, 16), d.serverFor(Buffer.from('user:1000')));
  const dt = ketama(servers, { hashTag: '{}' });
  assert.equal(dt.serverFor(buf, 7, 16), dt.serverFor(Buffer.from('user:1000')));
});

test('modula: h % total weight over servers repeated by weight', () => {
  const servers = local([7000, 7001, 7002], [1, 2, 3]);
  const d = createDistributor({ distribution: 'modula', hash: 'fnv1a_64', servers });
  const table = [0, 1, 1, 2, 2, 2];
  for (const k of ['foo', 'bar', 'hello', 'apple', 'user:1000', '1000']) {
    // fnv1a_64 values from the reference vectors
    const h = { foo: 4275688823, bar: 322520602, hello: 2158673163, apple: 1488911807, 'user:1000': 2927313545, '1000': 4170074660 }[k]!;
    assert.equal(d.serverFor(Buffer.from(k)), table[h % 6], k);
  }
});

test('random: uses the given random() over live servers, ignoring weights', () => {
  const servers = local([7000, 7001, 7002], [5, 1, 1]);
  const seq = [0, 0.34, 0.67, 0.99];
  let i = 0;
  const d = createDistributor({ distribution: 'random', hash: 'fnv1a_64', servers, random: () => seq[i++] });
  assert.deepEqual(seq.map(() => d.serverFor(Buffer.from('k'))), [0, 1, 2, 2]);
  i = 0;
  const live = createDistributor({ distribution: 'random', hash: 'md5', servers, live: [true, false, true], random: () => seq[i++] });
  assert.deepEqual(seq.map(() => live.serverFor(Buffer.from('k'))), [0, 0, 2, 2]);
});

test('live set (auto_eject_hosts): ejected servers leave the ring, others keep most keys', () => {
  const servers = local(range(7000, 5));
  const all = ketama(servers);
  const some = ketama(servers, { live: [true, true, false, true, true] });
  const ringLive = new KetamaContinuum(servers.map((s) => ({ identity: serverIdentity(s), weight: 1 })), [true, true, false, true, true]);
  assert.equal(ringLive.points, 640);
  assert.equal(ringLive.pointsPerServer[2], 0);
  let moved = 0;
  for (let k = 0; k < 2000; k++) {
    const key = Buffer.from(`key:${k}`);
    const a = all.serverFor(key);
    const b = some.serverFor(key);
    assert.notEqual(b, 2);
    if (a !== 2 && a !== b) moved++;
  }
  assert.equal(moved, 0, 'keys of live servers stay where they were');
  const none = ketama(servers, { live: servers.map(() => false) });
  assert.equal(none.serverFor(Buffer.from('x')), -1);
  const modNone = createDistributor({ distribution: 'modula', hash: 'crc32a', servers, live: servers.map(() => false) });
  assert.equal(modNone.serverFor(Buffer.from('x')), -1);
});

test('slots: static ranges, Redis hash tags, -1 for an unassigned slot', () => {
  const servers: ShardServer[] = [
    { host: '127.0.0.1', port: 7000, weight: 1, slots: [[0, 5460]] },
    { host: '127.0.0.1', port: 7001, weight: 1, slots: [[5461, 10922]] },
    { host: '127.0.0.1', port: 7002, weight: 1, slots: [[10923, 12000], [12500, 16383]] },
  ];
  const d = createDistributor({ distribution: 'slots', hash: 'fnv1a_64', servers });
  const owner = (slot: number) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : slot <= 12000 || slot >= 12500 ? 2 : -1);
  for (let k = 0; k < 3000; k++) {
    const key = Buffer.from(`key:${k}`);
    assert.equal(d.serverFor(key), owner(keySlot(key)));
  }
  assert.equal(keySlot(Buffer.from('foo')), 12182);
  assert.equal(d.serverFor(Buffer.from('foo')), -1); // slot 12182 is unassigned
  assert.equal(d.serverFor(Buffer.from('{bar}foo')), d.serverFor(Buffer.from('bar')));
  assert.throws(() => createDistributor({ distribution: 'slots', hash: 'md5', servers: [servers[0], { ...servers[1], slots: [[5000, 6000]] }] }), /slot 5000 is assigned to both/);
  assert.throws(() => createDistributor({ distribution: 'slots', hash: 'md5', servers: [{ ...servers[0], slots: [[0, 16384]] }] }), /invalid slot range/);
});

test('twemproxy server order: sorted by identity, shorter first (drives modula and ring ties)', () => {
  const servers: ShardServer[] = [
    { host: '127.0.0.1', port: 7001, weight: 1 }, { host: '10.0.0.1', port: 80, weight: 1 },
    { host: 'x', port: 1, weight: 1, name: 'b' }, { host: 'x', port: 2, weight: 1, name: 'a' },
    { host: '127.0.0.1', port: 7000, weight: 1 },
  ];
  assert.deepEqual(twemproxyOrder(servers), [3, 2, 1, 4, 0]);
  // modula walks that order: hash % 5 = 0 → 'a' (config index 3)
  const d = createDistributor({ distribution: 'modula', hash: 'fnv1a_64', servers });
  const key = Buffer.from('foo'); // fnv1a_64 4275688823 % 5 = 3 → 4th in twemproxy order
  assert.equal(4275688823 % 5, 3);
  assert.equal(d.serverFor(key), 4);
});

test('bad config gives clear errors', () => {
  assert.throws(() => ketama([{ host: 'a', port: 1, weight: 1, name: 's' }, { host: 'b', port: 2, weight: 1, name: 's' }]), /servers\[0\] and servers\[1\] have the same name "s"/);
  assert.throws(() => ketama([]), /at least one server/);
  assert.throws(() => ketama(local([7000, 7001], [1, 0])), /servers\[1\] \(127.0.0.1:7001\): weight must be a positive integer/);
  assert.throws(() => createDistributor({ distribution: 'rendezvous' as never, hash: 'md5', servers: local([1]) }), /unknown distribution/);
  assert.throws(() => ketama(local([7000]), { hash: 'nope' }), /unknown hash "nope"/);
  assert.throws(() => ketama(local([7000]), { hashTag: '{' }), /hash_tag must be exactly 2 characters/);
  assert.throws(() => ketama(local([7000, 7001]), { live: [true] }), /live has 1 entries for 2 servers/);
});

test('ring lookup equals a linear scan for the first point >= hash (property)', () => {
  const servers = local(range(7000, 7), [1, 2, 3, 1, 1, 5, 2]);
  const ring = new KetamaContinuum(servers.map((s) => ({ identity: serverIdentity(s), weight: s.weight })));
  const scan = (h: number) => {
    for (let i = 0; i < ring.points; i++) if (ring.values[i] >= h) return ring.owners[i];
    return ring.owners[0];
  };
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (h) => ring.lookup(h) === scan(h)), { numRuns: 2000 });
  for (let i = 0; i < ring.points; i++) assert.equal(ring.lookup(ring.values[i]), scan(ring.values[i]));
});
