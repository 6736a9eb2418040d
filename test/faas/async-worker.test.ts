/**
 * The queue-worker on its own: pure retry decisions (backoff, Retry-After, labels), and the
 * worker against a real HTTP function process (a node child) over the sqlite queue:
 * maxInflight overall and per function, Retry-After honoured, connection errors retried,
 * callbacks retried when the receiver fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from '../../src/util/managed-process.js';
import { getFreePort, waitForPort } from '../../src/util/net.js';
import {
  DEFAULT_RETRY_POLICY, QueueWorker, SqliteQueue, backoffMs, createHttpInvoker, decideAfterAttempt, parseDurationMs,
  parseRetryAfterMs, retryPolicyFor, type AsyncQueue, type JobState,
} from '../../src/faas/queue/index.js';

test('backoff doubles from min_wait to max_wait with equal jitter', () => {
  const p = DEFAULT_RETRY_POLICY;
  assert.equal(backoffMs(1, p, 1), 10_000);
  assert.equal(backoffMs(1, p, 0), 5_000);
  assert.equal(backoffMs(2, p, 1), 20_000);
  assert.equal(backoffMs(4, p, 1), 80_000);
  assert.equal(backoffMs(5, p, 1), 120_000);
  assert.equal(backoffMs(9, p, 1), 120_000);
  for (let a = 1; a < 12; a++) {
    const d = backoffMs(a, p, 0.5);
    assert.ok(d >= 5_000 && d <= 120_000);
  }
});

test('decisions: 2xx succeeds, retry codes and connection errors retry, others fail, last attempt dies', () => {
  const p = DEFAULT_RETRY_POLICY;
  const d = (statusCode: number | undefined, attempt = 1, retryAfterMs?: number) =>
    decideAfterAttempt({ statusCode, attempt, maxAttempts: 10, policy: p, random: 0, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  assert.deepEqual(d(200), { action: 'succeeded' });
  assert.deepEqual(d(204), { action: 'succeeded' });
  for (const c of [408, 429, 500, 502, 503, 504]) assert.equal(d(c).action, 'retry', String(c));
  assert.equal(d(undefined).action, 'retry');
  for (const c of [400, 401, 404, 501]) assert.deepEqual(d(c), { action: 'failed' });
  assert.deepEqual(d(503, 10), { action: 'dead' });
  assert.deepEqual(d(undefined, 10), { action: 'dead' });
  // Retry-After lengthens the wait, capped at max_wait; it never shortens the backoff.
  assert.deepEqual(d(429, 1, 60_000), { action: 'retry', delayMs: 60_000 });
  assert.deepEqual(d(429, 1, 600_000), { action: 'retry', delayMs: 120_000 });
  assert.deepEqual(d(429, 1, 1000), { action: 'retry', delayMs: 5_000 });
});

test('Retry-After: delta-seconds and HTTP-date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfterMs('7', now), 7000);
  assert.equal(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
  assert.equal(parseRetryAfterMs('soon', now), undefined);
  assert.equal(parseRetryAfterMs(undefined, now), undefined);
});

test('per-function retry annotations/labels override defaults; bad values are reported and ignored', () => {
  assert.equal(parseDurationMs('1m30s'), 90_000);
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('2'), 2000);
  assert.equal(parseDurationMs('ten'), undefined);
  const { policy, problems } = retryPolicyFor({
    labels: { 'com.openfaas.retry.attempts': '3', 'com.openfaas.retry.min_wait': '1s' },
    annotations: { 'com.openfaas.retry.max_wait': '5s', 'com.openfaas.retry.codes': '429, 503' },
  });
  assert.deepEqual(problems, []);
  assert.equal(policy.maxAttempts, 3);
  assert.equal(policy.minWaitMs, 1000);
  assert.equal(policy.maxWaitMs, 5000);
  assert.deepEqual([...policy.retryCodes], [429, 503]);
  const bad = retryPolicyFor({ annotations: { 'com.openfaas.retry.attempts': '-1', 'com.openfaas.retry.codes': 'x', 'com.openfaas.retry.min_wait': 'soon' } });
  assert.equal(bad.problems.length, 3);
  assert.deepEqual(bad.policy, DEFAULT_RETRY_POLICY);
});

/** A real HTTP "gateway" process answering /function/<fn>/... and reporting concurrency. */
const SERVER = String.raw`
const http = require('node:http');
let total = 0, maxTotal = 0; const per = {}, maxPer = {}; const seen = {};
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/stats') { res.end(JSON.stringify({ maxTotal, maxPer })); return; }
  const [, , fn, op] = u.pathname.split('/');
  const chunks = []; req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const id = req.headers['x-call-id'];
    if (op === 'retry-after') {
      seen[id] = (seen[id] || []).concat(Date.now());
      if (seen[id].length === 1) { res.writeHead(429, { 'retry-after': '1' }); res.end('slow down'); return; }
      res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(seen[id])); return;
    }
    total++; per[fn] = (per[fn] || 0) + 1;
    maxTotal = Math.max(maxTotal, total); maxPer[fn] = Math.max(maxPer[fn] || 0, per[fn]);
    setTimeout(() => { total--; per[fn]--; res.writeHead(200, { 'content-type': 'text/plain' }); res.end(Buffer.concat(chunks)); }, 60);
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

async function setup(t: { after(fn: () => unknown): void }) {
  const port = await getFreePort();
  const fnProc = new ManagedProcess(process.execPath, ['-e', SERVER], { env: { ...process.env, PORT: String(port) } });
  t.after(() => fnProc.stop());
  await waitForPort(port);
  const dir = mkdtempSync(join(tmpdir(), 'trellis-worker-'));
  const queue = new SqliteQueue({ file: join(dir, 'q.db'), ackWaitMs: 3000 });
  t.after(async () => { await queue.close(); rmSync(dir, { recursive: true, force: true }); });
  return { url: `http://127.0.0.1:${port}`, queue };
}

