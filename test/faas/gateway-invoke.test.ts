/** Invocation through the gateway's forwarding path, against real function processes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { AUTH, api, deploy, rawExchange, startGateway } from './gateway-helpers.js';

interface Echo { fn: string; version: string; method: string; url: string; headers: Record<string, string>; bodyLength: number; sha256: string }

test('invoke: methods, sub-paths, query, headers, OpenFaaS response headers; update; remove → 404', async (t) => {
  const { url } = await startGateway(t);
  await deploy(url, { service: 'echo', envProcess: 'cat' });

  const get = await fetch(`${url}/function/echo/any/sub/path?x=1&y=a%20b`, { headers: { 'x-custom': 'yes' } });
  assert.equal(get.status, 200);
  const e = (await get.json()) as Echo;
  assert.equal(e.method, 'GET');
  assert.equal(e.url, '/any/sub/path?x=1&y=a%20b');
  assert.equal(e.headers['x-custom'], 'yes');
  assert.equal(e.headers['x-forwarded-for'], '127.0.0.1');
  const callId = get.headers.get('x-call-id')!;
  assert.match(callId, /^[0-9a-f-]{36}$/);
  assert.equal(e.headers['x-call-id'], callId, 'the function sees the same call id');
  assert.match(get.headers.get('x-start-time')!, /^\d{19}$/, 'unix nanoseconds');
  assert.ok(Math.abs(Number(get.headers.get('x-start-time')!.slice(0, 13)) - Date.now()) < 60_000);
  assert.match(get.headers.get('x-duration-seconds')!, /^\d+\.\d{6}$/);

  const root = (await (await fetch(`${url}/function/echo?q=1`)).json()) as Echo;
  assert.equal(root.url, '/?q=1');
  assert.equal(((await (await fetch(`${url}/function/echo`)).json()) as Echo).url, '/');

  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    const r = await fetch(`${url}/function/echo/m`, { method, body: method === 'OPTIONS' ? undefined : 'payload', headers: { 'x-call-id': 'given-id' } });
    assert.equal(r.status, 200, method);
    assert.equal(r.headers.get('x-call-id'), 'given-id', 'caller call id is kept');
    const b = (await r.json()) as Echo;
    assert.equal(b.method, method);
    if (method !== 'OPTIONS') assert.equal(b.bodyLength, 7);
  }
  const head = await fetch(`${url}/function/echo/h`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');

  const status = await fetch(`${url}/function/echo/status?code=418`);
  assert.equal(status.status, 418, 'function status codes pass through');
  await status.text();

  // update: new version served, same name
  assert.equal((await api(url, 'PUT', '/system/functions', { service: 'echo', envProcess: 'cat', envVars: { GREETING: 'v2' } })).status, 200);
  const v2 = (await (await fetch(`${url}/function/echo/v`)).json()) as Echo & { env: string };
  assert.equal(v2.version, '2');
  assert.equal(v2.env, 'v2');

  assert.equal((await api(url, 'DELETE', '/system/functions', { functionName: 'echo' })).status, 200);
  const gone = await fetch(`${url}/function/echo`);
  assert.equal(gone.status, 404);
  assert.match(await gone.text(), /^function "echo" not found\n$/);
  assert.equal((await fetch(`${url}/function/never-was/x?y`)).status, 404);
});

test('big bodies stream both ways (20 MB) and chunked requests', async (t) => {
  const { url } = await startGateway(t);
  await deploy(url, { service: 'big', envProcess: 'cat' });
  const size = 20 * 1024 * 1024;
  const block = Buffer.alloc(1024 * 1024, 7);
  for (let i = 0; i < 1024; i++) block[i * 1024] = i & 0xff;
  const want = createHash('sha256');
  for (let i = 0; i < 20; i++) want.update(block);
  const digest = want.digest('hex');

  // upload 20 MB, chunked (no content-length), hashed by the function
  const up = await fetch(`${url}/function/big/hash`, {
    method: 'POST', body: Readable.toWeb(Readable.from((function* () { for (let i = 0; i < 20; i++) yield block; })())) as ReadableStream, duplex: 'half',
  } as RequestInit);
  const upBody = (await up.json()) as Echo;
  assert.equal(upBody.bodyLength, size);
  assert.equal(upBody.sha256, digest);
  assert.equal(upBody.headers['transfer-encoding'], 'chunked');

  // echo 20 MB back (request and response bodies in flight at the same time)
  const res = await new Promise<{ status: number; hash: string; len: number }>((resolve, reject) => {
    const u = new URL(`${url}/function/big/echo`);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-length': size } }, (r) => {
      const h = createHash('sha256');
      let len = 0;
      r.on('data', (c: Buffer) => { h.update(c); len += c.length; });
      r.on('end', () => resolve({ status: r.statusCode!, hash: h.digest('hex'), len }));
      r.on('error', reject);
    });
    req.on('error', reject);
    let i = 0;
    const pump = () => { while (i < 20) { i++; if (!req.write(block)) { req.once('drain', pump); return; } } req.end(); };
    pump();
  });
  assert.equal(res.status, 200);
  assert.equal(res.len, size);
  assert.equal(res.hash, digest);

  // download 20 MB generated by the function
  const down = await fetch(`${url}/function/big/big?n=${size}`);
  assert.equal((await down.arrayBuffer()).byteLength, size);

  // hand-written chunked request with extensions and a trailer
  const raw = await rawExchange(url,
    'POST /function/big/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
    '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 200 /);
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '')) as Echo;
  assert.equal(body.bodyLength, 11);
  assert.equal(body.sha256, createHash('sha256').update('hello world').digest('hex'));
});

test('keep-alive and pipelining on one connection, /function and /system mixed, HTTP/1.0', async (t) => {
  const { url } = await startGateway(t);
  await deploy(url, { service: 'pipe', envProcess: 'cat' });
  const two = await rawExchange(url,
    'GET /function/pipe/one HTTP/1.1\r\nHost: x\r\n\r\n' +
    'POST /function/pipe/two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
    `GET /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH}\r\n\r\n` +
    'GET /function/pipe/three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const statuses = [...two.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '200', '200', '200']);
  const one = two.indexOf('"url":"/one"');
  const second = two.indexOf('"url":"/two"');
  const list = two.indexOf('"name":"pipe"');
  const third = two.indexOf('"url":"/three"');
  assert.ok(one > 0 && second > one && list > second && third > list, 'answers in request order');

  const http10 = await rawExchange(url, 'GET /function/pipe/old HTTP/1.0\r\n\r\n');
  assert.match(http10, /^HTTP\/1\.1 200 /);
  assert.match(http10, /"url":"\/old"/);
});

test('malformed heads get 400 and close; other clients are unaffected', async (t) => {
  const { url } = await startGateway(t);
  await deploy(url, { service: 'ok', envProcess: 'cat' });
  const bad = [
    'GARBAGE\r\n\r\n',
    'GET /function/ok HTTP/9.9\r\n\r\n',
    'GET /function/ok HTTP/1.1\r\nNo colon here\r\n\r\n',
    'GET /function/ok HTTP/1.1\r\n folded: x\r\n\r\n',
    'POST /function/ok HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST /function/ok HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
    'POST /function/ok HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'POST /function/ok HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n',
    'POST /function/ok HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'GET /function/ok HTTP/1.1\r\nX: ' + 'a'.repeat(70 * 1024) + '\r\n\r\n',
  ];
  // a slow, healthy request in flight while the bad ones arrive
  const slow = fetch(`${url}/function/ok/big?n=${5 * 1024 * 1024}`).then(async (r) => (await r.arrayBuffer()).byteLength);
  for (const b of bad) {
    const out = await rawExchange(url, b);
    assert.match(out, /^HTTP\/1\.1 (400|431) /, JSON.stringify(b.slice(0, 60)));
    assert.match(out, /Connection: close/i);
  }
  assert.equal(await slow, 5 * 1024 * 1024);
  assert.equal((await fetch(`${url}/function/ok/fine`)).status, 200);
});

test('502 when the instance dies, 504 on timeout; the function recovers', async (t) => {
  const { url, provider } = await startGateway(t);
  // A generous timeout: after each crash the next request waits for a cold start, and the
  // activator holds a request at most the function's timeout (slow on a loaded machine).
  await deploy(url, { service: 'flaky', envProcess: 'cat', timeout: '60s' });
  const crash = await fetch(`${url}/function/flaky/crash`);
  assert.equal(crash.status, 502);
  assert.match(await crash.text(), /^function "flaky" instance \S+ failed: .+\n$/);
  assert.ok(crash.headers.get('x-call-id'));
  // The instance's socket closes a moment before its exit is reported; until then a request
  // may still be sent to it (and get a 502). Wait for the provider to notice.
  const waitGone = async () => {
    const deadline = Date.now() + 30_000;
    while (provider.instances('flaky').some((x) => x.state === 'ready')) {
      assert.ok(Date.now() < deadline, 'the crashed instance is reported gone');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitGone();

  // dies after sending part of the body: the client sees a cut-off response
  const mid = await fetch(`${url}/function/flaky/crash-mid`);
  assert.equal(mid.status, 200);
  await assert.rejects(mid.text());
  await waitGone();

  const ok = await fetch(`${url}/function/flaky/after`);
  assert.equal(ok.status, 200, 'a new instance serves');
  await ok.text();

  // A hanging call: 504 after the function's timeout, and the same (warm) instance still serves.
  await deploy(url, { service: 'slow', envProcess: 'cat', timeout: '1s' });
  const t0 = Date.now();
  const hang = await fetch(`${url}/function/slow/hang`);
  assert.equal(hang.status, 504);
  assert.match(await hang.text(), /^function "slow" timed out after 1s\n$/);
  assert.ok(Date.now() - t0 >= 900);
  const fine = await fetch(`${url}/function/slow/still-fine`);
  const fineBody = await fine.text();
  assert.equal(fine.status, 200, fineBody);
  assert.equal((JSON.parse(fineBody) as Echo).url, '/still-fine');
});

test('metrics: OpenFaaS names with the right counts', async (t) => {
  const { url } = await startGateway(t);
  await deploy(url, { service: 'counted', envProcess: 'cat', timeout: '2s' });
  for (let i = 0; i < 3; i++) await (await fetch(`${url}/function/counted/x`)).text();
  await (await fetch(`${url}/function/counted/status?code=500`)).text();
  await (await fetch(`${url}/function/counted/crash`)).text();
  const m = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(m)?.[1]);
  assert.equal(value(/^gateway_function_invocation_total\{function_name="counted",code="200"\} (\d+)$/m), 3);
  assert.equal(value(/^gateway_function_invocation_total\{function_name="counted",code="500"\} (\d+)$/m), 1);
  assert.equal(value(/^gateway_function_invocation_total\{function_name="counted",code="502"\} (\d+)$/m), 1);
  assert.equal(value(/^gateway_function_invocation_started\{function_name="counted"\} (\d+)$/m), 5);
  assert.equal(value(/^gateway_functions_seconds_count\{function_name="counted",code="200"\} (\d+)$/m), 3);
  assert.equal(value(/^gateway_service_count\{function_name="counted"\} (\d+)$/m), 1);
  assert.ok(value(/^process_resident_memory_bytes (\d+)$/m) > 1e6, 'process metrics are exposed');
  assert.ok(value(/^process_open_fds (\d+)$/m) > 0);
  const status = JSON.parse((await api(url, 'GET', '/system/function/counted')).text);
  assert.equal(status.invocationCount, 5);
});

test('programmatic invoke and extra routes (for the async queue)', async (t) => {
  const { gw, url } = await startGateway(t);
  await deploy(url, { service: 'prog', envProcess: 'cat' });
  const r = await gw.invoke('prog', { method: 'POST', path: '/inner', query: 'a=1', headers: { 'x-call-id': 'abc' }, body: 'hi' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-call-id'], 'abc');
  const b = JSON.parse(r.body.toString()) as Echo;
  assert.equal(b.url, '/inner?a=1');
  assert.equal(b.bodyLength, 2);
  assert.equal((await gw.invoke('missing', {})).status, 404);

  gw.addRoute('POST', '/async-function/', (_req, res) => { res.writeHead(202).end('queued'); });
  gw.addRoute('GET', '/system/async-report', (_req, res) => { res.end('report'); });
  const q = await fetch(`${url}/async-function/prog`, { method: 'POST', body: 'x' });
  assert.equal(q.status, 202);
  assert.equal(await q.text(), 'queued');
  assert.equal((await fetch(`${url}/system/async-report`)).status, 401, 'extra /system routes are behind auth');
  assert.equal((await api(url, 'GET', '/system/async-report')).text, 'report');
});

test('idle keep-alive connections and incomplete heads are closed', async (t) => {
  const { url } = await startGateway(t, { idleTimeoutMs: 300, headTimeoutMs: 300 });
  await deploy(url, { service: 'idle', envProcess: 'cat' });
  const t0 = Date.now();
  const partial = await rawExchange(url, 'GET /function/idle HTTP/1.1\r\nHost: x\r\n', 10_000);
  assert.equal(partial, '', 'closed without an answer');
  const idle = await rawExchange(url, 'GET /function/idle/x HTTP/1.1\r\nHost: x\r\n\r\n', 10_000);
  assert.match(idle, /^HTTP\/1\.1 200 /, 'answered, then closed once idle');
  assert.ok(Date.now() - t0 < 9_000, 'closed by the gateway, not by the test timeout');
});

test('a refused connection is asked again through the activator (body-less requests only)', async (t) => {
  const { getFreePort } = await import('../../src/util/net.js');
  const deadPort = await getFreePort();
  let calls = 0;
  const released: boolean[] = [];
  const holder: { provider?: import('../../src/faas/runtime/provider.js').RuntimeProvider } = {};
  const { url, provider } = await startGateway(t, {
    activator: ({ provider: p }) => {
      holder.provider = p;
      return {
        async acquire(fn: string) {
          calls++;
          const release = (o?: { ok: boolean }) => { released.push(o?.ok ?? true); };
          if (calls % 2 === 1) return { instanceId: 'dead', host: '127.0.0.1', port: deadPort, coldStart: false, release };
          const i = p.instances(fn).find((x) => x.state === 'ready')!;
          return { instanceId: i.id, host: i.host, port: i.port, coldStart: false, release };
        },
        held: () => 0,
        close: async () => {},
      };
    },
  });
  assert.equal(holder.provider, provider);
  await deploy(url, { service: 'retry', envProcess: 'cat' });
  const get = await fetch(`${url}/function/retry/x`);
  assert.equal(get.status, 200, 'GET retried on the live instance');
  assert.equal(calls, 2);
  assert.deepEqual(released, [false, true]);
  const post = await fetch(`${url}/function/retry/x`, { method: 'POST', body: 'data' });
  assert.equal(post.status, 502, 'a request with a body is not replayed');
  assert.match(await post.text(), /ECONNREFUSED/);
});
