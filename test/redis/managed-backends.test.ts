import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { ManagedBackends } from '../../src/redis/managed-backends.js';
import { getFreePort } from '../../src/util/net.js';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test('managed backends: three independent redis-servers start, serve and stop', async (t) => {
  const mb = await ManagedBackends.start({ count: 3 });
  t.after(() => mb.stop());
  assert.equal(mb.servers.length, 3);
  assert.equal(new Set(mb.addresses).size, 3);
  const pids = mb.servers.map((s) => s.process.proc.pid!);
  for (const [i, s] of mb.servers.entries()) {
    const c = new Redis({ host: s.host, port: s.port, lazyConnect: true });
    await c.connect();
    await c.set('who', String(i));
    // no persistence: saving is off
    assert.deepEqual(await c.config('GET', 'save'), ['save', '']);
    c.disconnect();
  }
  for (const [i, s] of mb.servers.entries()) {
    const c = new Redis({ host: s.host, port: s.port });
    assert.equal(await c.get('who'), String(i));
    c.disconnect();
  }
  await mb.stop();
  await mb.stop();
  for (const pid of pids) assert.equal(alive(pid), false, `redis-server ${pid} still running`);
});

test('managed backends: fixed ports, and a clear error when a port is taken', async (t) => {
  const port = await getFreePort();
  const mb = await ManagedBackends.start({ ports: [port] });
  t.after(() => mb.stop());
  assert.deepEqual(mb.addresses, [`127.0.0.1:${port}`]);
  await assert.rejects(ManagedBackends.start({ ports: [port] }), /managed backends: .*already in use/s);
  await assert.rejects(ManagedBackends.start({ count: 0 }), /count must be/);
  await assert.rejects(ManagedBackends.start({ host: '10.0.0.1' }), /loopback/);
});
