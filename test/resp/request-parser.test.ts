import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestParser, RespProtocolError, encodeCommand } from '../../src/resp/index.js';
import { allSplits, cutAt, parseChunks, randomChunks } from './chunking.js';

const enc = (...args: string[]) => encodeCommand(args);

test('multibulk command: offsets, raw bytes, names, zero copy within one chunk', () => {
  const chunk = Buffer.concat([enc('GeT', 'key:1'), enc('SET', 'k', 'v v')]);
  const p = new RequestParser();
  p.feed(chunk);
  assert.equal(p.parseNext(), true);
  assert.equal(p.buffer, chunk, 'parsed in place, no copy');
  assert.equal(p.argc, 2);
  assert.equal(p.commandName(), 'get');
  assert.equal(p.argString(1), 'key:1');
  assert.deepEqual(p.arg(1), Buffer.from('key:1'));
  assert.equal(p.buffer.toString('latin1', p.argStart[1], p.argEnd[1]), 'key:1');
  assert.deepEqual(p.raw(), enc('GeT', 'key:1'));
  assert.equal(p.inline, false);
  assert.equal(p.parseNext(), true);
  assert.equal(p.commandName(), 'set');
  assert.equal(p.argString(2), 'v v');
  assert.equal(p.parseNext(), false);
  assert.equal(p.bufferedBytes(), 0);
  assert.equal(p.commandName(), 'set', 'fields stay valid after a false parseNext');
});

test('pipelined commands survive every split point', () => {
  const data = Buffer.concat([
    enc('SET', 'a', '1'), Buffer.from('PING\r\n'), Buffer.from('*0\r\n'), Buffer.from('\r\n'),
    enc('MGET', 'a', '', 'c'), Buffer.from('ECHO "x y"\n'), Buffer.from('*-1\r\n'), enc('DEL', 'a'),
  ]);
  const want = [
    ['SET', 'a', '1'], ['PING'], ['MGET', 'a', '', 'c'], ['ECHO', 'x y'], ['DEL', 'a'],
  ];
  for (const chunks of allSplits(data)) {
    const got = parseChunks(chunks);
    assert.deepEqual(got.map((c) => c.args), want);
    assert.deepEqual(got.map((c) => c.inline), [false, true, false, true, false]);
    assert.equal(got[0].raw, enc('SET', 'a', '1').toString('latin1'), 'raw is the original bytes');
    assert.equal(got[1].raw, enc('PING').toString('latin1'), 'inline raw is re-encoded as multibulk');
  }
});

test('a thousand pipelined commands in random chunkings', () => {
  const cmds = Array.from({ length: 1000 }, (_, i) => (i % 3 ? ['GET', `key:${i}`] : ['SET', `key:${i}`, 'x'.repeat(i % 300)]));
  const data = Buffer.concat(cmds.map((c) => encodeCommand(c)));
  for (const seed of [1, 2, 3, 4, 5]) {
    for (const max of [1, 7, 100, 4096]) {
      assert.deepEqual(parseChunks(randomChunks(data, seed, max)).map((c) => c.args), cmds);
    }
  }
});

