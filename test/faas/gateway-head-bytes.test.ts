/**
 * The byte-level helpers of the gateway's forwarding path: heads written straight into
 * Buffers (digits, strings, ranges), call ids as bytes, the head-end search, and direct
 * socket writes (kept in order with the socket's own writes, 'drain'-like when they wait).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { digitCount, putAscii, putBytes, putUint, bytesEqual } from '../../src/faas/gateway/head-bytes.js';
import { CALL_ID_LENGTH, callIdString, newCallId, putCallId } from '../../src/faas/gateway/call-id.js';
import { findHeadEnd } from '../../src/faas/gateway/http1.js';
import { SocketWriter } from '../../src/net-io/socket-write.js';

test('digits, strings and ranges are written as String() and Buffer#write would', () => {
  for (const n of [0, 7, 9, 10, 99, 100, 999_999_999, 1e9, 1_796_090_122, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 5, 2 ** 40 + 123, 9_007_199_254_740_991]) {
    assert.equal(digitCount(n), String(n).length, `digitCount(${n})`);
    for (const width of [0, 9, 20]) {
      const out = Buffer.alloc(32);
      const end = putUint(out, 3, n, width);
      assert.equal(out.toString('latin1', 3, end), String(n).padStart(width, '0'), `putUint(${n}, ${width})`);
    }
  }
  const out = Buffer.alloc(600);
  let o = putAscii(out, 0, 'X-Call-Id: ');
  const src = Buffer.from('..' + 'h'.repeat(300) + '..', 'latin1');
  o = putBytes(out, o, src, 2, 302); // long range: Buffer#copy
  o = putBytes(out, o, src, 0, 5); // short range: byte loop
  assert.equal(out.toString('latin1', 0, o), 'X-Call-Id: ' + 'h'.repeat(300) + '..hhh');
  assert.ok(bytesEqual(src, 0, 3, '..h'));
  assert.ok(!bytesEqual(src, 0, 3, '..x'));
  assert.ok(!bytesEqual(src, 0, 3, '..'));
});

test('call ids are random version 4 UUIDs', () => {
  const seen = new Set<string>();
  const id = new Uint8Array(16);
  for (let i = 0; i < 1000; i++) {
    newCallId(id);
    const s = callIdString(id);
    assert.match(s, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const out = Buffer.alloc(CALL_ID_LENGTH + 2);
    assert.equal(putCallId(out, 1, id), CALL_ID_LENGTH + 1);
    assert.equal(out.toString('latin1', 1, CALL_ID_LENGTH + 1), s);
    seen.add(s);
  }
  assert.equal(seen.size, 1000);
});

test('findHeadEnd finds the first CRLFCRLF, also when scanning resumes mid-terminator', () => {
  const head = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
  const buf = Buffer.from(head + 'body\r\n\r\n', 'latin1');
  assert.equal(findHeadEnd(buf, 0), head.length);
  for (let from = 0; from < head.length; from++) assert.equal(findHeadEnd(buf, from), head.length, `from ${from}`);
  assert.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r', 'latin1'), 0), -1);
  assert.equal(findHeadEnd(Buffer.from('\r\n\r\n', 'latin1'), 0), 4);
  assert.equal(findHeadEnd(Buffer.from('\r\n\r', 'latin1'), 0), -1);
});

test('direct writes keep order with socket.write and report when waiting bytes are taken', async (t) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const accepted = once(server, 'connection');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [peer] = (await accepted) as [net.Socket];
  peer.pause(); // nothing is read yet: a large write has to wait
  let drained = 0;
  const w = new SocketWriter(client, () => { drained++; });

  assert.equal(w.write(Buffer.from('head;', 'latin1')), true, 'a small write is taken at once');
  const big = Buffer.alloc(32 * 1024 * 1024, 0x61);
  assert.equal(w.write(big), false, 'a large write waits');
  assert.equal(w.waiting, 1);
  client.write('tail;'); // through the Writable, behind the waiting direct write
  assert.equal(w.write(Buffer.from('last', 'latin1')), true, 'while one waits, a write goes through the socket (which has room)');
  assert.equal(client.writableLength, 9);

  const chunks: Buffer[] = [];
  let got = 0;
  peer.on('data', (c: Buffer) => { chunks.push(c); got += c.length; });
  const expected = Buffer.concat([Buffer.from('head;', 'latin1'), big, Buffer.from('tail;last', 'latin1')]);
  peer.resume();
  while (got < expected.length) await once(peer, 'data');
  assert.ok(Buffer.concat(chunks).equals(expected), 'head, the big write, then the socket writes, in order');
  assert.equal(drained, 1, 'completion of the waiting write is reported once');
  assert.equal(w.waiting, 0);
  assert.equal(w.write(Buffer.from('again', 'latin1')), true, 'direct again once nothing waits');
  client.destroy();
  peer.destroy();
});
