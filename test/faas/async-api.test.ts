/**
 * The async API mounted in a real gateway (in-process createGateway, real node function
 * processes): 404 for unknown functions, 202 + X-Call-Id after storing, callbacks with
 * OpenFaaS' headers, status polling, idempotency, retries → dead letters → re-drive, and
 * the `trellis async` CLI against it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createGateway, type Gateway } from '../../src/faas/gateway/index.js';
import { attachAsync, type AsyncService } from '../../src/faas/queue/index.js';
import { TestProvider } from './gateway-test-provider.js';
import { ADMIN, deploy, startReceiver, until } from './async-helpers.js';
import { getFreePort } from '../../src/util/net.js';

let gw: Gateway;
let svc: AsyncService;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let dataDir: string;
const provider = new TestProvider();

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'trellis-async-api-'));
  gw = await createGateway({ listen: '127.0.0.1:0', dataDir, provider, adminPassword: 'secret', log: () => undefined });
  svc = await attachAsync({
    addRoute: (m, p, h) => gw.addRoute(m, p, h), invoke: (n, r) => gw.invoke(n, r),
    functionMeta: (n) => gw.registry.record(n)?.spec, metricsRegistry: gw.metricsRegistry,
  }, {
    driver: 'sqlite', dataDir, ackWaitMs: 3000, maxInflight: 8,
    retry: { minWaitMs: 50, maxWaitMs: 200 }, callback: { minWaitMs: 50, maxWaitMs: 100 },
  });
  receiver = await startReceiver();
  await deploy(gw.url(), 'echo');
  await deploy(gw.url(), 'flaky', { annotations: { 'com.openfaas.retry.attempts': '3' } });
});

after(async () => {
  await receiver.close();
  await svc.close();
  await gw.close();
  await provider.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const post = (path: string, headers: Record<string, string> = {}, body = '') =>
  fetch(`${gw.url()}${path}`, { method: 'POST', headers, body });
const status = async (id: string) =>
  (await (await fetch(`${gw.url()}/system/async/${id}`, { headers: { authorization: ADMIN } })).json()) as Record<string, any>;
async function final(id: string) {
  const deadline = Date.now() + 20_000;
  let s = await status(id);
  while (['queued', 'running'].includes(s.status)) {
    if (Date.now() > deadline) throw new Error(`call ${id} still ${s.status} after 20 s`);
    await new Promise((r) => setTimeout(r, 50));
    s = await status(id);
  }
  return s;
}

test('unknown function: 404 at once, nothing queued', async () => {
  const res = await post('/async-function/nope', { 'x-callback-url': receiver.url }, 'x');
  assert.equal(res.status, 404);
  assert.match(await res.text(), /function "nope" not found/);
  const list = await (await fetch(`${gw.url()}/system/async`, { headers: { authorization: ADMIN } })).json() as unknown[];
  assert.ok(list.every((s: any) => s.function !== 'nope'));
});

test('202 with X-Call-Id, then a callback with the OpenFaaS headers, and a pollable result', async () => {
  const res = await post('/async-function/echo/echo', { 'x-callback-url': receiver.url, 'content-type': 'text/plain' }, 'hello async');
  assert.equal(res.status, 202);
  const callId = res.headers.get('x-call-id')!;
  assert.match(callId, /^[0-9a-f-]{36}$/);
  await until('the callback', () => receiver.calls.some((c) => c.callId === callId), 20_000);
  const cb = receiver.calls.find((c) => c.callId === callId)!;
  assert.equal(cb.body, 'hello async');
  assert.equal(cb.status, '200');
  assert.equal(cb.fn, 'echo');
  assert.equal(cb.contentType, 'text/plain');
  assert.equal(cb.startTime, res.headers.get('x-start-time'));
  assert.ok(Number.isFinite(Number(cb.duration)));
  const s = await final(callId);
  assert.equal(s.status, 'succeeded');
  assert.equal(s.attempts, 1);
  assert.equal(s.result.body, 'hello async');
  assert.equal(s.result.statusCode, 200);
  assert.ok(Date.parse(s.finishedAt) >= Date.parse(s.enqueuedAt));
  assert.equal(s.callback.status, 'delivered');
  assert.equal(s.callback.attempts, 1);
  assert.equal(s.callback.statusCode, 200);
  assert.equal(s.callback.url, receiver.url);
});

test('a callback that fails after its retries is recorded in the call\'s status and shown by trellis async get', async () => {
  const deadUrl = `http://127.0.0.1:${await getFreePort()}/cb`;
  const res = await post('/async-function/echo/echo', { 'x-callback-url': deadUrl }, 'nobody listens');
  const id = res.headers.get('x-call-id')!;
  const s = await final(id);
  assert.equal(s.status, 'succeeded', 'the function ran; only the callback failed');
  assert.equal(s.callback.status, 'failed');
  assert.equal(s.callback.attempts, 5);
  assert.equal(s.callback.url, deadUrl);
  assert.match(s.callback.lastError, /ECONNREFUSED|connect/i);
  const run = promisify(execFile);
  const env = { ...process.env, TRELLIS_GATEWAY: gw.url(), TRELLIS_PASSWORD: 'secret' };
  const get = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'async', 'get', id], { env });
  assert.match(get.stdout, /Callback:\s+\S+ \(failed after 5 attempts: /);
  const metrics = await (await fetch(`${gw.url()}/metrics`)).text();
  assert.match(metrics, /queue_worker_callbacks_failed_total\{function_name="echo"\} [1-9]/);
});

test('the call id, sub-path and query travel to the function', async () => {
  const res = await post('/async-function/echo/some/path?a=1&b=two', { 'x-custom': 'kept' }, 'abc');
  const callId = res.headers.get('x-call-id')!;
  const s = await final(callId);
  const seen = JSON.parse(s.result.body) as { url: string; headers: Record<string, string>; method: string; bodyLength: number };
  assert.equal(seen.url, '/some/path?a=1&b=two');
  assert.equal(seen.headers['x-call-id'], callId);
  assert.equal(seen.headers['x-custom'], 'kept');
  assert.equal(seen.method, 'POST');
  assert.equal(seen.bodyLength, 3);
});

test('an idempotency key returns the first call id and runs the job once', async () => {
  const h = { 'x-callback-url': receiver.url, 'idempotency-key': 'payment-7' };
  const a = await post('/async-function/echo/echo', h, 'once');
  const b = await post('/async-function/echo/echo', { ...h }, 'once');
  assert.equal(a.status, 202);
  assert.equal(b.status, 202);
  const id = a.headers.get('x-call-id')!;
  assert.equal(b.headers.get('x-call-id'), id);
  assert.equal(b.headers.get('x-idempotent-replay'), 'true');
  await final(id);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.calls.filter((c) => c.callId === id).length, 1);
});

test('retryable failures are retried up to the label attempts, then dead-lettered and re-drivable', async () => {
  const res = await post('/async-function/flaky/status?code=503', { 'x-callback-url': receiver.url }, '');
  const id = res.headers.get('x-call-id')!;
  const s = await final(id);
  assert.equal(s.status, 'dead');
  assert.equal(s.attempts, 3, 'com.openfaas.retry.attempts=3 must bound the attempts');
  assert.equal(s.result.statusCode, 503);
  await until('the dead call\'s callback', () => receiver.calls.some((c) => c.callId === id), 10_000);
  assert.equal(receiver.calls.find((c) => c.callId === id)!.status, '503');
  const dead = await (await fetch(`${gw.url()}/system/async?status=dead`, { headers: { authorization: ADMIN } })).json() as any[];
  assert.ok(dead.some((d) => d.callId === id));
  const r = await post(`/system/async/${id}/retry`, { authorization: ADMIN });
  assert.equal(r.status, 202);
  const again = await final(id);
  assert.equal(again.status, 'dead');
  assert.equal(again.attempts, 3);
  assert.equal(receiver.calls.filter((c) => c.callId === id).length, 2);
});

test('a non-retryable status fails at once; only dead/failed calls can be retried', async () => {
  const res = await post('/async-function/echo/status?code=400');
  const id = res.headers.get('x-call-id')!;
  const s = await final(id);
  assert.equal(s.status, 'failed');
  assert.equal(s.attempts, 1);
  const ok = await post('/async-function/echo/echo', {}, 'x');
  const okId = ok.headers.get('x-call-id')!;
  await final(okId);
  assert.equal((await post(`/system/async/${okId}/retry`, { authorization: ADMIN })).status, 409);
  assert.equal((await post('/system/async/not-a-call/retry', { authorization: ADMIN })).status, 404);
});

test('bad input gets clear 4xx answers; /system/async needs auth', async () => {
  assert.equal((await post('/async-function/echo', { 'x-callback-url': 'ftp://x' })).status, 400);
  assert.equal((await fetch(`${gw.url()}/system/async?status=bogus`, { headers: { authorization: ADMIN } })).status, 400);
  assert.equal((await fetch(`${gw.url()}/system/async/whatever`, { headers: { authorization: ADMIN } })).status, 404);
  assert.equal((await fetch(`${gw.url()}/system/async`)).status, 401);
  assert.equal((await fetch(`${gw.url()}/async-function/echo`)).status, 405);
});

test('trellis async ls / get / retry', async () => {
  const run = promisify(execFile);
  const env = { ...process.env, TRELLIS_GATEWAY: gw.url(), TRELLIS_PASSWORD: 'secret' };
  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'async', ...args], { env });
  const res = await post('/async-function/flaky/status?code=500', {}, '');
  const id = res.headers.get('x-call-id')!;
  await final(id);
  const ls = await cli('ls', '--status', 'dead');
  assert.match(ls.stdout, new RegExp(`${id}\\s+flaky\\s+dead\\s+3/3`));
  const get = await cli('get', id);
  assert.match(get.stdout, /Status:\s+dead/);
  assert.match(get.stdout, /Result:\s+HTTP 500/);
  const retried = await cli('retry', id);
  assert.match(retried.stdout, /queued again/);
  await assert.rejects(cli('ls', '--status', 'nonsense'), /--status must be one of/);
});

test('queue_worker_* metrics on the gateway\'s GET /metrics count submissions, outcomes and retries', async () => {
  const res = await fetch(`${gw.url()}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /gateway_function_invocation_total/, 'the gateway\'s own metrics are in the same scrape');
  assert.match(text, /queue_worker_messages_submitted_total\{function_name="echo"\} [1-9]/);
  assert.match(text, /queue_worker_messages_processed_total\{function_name="echo",status="succeeded"\} [1-9]/);
  assert.match(text, /queue_worker_messages_processed_total\{function_name="flaky",status="dead"\} [1-9]/);
  assert.match(text, /queue_worker_retries_total\{function_name="flaky"\} [1-9]/);
  assert.match(text, /queue_worker_function_invocation_inflight\{function_name="echo"\} 0/);
});
