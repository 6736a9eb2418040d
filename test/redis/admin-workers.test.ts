/**
 * `--workers 2 --admin`: the primary serves the admin port and reports every worker: /metrics
 * sums the workers' counters (prom-client's aggregator), /stats lists each worker, /ready needs
 * every worker ready.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManagedProcess } from '../../src/util/managed-process.js';
import { getFreePort, startRedisMany, waitForPort } from '../helpers/servers.js';
import { RawClient } from './client-commands-raw.js';

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([^{ ]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test('--workers 2 --admin: metrics, stats and readiness cover every worker', { timeout: 90_000 }, async (t) => {
  const [backend] = await startRedisMany(1, t);
  const [port, adminPort] = [await getFreePort(), await getFreePort()];
  const proc = new ManagedProcess(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'redis-proxy', '--listen', `127.0.0.1:${port}`,
    '--workers', '2', '--admin', `127.0.0.1:${adminPort}`, '--backend', backend.address], { cwd: process.cwd() });
  t.after(() => proc.stop());
  await waitForPort(port, '127.0.0.1', 20_000).catch((e: Error) => { throw new Error(`${e.message}\n${proc.recentOutput()}`); });
  await waitForPort(adminPort, '127.0.0.1', 20_000);

  // Connect until both workers have served clients; each client sends 5 SETs.
  const clients: RawClient[] = [];
  t.after(() => clients.forEach((c) => c.close()));
  const pids = new Set<string>();
  let sets = 0;
  for (let i = 0; i < 200 && (i < 10 || pids.size < 2); i++) {
    const c = await RawClient.connect(port);
    clients.push(c);
    pids.add(/proxy_process_id:(\d+)/.exec(await c.call('INFO', 'proxy') as string)?.[1] ?? '?');
    for (let k = 0; k < 5; k++) { assert.equal(await c.call('SET', `k${i}:${k}`, 'v'), 'OK'); sets++; }
    if (i >= 10) await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(pids.size, 2, 'both workers served clients');

  const base = `http://127.0.0.1:${adminPort}`;
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.equal(sample(metrics, 'trellis_redis_command_total', { command: 'set' }), sets, 'the workers\' counters are summed');
  assert.equal(sample(metrics, 'trellis_redis_downstream_connections'), clients.length);
  assert.ok((sample(metrics, 'process_resident_memory_bytes') ?? 0) > 1e6);

  const stats = await (await fetch(`${base}/stats`)).json() as { workers: Array<{ pid: number; pools: Array<{ pool: string }> }> };
  assert.deepEqual(new Set(stats.workers.map((w) => String(w.pid))), pids);
  assert.ok(stats.workers.every((w) => w.pools[0].pool === 'default'));

  const ready = await fetch(`${base}/ready`);
  assert.equal(ready.status, 200);
  const body = await ready.json() as { ready: boolean; pools: Record<string, string> };
  assert.equal(Object.keys(body.pools).length, 2, 'one line per worker');
  assert.equal((await fetch(`${base}/healthz`)).status, 200);

  // The backend goes away: no worker is ready any more.
  await backend.stop();
  const deadline = Date.now() + 20_000;
  let status = 200;
  while (status === 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await fetch(`${base}/ready`)).status;
  }
  assert.equal(status, 503);
});
