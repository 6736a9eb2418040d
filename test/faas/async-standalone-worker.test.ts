/**
 * OpenFaaS' split: a gateway that only accepts async calls (TRELLIS_ASYNC_WORKER=false) and a
 * separate `trellis async worker` process that takes the jobs from the shared JetStream and
 * invokes them through the gateway's /function/ route.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../../src/faas/gateway/index.js';
import { attachAsync } from '../../src/faas/queue/index.js';
import { ManagedProcess } from '../../src/util/managed-process.js';
import { startNats } from '../helpers/servers.js';
import { TestProvider } from './gateway-test-provider.js';
import { ADMIN, deploy, startReceiver, submit, until } from './async-helpers.js';

test('an API-only gateway plus a standalone trellis async worker process', { timeout: 90_000 }, async (t) => {
  const nats = await startNats(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'trellis-async-split-'));
  const provider = new TestProvider();
  const gw = await createGateway({ listen: '127.0.0.1:0', dataDir, provider, adminPassword: 'secret', log: () => undefined });
  const svc = await attachAsync({
    addRoute: (m, p, h) => gw.addRoute(m, p, h), invoke: (n, r) => gw.invoke(n, r), functionMeta: (n) => gw.registry.record(n)?.spec,
  }, { driver: 'nats', natsServers: [nats.url], natsStream: 'SPLIT', worker: false });
  const receiver = await startReceiver();
  t.after(async () => {
    await receiver.close(); await svc.close(); await gw.close(); await provider.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await deploy(gw.url(), 'echo');
  const ids = await submit([gw.url()], 'echo/echo', 50, receiver.url, 8);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.calls.length, 0, 'the API-only gateway must not run jobs');
  const st = await (await fetch(`${gw.url()}/system/async/${ids[0]}`, { headers: { authorization: ADMIN } })).json() as { status: string };
  assert.equal(st.status, 'queued');

  const worker = new ManagedProcess(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'async', 'worker', '--gateway', gw.url()], {
    env: { ...process.env, TRELLIS_NATS_URL: nats.url, TRELLIS_NATS_STREAM: 'SPLIT', TRELLIS_PASSWORD: 'secret', TRELLIS_ASYNC_MAX_INFLIGHT: '8' },
  });
  t.after(() => worker.stop());
  await until('all callbacks', () => new Set(receiver.calls.map((c) => c.callId)).size === ids.length, 40_000)
    .catch((e) => { throw new Error(`${e.message}: ${receiver.calls.length}/${ids.length}\n${worker.recentOutput()}`); });
  for (let i = 0; i < ids.length; i++) {
    const c = receiver.calls.find((x) => x.callId === ids[i])!;
    assert.equal(c.body, `job-${i}`);
    assert.equal(c.status, '200');
  }
  const done = await (await fetch(`${gw.url()}/system/async/${ids[0]}`, { headers: { authorization: ADMIN } })).json() as { status: string };
  assert.equal(done.status, 'succeeded');
});
