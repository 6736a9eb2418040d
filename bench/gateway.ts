/**
 * Benchmark fixture: starts the gateway in this process with one trivial function, pinned to
 * exactly one instance, and prints {"gateway", "direct", "pid"} on stdout (both URLs reach the
 * same instance); it stays up until stdin closes. bench/gateway.sh drives wrk against both.
 *
 * BENCH_FUNCTION=node (default): a node handler under the Trellis watchdog (ProcessProvider),
 *   i.e. a real function instance.
 * BENCH_FUNCTION=plain: a bare node:http server (the test provider), the cheapest possible
 *   instance, which shows the gateway's own overhead most harshly.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunction } from '../src/faas/build/index.js';
import { createGateway } from '../src/faas/gateway/index.js';
import { ProcessProvider } from '../src/faas/runtime/index.js';
import type { RuntimeProvider } from '../src/faas/runtime/provider.js';
import { TestProvider } from '../test/faas/gateway-test-provider.js';

const kind = process.env.BENCH_FUNCTION ?? 'node';
const root = mkdtempSync(join(tmpdir(), 'trellis-bench-gw-'));
const dataDir = join(root, 'data');
let provider: RuntimeProvider;
let spec: Record<string, unknown>;
let path = '/';
if (kind === 'plain') {
  provider = new TestProvider();
  spec = { service: 'bench', envProcess: 'node' };
  path = '/fast';
} else {
  const src = join(root, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'handler.js'), 'export default async () => "hello\\n";\n');
  const built = await buildFunction(src, { cacheDir: join(dataDir, 'bundles') });
  provider = new ProcessProvider({ bundlesDir: join(dataDir, 'bundles'), runDir: join(root, 'run') });
  spec = { service: 'bench', image: `bundle:${built.bundleId}` };
}
const gw = await createGateway({ listen: '127.0.0.1:0', dataDir, provider, adminPassword: 'bench', log: () => {} });
const r = await fetch(gw.url() + '/system/functions', {
  method: 'POST', headers: { authorization: 'Basic ' + Buffer.from('admin:bench').toString('base64') },
  body: JSON.stringify({ ...spec, labels: { 'com.openfaas.scale.min': '1', 'com.openfaas.scale.max': '1' } }),
});
if (r.status !== 202) throw new Error(`deploy failed: ${r.status} ${await r.text()}`);
const ready = provider.instances('bench').filter((i) => i.state === 'ready');
if (ready.length !== 1) throw new Error(`expected one ready instance, got ${ready.length}`);
const inst = ready[0];
process.stdout.write(JSON.stringify({
  gateway: `${gw.url()}/function/bench${path === '/' ? '' : path}`, direct: `http://${inst.host}:${inst.port}${path}`,
  pid: process.pid, instancePid: inst.pid, function: kind,
}) + '\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await gw.close();
  await provider.close();
  rmSync(root, { recursive: true, force: true });
  process.exit(0);
});
