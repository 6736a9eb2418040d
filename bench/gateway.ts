/**
 * Benchmark fixture: starts the gateway in this process with one trivial node function and
 * prints {"gateway": url, "direct": url, "pid": gatewayPid} on stdout, then stays up until
 * stdin closes. bench/gateway.sh drives wrk against both URLs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../src/faas/gateway/index.js';
import { TestProvider } from '../test/faas/gateway-test-provider.js';

const dataDir = mkdtempSync(join(tmpdir(), 'trellis-bench-gw-'));
const provider = new TestProvider();
const gw = await createGateway({ listen: '127.0.0.1:0', dataDir, provider, adminPassword: 'bench', log: () => {} });
const auth = 'Basic ' + Buffer.from('admin:bench').toString('base64');
const r = await fetch(gw.url() + '/system/functions', {
  method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' },
  body: JSON.stringify({ service: 'bench', envProcess: 'node' }),
});
if (r.status !== 202) throw new Error(`deploy failed: ${r.status} ${await r.text()}`);
const inst = provider.instances('bench')[0];
process.stdout.write(JSON.stringify({
  gateway: `${gw.url()}/function/bench/fast`, direct: `http://${inst.host}:${inst.port}/fast`, pid: process.pid, instancePid: inst.pid,
}) + '\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await gw.close();
  await provider.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
});
