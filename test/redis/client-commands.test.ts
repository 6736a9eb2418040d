import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisMany } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { RawClient, waitFor } from './client-commands-raw.js';

function parseList(text: string): Array<Record<string, string>> {
  return text.trim().split('\n').filter(Boolean).map((l) => Object.fromEntries(l.split(' ').map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
  })));
}

test('CLIENT ID / INFO / LIST / KILL for the proxy\'s own clients', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address) });
  t.after(() => proxy.close(100));
  const { port } = proxy.address();
  const a = await RawClient.connect(port);
  const b = await RawClient.connect(port);
  const c = await RawClient.connect(port);
  t.after(() => [a, b, c].forEach((x) => x.close()));
  const ida = await a.call('CLIENT', 'ID') as number;
  const idb = await b.call('CLIENT', 'ID') as number;
  const idc = await c.call('CLIENT', 'ID') as number;
  assert.ok(ida !== idb && idb !== idc);
  await b.call('CLIENT', 'SETNAME', 'worker-b');
  await c.call('SELECT', '2');
  await c.call('SUBSCRIBE', 'ch');

  const list = parseList(await a.call('CLIENT', 'LIST') as string);
  assert.deepEqual(list.map((e) => Number(e.id)).sort((x, y) => x - y), [ida, idb, idc].sort((x, y) => x - y));
  const eb = list.find((e) => Number(e.id) === idb)!;
  assert.equal(eb.name, 'worker-b');
  assert.equal(eb.addr, `${b.sock.localAddress}:${b.sock.localPort}`);
  const ec = list.find((e) => Number(e.id) === idc)!;
  assert.equal(ec.db, '2');
  assert.equal(ec.sub, '1');
  assert.equal(ec.flags, 'P');
  assert.equal(parseList(await a.call('CLIENT', 'LIST', 'TYPE', 'pubsub') as string).length, 1);
  assert.deepEqual(parseList(await a.call('CLIENT', 'LIST', 'ID', String(idb)) as string).map((e) => e.name), ['worker-b']);
  const info = parseList(await b.call('CLIENT', 'INFO') as string)[0];
  assert.equal(Number(info.id), idb);

  // KILL by ID (SKIPME yes by default), by ADDR, the old addr:port form, USER.
  assert.equal(await a.call('CLIENT', 'KILL', 'ID', String(ida)), 0);
  assert.equal(await a.call('CLIENT', 'KILL', 'ID', String(ida), 'SKIPME', 'no'), 1);
  await waitFor(() => a.closed);
  const d = await RawClient.connect(port);
  t.after(() => d.close());
  assert.equal(await d.call('CLIENT', 'KILL', 'ADDR', `${b.sock.localAddress}:${b.sock.localPort}`), 1);
  await waitFor(() => b.closed);
  assert.deepEqual(await d.call('CLIENT', 'KILL', '127.0.0.1:1'), { error: 'ERR No such client' });
  assert.equal(await d.call('CLIENT', 'KILL', `${c.sock.localAddress}:${c.sock.localPort}`), 'OK');
  await waitFor(() => c.closed);
  const e = await RawClient.connect(port);
  t.after(() => e.close());
  assert.equal(await d.call('CLIENT', 'KILL', 'USER', 'default'), 1); // e (d skips itself)
  await waitFor(() => e.closed);
  assert.deepEqual(await d.call('CLIENT', 'KILL', 'ID', 'x'), { error: 'ERR client-id should be greater than 0' });
  assert.equal(parseList(await d.call('CLIENT', 'LIST') as string).length, 1);
  const infoText = await d.call('INFO', 'clients') as string;
  assert.match(infoText, /^connected_clients:1\r?$/m);
});

test('--workers 2: client ids are unique across worker processes; CLIENT KILL ID never hits another worker\'s client', async (t) => {
  const { ManagedProcess } = await import('../../src/util/managed-process.js');
  const { getFreePort, waitForPort } = await import('../helpers/servers.js');
  const servers = await startRedisMany(1, t);
  const port = await getFreePort();
  const proc = new ManagedProcess(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'redis-proxy', '--listen', `127.0.0.1:${port}`, '--workers', '2', '--backend', servers[0].address], { cwd: process.cwd() });
  t.after(() => proc.stop());
  await waitForPort(port, '127.0.0.1', 20_000).catch((e: Error) => { throw new Error(`${e.message}\n${proc.recentOutput()}`); });
  const clients: RawClient[] = [];
  t.after(() => clients.forEach((c) => c.close()));
  const ids = new Map<number, string>();
  // Connect until both workers (which may start at different moments) have served clients.
  for (let i = 0; i < 200 && (i < 12 || new Set(ids.values()).size < 2); i++) {
    const c = await RawClient.connect(port);
    clients.push(c);
    const id = await c.call('CLIENT', 'ID') as number;
    const pid = /proxy_process_id:(\d+)/.exec(await c.call('INFO', 'proxy') as string)?.[1] ?? '?';
    assert.ok(!ids.has(id), `client id ${id} given twice`);
    ids.set(id, pid);
    if (i >= 12) await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(new Set(ids.values()).size, 2, 'both workers served clients');
  // Killing a client of the other worker by id kills nothing there (and nobody else here).
  const me = clients[0];
  const myPid = ids.get(await me.call('CLIENT', 'ID') as number);
  const foreign = [...ids.entries()].find(([, pid]) => pid !== myPid)![0];
  assert.equal(await me.call('CLIENT', 'KILL', 'ID', String(foreign)), 0);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(clients.every((c) => !c.closed));
});
