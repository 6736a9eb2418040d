/**
 * `trellis redis-proxy` cluster flags (--distribution cluster, --read-policy, --max-redirects)
 * and the governance settings a cluster pool accepts or refuses (each refusal names its field).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ConfigError, poolFromOptions } from '../../src/config/index.js';
import { configFromFlags } from '../../src/cli/commands/redis-proxy.js';

const seeds = ['127.0.0.1:7000'];

test('--read-policy and --max-redirects set the cluster settings', () => {
  const cfg = configFromFlags({ backend: seeds, distribution: 'cluster', readPolicy: 'preferReplica', maxRedirects: '9' });
  const c = cfg.pools[0].cluster!;
  assert.equal(c.readPolicy, 'preferReplica');
  assert.equal(c.maxRedirects, 9);
  const d = configFromFlags({ backend: seeds, distribution: 'cluster' }).pools[0].cluster!;
  assert.equal(d.readPolicy, 'master');
  assert.equal(d.maxRedirects, 5);
});

test('cluster flags are validated and errors name the flag', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ distribution: 'cluster', readPolicy: 'nearest' }, /^--read-policy: expected one of master, preferMaster, replica, preferReplica, any, got "nearest"/],
    [{ distribution: 'cluster', maxRedirects: '0' }, /^--max-redirects: /],
    [{ distribution: 'cluster', maxRedirects: 'x' }, /^--max-redirects: /],
    [{ distribution: 'cluster', maxRedirects: '101' }, /^--max-redirects: expected an integer from 1 to 100/],
    [{ readPolicy: 'replica' }, /^--read-policy: only meaningful with --distribution cluster/],
    [{ distribution: 'ketama', maxRedirects: '3' }, /^--max-redirects: only meaningful with --distribution cluster/],
  ];
  for (const [flags, re] of bad) {
    assert.throws(() => configFromFlags({ backend: seeds, ...flags }), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(flags));
  }
  assert.throws(() => configFromFlags({ backend: [], config: 'x.yaml', readPolicy: 'any' }), /--read-policy: cannot be combined with --config/);
});

test('trellis redis-proxy --help lists cluster and its flags; a bad flag exits 2 naming it', () => {
  const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'redis-proxy', '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--distribution <name>[\s\S]*cluster/);
  assert.match(help.stdout, /--read-policy <policy>/);
  assert.match(help.stdout, /--max-redirects <n>/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'redis-proxy', '--backend', '127.0.0.1:7000', '--distribution', 'cluster', '--read-policy', 'nearest'],
    { encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /invalid configuration: --read-policy: expected one of/);
});

test('cluster pools take upstream_auth, upstream_tls and the per-client governance settings', () => {
  const p = poolFromOptions({
    backends: seeds, distribution: 'cluster',
    governance: {
      upstream_auth: { username: 'proxy', password: 'pw' },
      auth: { passwords: ['client'] }, stats: { top_callers: 5 }, rate_limits: [{ class: 'all', requests_per_second: 1000 }],
      timeouts: { read: 500 }, faults: [{ type: 'delay', percent: 1, delay: 1 }],
      circuit_breakers: { max_connections: 100 },
    } as never,
  });
  assert.equal(p.governance?.upstreamAuth?.password, 'pw');
  assert.equal(p.governance?.users?.length, 1);
});

test('cluster pools refuse the per-backend governance settings, naming the field', () => {
  const refused: Array<[string, Record<string, unknown>]> = [
    ['health_check', { health_check: {} }],
    ['outlier_detection', { outlier_detection: {} }],
    ['retry', { retry: {} }],
    ['prefix_routes', { prefix_routes: { routes: [{ prefix: 'a:', backends: ['127.0.0.1:7100'] }] } }],
    ['circuit_breakers.max_pending_requests', { circuit_breakers: { max_pending_requests: 10 } }],
  ];
  for (const [field, governance] of refused) {
    assert.throws(() => poolFromOptions({ backends: seeds, distribution: 'cluster', governance: governance as never }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`pool.${field}: `) && /distribution: cluster/.test(e.message), field);
  }
});
