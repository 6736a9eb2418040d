/** Management API: validation, auth, secrets, info, scale, logs, persistence across restarts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH, PASSWORD, api, deploy, startGateway } from './gateway-helpers.js';
import { TestProvider } from './gateway-test-provider.js';

test('deployment validation: 400 with the field and the reason', async (t) => {
  const { url } = await startGateway(t);
  const cases: [unknown, RegExp][] = [
    ['{"service": "x", ', /invalid JSON/],
    [{ envProcess: 'cat' }, /service: /],
    [{ service: '../x', envProcess: 'cat' }, /service: must be a DNS-1123 label/],
    [{ service: 'Upper', envProcess: 'cat' }, /service: must be a DNS-1123 label/],
    [{ service: 'a'.repeat(64), envProcess: 'cat' }, /service: must be at most 63 characters/],
    [{ service: '-x', envProcess: 'cat' }, /service: must be a DNS-1123 label/],
    [{ service: 'x', envProcess: 'cat', runtime: 'ruby' }, /runtime: must be one of node, python3, command/],
    [{ service: 'x', envProcess: 'cat', concurrency: -1 }, /concurrency: must be >= 0/],
    [{ service: 'x', envProcess: 'cat', concurrency: 5000 }, /concurrency: must be <= 1000/],
    [{ service: 'x', envProcess: 'cat', concurrency: 1.5 }, /concurrency: must be an integer/],
    [{ service: 'x', envProcess: 'cat', timeout: 'soon' }, /timeout: must be a duration/],
    [{ service: 'x', envProcess: 'cat', timeout: '2h' }, /timeout: must be more than 0 and at most 1h/],
    [{ service: 'x', envProcess: 'cat', limits: { memory: 'lots' } }, /limits\.memory: must be a quantity/],
    [{ service: 'x', envProcess: 'cat', envVars: { 'BAD-NAME': 'v' } }, /envVars/],
    [{ service: 'x', runtime: 'command' }, /envProcess: required for runtime "command"/],
    [{ service: 'x' }, /envProcess: required when no bundle is given/],
    [{ service: 'x', runtime: 'node' }, /image: a bundle \("bundle:<sha256>"\) is required for runtime "node"/],
    [{ service: 'x', image: `bundle:${'a'.repeat(64)}` }, /image: bundle a{64} not found/],
    [{ service: 'x', image: 'bundle:xyz', envProcess: 'cat' }, /image: a bundle reference must be/],
    [{ service: 'x', envProcess: 'cat', secrets: ['nope'] }, /secrets\.0: secret "nope" does not exist/],
    [{ service: 'x', envProcess: 'cat', handler: '../../etc/passwd' }, /handler: must be a relative path/],
  ];
  for (const [body, reason] of cases) {
    const r = await api(url, 'POST', '/system/functions', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.text}`);
    assert.match(r.text, reason, JSON.stringify(body));
    assert.equal(r.text.trim().split('\n').length, 1, 'one-line reason');
  }
  assert.deepEqual(JSON.parse((await api(url, 'GET', '/system/functions')).text), []);
  // bad names elsewhere
  assert.equal((await api(url, 'DELETE', '/system/functions', { functionName: '../../x' })).status, 400);
  assert.equal((await api(url, 'POST', '/system/scale-function/x', { replicas: -2 })).status, 400);
  assert.equal((await api(url, 'POST', '/system/builds?name=..%2Fx', 'x')).status, 400);
});

test('basic auth on /system/*, open /healthz and invocation, 401 with WWW-Authenticate', async (t) => {
  const { url } = await startGateway(t);
  for (const auth of [null, 'Basic ' + Buffer.from('admin:wrong').toString('base64'), 'Basic ' + Buffer.from(`root:${PASSWORD}`).toString('base64'), 'Bearer x']) {
    const r = await api(url, 'GET', '/system/functions', undefined, auth);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  }
  assert.equal((await api(url, 'POST', '/system/functions', { service: 'x', envProcess: 'cat' }, null)).status, 401);
  assert.equal((await api(url, 'GET', '/healthz', undefined, null)).status, 200);
  await deploy(url, { service: 'open', envProcess: 'cat' });
  assert.equal((await fetch(`${url}/function/open/x`)).status, 200);
});

test('auth.invoke: invocation needs the admin credentials too', async (t) => {
  const { url } = await startGateway(t, { auth: { invoke: true } });
  await deploy(url, { service: 'closed', envProcess: 'cat' });
  const denied = await fetch(`${url}/function/closed`);
  assert.equal(denied.status, 401);
  assert.match(denied.headers.get('www-authenticate') ?? '', /Basic/);
  assert.equal((await fetch(`${url}/function/closed`, { headers: { authorization: AUTH } })).status, 200);
});

test('generated admin password: stored with mode 0600, printed once, reused after restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'trellis-gw-pw-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const saved = process.env.TRELLIS_ADMIN_PASSWORD;
  delete process.env.TRELLIS_ADMIN_PASSWORD;
  t.after(() => { if (saved !== undefined) process.env.TRELLIS_ADMIN_PASSWORD = saved; });
  const first = await startGateway(t, { dataDir, adminPassword: undefined });
  const file = join(dataDir, 'admin-password');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const pw = readFileSync(file, 'utf8').trim();
  assert.ok(pw.length >= 16);
  assert.equal(first.logs.filter((l) => l.includes(pw)).length, 1);
  const auth = 'Basic ' + Buffer.from(`admin:${pw}`).toString('base64');
  assert.equal((await api(first.url, 'GET', '/system/functions', undefined, auth)).status, 200);
  await first.gw.close();
  const second = await startGateway(t, { dataDir, adminPassword: undefined });
  assert.equal(second.gw.adminPassword, pw);
  assert.equal(second.gw.adminPasswordSource, `in ${file}`);
  assert.equal(second.logs.filter((l) => l.includes(pw)).length, 0, 'printed only on first start');
  await second.gw.close();

  // A password given in the environment is neither written to nor reported as the file.
  const envDir = mkdtempSync(join(tmpdir(), 'trellis-gw-pw-env-'));
  t.after(() => rmSync(envDir, { recursive: true, force: true }));
  process.env.TRELLIS_ADMIN_PASSWORD = 'from-the-env';
  const third = await startGateway(t, { dataDir: envDir, adminPassword: undefined });
  assert.equal(third.gw.adminPassword, 'from-the-env');
  assert.equal(third.gw.adminPasswordSource, 'from TRELLIS_ADMIN_PASSWORD');
  assert.equal(existsSync(join(envDir, 'admin-password')), false);
});

test('CRUD, info, scale, secrets, logs; functions and secrets survive a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'trellis-gw-restart-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const p1 = new TestProvider();
  const g1 = await startGateway(t, { dataDir, provider: p1 });
  let url = g1.url;

  const info = JSON.parse((await api(url, 'GET', '/system/info')).text);
  assert.equal(info.provider.orchestration, 'process');
  assert.equal(info.provider.provider, 'trellis');

  assert.equal((await api(url, 'POST', '/system/secrets', { name: 'api-key', value: 's3cret' })).status, 201);
  assert.equal((await api(url, 'POST', '/system/secrets', { name: 'api-key', value: 'x' })).status, 409);
  assert.equal((await api(url, 'PUT', '/system/secrets', { name: 'api-key', value: 'v2' })).status, 200);
  assert.equal((await api(url, 'PUT', '/system/secrets', { name: 'missing', value: 'v2' })).status, 404);
  assert.equal((await api(url, 'POST', '/system/secrets', { name: 'Bad_Name', value: 'x' })).status, 400);
  assert.equal(g1.gw.store.getSecret('api-key')?.value, 'v2');

  await deploy(url, {
    service: 'keeper', envProcess: 'cat', secrets: ['api-key'], labels: { team: 'a' },
    envVars: { GREETING: 'hi' }, timeout: '5s', concurrency: 4,
  });
  assert.equal((await api(url, 'POST', '/system/functions', { service: 'keeper', envProcess: 'cat' })).status, 409);
  const st = JSON.parse((await api(url, 'GET', '/system/function/keeper')).text);
  assert.equal(st.name, 'keeper');
  assert.equal(st.envProcess, 'cat');
  assert.deepEqual(st.secrets, ['api-key']);
  assert.equal(st.replicas, 1);
  assert.equal(st.availableReplicas, 1);
  assert.equal((await api(url, 'GET', '/system/function/nope')).status, 404);

  const r = await fetch(`${url}/function/keeper/logme`);
  assert.equal(JSON.parse(await r.text()).env, 'hi');
  // logs: NDJSON like OpenFaaS
  let lines: { name: string; instance: string; timestamp: string; text: string }[] = [];
  for (let i = 0; i < 50 && !lines.some((l) => l.text.includes('/logme')); i++) {
    const lr = await api(url, 'GET', '/system/logs?name=keeper&tail=10');
    assert.equal(lr.headers.get('content-type'), 'application/x-ndjson');
    lines = lr.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    await new Promise((res) => setTimeout(res, 50));
  }
  const hit = lines.find((l) => l.text.includes('/logme'));
  assert.ok(hit, 'request log line');
  assert.equal(hit.name, 'keeper');
  assert.ok(hit.instance && !Number.isNaN(Date.parse(hit.timestamp)));
  assert.equal((await api(url, 'GET', '/system/logs')).status, 400);
  assert.equal((await api(url, 'GET', '/system/logs?name=nope')).status, 404);

  // follow: a live line arrives on the open stream
  const ctrl = new AbortController();
  const follow = await fetch(`${url}/system/logs?name=keeper&tail=0&follow=true`, { headers: { authorization: AUTH }, signal: ctrl.signal });
  const reader = follow.body!.getReader();
  await fetch(`${url}/function/keeper/followed`).then((x) => x.text());
  let got = '';
  while (!got.includes('/followed')) {
    const { value, done } = await reader.read();
    if (done) break;
    got += Buffer.from(value).toString();
  }
  assert.match(got, /"text":"handled GET \/followed"/);
  ctrl.abort();

  assert.equal((await api(url, 'POST', '/system/scale-function/keeper', { serviceName: 'keeper', replicas: 2 })).status, 202);
  assert.equal(JSON.parse((await api(url, 'GET', '/system/function/keeper')).text).replicas, 2);
  assert.equal((await api(url, 'POST', '/system/scale-function/keeper', { serviceName: 'other', replicas: 2 })).status, 400);
  assert.equal((await api(url, 'POST', '/system/scale-function/nope', { replicas: 1 })).status, 404);

  await g1.gw.close();
  await p1.close();
  assert.equal((await fetch(`${url}/healthz`).catch(() => null)), null, 'old gateway is gone');

  const p2 = new TestProvider();
  const g2 = await startGateway(t, { dataDir, provider: p2 });
  url = g2.url;
  const list = JSON.parse((await api(url, 'GET', '/system/functions')).text);
  assert.deepEqual(list.map((f: { name: string }) => f.name), ['keeper']);
  assert.equal(list[0].replicas, 2);
  assert.equal(p2.instances('keeper').length, 2, 'redeployed to the new provider');
  assert.deepEqual(JSON.parse((await api(url, 'GET', '/system/secrets')).text).map((s: { name: string }) => s.name), ['api-key']);
  const again = await fetch(`${url}/function/keeper/after-restart`);
  assert.equal(again.status, 200);
  assert.equal(JSON.parse(await again.text()).env, 'hi');

  assert.equal((await api(url, 'DELETE', '/system/secrets', { name: 'api-key' })).status, 200);
  assert.equal((await api(url, 'DELETE', '/system/secrets', { name: 'api-key' })).status, 404);
  assert.equal((await api(url, 'DELETE', '/system/functions', { functionName: 'keeper' })).status, 200);
  assert.equal((await api(url, 'DELETE', '/system/functions', { functionName: 'keeper' })).status, 404);
  assert.equal((await fetch(`${url}/function/keeper`)).status, 404);
  assert.equal((await api(url, 'PUT', '/system/functions', { service: 'keeper', envProcess: 'cat' })).status, 404);
});

test('a taken listen address fails with a clear error', async (t) => {
  const first = await startGateway(t);
  const { port } = first.gw.address();
  await assert.rejects(startGateway(t, { listen: `127.0.0.1:${port}` }), /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
});