test('inline commands split like Redis sdssplitargs', () => {
  const cases: Array<[string, string[] | null]> = [
    ['PING', ['PING']],
    ['  set   a \t b  ', ['set', 'a', 'b']],
    ['SET a "b c"', ['SET', 'a', 'b c']],
    ["SET 'it\\'s' x", ['SET', "it's", 'x']],
    ['ECHO "\\x41\\x4a\\n\\t\\r\\b\\a\\\\\\"\\q"', ['ECHO', 'AJ\n\t\r\b\x07\\"q']],
    ['ECHO "\\x4g"', ['ECHO', 'x4g']],
    ["ECHO 'a\\nb'", ['ECHO', 'a\\nb']],
    ['ECHO a"b c"', ['ECHO', 'ab c']],
    ['ECHO ""', ['ECHO', '']],
    ["ECHO ''", ['ECHO', '']],
    ['ECHO "a"b', null],
    ["ECHO 'a'b", null],
    ['ECHO "unterminated', null],
    ["ECHO 'unterminated", null],
    ['ECHO "trailing backslash\\', null],
  ];
  for (const [line, want] of cases) {
    for (const eol of ['\r\n', '\n']) {
      const p = new RequestParser();
      p.feed(Buffer.from(line + eol, 'latin1'));
      if (want === null) {
        assert.throws(() => p.parseNext(), { name: 'RespProtocolError', message: 'Protocol error: unbalanced quotes in request' }, line);
      } else {
        assert.equal(p.parseNext(), true, line);
        assert.equal(p.inline, true);
        assert.deepEqual(Array.from({ length: p.argc }, (_, i) => p.arg(i).toString('latin1')), want, line);
        assert.deepEqual(p.raw(), encodeCommand(want.map((s) => Buffer.from(s, 'latin1'))));
      }
    }
  }
});

test('protocol errors use Redis wording and poison the parser', () => {
  const cases: Array<[string, string]> = [
    ['GET a\0b c\r\n', 'Protocol error: NUL byte in inline request'],
    ['*abc\r\n', 'Protocol error: invalid multibulk length'],
    ['*03\r\n', 'Protocol error: invalid multibulk length'],
    ['*\r\n', 'Protocol error: invalid multibulk length'],
    ['*1048577\r\n', 'Protocol error: invalid multibulk length'],
    ['*2\r\n:1\r\n', "Protocol error: expected '$', got ':'"],
    ['*1\r\n$-1\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$03\r\nabc\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$+3\r\nabc\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$3\r\nabcd\r\n', 'Protocol error: expected CRLF'],
    ['*1\r\n$3 \r\nabc\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$536870913\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$99999999999999999999\r\n', 'Protocol error: invalid bulk length'],
  ];
  for (const [input, message] of cases) {
    const p = new RequestParser();
    p.feed(Buffer.from(input));
    assert.throws(() => { while (p.parseNext()); }, (e: unknown) => e instanceof RespProtocolError && e.message === message, input);
    assert.throws(() => p.parseNext(), RespProtocolError, 'stays failed');
    assert.throws(() => p.feed(enc('PING')), RespProtocolError, 'stays failed');
  }
});

test('inline requests are bounded by maxInlineBytes', () => {
  const p = new RequestParser({ maxInlineBytes: 1024 });
  for (let i = 0; i < 8; i++) p.feed(Buffer.alloc(100, 0x61));
  assert.equal(p.parseNext(), false);
  assert.ok(p.bufferedBytes() <= 1024);
  p.feed(Buffer.alloc(300, 0x61));
  assert.throws(() => p.parseNext(), { message: 'Protocol error: too big inline request' });
  const q = new RequestParser({ maxInlineBytes: 10 });
  q.feed(Buffer.from('SET aaaa bbbbbb\r\n'));
  assert.throws(() => q.parseNext(), { message: 'Protocol error: too big inline request' });
});

