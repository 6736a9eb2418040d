/**
 * The process provider with real watchdog processes: node, python3 and classic functions,
 * environment, secrets, memory limits, readiness, logs, errors, timeouts and max in-flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunction } from '../../src/faas/build/index.js';
import { ProcessProvider, type ProviderEvent } from '../../src/faas/runtime/index.js';
import type { FunctionDeployment, FunctionRecord } from '../../src/faas/types.js';

const NODE_HANDLER = `
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { Readable } from 'node:stream';
export default async (req) => {
  if (req.path === '/throw') throw new Error('kaboom');
  if (req.path === '/hang') return new Promise(() => {});
  if (req.path === '/sleep') { await new Promise((r) => setTimeout(r, 300)); return 'slept'; }
  if (req.path === '/text') return 'plain text';
  if (req.path === '/stream') return { headers: { 'content-type': 'text/event-stream' }, body: Readable.from(['data: 1\\n\\n', 'data: 2\\n\\n']) };
  console.log('served', req.method, req.path);
  console.error('to stderr');
  writeFileSync('scratch.txt', 'mine');
  return {
    status: 201,
    headers: { 'x-greeting': process.env.GREETING },
    body: {
      method: req.method, path: req.path, query: req.query, body: req.text(),
      secret: readFileSync(join(process.env.TRELLIS_SECRETS_DIR, 'api-key'), 'utf8'),
      cwd: process.cwd(), heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 1048576),
      hasAdminPassword: 'TRELLIS_ADMIN_PASSWORD' in process.env, control: 'TRELLIS_CONTROL_TOKEN' in process.env,
    },
  };
};
`;

const PY_HANDLER = `
import os, time
def handle(req):
    if req.path == "/sleep":
        time.sleep(3)
    if req.path == "/throw":
        raise RuntimeError("py-kaboom")
    limit = [l for l in open("/proc/self/limits") if l.startswith("Max address space")][0].split()[3]
    with open(os.path.join(os.environ["TRELLIS_SECRETS_DIR"], "api-key")) as f:
        secret = f.read()
    return {"status": 202, "headers": {"X-Lang": "python"}, "body": {
        "query": req.query, "body": req.json(), "env": os.environ.get("GREETING"),
        "secret": secret, "cwd": os.getcwd(), "asLimit": limit}}
`;

function src(root: string, name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, c] of Object.entries(files)) writeFileSync(join(dir, f), c);
  return dir;
}

function record(name: string, spec: Partial<FunctionDeployment>, bundleId?: string, version = 1, replicas = 1): FunctionRecord {
  const now = new Date().toISOString();
  return { name, spec: { service: name, ...spec }, bundleId, createdAt: now, updatedAt: now, replicas, version };
}

function url(p: ProcessProvider, name: string, path: string): string {
  const i = p.instances(name).find((x) => x.state === 'ready');
  assert.ok(i, `no ready instance of ${name}`);
  return `http://${i.host}:${i.port}${path}`;
}

test('node, python3 and classic functions run with env, secrets, limits, readiness and logs', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-rt-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundlesDir = join(root, 'bundles');
  const nodeB = await buildFunction(src(root, 'n', { 'handler.js': NODE_HANDLER, 'package.json': '{"type":"module"}' }), { cacheDir: bundlesDir });
  const pyB = await buildFunction(src(root, 'p', { 'handler.py': PY_HANDLER }), { cacheDir: bundlesDir });
  const p = new ProcessProvider({ bundlesDir, resolveSecret: (n) => (n === 'api-key' ? 'sekret-123' : undefined) });
  t.after(() => p.close());
  const events: ProviderEvent[] = [];
  p.on((e) => events.push(e));

  process.env.TRELLIS_ADMIN_PASSWORD ??= 'must-not-leak';
  await Promise.all([
    p.deploy(record('n', { envVars: { GREETING: 'hi', TRELLIS_MAX_BODY_BYTES: '100000' }, secrets: ['api-key'], limits: { memory: '96Mi' }, timeout: '1s', concurrency: 1 }, nodeB.bundleId)),
    p.deploy(record('py', { envVars: { GREETING: 'hej', TRELLIS_MAX_BODY_BYTES: '100000' }, secrets: ['api-key'], limits: { memory: '512Mi' }, timeout: '1s' }, pyB.bundleId)),
    p.deploy(record('cat', { envProcess: 'cat' })),
    p.deploy(record('cgi', { envProcess: `sh -c 'echo "$Http_Method $Http_Path $Http_Query $Http_X_Custom"; cat >&2'` })),
    p.deploy(record('fail', { envProcess: "sh -c 'echo nope; exit 3'" })),
    p.deploy(record('lim', { envProcess: "sh -c 'ulimit -v'", limits: { memory: '64Mi' } })),
  ]);

  for (const n of ['n', 'py', 'cat', 'cgi', 'fail']) {
    const [i] = p.instances(n);
    assert.equal(i.state, 'ready');
    assert.ok(i.startupMs !== undefined && i.pid);
    assert.ok(events.some((e) => e.type === 'instance-ready' && e.instance.id === i.id), `instance-ready for ${n}`);
    const starting = events.findIndex((e) => e.type === 'instance-starting' && e.instance.id === i.id);
    assert.ok(starting >= 0 && starting < events.findIndex((e) => e.type === 'instance-ready' && e.instance.id === i.id), `instance-starting before ready for ${n}`);
    assert.equal(events[starting].instance.port, i.port, 'instance-starting names the port it will serve on');
    assert.equal(events[starting].instance.state, 'starting');
    const ready = await fetch(`http://${i.host}:${i.port}/_/ready`);
    assert.equal(ready.status, 200);
  }

  // node http mode
  const r = await fetch(url(p, 'n', '/hello?x=1&y=2'), { method: 'POST', body: 'payload' });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('x-greeting'), 'hi');
  const j = await r.json() as Record<string, unknown>;
  assert.deepEqual(j.query, { x: '1', y: '2' });
  assert.equal(j.body, 'payload');
  assert.equal(j.path, '/hello');
  assert.equal(j.secret, 'sekret-123');
  assert.equal(j.hasAdminPassword, false, "the gateway's environment must not leak into functions");
  assert.equal(j.control, false);
  assert.ok((j.heapLimitMb as number) <= 200, `heap limit ${String(j.heapLimitMb)} MB should follow limits.memory`);
  assert.match(j.cwd as string, new RegExp(`${p.instances('n')[0].id}/work$`));
  assert.equal(await (await fetch(url(p, 'n', '/text'))).text(), 'plain text');
  const sse = await fetch(url(p, 'n', '/stream'));
  assert.equal(sse.headers.get('content-type'), 'text/event-stream');
  assert.equal(sse.headers.get('transfer-encoding'), 'chunked');
  assert.equal(await sse.text(), 'data: 1\n\ndata: 2\n\n');

  // python3 http mode
  const pr = await fetch(url(p, 'py', '/q?a=b'), { method: 'POST', body: JSON.stringify({ k: [1, 2] }), headers: { 'content-type': 'application/json' } });
  assert.equal(pr.status, 202);
  assert.equal(pr.headers.get('x-lang'), 'python');
  const pj = await pr.json() as Record<string, unknown>;
  assert.deepEqual(pj.query, { a: 'b' });
  assert.deepEqual(pj.body, { k: [1, 2] });
  assert.equal(pj.env, 'hej');
  assert.equal(pj.secret, 'sekret-123');
  assert.equal(pj.asLimit, String(512 * 1024 * 1024), 'python runs under prlimit --as');
  assert.match(pj.cwd as string, /\/work$/);
  const pt = await fetch(url(p, 'py', '/throw'));
  assert.equal(pt.status, 500);
  assert.match(await pt.text(), /py-kaboom/);
  const ps = await fetch(url(p, 'py', '/sleep'));
  assert.equal(ps.status, 504);
  assert.equal((await fetch(url(p, 'py', '/q'), { method: 'POST', body: '1' })).status, 202, 'python instance serves after a timeout');

  for (const n of ['n', 'py']) {
    const big = await fetch(url(p, n, '/'), { method: 'POST', body: Buffer.alloc(200_000, 97) });
    assert.equal(big.status, 413, `${n}: an oversized body is refused`);
    assert.match(await big.text(), /larger than 100000 bytes/);
  }

  // classic mode
  const c = await fetch(url(p, 'cat', '/'), { method: 'POST', body: 'meow' });
  assert.equal(c.status, 200);
  assert.equal(await c.text(), 'meow');
  const g = await fetch(url(p, 'cgi', '/some/path?q=1'), { method: 'PUT', body: 'to-stderr\n', headers: { 'x-custom': 'yes' } });
  assert.equal((await g.text()).trim(), 'PUT /some/path q=1 yes');
  const f = await fetch(url(p, 'fail', '/'));
  assert.equal(f.status, 500);
  assert.match(await f.text(), /exited with code 3/);
  assert.equal((await (await fetch(url(p, 'lim', '/'))).text()).trim(), '65536', 'classic processes run under prlimit --as (KiB)');

  // logs: timestamps, instance ids, streams
  const nid = p.instances('n')[0].id;
  const nlogs = p.logs('n', {});
  assert.ok(nlogs.some((l) => l.stream === 'stdout' && l.text === 'served POST /hello' && l.instance === nid));
  assert.ok(nlogs.some((l) => l.stream === 'stderr' && l.text === 'to stderr'));
  assert.ok(nlogs.some((l) => l.stream === 'system' && /ready in \d+ ms/.test(l.text)));
  for (const l of nlogs) assert.ok(!Number.isNaN(Date.parse(l.timestamp)) && l.name === 'n');
  await waitFor(() => p.logs('cgi', {}).some((l) => l.stream === 'stderr' && l.text === 'to-stderr'), 'classic stderr in the log');
  assert.equal(p.logs('n', { tail: 2 }).length, 2);
});

test('throw → 500, async hang → 504 and recovery, max in-flight → 429, event-loop block → replaced', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-rt-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundlesDir = join(root, 'bundles');
  const b = await buildFunction(src(root, 'h', {
    'handler.js': `export default async (req) => {
      if (req.path === '/throw') throw new Error('kaboom');
      if (req.path === '/hang') return new Promise(() => {});
      if (req.path === '/spin') { for (;;) {} }
      return 'ok';
    };`,
    'package.json': '{"type":"module"}',
  }), { cacheDir: bundlesDir });
  const p = new ProcessProvider({ bundlesDir });
  t.after(() => p.close());
  await p.deploy(record('h', { timeout: '3s', concurrency: 2 }, b.bundleId));
  const first = p.instances('h')[0];

  const thrown = await fetch(url(p, 'h', '/throw'));
  assert.equal(thrown.status, 500);
  assert.match(await thrown.text(), /kaboom/);

  const hangs = [fetch(url(p, 'h', '/hang')), fetch(url(p, 'h', '/hang'))];
  // Both hanging calls are in flight once the readiness probe reports the limit reached
  // (no fixed delay: on a loaded machine they may take a while to arrive).
  await waitFor(async () => (await fetch(`http://${first.host}:${first.port}/_/ready`)).status === 429, 'two calls in flight');
  const h3 = await fetch(url(p, 'h', '/'));
  const [h1, h2] = await Promise.all(hangs);
  assert.equal(h1.status, 504);
  assert.equal(h2.status, 504);
  assert.equal(h3.status, 429, 'a third request beyond concurrency 2 is refused');
  assert.equal(await (await fetch(url(p, 'h', '/'))).text(), 'ok', 'the instance serves again after timeouts');
  assert.equal(p.instances('h')[0].id, first.id);

  // A synchronous endless loop cannot be interrupted in-process: the watchdog's stall
  // monitor kills the instance and the provider replaces it.
  const spin = await fetch(url(p, 'h', '/spin')).then((r) => r.status, () => 'connection lost');
  assert.equal(spin, 'connection lost');
  await waitFor(() => p.instances('h').some((i) => i.state === 'ready' && i.id !== first.id), 'replacement instance');
  assert.equal(await (await fetch(url(p, 'h', '/'))).text(), 'ok');
  const health = p.health('h');
  assert.equal(health.restarts, 1);
  assert.match(health.lastError ?? '', /blocked the event loop/);
  assert.ok(p.logs('h', {}).some((l) => l.stream === 'system' && /crashed: handler blocked the event loop/.test(l.text)));
});

test('an exiting handler is replaced; a crash loop backs off and shows in health and logs', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-rt-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundlesDir = join(root, 'bundles');
  const exiting = await buildFunction(src(root, 'e', {
    'handler.js': `export default async (req) => { if (req.path === '/exit') process.exit(7); return 'alive'; };`,
    'package.json': '{"type":"module"}',
  }), { cacheDir: bundlesDir });
  const broken = await buildFunction(src(root, 'b', {
    'handler.py': 'import sys\nprint("about to fail", flush=True)\nsys.exit(2)\n',
  }), { cacheDir: bundlesDir });
  const p = new ProcessProvider({ bundlesDir });
  t.after(() => p.close());
  const gone: string[] = [];
  p.on((e) => { if (e.type === 'instance-gone') gone.push(e.reason); });

  await p.deploy(record('e', {}, exiting.bundleId));
  const first = p.instances('e')[0];
  await fetch(url(p, 'e', '/exit')).catch(() => undefined);
  await waitFor(() => p.instances('e').some((i) => i.state === 'ready' && i.id !== first.id), 'replacement');
  assert.equal(await (await fetch(url(p, 'e', '/'))).text(), 'alive');
  assert.ok(gone.some((r) => /crashed: exited with code 7/.test(r)));
  assert.equal(p.health('e').restarts, 1);
  assert.equal(p.health('e').crashLoop, false);

  await assert.rejects(p.deploy(record('b', {}, broken.bundleId)), /failed to start: .*(SystemExit|exited)/);
  await waitFor(() => p.health('b').crashLoop, 'crash loop', 20_000);
  const h = p.health('b');
  assert.ok(h.restarts >= 3);
  assert.ok(h.lastError);
  const sys = p.logs('b', {}).filter((l) => l.stream === 'system').map((l) => l.text);
  assert.ok(sys.some((s) => /restart 1 in 100 ms/.test(s)), sys.join('\n'));
  assert.ok(sys.some((s) => /restart 2 in 200 ms/.test(s)), sys.join('\n'));
  assert.ok(sys.some((s) => /crash loop back-off/.test(s)));
  await assert.rejects(p.startInstance('b'), /crash-loop back-off|failed|exited/);
  await p.remove('b');
  assert.deepEqual(p.instances('b'), []);
});

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('instances do not outlive a provider process that is SIGKILLed', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-rt-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const script = join(root, 'host.mts');
  writeFileSync(script, `
    import { ProcessProvider } from ${JSON.stringify(join(process.cwd(), 'src/faas/runtime/index.ts'))};
    const p = new ProcessProvider({ bundlesDir: ${JSON.stringify(root)} });
    const now = new Date().toISOString();
    await p.deploy({ name: 'c', spec: { service: 'c', envProcess: 'cat' }, createdAt: now, updatedAt: now, replicas: 2, version: 1 });
    console.log(p.instances('c').map((i) => i.pid).join(' '));
    setInterval(() => {}, 1000);
  `);
  const { spawn } = await import('node:child_process');
  const host = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { host.kill('SIGKILL'); });
  const pids = await new Promise<number[]>((res, rej) => {
    host.stdout.once('data', (b: Buffer) => res(b.toString().trim().split(' ').map(Number)));
    host.once('exit', (c) => rej(new Error(`host exited ${c}`)));
  });
  assert.equal(pids.length, 2);
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  assert.ok(pids.every(alive));
  host.kill('SIGKILL');
  await waitFor(() => !pids.some(alive), 'orphaned watchdogs to exit', 10_000);
});