async function settled(q: AsyncQueue, ids: string[], ms = 20_000): Promise<JobState[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const all = await Promise.all(ids.map((id) => q.status(id)));
    if (all.every((s) => s && ['succeeded', 'failed', 'dead'].includes(s.status))) return all as JobState[];
    if (Date.now() > deadline) throw new Error(`jobs not finished: ${all.filter((s) => !['succeeded', 'failed', 'dead'].includes(s!.status)).length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const req = (body: string, path = '/') => ({ method: 'POST', path, query: '', headers: { 'content-type': 'text/plain' }, body: Buffer.from(body) });

test('maxInflight overall and per function bound concurrency', async (t) => {
  const { url, queue } = await setup(t);
  const invoke = createHttpInvoker(url);
  t.after(() => invoke.close());
  const worker = new QueueWorker({ queue, invoke, maxInflight: 5, maxInflightPerFunction: 2, ackWaitMs: 3000 });
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push((await queue.enqueue({ fn: ['a', 'b', 'c'][i % 3], request: req(`x${i}`) })).callId);
  worker.start();
  t.after(() => worker.stop());
  const states = await settled(queue, ids);
  assert.ok(states.every((s) => s.status === 'succeeded' && s.attempts === 1), 'saturation releases must not spend attempts');
  const stats = await (await fetch(`${url}/stats`)).json() as { maxTotal: number; maxPer: Record<string, number> };
  assert.ok(stats.maxTotal <= 5, `overall ${stats.maxTotal} > 5`);
  for (const fn of ['a', 'b', 'c']) assert.ok(stats.maxPer[fn] <= 2, `${fn}: ${stats.maxPer[fn]} > 2`);
  assert.ok(stats.maxTotal >= 2, 'jobs never ran in parallel');
});

test('Retry-After is honoured before the next attempt', async (t) => {
  const { url, queue } = await setup(t);
  const invoke = createHttpInvoker(url);
  t.after(() => invoke.close());
  const worker = new QueueWorker({ queue, invoke, retry: { minWaitMs: 10, maxWaitMs: 5000 }, ackWaitMs: 3000 });
  const { callId } = await queue.enqueue({ fn: 'f', request: req('', '/retry-after') });
  worker.start();
  t.after(() => worker.stop());
  const [s] = await settled(queue, [callId]);
  assert.equal(s.status, 'succeeded');
  assert.equal(s.attempts, 2);
  const [first, second] = JSON.parse(s.result!.body.toString()) as number[];
  assert.ok(second - first >= 900, `second attempt after ${second - first} ms, Retry-After said 1 s`);
});

test('connection errors are retried, then dead-lettered; callbacks are retried until the receiver answers', async (t) => {
  const { queue } = await setup(t);
  const closedPort = await getFreePort();
  const invoke = createHttpInvoker(`http://127.0.0.1:${closedPort}`);
  t.after(() => invoke.close());
  // A receiver that fails twice with 503, then accepts.
  let hits = 0;
  const got: Array<Record<string, string | string[] | undefined>> = [];
  const rcv = http.createServer((r, res) => { hits++; r.resume(); if (hits <= 2) { res.statusCode = 503; res.end(); return; } got.push(r.headers); res.end(); });
  await new Promise<void>((r) => rcv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => rcv.close(() => r())));
  const cb = `http://127.0.0.1:${(rcv.address() as { port: number }).port}/`;
  const worker = new QueueWorker({ queue, invoke, retry: { minWaitMs: 20, maxWaitMs: 50 }, callback: { minWaitMs: 20, maxWaitMs: 50 }, ackWaitMs: 3000 });
  const { callId } = await queue.enqueue({ fn: 'gone', request: req('x'), maxAttempts: 3, callbackUrl: cb });
  worker.start();
  t.after(() => worker.stop());
  const [s] = await settled(queue, [callId]);
  assert.equal(s.status, 'dead');
  assert.equal(s.attempts, 3);
  assert.ok(s.lastError && s.lastError.length > 0);
  assert.equal(hits, 3);
  assert.equal(got[0]['x-call-id'], callId);
  assert.equal(got[0]['x-function-status'], '503');
  assert.equal(got[0]['x-function-name'], 'gone');
});
