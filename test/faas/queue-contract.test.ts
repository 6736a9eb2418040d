/**
 * One contract, two drivers: every behaviour of the AsyncQueue interface is checked against
 * the embedded sqlite driver and against NATS JetStream (a real nats-server -js).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startNats, type NatsServer } from '../helpers/servers.js';
import { SqliteQueue, NatsQueue, openQueue, type AsyncQueue, type JobOutcome, type QueueCommonOptions, type Reservation } from '../../src/faas/queue/index.js';

const ACK_WAIT = 1500;

function request(body: string) {
  return { method: 'POST', path: '/', query: 'a=1', headers: { 'content-type': 'text/plain' }, body: Buffer.from(body) };
}
function outcome(code: number, body = 'ok'): JobOutcome {
  return { statusCode: code, headers: { 'content-type': 'text/plain' }, body: Buffer.from(body), durationMs: 3, startedAt: Date.now() };
}
/** Reserves until `n` jobs arrived or `ms` passed. */
async function reserveN(q: AsyncQueue, n: number, ms = 5000): Promise<Reservation[]> {
  const out: Reservation[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n && Date.now() < deadline) out.push(...(await q.reserve(n - out.length, 1000)));
  return out;
}

interface Driver { name: string; open(o?: QueueCommonOptions): Promise<AsyncQueue>; reopen(q: AsyncQueue): Promise<AsyncQueue> }

const dirs: string[] = [];
let nats: NatsServer;
const opened = new WeakMap<AsyncQueue, () => Promise<AsyncQueue>>();

const drivers: Driver[] = [
  {
    name: 'sqlite',
    async open(o = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'trellis-q-'));
      dirs.push(dir);
      const make = async () => new SqliteQueue({ file: join(dir, 'q.db'), ackWaitMs: ACK_WAIT, ...o });
      const q = await make();
      opened.set(q, make);
      return q;
    },
    async reopen(q) { await q.close(); const q2 = await opened.get(q)!(); opened.set(q2, opened.get(q)!); return q2; },
  },
  {
    // The same store run on the caller's thread (what an injected clock uses).
    name: 'sqlite (inline)',
    async open(o = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'trellis-q-'));
      dirs.push(dir);
      const make = async () => new SqliteQueue({ file: join(dir, 'q.db'), ackWaitMs: ACK_WAIT, inline: true, ...o });
      const q = await make();
      opened.set(q, make);
      return q;
    },
    async reopen(q) { await q.close(); const q2 = await opened.get(q)!(); opened.set(q2, opened.get(q)!); return q2; },
  },
  {
    name: 'nats',
    async open(o = {}) {
      const stream = `T_${randomUUID().slice(0, 8)}`;
      const make = async () => NatsQueue.connect({ servers: nats.url, stream, subjectPrefix: `t.${stream}`, ackWaitMs: ACK_WAIT, ...o });
      const q = await make();
      opened.set(q, make);
      return q;
    },
    async reopen(q) { await q.close(); const q2 = await opened.get(q)!(); opened.set(q2, opened.get(q)!); return q2; },
  },
];

