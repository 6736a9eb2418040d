/**
 * No 202 without a stored job: while nats-server is down, POST /async-function answers 503 with
 * Retry-After (never a 202 for a job that was not stored); once it is back, submissions are
 * accepted and every accepted job is still there. Also: configuration errors are clear.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startNats } from '../helpers/servers.js';
import { NatsQueue, asyncConfigFromEnv, createAsyncApi } from '../../src/faas/queue/index.js';

test('nats down: 503 + Retry-After, never a 202; accepted jobs survive the restart', { timeout: 60_000 }, async (t) => {
  const nats = await startNats(t);
  const queue = await NatsQueue.connect({ servers: nats.url, stream: 'OUTAGE', opTimeoutMs: 1500 });
  t.after(() => queue.close());
  const api = createAsyncApi({ queue, functionMeta: (n) => (n === 'f' ? {} : undefined) });
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    void (url.pathname.startsWith('/async-function/') ? api.invokeAsync : api.system)(req, res, url);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
  const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  const post = (body: string, key?: string) =>
    fetch(`${base}/async-function/f`, { method: 'POST', body, headers: key ? { 'idempotency-key': key } : {} });

  const before = await post('stored before');
  assert.equal(before.status, 202);
  const firstId = before.headers.get('x-call-id')!;
  await nats.stop();
  const during = await post('while down', 'order-1');
  assert.equal(during.status, 503);
  assert.equal(during.headers.get('retry-after'), '1');
  await nats.restart();
  let after: Response | undefined;
  for (let i = 0; i < 50; i++) {
    after = await post('after restart');
    if (after.status === 202) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(after?.status, 202);
  // The caller retries the refused submission with its idempotency key: stored now, once.
  const retried = await post('while down', 'order-1');
  assert.equal(retried.status, 202);
  assert.equal(retried.headers.get('x-idempotent-replay'), null);
  assert.equal((await post('while down', 'order-1')).headers.get('x-idempotent-replay'), 'true');
  const got = [];
  for (let i = 0; i < 10 && got.length < 3; i++) got.push(...(await queue.reserve(3 - got.length, 1000)));
  assert.deepEqual(got.map((r) => r.job.request.body.toString()), ['stored before', 'after restart', 'while down']);
  assert.deepEqual(await queue.reserve(3, 1000), []);
  assert.equal(got[0].job.callId, firstId);
});

test('async configuration from the environment: defaults and clear errors', () => {
  assert.deepEqual(asyncConfigFromEnv({}, '/d'), { driver: 'sqlite', dataDir: '/d' });
  const c = asyncConfigFromEnv({
    TRELLIS_NATS_URL: 'nats://127.0.0.1:1, nats://127.0.0.1:2', max_inflight: '4', ack_wait: '1m',
    TRELLIS_ASYNC_RETRY_ATTEMPTS: '3', TRELLIS_ASYNC_RETRY_MIN_WAIT: '500ms',
  }, '/d');
  assert.equal(c.driver, 'nats');
  assert.deepEqual(c.natsServers, ['nats://127.0.0.1:1', 'nats://127.0.0.1:2']);
  assert.equal(c.maxInflight, 4);
  assert.equal(c.ackWaitMs, 60_000);
  assert.deepEqual(c.retry, { maxAttempts: 3, minWaitMs: 500 });
  assert.equal(c.defaultMaxAttempts, 3);
  assert.throws(() => asyncConfigFromEnv({ TRELLIS_ASYNC_DRIVER: 'kafka' }, '/d'), /TRELLIS_ASYNC_DRIVER must be sqlite or nats/);
  assert.throws(() => asyncConfigFromEnv({ TRELLIS_ASYNC_ACK_WAIT: 'soon' }, '/d'), /TRELLIS_ASYNC_ACK_WAIT: "soon" is not a duration/);
  assert.throws(() => asyncConfigFromEnv({ TRELLIS_ASYNC_MAX_INFLIGHT: '0' }, '/d'), /not a positive integer/);
  assert.throws(() => asyncConfigFromEnv({ TRELLIS_ASYNC_SQLITE_SYNC: 'sometimes' }, '/d'), /full or normal/);
  assert.equal(asyncConfigFromEnv({ TRELLIS_ASYNC_SQLITE_THREAD: 'false' }, '/d').sqliteThread, false);
  assert.throws(() => asyncConfigFromEnv({ TRELLIS_ASYNC_SQLITE_THREAD: 'maybe' }, '/d'), /TRELLIS_ASYNC_SQLITE_THREAD must be true or false/);
});
