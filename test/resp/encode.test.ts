import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arrayHeader, bulkReply, decodeReply, encodeCommand, encodeValue, errorReply, integerReply, NULL_ARRAY, NULL_BULK, OK,
  PONG, QUEUED, RequestParser, simpleString,
} from '../../src/resp/index.js';

const s = (b: Buffer) => b.toString('latin1');

test('reply helpers produce exact RESP bytes', () => {
  assert.equal(s(OK), '+OK\r\n');
  assert.equal(s(PONG), '+PONG\r\n');
  assert.equal(s(QUEUED), '+QUEUED\r\n');
  assert.equal(s(NULL_BULK), '$-1\r\n');
  assert.equal(s(NULL_ARRAY), '*-1\r\n');
  assert.equal(s(simpleString('hello world')), '+hello world\r\n');
  assert.equal(s(errorReply('ERR bad\r\nthing\n')), '-ERR bad thing \r\n', 'CR/LF cannot break the line');
  assert.equal(s(integerReply(0)), ':0\r\n');
  assert.equal(s(integerReply(-42)), ':-42\r\n');
  assert.equal(s(integerReply(5000)), ':5000\r\n');
  assert.equal(s(integerReply(2n ** 63n - 1n)), ':9223372036854775807\r\n');
  assert.throws(() => integerReply(1.5), RangeError);
  assert.equal(s(arrayHeader(3)), '*3\r\n');
  assert.equal(s(arrayHeader(100000)), '*100000\r\n');
  assert.equal(s(arrayHeader(-1)), '*-1\r\n');
  assert.equal(s(bulkReply('héllo')), '$6\r\nh\xc3\xa9llo\r\n');
  assert.equal(s(bulkReply(Buffer.from([0, 13, 10]))), '$3\r\n\0\r\n\r\n');
  assert.equal(s(bulkReply('')), '$0\r\n\r\n');
  assert.equal(bulkReply(null), NULL_BULK);
});

test('encodeCommand writes multibulk that the parser and real clients agree on', () => {
  const cmd = encodeCommand(['SET', Buffer.from([0xff, 0]), 42, 'ünï']);
  assert.equal(s(cmd), '*4\r\n$3\r\nSET\r\n$2\r\n\xff\0\r\n$2\r\n42\r\n$5\r\n\xc3\xbcn\xc3\xaf\r\n');
  const p = new RequestParser();
  p.feed(cmd);
  assert.ok(p.parseNext());
  assert.deepEqual(p.arg(1), Buffer.from([0xff, 0]));
  assert.equal(p.argString(3), 'ünï');
  assert.equal(s(encodeCommand([])), '*0\r\n');
});

test('RESP3 to RESP2 down-conversion of each type', () => {
  const cases: Array<[Parameters<typeof encodeValue>[0], string, string]> = [
    [{ type: 'null' }, '_\r\n', '$-1\r\n'],
    [{ type: 'array', value: null }, '_\r\n', '*-1\r\n'],
    [{ type: 'bulk', value: null }, '_\r\n', '$-1\r\n'],
    [{ type: 'boolean', value: true }, '#t\r\n', ':1\r\n'],
    [{ type: 'boolean', value: false }, '#f\r\n', ':0\r\n'],
    [{ type: 'double', value: 1.5 }, ',1.5\r\n', '$3\r\n1.5\r\n'],
    [{ type: 'double', value: -Infinity }, ',-inf\r\n', '$4\r\n-inf\r\n'],
    [{ type: 'bignum', value: 12345678901234567890n }, '(12345678901234567890\r\n', '$20\r\n12345678901234567890\r\n'],
    [{ type: 'verbatim', format: 'txt', value: Buffer.from('hi') }, '=6\r\ntxt:hi\r\n', '$2\r\nhi\r\n'],
    [{ type: 'map', value: [[{ type: 'simple', value: 'a' }, { type: 'integer', value: 1 }]] }, '%1\r\n+a\r\n:1\r\n', '*2\r\n+a\r\n:1\r\n'],
    [{ type: 'set', value: [{ type: 'integer', value: 1 }] }, '~1\r\n:1\r\n', '*1\r\n:1\r\n'],
    [{ type: 'push', value: [{ type: 'simple', value: 'x' }] }, '>1\r\n+x\r\n', '*1\r\n+x\r\n'],
    [{ type: 'bulkError', value: 'ERR a\r\nb' }, '!8\r\nERR a\r\nb\r\n', '-ERR a b\r\n'],
  ];
  for (const [v, r3, r2] of cases) {
    assert.equal(s(encodeValue(v, 3)), r3, JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x)));
    assert.equal(s(encodeValue(v, 2)), r2);
  }
  assert.deepEqual(decodeReply(Buffer.from(',nan\r\n')), { type: 'double', value: NaN });
  assert.deepEqual(decodeReply(Buffer.from(':-9223372036854775808\r\n')), { type: 'integer', value: -(2n ** 63n) });
  assert.throws(() => decodeReply(Buffer.from('+OK\r\n+OK\r\n')), /trailing bytes/);
  assert.throws(() => decodeReply(Buffer.from('#x\r\n')), /invalid boolean/);
});
