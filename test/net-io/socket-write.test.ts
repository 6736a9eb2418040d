import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { SocketWriter } from '../../src/net-io/socket-write.js';
import { OutQueue } from '../../src/redis/out-queue.js';

/** A connected pair on loopback: the accepted socket and the client socket. */
async function pair(t: import('node:test').TestContext): Promise<{ server: net.Socket; client: net.Socket }> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection');
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const [server] = (await accepted) as [net.Socket];
  await once(client, 'connect').catch(() => undefined);
  t.after(() => { server.destroy(); client.destroy(); srv.close(); });
  return { server, client };
}

/** Reads from client (resuming it) until `length` bytes arrived; returns them. */
async function receive(client: net.Socket, length: number): Promise<Buffer> {
  const got: Buffer[] = [];
  let n = 0;
  client.on('data', (d: Buffer) => { got.push(d); n += d.length; if (n >= length) client.end(); });
  client.resume();
  await once(client, 'end');
  return Buffer.concat(got);
}

/** Distinct content per buffer so any reordering or loss shows. */
function chunk(i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let j = 0; j < size; j++) b[j] = (i * 31 + j) & 0xff;
  return b;
}

test('direct writes keep order and content when the kernel cannot take everything at once', async (t) => {
  const { server, client } = await pair(t);
  client.pause(); // the reader stalls, so writes must go asynchronous
  let drains = 0;
  const w = new SocketWriter(server, () => { drains++; });
  const sent: Buffer[] = [];
  let sawInFlight = false;
  for (let i = 0; i < 200; i++) {
    const b = chunk(i, i % 10 === 0 ? 512 * 1024 : 100 + i);
    sent.push(b);
    if (i % 7 === 3) server.write(b); // mixed with Writable writes, as pub/sub does
    else w.write(b);
    if (w.inFlightBytes > 0) sawInFlight = true;
  }
  assert.ok(sawInFlight, 'the test must fill the socket buffers so a direct write goes asynchronous');
  assert.ok(w.backlog > 0);
  const expected = Buffer.concat(sent);
  const got = await receive(client, expected.length);
  assert.equal(got.length, expected.length);
  assert.ok(got.equals(expected), 'bytes arrive in write order');
  assert.equal(w.inFlightBytes, 0);
  assert.ok(drains > 0, 'onDrain after in-flight direct writes completed');
});

test('a direct write to a socket the peer reset fails the socket, not the process', async (t) => {
  const { server, client } = await pair(t);
  client.pause();
  const w = new SocketWriter(server, () => undefined);
  for (let i = 0; i < 20; i++) w.write(chunk(i, 512 * 1024));
  client.resetAndDestroy();
  let error: Error | null = null;
  server.on('error', (e) => { error = e; });
  const closed = new Promise((r) => server.once('close', r));
  for (let i = 0; i < 20 && !server.destroyed; i++) {
    w.write(chunk(i, 64 * 1024));
    await new Promise((r) => setTimeout(r, 10));
  }
  await closed;
  assert.ok(server.destroyed);
  assert.ok(error !== null, 'the socket reports the failed write or reset');
});

test('OutQueue writes one buffer as is, several as one concatenation, and empties', async (t) => {
  const { server, client } = await pair(t);
  const w = new SocketWriter(server, () => undefined);
  const q = new OutQueue();
  assert.equal(q.empty, true);
  q.push(Buffer.from('+OK\r\n'));
  assert.equal(q.bytes, 5);
  q.writeTo(w);
  assert.equal(q.empty, true);
  q.push(Buffer.from(':1\r\n'));
  q.push(Buffer.from('$1\r\na\r\n'));
  q.push(Buffer.from('*0\r\n'));
  q.writeTo(w);
  assert.equal(q.bytes, 0);
  const big = chunk(1, 300 * 1024); // past the concat limit: corked writes
  q.push(big);
  q.push(Buffer.from('+END\r\n'));
  q.writeTo(w);
  // Turns after one that queued several: the kept array must not leak earlier buffers.
  q.push(Buffer.from('+A\r\n'));
  q.writeTo(w);
  q.push(Buffer.from('+B\r\n'));
  q.push(Buffer.from('+C\r\n'));
  q.writeTo(w);
  const expected = Buffer.concat([Buffer.from('+OK\r\n:1\r\n$1\r\na\r\n*0\r\n'), big, Buffer.from('+END\r\n+A\r\n+B\r\n+C\r\n')]);
  assert.ok((await receive(client, expected.length)).equals(expected));
});

