/** Pure parts of distribution: cluster: topology replies, redirect errors, config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProxyConfigText, poolFromOptions } from '../../src/config/index.js';
import { classifyError, coveredSlots, parseClusterShards, parseClusterSlots, parseRedirect } from '../../src/redis/cluster/index.js';
import type { RespValue } from '../../src/resp/index.js';

const b = (s: string): RespValue => ({ type: 'bulk', value: Buffer.from(s) });
const i = (n: number): RespValue => ({ type: 'integer', value: n });
const a = (v: RespValue[]): RespValue => ({ type: 'array', value: v });

function node(id: string, port: number, role: string, health: string): RespValue {
  return a([b('id'), b(id), b('port'), i(port), b('ip'), b('127.0.0.1'), b('endpoint'), b('127.0.0.1'), b('role'), b(role), b('replication-offset'), i(0), b('health'), b(health)]);
}

test('CLUSTER SHARDS (RESP2): masters, replicas (loading ones too), slot ranges; failed nodes left out', () => {
  const reply = a([
    a([b('slots'), a([i(0), i(100), i(200), i(5460)]), b('nodes'), a([node('m1', 7000, 'master', 'online'), node('r1', 7003, 'replica', 'loading')])]),
    // After a failover: the old master is listed as failed; the promoted one is online.
    a([b('slots'), a([i(5461), i(16383)]), b('nodes'), a([node('old', 7001, 'master', 'fail'), node('m2', 7004, 'master', 'online'), node('r2', 7005, 'replica', 'fail')])]),
    a([b('slots'), a([]), b('nodes'), a([node('empty', 7009, 'master', 'online')])]),
  ]);
  const shards = parseClusterShards(reply);
  assert.deepEqual(shards, [
    { master: { host: '127.0.0.1', port: 7000, id: 'm1' }, replicas: [{ host: '127.0.0.1', port: 7003, id: 'r1' }], slots: [[0, 100], [200, 5460]] },
    { master: { host: '127.0.0.1', port: 7004, id: 'm2' }, replicas: [], slots: [[5461, 16383]] },
  ]);
  assert.equal(coveredSlots(shards), 16384 - 99);
});

test('CLUSTER SHARDS (RESP3 maps) and an unknown endpoint fall back to the ip', () => {
  const m = (pairs: Array<[string, RespValue]>): RespValue => ({ type: 'map', value: pairs.map(([k, v]) => [b(k), v]) });
  const reply = a([m([['slots', a([i(0), i(16383)])], ['nodes', a([m([['port', i(6379)], ['ip', b('10.0.0.1')], ['endpoint', b('?')], ['role', b('master')], ['health', b('online')]])])]])]);
  assert.deepEqual(parseClusterShards(reply), [{ master: { host: '10.0.0.1', port: 6379 }, replicas: [], slots: [[0, 16383]] }]);
  assert.throws(() => parseClusterShards({ type: 'error', value: 'ERR This instance has cluster support disabled' }), /cluster support disabled/);
});

test('CLUSTER SLOTS: ranges merged per master', () => {
  const range = (x: number, y: number, ...nodes: Array<[number, string]>) => a([i(x), i(y), ...nodes.map(([p, id]) => a([b('127.0.0.1'), i(p), b(id)]))]);
  const shards = parseClusterSlots(a([range(0, 10, [7000, 'm1'], [7003, 'r1']), range(11, 16383, [7001, 'm2']), range(20000, 1, [7002, 'x'])]));
  assert.deepEqual(shards.map((s) => [s.master.port, s.replicas.map((r) => r.port), s.slots]), [[7000, [7003], [[0, 10]]], [7001, [], [[11, 16383]]]]);
});

test('redirect errors: MOVED / ASK parsed (empty host = the answering node), others classified', () => {
  const e = (s: string) => Buffer.from(`-${s}\r\n`);
  assert.deepEqual(parseRedirect(e('MOVED 3999 127.0.0.1:6381'), 'x'), { slot: 3999, host: '127.0.0.1', port: 6381 });
  assert.deepEqual(parseRedirect(e('ASK 1 :7002'), '127.0.0.5'), { slot: 1, host: '127.0.0.5', port: 7002 });
  assert.deepEqual(parseRedirect(e('MOVED 2 [::1]:7002'), 'x'), { slot: 2, host: '::1', port: 7002 });
  assert.equal(parseRedirect(e('MOVED 99999 h:1'), 'x'), null);
  assert.equal(parseRedirect(e('MOVED nonsense'), 'x'), null);
  const kinds = ['MOVED 1 h:1', 'ASK 1 h:1', 'TRYAGAIN Multiple keys request during rehashing of slot', 'CLUSTERDOWN The cluster is down',
    'ERR backend 127.0.0.1:1 unavailable', 'LOADING Redis is loading the dataset in memory', 'ERR wrong type', 'MOVEDX'].map((s) => classifyError(e(s)));
  assert.deepEqual(kinds, [1, 2, 3, 4, 5, 6, 0, 0]);
});

test('config: distribution cluster with seeds and cluster settings (YAML and options), clear refusals', () => {
  const cfg = parseProxyConfigText('distribution: cluster\nbackends: [127.0.0.1:7000, 127.0.0.1:7001]\ncluster:\n  read_policy: PREFER_REPLICA\n  refresh_interval: 2000\n');
  assert.deepEqual(cfg.pools[0].cluster, { refreshIntervalMs: 2000, refreshTimeoutMs: 3000, readPolicy: 'preferReplica', maxRedirects: 5, failoverWaitMs: 0 });
  assert.equal(cfg.pools[0].backends.length, 2);
  assert.deepEqual(poolFromOptions({ distribution: 'cluster', backends: ['127.0.0.1:7000'] }).cluster, { refreshIntervalMs: 5000, refreshTimeoutMs: 3000, readPolicy: 'master', maxRedirects: 5, failoverWaitMs: 0 });
  assert.equal(poolFromOptions({ backends: ['127.0.0.1:7000'] }).cluster, undefined);
  assert.throws(() => parseProxyConfigText('backends: [127.0.0.1:7000]\ncluster: { read_policy: any }\n'), /cluster: only meaningful with distribution: cluster/);
  assert.throws(() => parseProxyConfigText('distribution: cluster\nbackends: [127.0.0.1:7000]\ncluster: { read_policy: nearest }\n'), /cluster\.read_policy: expected one of/);
  assert.throws(() => parseProxyConfigText('distribution: cluster\nbackends: [127.0.0.1:7000]\ncluster: { max_redirects: 0 }\n'), /cluster\.max_redirects/);
});