before(async () => { nats = await startNats(); });
after(async () => { await nats.stop(); rmSync(nats.storeDir, { recursive: true, force: true }); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

for (const d of drivers) {
  describe(`AsyncQueue contract: ${d.name}`, { concurrency: true }, () => {
    test('jobs are delivered oldest first with the whole request', async () => {
      const q = await d.open();
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await q.enqueue({ fn: i % 2 ? 'odd' : 'even', request: request(`job-${i}`), callbackUrl: 'http://127.0.0.1:1/cb' })).callId);
      const got = await reserveN(q, 6);
      assert.deepEqual(got.map((r) => r.job.callId), ids);
      const first = got[0].job;
      assert.equal(first.fn, 'even');
      assert.equal(first.request.body.toString(), 'job-0');
      assert.equal(first.request.query, 'a=1');
      assert.equal(first.request.headers['content-type'], 'text/plain');
      assert.equal(first.callbackUrl, 'http://127.0.0.1:1/cb');
      assert.match(first.startTimeNs, /^\d{19}$/);
      assert.equal(got[0].attempt, 1);
      assert.equal((await q.status(ids[0]))?.status, 'running');
      await q.close();
    });

    test('finish acks: the job is not delivered again and its result is kept', async () => {
      const q = await d.open();
      const { callId } = await q.enqueue({ fn: 'f', request: request('x') });
      assert.equal((await q.status(callId))?.status, 'queued');
      const [r] = await reserveN(q, 1);
      await q.finish(r, 'succeeded', outcome(200, 'hello'));
      const s = await q.status(callId);
      assert.equal(s?.status, 'succeeded');
      assert.equal(s?.attempts, 1);
      assert.equal(s?.result?.body.toString(), 'hello');
      assert.equal(s?.result?.statusCode, 200);
      assert.ok(s!.finishedAt! >= s!.enqueuedAt);
      assert.deepEqual(await q.reserve(10, ACK_WAIT + 1000), [], 'an acked job must not be redelivered');
      await q.close();
    });

    test('finish records how the callback ended; a re-drive clears it', async () => {
      const q = await d.open();
      const url = 'http://127.0.0.1:1/cb';
      const { callId } = await q.enqueue({ fn: 'f', request: request('x'), callbackUrl: url });
      const [r] = await reserveN(q, 1);
      const failed = { url, status: 'failed' as const, attempts: 5, lastError: 'connect ECONNREFUSED 127.0.0.1:1', at: Date.now() };
      await q.finish(r, 'failed', outcome(400), failed);
      assert.deepEqual((await q.status(callId))?.callback, failed);
      assert.equal(await q.retry(callId), true);
      assert.equal((await q.status(callId))?.callback, undefined, 'a re-driven call has no callback result yet');
      const [again] = await reserveN(q, 1);
      const delivered = { url, status: 'delivered' as const, attempts: 1, statusCode: 200, at: Date.now() };
      await q.finish(again, 'succeeded', outcome(200), delivered);
      const q2 = await d.reopen(q);
      assert.deepEqual((await q2.status(callId))?.callback, delivered, 'the callback result is stored with the job');
      await q2.close();
    });

    test('nack with a delay re-queues the job only after the delay', async () => {
      const q = await d.open();
      const { callId } = await q.enqueue({ fn: 'f', request: request('x') });
      const [r] = await reserveN(q, 1);
      const t0 = Date.now();
      assert.equal(await q.nack(r, 1200, outcome(503, 'busy')), 'queued');
      const s = await q.status(callId);
      assert.equal(s?.status, 'queued');
      assert.equal(s?.lastError, 'function returned 503');
      assert.deepEqual(await q.reserve(1, 0), []);
      const [again] = await reserveN(q, 1, 8000);
      assert.ok(Date.now() - t0 >= 1000, 'redelivered before the nack delay');
      assert.equal(again.job.callId, callId);
      assert.equal(again.attempt, 2);
      await q.close();
    });

    test('a job whose lease (ack wait) expires is delivered again; extend keeps the lease', async () => {
      const q = await d.open();
      const { callId } = await q.enqueue({ fn: 'f', request: request('x') });
      const [r] = await reserveN(q, 1);
      const again = await reserveN(q, 1, ACK_WAIT * 4);
      assert.equal(again[0]?.job.callId, callId);
      assert.equal(again[0].attempt, 2);
      assert.equal(r.attempt, 1);
      // Keep extending the new lease: no third delivery meanwhile.
      const stop = Date.now() + ACK_WAIT * 2;
      let third: Reservation[] = [];
      while (Date.now() < stop && third.length === 0) {
        await q.extend(again[0]);
        third = await q.reserve(1, 400).catch(() => []);
      }
      assert.deepEqual(third, []);
      await q.finish(again[0], 'succeeded', outcome(200));
      assert.equal((await q.status(callId))?.attempts, 2);
      await q.close();
    });

    test('after maxAttempts the job is dead, listed, not redelivered, and can be re-driven', async () => {
      const q = await d.open();
      const { callId } = await q.enqueue({ fn: 'f', request: request('payload'), maxAttempts: 2 });
      const [r1] = await reserveN(q, 1);
      assert.equal(await q.nack(r1, 0, outcome(500, 'boom')), 'queued');
      const [r2] = await reserveN(q, 1);
      assert.equal(r2.attempt, 2);
      assert.equal(await q.nack(r2, 0, outcome(500, 'boom again')), 'dead');
      const s = await q.status(callId);
      assert.equal(s?.status, 'dead');
      assert.equal(s?.attempts, 2);
      assert.equal(s?.result?.body.toString(), 'boom again');
      const dead = await q.list({ status: 'dead' });
      assert.deepEqual(dead.map((x) => x.callId), [callId]);
      assert.deepEqual(await q.reserve(1, 1000), []);
      assert.equal(await q.retry(callId), true);
      assert.equal((await q.status(callId))?.status, 'queued');
      assert.deepEqual(await q.list({ status: 'dead' }), []);
      const [r3] = await reserveN(q, 1);
      assert.equal(r3.job.callId, callId);
      assert.equal(r3.job.request.body.toString(), 'payload');
      assert.equal(r3.attempt, 1);
      await q.finish(r3, 'succeeded', outcome(200));
      assert.equal((await q.status(callId))?.status, 'succeeded');
      assert.equal(await q.retry(callId), false, 'a succeeded job is not re-drivable');
      assert.equal(await q.retry('no-such-call'), false);
      await q.close();
    });

    test('a lease that expires on the last attempt dead-letters the job (crash loop)', async () => {
      const q = await d.open();
      const { callId } = await q.enqueue({ fn: 'f', request: request('x'), maxAttempts: 1 });
      await reserveN(q, 1);
      assert.deepEqual(await reserveN(q, 1, ACK_WAIT * 3), []);
      assert.equal((await q.status(callId))?.status, 'dead');
      await q.close();
    });

    test('release gives a job back without counting the attempt', async () => {
      const q = await d.open();
      const { callId } = await q.enqueue({ fn: 'f', request: request('x'), maxAttempts: 1 });
      const [r] = await reserveN(q, 1);
      await q.release(r, 0);
      const [again] = await reserveN(q, 1);
      assert.equal(again.job.callId, callId);
      assert.equal(again.attempt, 1);
      await q.close();
    });

    test('an idempotency key returns the first call id and queues one job', async () => {
      const q = await d.open();
      const a = await q.enqueue({ fn: 'f', request: request('x'), idempotencyKey: 'order-42' });
      const b = await q.enqueue({ fn: 'f', request: request('x'), idempotencyKey: 'order-42' });
      const c = await q.enqueue({ fn: 'f', request: request('y'), idempotencyKey: 'order-43' });
      assert.equal(a.duplicate, false);
      assert.deepEqual(b, { callId: a.callId, duplicate: true });
      assert.notEqual(c.callId, a.callId);
      const got = await reserveN(q, 2);
      assert.deepEqual(got.map((r) => r.job.callId), [a.callId, c.callId]);
      for (const r of got) await q.finish(r, 'succeeded', outcome(200));
      assert.deepEqual(await q.reserve(5, 1000), [], 'the duplicate submission must not be a second job');
      await q.close();
    });

    test('status and list report every state; unknown ids are undefined', async () => {
      const q = await d.open();
      assert.equal(await q.status('00000000-0000-0000-0000-000000000000'), undefined);
      const a = await q.enqueue({ fn: 'f', request: request('a') });
      const b = await q.enqueue({ fn: 'f', request: request('b') });
      const [ra] = await reserveN(q, 1);
      await q.finish(ra, 'failed', outcome(400, 'bad input'));
      const failed = await q.status(a.callId);
      assert.equal(failed?.status, 'failed');
      assert.equal(failed?.lastError, 'function returned 400');
      assert.deepEqual((await q.list({ status: 'queued' })).map((s) => s.callId), [b.callId]);
      assert.deepEqual((await q.list({ status: 'failed' })).map((s) => s.callId), [a.callId]);
      assert.equal((await q.list()).length, 2);
      await q.close();
    });

    test('finished results are kept for the result TTL, then dropped', async () => {
      const q = await d.open({ resultTtlMs: 1500 });
      const { callId } = await q.enqueue({ fn: 'f', request: request('x') });
      const [r] = await reserveN(q, 1);
      await q.finish(r, 'succeeded', outcome(200, 'short-lived'));
      assert.equal((await q.status(callId))?.result?.body.toString(), 'short-lived');
      const deadline = Date.now() + 15_000;
      while ((await q.status(callId)) !== undefined) {
        assert.ok(Date.now() < deadline, 'result outlived its TTL by far');
        await new Promise((res) => setTimeout(res, 250));
      }
      await q.close();
    });

    test('queued jobs survive closing and reopening the queue', async () => {
      let q = await d.open();
      const { callId } = await q.enqueue({ fn: 'f', request: request('keep me') });
      q = await d.reopen(q);
      const [r] = await reserveN(q, 1);
      assert.equal(r.job.callId, callId);
      assert.equal(r.job.request.body.toString(), 'keep me');
      await q.close();
    });
  });
}

test('sqlite: an unusable database path is a clear error from openQueue, not a crash', async () => {
  await assert.rejects(openQueue({ driver: 'sqlite', dataDir: '/dev/null/not-a-dir' }), /async queue database .*async-queue\.db: .*ENOTDIR/);
});

test('sqlite: 200 concurrent enqueues all resolve, and every one survives reopening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-q-'));
  dirs.push(dir);
  const q = new SqliteQueue({ file: join(dir, 'q.db') });
  const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => q.enqueue({ fn: 'f', request: request(`c-${i}`) })));
  await q.close();
  const q2 = new SqliteQueue({ file: join(dir, 'q.db') });
  const got = await reserveN(q2, 200);
  assert.deepEqual(got.map((r) => r.job.callId).sort(), ids.map((r) => r.callId).sort());
  assert.ok(got.every((r) => Buffer.isBuffer(r.job.request.body)));
  await q2.close();
});
