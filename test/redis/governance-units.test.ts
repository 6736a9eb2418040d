/** Pure parts of governance: caller stats folding, prefix route matching, config validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandStats, LATENCY_BUCKETS } from '../../src/redis/stats/command-stats.js';
import { PrefixDistributor } from '../../src/redis/routing/prefix-routes.js';
import { CommandTable } from '../../src/redis/governance/command-info.js';
import { Authenticator, keysAllowed } from '../../src/redis/auth/downstream-auth.js';
import { parseProxyConfigText } from '../../src/redis/index.js';
import { sha256 } from '../../src/config/redis-governance.js';
import type { Distributor } from '../../src/sharding/index.js';

test('CommandStats: top-N callers keep their label, the rest and the overflow fold into "other"', () => {
  const names = ['unknown', 'get', 'set'];
  const st = new CommandStats(3, 2, (id) => names[id]);
  const callers = ['a', 'b', 'c', 'd', 'e'].map((n) => st.caller(n));
  assert.deepEqual(callers, [1, 2, 3, 0, 0], 'beyond max_callers: the shared "other" row');
  const hits: Array<[number, number, number]> = [[0, 10, 0], [1, 5, 1], [2, 1, 0], [3, 7, 0]]; // caller idx, count, errors
  for (const [c, n, e] of hits) for (let i = 0; i < n; i++) st.record(st.row(callers[c], 1), 0.0003, i < e);
  const rows = st.snapshot();
  const total = (caller: string) => rows.filter((r) => r.caller === caller).reduce((s, r) => s + r.total, 0);
  assert.equal(total('a'), 10);
  assert.equal(total('b'), 5);
  assert.equal(total('c'), 0);
  assert.equal(total('other'), 8, 'c (1, not in the top 2) + d (7, overflow)');
  const b = rows.find((r) => r.caller === 'b')!;
  assert.equal(b.errors, 1);
  assert.equal(b.buckets[LATENCY_BUCKETS.indexOf(0.0005)], 5, '0.3 ms lands in the 0.5 ms bucket');
});

test('PrefixDistributor: longest prefix, case-insensitive option, offsets into the pool list', () => {
  const fixed = (i: number): Distributor => ({ size: 1, serverFor: () => i });
  const d = new PrefixDistributor(fixed(0), [
    { prefix: Buffer.from('a:'), start: 1, dist: fixed(0) },
    { prefix: Buffer.from('a:b:'), start: 2, dist: fixed(1) },
  ], 4, true);
  const at = (k: string) => d.serverFor(Buffer.from(k));
  assert.equal(at('x'), 0);
  assert.equal(at('a:1'), 1);
  assert.equal(at('a:b:1'), 3);
  assert.equal(at('A:B:1'), 3);
  assert.equal(at('a:'), 1);
  assert.equal(at('a'), 0);
  assert.equal(at(''), 0);
  const key = Buffer.from('zzza:b:k');
  assert.equal(d.serverFor(key, 3, key.length), 3, 'works on a key inside a larger buffer');
});

test('command classes and retry eligibility', () => {
  const t = new CommandTable();
  assert.equal(t.get('get').klass, 'read');
  assert.equal(t.get('get').retryable, true);
  assert.equal(t.get('set').klass, 'write');
  assert.equal(t.get('set').retryable, false);
  assert.equal(t.get('mget').retryable, false, 'multi-key reads are split: not retried');
  assert.equal(t.get('blpop').retryable, false);
  assert.equal(t.get('flushall').klass, 'write');
  assert.equal(t.get('no-such-command-xyz'), t.unknown, 'garbage names share one id');
});

test('Authenticator and key prefixes', () => {
  const a = new Authenticator([{ username: 'default', passwordSha256: sha256('p1'), readOnly: false }, { username: 'u', passwordSha256: sha256('p2'), readOnly: true }]);
  assert.equal(a.check('default', Buffer.from('p1'))?.username, 'default');
  assert.equal(a.check('u', Buffer.from('p1')), null);
  assert.equal(a.check('u', Buffer.from('p2'))?.readOnly, true);
  const buf = Buffer.from('GETrep:1other');
  const starts = Int32Array.from([0, 3, 8]);
  const ends = Int32Array.from([3, 8, 13]);
  assert.equal(keysAllowed([Buffer.from('rep:')], buf, starts, ends, [1]), true);
  assert.equal(keysAllowed([Buffer.from('rep:')], buf, starts, ends, [1, 2]), false);
});

test('governance config: defaults and clear errors', () => {
  const base = 'backends: [127.0.0.1:7001]\n';
  const g = parseProxyConfigText(`${base}health_check: {}\ncircuit_breakers: { max_pending_requests: 10 }\n`).pools[0].governance!;
  assert.deepEqual(g.healthCheck, { intervalMs: 1000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2, key: undefined });
  assert.equal(g.circuitBreakers!.maxPendingRequests, 10);
  assert.equal(parseProxyConfigText(base).pools[0].governance, undefined, 'no settings: no governance at all');
  assert.throws(() => parseProxyConfigText(`${base}auth: { users: [ { username: a } ] }\n`), /auth\.users\[0\]\.password/);
  assert.throws(() => parseProxyConfigText(`${base}auth: { users: [ { username: a, password: x }, { username: a, password: y } ] }\n`), /duplicate user "a"/);
  assert.throws(() => parseProxyConfigText(`${base}rate_limits: [ { class: writes, requests_per_second: 1 } ]\n`), /rate_limits\[0\]\.class/);
  assert.throws(() => parseProxyConfigText(`${base}upstream_auth: { username: u }\n`), /upstream_auth\.password: required with username/);
  assert.throws(() => parseProxyConfigText(`${base}faults: [ { type: delay, percent: 5 } ]\n`), /faults\[0\]\.delay/);
  assert.throws(() => parseProxyConfigText(`${base}tls: { cert_file: a.pem }\n`), /tls\.key_file/);
  assert.throws(() => parseProxyConfigText(`${base}stats: { top_callers: 50, max_callers: 10 }\n`), /stats\.top_callers/);
  // Passwords are only kept as digests for downstream users.
  const u = parseProxyConfigText(`${base}auth: { users: [ { username: a, password: hunter2 } ] }\n`).pools[0].governance!.users![0];
  assert.doesNotMatch(JSON.stringify(u), /hunter2/);
});
