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

  // follow the log stream while the function scales up: the new instance's lines arrive live
  const ac = new AbortController();
  const followed: string[] = [];
  const reading = (async () => {
    try {
      for await (const l of client.logs('echo', { follow: true, tail: 0, signal: ac.signal })) {
        followed.push(`${l.instance} ${l.text}`);
        if (/ready in \d+ ms/.test(l.text)) ac.abort();
      }
    } catch (e) { if (!ac.signal.aborted) throw e; }
  })();
  await new Promise((r) => setTimeout(r, 200));
  await client.scale('echo', 2);
  await Promise.race([reading, new Promise((_, rej) => setTimeout(() => rej(new Error(`no live log line: ${followed.join('; ')}`)), 15_000))]);
  ac.abort();
  assert.ok(followed.some((l) => /^echo-1-\w+ starting \(command, classic mode/.test(l)), followed.join('\n'));
  assert.ok(followed.some((l) => /^echo-1-\w+ ready in \d+ ms/.test(l)));
});