test('OutQueue copies what it queues for a peer that is not keeping up, so waiting bytes pin no shared chunk', async (t) => {
  const { server, client } = await pair(t);
  client.pause(); // the reader stalls
  const w = new SocketWriter(server, () => undefined);
  const q = new OutQueue();
  const sent: Buffer[] = [];
  for (let i = 0; w.backlog === 0 && i < 100; i++) {
    const b = chunk(i, 512 * 1024);
    sent.push(Buffer.from(b));
    q.push(b);
    q.writeTo(w);
  }
  assert.ok(w.backlog > 0, 'the socket buffers are full');
  // Views into a "shared read chunk", queued while the peer is behind: written as a copy.
  const shared = Buffer.from('+one\r\n+two\r\n+three\r\n');
  q.push(shared.subarray(0, 6));
  q.writeTo(w);
  q.push(shared.subarray(6, 12));
  q.push(shared.subarray(12));
  q.writeTo(w);
  shared.fill(0x21); // the chunk's memory is reused: what was queued must not change
  const expected = Buffer.concat([...sent, Buffer.from('+one\r\n+two\r\n+three\r\n')]);
  assert.ok((await receive(client, expected.length)).equals(expected));
});

/** An Encodable writing `text` (or announcing a wrong size when lie is set). */
function encodable(text: string, lie = 0): { size: number; encodeInto(out: Buffer, off: number): number } {
  return { size: text.length + lie, encodeInto: (out, off) => off + out.write(text, off, 'latin1') };
}

test('OutQueue keeps encoded requests and pushed buffers in order, reusing its staging buffer only once a write released it', async (t) => {
  const { server, client } = await pair(t);
  const w = new SocketWriter(server, () => undefined);
  const q = new OutQueue();
  const expected: Buffer[] = [];
  const append = (s: string) => { q.append(encodable(s)); expected.push(Buffer.from(s)); };
  const push = (b: Buffer) => { q.push(b); expected.push(Buffer.from(b)); };
  // Staged only (one write of the staging buffer), then staged and pushed interleaved.
  append('*1\r\n$4\r\nPING\r\n');
  append('*2\r\n$3\r\nGET\r\n$1\r\na\r\n');
  assert.equal(q.empty, false);
  assert.equal(q.bytes, 14 + 20);
  q.writeTo(w);
  assert.equal(q.empty, true);
  assert.equal(w.lastWriteReleased, true, 'loopback takes a small write at once');
  append('+s1\r\n');
  push(Buffer.from('+p1\r\n'));
  append('+s2\r\n');
  append('+s3\r\n');
  push(Buffer.from('+p2\r\n'));
  q.writeTo(w);
  // Larger than the staging buffer: a buffer of its own, between staged bytes.
  append('+s4\r\n');
  append(`$40000\r\n${'x'.repeat(40000)}\r\n`);
  append('+s5\r\n');
  q.writeTo(w);
  // A dropped queue (connection lost) writes nothing of what it held.
  q.append(encodable('+dropped\r\n'));
  q.push(Buffer.from('+dropped too\r\n'));
  q.clear();
  assert.equal(q.empty, true);
  append('+after\r\n');
  q.writeTo(w);
  // The staging buffer is not reused while a write still holds it: stall the reader, fill the
  // socket, and keep staging; every byte must arrive as it was when queued.
  client.pause();
  let i = 0;
  while (w.backlog === 0 && i < 4000) { append(`+fill-${i++}-${'y'.repeat(15000)}\r\n`); q.writeTo(w); }
  assert.ok(w.backlog > 0, 'the socket buffers are full');
  // As long as the staging buffer: a reused one would overwrite the part still waiting.
  for (let j = 0; j < 50; j++) { append(`+late-${j}-${'z'.repeat(15000)}\r\n`); q.writeTo(w); }
  const want = Buffer.concat(expected);
  assert.ok((await receive(client, want.length)).equals(want), 'bytes arrive in queue order, unchanged');
});

test('OutQueue refuses an encoder that writes another size than it announced', () => {
  const q = new OutQueue();
  assert.throws(() => q.append(encodable('+OK\r\n', 1)), /encoder wrote 5 bytes, announced 6/);
});
