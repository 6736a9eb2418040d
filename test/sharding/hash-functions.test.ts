import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { HASH_NAMES, crc16, hashFunction, hashTagRange, keySlot, parseSlotRanges } from '../../src/sharding/index.js';

// Upstream expectations for "apple" (twemproxy src/test_all.c, libmemcached hash_results.h).
const APPLE: Record<string, number> = {
  one_at_a_time: 2297466611, md5: 3195025439, crc16: 3662830516, crc32: 10542, crc32a: 2838417488,
  fnv1_32: 67176023, fnv1a_32: 280767167, fnv1_64: 473199127, fnv1a_64: 1488911807,
  hsieh: 3738850110, jenkins: 1442444624, murmur: 4142305122,
};

test('every twemproxy hash function gives the upstream value for "apple"', () => {
  assert.equal(HASH_NAMES.length, 12);
  for (const name of HASH_NAMES) {
    assert.equal(hashFunction(name)(Buffer.from('apple')), APPLE[name], name);
  }
});

test('fnv1a_64 vectors (checked against nutcracker)', () => {
  const h = hashFunction('fnv1a_64');
  const cases: Array<[string, number]> = [
    ['foo', 4275688823], ['bar', 322520602], ['hello', 2158673163], ['apple', 1488911807],
    ['user:1000', 2927313545], ['1000', 4170074660],
  ];
  for (const [k, v] of cases) assert.equal(h(Buffer.from(k)), v, k);
});

test('bytes >= 0x80 are sign-extended like x86 nutcracker', () => {
  assert.equal(hashFunction('fnv1a_64')(Buffer.from('café')), 3472276361);
  assert.notEqual(hashFunction('fnv1a_64')(Buffer.from('café')), 3483635081); // unsigned-char result
});

test('start/end hash a slice without copying, same as hashing the slice', () => {
  const buf = Buffer.from('*3\r\n$3\r\nSET\r\n$9\r\nuser:1000\r\n$1\r\nx\r\n\xff\xfe', 'latin1');
  const start = buf.indexOf('user:1000');
  for (const name of HASH_NAMES) {
    const f = hashFunction(name);
    assert.equal(f(buf, start, start + 9), f(Buffer.from('user:1000')), name);
    // every length 0..40 and odd offsets (exercise all tail cases / block loops)
    const long = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 200) & 0xff));
    for (let len = 0; len <= 40; len++) {
      assert.equal(f(long, 3, 3 + len), f(Buffer.from(long.subarray(3, 3 + len))), `${name} len ${len}`);
    }
  }
});

test('every hash returns a uint32', () => {
  for (const name of HASH_NAMES) {
    for (const k of ['', 'a', 'ab', 'abc', 'abcd', 'x'.repeat(13), '\u00ff\u00fe\u0080'.repeat(7)]) {
      const v = hashFunction(name)(Buffer.from(k, 'latin1'));
      assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `${name}(${JSON.stringify(k)}) = ${v}`);
    }
  }
});

test('unknown hash name is a clear error', () => {
  assert.throws(() => hashFunction('sha1' as never), /unknown hash "sha1"/);
});

test('Redis Cluster crc16 and key slots', () => {
  assert.equal(crc16(Buffer.from('123456789')), 0x31c3); // XMODEM check value
  assert.equal(keySlot(Buffer.from('foo')), 12182);
  assert.equal(keySlot(Buffer.from('bar')), 5061);
  assert.equal(keySlot(Buffer.from('{user1000}.following')), keySlot(Buffer.from('user1000')));
  assert.equal(keySlot(Buffer.from('foo{}{bar}')), keySlot(Buffer.from('foo{}{bar}'))); // empty tag: whole key
  assert.equal(keySlot(Buffer.from('foo{}{bar}')), crc16(Buffer.from('foo{}{bar}')) & 16383);
  assert.equal(keySlot(Buffer.from('foo{{bar}}zap')), keySlot(Buffer.from('{bar')));
  assert.equal(keySlot(Buffer.from('foo{bar}{zap}')), keySlot(Buffer.from('bar')));
  const buf = Buffer.from('xx{a}yyfoozz');
  assert.equal(keySlot(buf, 7, 10), 12182); // slice "foo": the {a} outside it is ignored
});

test('hash tag ranges follow twemproxy/Redis rules', () => {
  const r = (k: string, tag?: string) => {
    const b = Buffer.from(k);
    const [s, e] = hashTagRange(b, 0, b.length, tag);
    return b.subarray(s, e).toString();
  };
  assert.equal(r('user:{42}:name', '{}'), '42');
  assert.equal(r('user:{}:name', '{}'), 'user:{}:name');
  assert.equal(r('user:{42', '{}'), 'user:{42');
  assert.equal(r('}x{y}', '{}'), 'y');
  assert.equal(r('a$b$c', '$$'), 'b');
  assert.equal(r('plain', undefined), 'plain');
  assert.throws(() => hashTagRange(Buffer.from('k'), 0, 1, '{'), /hash_tag must be exactly 2 characters/);
});

test('slot range parsing', () => {
  assert.deepEqual(parseSlotRanges('0-5460, 5461,6000-6001'), [[0, 5460], [5461, 5461], [6000, 6001]]);
  assert.throws(() => parseSlotRanges('5-1'), /invalid slot range/);
  assert.throws(() => parseSlotRanges('0-16384'), /invalid slot range/);
  assert.throws(() => parseSlotRanges('abc'), /invalid slot range/);
});

test('hand-written md5 equals node:crypto for every length 0..300 and random inputs', () => {
  const bytes = Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 131 + 7) & 0xff));
  const md5 = hashFunction('md5');
  for (let len = 0; len <= 300; len++) {
    const ref = createHash('md5').update(bytes.subarray(5, 5 + len)).digest().readUInt32LE(0);
    assert.equal(md5(bytes, 5, 5 + len), ref, `len ${len}`);
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
    const b = Buffer.from(a);
    return md5(b) === createHash('md5').update(b).digest().readUInt32LE(0);
  }), { numRuns: 300 });
});
