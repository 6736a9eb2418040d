/**
 * Proofs with real `trellis gateway` processes: 1 000 async jobs with callbacks; the gateway process is killed
 * with SIGKILL mid-run (and, for NATS, nats-server is restarted mid-run); after restart every
 * job's callback arrives (zero lost) and duplicates stay within the jobs in flight at the crash.
 * Also: two gateways on one JetStream share 1 000 jobs, each processed exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { getFreePort, startNats } from '../helpers/servers.js';
import { ADMIN, crash, deploy, startGatewayProcess, startReceiver, stopGroup, submit, until, type Received } from './async-helpers.js';

const JOBS = 1000;
const MAX_INFLIGHT = 16;
const FAST = {
  TRELLIS_ASYNC_MAX_INFLIGHT: String(MAX_INFLIGHT), TRELLIS_ASYNC_ACK_WAIT: '2s',
  TRELLIS_ASYNC_RETRY_MIN_WAIT: '100ms', TRELLIS_ASYNC_RETRY_MAX_WAIT: '1s', TRELLIS_ASYNC_CALLBACK_MIN_WAIT: '100ms',
};

function tally(calls: Received[]) {
  const byId = new Map<string, number>();
  for (const c of calls) byId.set(c.callId, (byId.get(c.callId) ?? 0) + 1);
  return { unique: byId.size, duplicates: calls.length - byId.size };
}

function checkAll(ids: string[], calls: Received[]): void {
  const bodyOf = new Map(calls.map((c) => [c.callId, c]));
  for (let i = 0; i < ids.length; i++) {
    const c = bodyOf.get(ids[i]);
    assert.ok(c, `job-${i} (${ids[i]}) lost: no callback`);
    assert.equal(c.body, `job-${i}`);
    assert.equal(c.status, '200');
    assert.equal(c.fn, 'echo');
    assert.equal(c.contentType, 'text/plain');
    assert.match(c.startTime, /^\d{19}$/);
    assert.ok(Number(c.duration) >= 0);
  }
}

for (const driver of ['sqlite', 'nats'] as const) {
  test(`${driver}: kill -9 of the gateway mid-run loses no job${driver === 'nats' ? '; nor does a nats-server restart' : ''}`, { timeout: 120_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'trellis-async-crash-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const env: Record<string, string> = { ...FAST, TRELLIS_ASYNC_DRIVER: driver };
    const nats = driver === 'nats' ? await startNats(t) : undefined;
    if (nats) Object.assign(env, { TRELLIS_NATS_URL: nats.url, TRELLIS_NATS_STREAM: `CRASH_${randomUUID().slice(0, 6)}` });
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const port = await getFreePort();
    const url = `http://127.0.0.1:${port}`;
    let gw = await startGatewayProcess(port, dataDir, env);
    t.after(() => stopGroup(gw));
    await deploy(url, 'echo', { envProcess: 'cat' });

    const ids = await submit([url], 'echo', JOBS, receiver.url);
    assert.equal(new Set(ids).size, JOBS);
    await until('a quarter of the callbacks', () => receiver.calls.length >= JOBS / 4, 60_000);
    assert.ok(receiver.calls.length < JOBS, 'the run finished before the crash; nothing was in flight');
    await crash(gw);
    const atCrash = tally(receiver.calls).unique;
    gw = await startGatewayProcess(port, dataDir, env);

    let disruptions = 1;
    if (nats) {
      await until('two thirds of the callbacks', () => tally(receiver.calls).unique >= (JOBS * 2) / 3 || tally(receiver.calls).unique === JOBS, 60_000);
      if (tally(receiver.calls).unique < JOBS) { await nats.restart(); disruptions++; }
    }
    await until('every callback', () => tally(receiver.calls).unique === JOBS, 60_000)
      .catch((e) => { throw new Error(`${e.message}: ${tally(receiver.calls).unique}/${JOBS}\n${gw.recentOutput()}`); });
    checkAll(ids, receiver.calls);
    const { duplicates } = tally(receiver.calls);
    t.diagnostic(`${driver}: ${atCrash} callbacks before the crash, ${duplicates} duplicates after ${disruptions} disruption(s)`);
    assert.ok(duplicates <= MAX_INFLIGHT * disruptions, `${duplicates} duplicates > ${MAX_INFLIGHT * disruptions} jobs in flight`);

    // Status survives too: every call reads succeeded on the restarted gateway.
    const sample = await fetch(`${url}/system/async/${ids[0]}`, { headers: { authorization: ADMIN } });
    const st = await sample.json() as { status: string; result: { body: string } };
    assert.equal(st.status, 'succeeded');
    assert.equal(st.result.body, 'job-0');
    // The real gateway process serves the queue's metrics on its own /metrics.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /queue_worker_messages_processed_total\{function_name="echo",status="succeeded"\} [1-9]/);
  });
}

test('two gateways on one JetStream: 1 000 jobs, each processed once, work split', { timeout: 120_000 }, async (t) => {
  const nats = await startNats(t);
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const stream = `SHARE_${randomUUID().slice(0, 6)}`;
  const urls: string[] = [];
  for (const name of ['gw-a', 'gw-b']) {
    const dataDir = mkdtempSync(join(tmpdir(), 'trellis-async-share-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await getFreePort();
    const gw = await startGatewayProcess(port, dataDir, {
      ...FAST, TRELLIS_ASYNC_DRIVER: 'nats', TRELLIS_NATS_URL: nats.url, TRELLIS_NATS_STREAM: stream,
    });
    t.after(() => stopGroup(gw));
    urls.push(`http://127.0.0.1:${port}`);
    // Same function on both gateways; its answer names the gateway whose instance ran it.
    await deploy(urls[urls.length - 1], 'who', { envProcess: 'printenv WHO', envVars: { WHO: name } });
  }
  const ids = await submit(urls, 'who', JOBS, receiver.url);
  await until('every callback', () => tally(receiver.calls).unique === JOBS, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(receiver.calls.length, JOBS, 'a job was processed twice');
  const byGateway = new Map<string, number>();
  for (const c of receiver.calls) {
    const who = c.body.trim();
    byGateway.set(who, (byGateway.get(who) ?? 0) + 1);
  }
  t.diagnostic(`work split: ${JSON.stringify(Object.fromEntries(byGateway))}`);
  assert.ok((byGateway.get('gw-a') ?? 0) > 0 && (byGateway.get('gw-b') ?? 0) > 0, 'one gateway did all the work');
  // Any gateway answers status queries, whichever took the job.
  for (const u of urls) {
    const res = await fetch(`${u}/system/async/${ids[1]}`, { headers: { authorization: ADMIN } });
    assert.equal(((await res.json()) as { status: string }).status, 'succeeded');
  }
});