test('huge declared lengths are not allocated up front', () => {
  const before = process.memoryUsage().arrayBuffers;
  const parsers: RequestParser[] = [];
  for (let i = 0; i < 4; i++) {
    const p = new RequestParser();
    p.feed(Buffer.from('*1048576\r\n$536870912\r\nabc'));
    assert.equal(p.parseNext(), false);
    assert.ok(p.bufferedBytes() < 64);
    parsers.push(p);
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 64 * 1024 * 1024, `grew ${grown} bytes for four 512 MiB declarations`);
  const small = new RequestParser({ maxBulkBytes: 1000 });
  small.feed(Buffer.from('*1\r\n$1001\r\n'));
  assert.throws(() => small.parseNext(), { message: 'Protocol error: invalid bulk length' });
  const req = new RequestParser({ maxRequestBytes: 100 });
  req.feed(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$80\r\n'));
  assert.throws(() => req.parseNext(), { message: 'Protocol error: request exceeds the maximum request size' });
});

/** Counts bytes allocated through Buffer.allocUnsafe while fn runs. */
function allocatedDuring(fn: () => void): number {
  const orig = Buffer.allocUnsafe;
  let total = 0;
  Buffer.allocUnsafe = ((n: number) => { total += n; return orig(n); }) as typeof Buffer.allocUnsafe;
  try { fn(); } finally { Buffer.allocUnsafe = orig; }
  return total;
}

test('a large bulk in many chunks is joined once, not re-copied per chunk', () => {
  const body = Buffer.alloc(4 * 1024 * 1024, 0x78);
  const data = Buffer.concat([enc('SET', 'big'), Buffer.from(`$${body.length}\r\n`), body, Buffer.from('\r\n')]);
  data.write('*3', 0); // one command: SET big <body>
  const p = new RequestParser();
  let parsed = 0;
  const bytes = allocatedDuring(() => {
    for (const c of randomChunks(data, 9, 1024)) {
      p.feed(c);
      while (p.parseNext()) parsed++;
    }
  });
  assert.equal(parsed, 1);
  assert.equal(p.argLength(2), body.length);
  assert.ok(p.arg(2).equals(body));
  assert.ok(bytes < 2 * data.length, `allocated ${bytes} bytes for a ${data.length} byte request`);
});

test('many small arguments arriving in tiny chunks cost amortized linear work', () => {
  const args = ['MSET'];
  for (let i = 0; i < 20000; i++) args.push(`k${i}`, `v${i}`);
  const data = encodeCommand(args);
  const p = new RequestParser();
  let got: string[] = [];
  const bytes = allocatedDuring(() => {
    for (const c of randomChunks(data, 3, 9)) {
      p.feed(c);
      if (p.parseNext()) got = Array.from({ length: p.argc }, (_, i) => p.argString(i));
    }
  });
  assert.deepEqual(got, args);
  assert.ok(bytes < 8 * data.length, `allocated ${bytes} bytes for a ${data.length} byte request`);
});

test('returned bytes are never overwritten by later input', () => {
  const p = new RequestParser();
  const data = Buffer.concat(Array.from({ length: 50 }, (_, i) => enc('SET', `k${i}`, `value-${i}`)));
  const raws: Array<[Buffer, string]> = [];
  for (const c of randomChunks(data, 11, 13)) {
    p.feed(c);
    while (p.parseNext()) raws.push([p.raw(), p.raw().toString('latin1')]);
  }
  assert.equal(raws.length, 50);
  for (const [b, s] of raws) assert.equal(b.toString('latin1'), s);
});

test('commandName lower-cases ASCII only and handles long names', () => {
  const p = new RequestParser();
  const long = 'X'.repeat(100);
  p.feed(Buffer.concat([enc('CLIENT', 'SETNAME', 'a'), enc(long), encodeCommand([Buffer.from([0xc9, 0x41])])]));
  assert.ok(p.parseNext());
  assert.equal(p.commandName(), 'client');
  assert.ok(p.parseNext());
  assert.equal(p.commandName(), 'x'.repeat(100));
  assert.ok(p.parseNext());
  assert.equal(p.commandName(), '\u00c9a');
  void cutAt;
});

test('limits can be tightened and relaxed between commands', () => {
  const p = new RequestParser();
  p.setLimits({ maxArrayLength: 10, maxBulkBytes: 16384 });
  p.feed(enc('AUTH', 'secret'));
  assert.ok(p.parseNext());
  p.setLimits({ maxArrayLength: 1024 * 1024, maxBulkBytes: 512 * 1024 * 1024 });
  p.feed(encodeCommand(['MSET', ...Array.from({ length: 20 }, (_, i) => `k${i}`)]));
  assert.ok(p.parseNext());
  assert.equal(p.argc, 21);
  const q = new RequestParser({ maxArrayLength: 10 });
  q.feed(encodeCommand(['MSET', ...Array.from({ length: 20 }, (_, i) => `k${i}`)]));
  assert.throws(() => q.parseNext(), { message: 'Protocol error: invalid multibulk length' });
});
