import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeCommand, encodeValue, ReplyScanner, RequestParser, RespProtocolError, decodeReply } from '../../src/resp/index.js';
import { cutAt } from './chunking.js';
import { respValue } from './values.js';

const limits = { maxBulkBytes: 200, maxArrayLength: 50, maxInlineBytes: 300, maxDepth: 8, maxRequestBytes: 1000 };
/** Most a parser may hold once it has consumed what it can: one partial request or frame. */
const BOUND = Math.max(limits.maxRequestBytes + 32, limits.maxInlineBytes + 1);

/** Byte soup biased towards RESP syntax so the parsers get deep into their states. */
const soup = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
    fc.constantFrom('*', '$', '\r\n', '\r', '\n', '-1', '0', '3', '99999', '*2\r\n', '$3\r\n', '"', "'", '\\x4', ' ', '%1\r\n', '|1\r\n', '>', '_', '#t', ',', '(')
      .map((s) => Buffer.from(s)),
    fc.integer({ min: 0, max: 2000 }).map((n) => Buffer.from(`$${n}\r\n`)),
    fc.integer({ min: 0, max: 100 }).map((n) => Buffer.from(`*${n}\r\n`)),
  ),
  { maxLength: 80 },
).map((parts) => Buffer.concat(parts));

/** Valid traffic with a few bytes flipped. */
const mutated = fc.tuple(
  fc.array(fc.array(fc.uint8Array({ maxLength: 20 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
).map(([cmds, flips]) => {
  const data = Buffer.concat(cmds.map((c) => encodeCommand(c.map((a) => Buffer.from(a)))));
  for (const [at, b] of flips) data[at % data.length] = b;
  return data;
});

const chunked = (data: fc.Arbitrary<Buffer>) =>
  data.chain((d) => fc.tuple(fc.constant(d), fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, d.length) }), { maxLength: 20 })))
    .map(([d, at]) => cutAt(d, at.sort((x, y) => x - y)));

function driveParser(chunks: Buffer[]): void {
  const p = new RequestParser(limits);
  try {
    for (const c of chunks) {
      p.feed(c);
      while (p.parseNext()) {
        assert.ok(p.argc >= 1);
        for (let i = 0; i < p.argc; i++) assert.ok(p.argEnd[i] >= p.argStart[i] && p.argEnd[i] <= p.buffer.length);
        assert.ok(p.raw().length <= limits.maxRequestBytes);
      }
      assert.ok(p.bufferedBytes() <= BOUND, `parser holds ${p.bufferedBytes()} bytes`);
    }
  } catch (e) {
    if (!(e instanceof RespProtocolError)) throw e;
    assert.match(e.message, /^Protocol error: /);
  }
}

function driveScanner(chunks: Buffer[]): void {
  const s = new ReplyScanner(limits);
  try {
    for (const c of chunks) {
      s.feed(c);
      let f;
      while ((f = s.nextFrame())) {
        try {
          decodeReply(f, limits.maxDepth);
        } catch (e) {
          // The scanner validates framing only; a frame may still hold e.g. a bad double.
          if (!(e instanceof RespProtocolError)) throw e;
        }
      }
      assert.ok(s.bufferedBytes() <= BOUND, `scanner holds ${s.bufferedBytes()} bytes`);
    }
  } catch (e) {
    if (!(e instanceof RespProtocolError)) throw e;
  }
}

test('garbage never makes the request parser throw anything but RespProtocolError, memory stays bounded', () => {
  fc.assert(fc.property(chunked(fc.oneof(soup, mutated)), driveParser), { numRuns: 1500 });
});

test('garbage never makes the reply scanner throw anything but RespProtocolError, memory stays bounded', () => {
  const mutatedReplies = fc.tuple(fc.array(respValue, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }))
    .map(([vals, flips]) => {
      const data = Buffer.concat(vals.map((v) => encodeValue(v, 3)));
      for (const [at, b] of flips) data[at % data.length] = b;
      return data;
    });
  fc.assert(fc.property(chunked(fc.oneof(soup, mutatedReplies)), driveScanner), { numRuns: 1500 });
});

test('an endless stream without a complete request is cut off by the limits', () => {
  const endless: Array<[string, Buffer]> = [
    ['inline without newline', Buffer.alloc(97, 0x61)],
    ['bulk body', Buffer.concat([Buffer.from('*2\r\n$3\r\nGET\r\n$200\r\n'), Buffer.alloc(80, 0x62)])],
    ['many arguments', Buffer.from('*50\r\n')],
  ];
  for (const [name, first] of endless) {
    const p = new RequestParser(limits);
    assert.throws(() => {
      p.feed(first);
      for (let i = 0; i < 1000; i++) {
        p.feed(name === 'many arguments' ? Buffer.from(`$20\r\n${'x'.repeat(20)}\r\n`) : Buffer.alloc(97, 0x63));
        p.parseNext();
        assert.ok(p.bufferedBytes() <= BOUND);
      }
    }, RespProtocolError, name);
  }
  const s = new ReplyScanner(limits);
  assert.throws(() => {
    s.feed(Buffer.from('*50\r\n'));
    for (let i = 0; i < 1000; i++) {
      s.feed(Buffer.from(`$100\r\n${'y'.repeat(100)}\r\n`));
      assert.equal(s.nextFrame(), null);
      assert.ok(s.bufferedBytes() <= BOUND);
    }
  }, { message: 'Protocol error: reply exceeds the maximum size' });
});
