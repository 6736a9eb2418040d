import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, startNats } from './servers.js';
import net from 'node:net';

test('startRedis runs a real redis-server on a free loopback port and stops it', async (t) => {
  const s = await startRedis();
  const c = new Redis({ host: s.host, port: s.port, lazyConnect: true });
  await c.connect();
  assert.equal(await c.ping(), 'PONG');
  c.disconnect();
  await s.stop();
  assert.equal(s.process.running, false);
  await assert.rejects(new Promise((res, rej) => {
    const sock = net.connect(s.port, s.host, () => { sock.destroy(); res(undefined); });
    sock.on('error', rej);
  }));
});

test('startNats runs nats-server with JetStream', async (t) => {
  const n = await startNats(t);
  assert.match(n.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(n.process.running, true);
});
