/** The gateway's upstream connection pool against a real TCP server: connections opened ahead of use. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { UpstreamPool, type UpstreamOwner } from '../../src/faas/gateway/upstream-pool.js';
import { until } from './activator-fixture.js';

test('preconnect opens one idle connection ahead of use; take hands out that same, already accepted connection', async (t) => {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    accepted.push(s);
    s.on('data', (b) => s.write(`echo ${b.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const pool = new UpstreamPool();
  t.after(() => { pool.close(); server.close(); for (const s of accepted) s.destroy(); });

  pool.preconnect('127.0.0.1', port);
  pool.preconnect('127.0.0.1', port); // one is idle (still connecting): no second connection
  await until('the server accepted the preconnection', () => accepted.length === 1);

  const got: string[] = [];
  const owner: UpstreamOwner = { onUpstreamData: (c) => got.push(c.toString()), onUpstreamEnd: () => {}, onUpstreamDrain: () => {} };
  const c = pool.take('127.0.0.1', port, owner);
  assert.equal(c.reused, true, 'a connection that waited idle may be stale: retried like a kept-alive one');
  c.sock.write('hi');
  await until('the echo came back', () => got.join('') === 'echo hi');
  assert.equal(accepted.length, 1, 'the request went over the preconnected connection');

  // A preconnection the server closes before use is forgotten, not handed out.
  pool.release(c);
  accepted[0].destroy();
  await until('the closed idle connection is dropped', () => c.closed);
  const d = pool.take('127.0.0.1', port, owner);
  assert.notEqual(d, c);
  pool.discard(d);
});
