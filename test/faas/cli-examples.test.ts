/** examples/stack.yml (what `trellis up` deploys) builds, deploys and answers through a real gateway. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGateway } from '../../src/faas/gateway/index.js';
import { ProcessProvider } from '../../src/faas/runtime/index.js';
import { GatewayClient, deployStack } from '../../src/cli/client/index.js';

test('the examples deploy from examples/stack.yml and answer', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-examples-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const gw = await createGateway({
    listen: '127.0.0.1:0', dataDir: join(root, 'data'), adminPassword: 'ex', activator: 'direct', log: () => {},
    provider: ({ bundlesDir, secret }) => new ProcessProvider({ bundlesDir, resolveSecret: secret }),
  });
  t.after(() => gw.close());
  const client = new GatewayClient(gw.url(), { username: 'admin', password: 'ex' });
  const lines: string[] = [];
  const names = await deployStack(client, resolve('examples/stack.yml'), { cacheDir: join(root, 'cache'), log: (l) => lines.push(l) });
  assert.deepEqual(names.sort(), ['echo', 'hello-node', 'wordcount-python']);

  const hello = await fetch(`${gw.url()}/function/hello-node?name=trellis`);
  assert.equal(hello.status, 200);
  assert.equal((await hello.json() as { message: string }).message, 'Hello, trellis!');
  const wc = await fetch(`${gw.url()}/function/wordcount-python`, { method: 'POST', body: 'to be or not to be' });
  assert.deepEqual(await wc.json(), { words: 6, top: [['to', 2], ['be', 2], ['or', 1]] });
  const echo = await fetch(`${gw.url()}/function/echo`, { method: 'POST', body: 'ping' });
  assert.equal(await echo.text(), 'ping');
  assert.equal((await client.list()).length, 3);
});
