import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arrayElements, decodeReply, encodeCommand, ReplyScanner, RequestParser, RespProtocolError } from '../../src/resp/index.js';
import { allSplits, randomChunks, scanChunks } from './chunking.js';

const b = (s: string) => Buffer.from(s, 'latin1');

test('frames inside one chunk are returned in place; lastType names the reply kind', () => {
  const chunk = b('+OK\r\n-ERR bad\r\n:12\r\n$-1\r\n*-1\r\n*0\r\n$3\r\nabc\r\n*2\r\n*1\r\n:1\r\n$0\r\n\r\n>2\r\n+a\r\n+b\r\n');
  const s = new ReplyScanner();
  s.feed(chunk);
  const frames: string[] = [];
  const types: string[] = [];
  let f;
  while ((f = s.nextFrame())) {
    assert.equal(f.buffer, chunk.buffer, 'zero copy');
    frames.push(f.toString('latin1'));
    types.push(String.fromCharCode(s.lastType));
  }
  assert.deepEqual(frames, ['+OK\r\n', '-ERR bad\r\n', ':12\r\n', '$-1\r\n', '*-1\r\n', '*0\r\n', '$3\r\nabc\r\n', '*2\r\n*1\r\n:1\r\n$0\r\n\r\n', '>2\r\n+a\r\n+b\r\n']);
  assert.deepEqual(types, ['+', '-', ':', '$', '*', '*', '$', '*', '>']);
  assert.equal(s.bufferedBytes(), 0);
});

test('scan() exposes frames as offsets without allocating', () => {
  const chunk = b('+OK\r\n$5\r\nhello\r\n');
  const s = new ReplyScanner();
  s.feed(chunk);
  assert.ok(s.scan());
  assert.equal(s.buffer, chunk);
  assert.deepEqual([s.frameStart, s.frameEnd], [0, 5]);
  assert.ok(s.scan());
  assert.equal(s.buffer.toString('latin1', s.frameStart, s.frameEnd), '$5\r\nhello\r\n');
  assert.equal(s.scan(), false);
});

test('attributes travel with the value they annotate; lastType is the value type', () => {
  const data = b('|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n|1\r\n|1\r\n+x\r\n+y\r\n+k\r\n+v\r\n-ERR x\r\n');
  for (const chunks of allSplits(data)) {
    const got = scanChunks(chunks);
    assert.deepEqual(got.map((f) => f.frame.toString('latin1')), [
      '|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n', '*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n', '|1\r\n|1\r\n+x\r\n+y\r\n+k\r\n+v\r\n-ERR x\r\n',
    ]);
    assert.deepEqual(got.map((f) => String.fromCharCode(f.type)), ['$', '*', '-']);
  }
  assert.deepEqual(decodeReply(b('|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n')), { type: 'bulk', value: b('hi') });
});

test('malformed replies raise RespProtocolError', () => {
  const limits = { maxDepth: 3, maxArrayLength: 10, maxBulkBytes: 100 };
  const cases: Array<[string, RegExp]> = [
    ['?x\r\n', /unexpected reply type '\?'/],
    ['$-2\r\n', /invalid bulk length/],
    ['$101\r\n', /invalid bulk length/],
    ['$3\r\nabcd\r\n', /expected CRLF/],
    ['*-2\r\n', /invalid multibulk length/],
    ['%-1\r\n', /invalid multibulk length/],
    ['*11\r\n', /invalid multibulk length/],
    ['*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n', /nested too deeply/],
    ['+OK\n', /expected CRLF/],
    ['_x\r\n', /expected CRLF/],
    ['$?\r\n', /invalid bulk length/],
  ];
  for (const [input, re] of cases) {
    const s = new ReplyScanner(limits);
    s.feed(b(input));
    assert.throws(() => { while (s.nextFrame()); }, (e: unknown) => e instanceof RespProtocolError && re.test(e.message), input);
  }
  const ok = new ReplyScanner(limits);
  ok.feed(b('*1\r\n*1\r\n*1\r\n:1\r\n'));
  assert.ok(ok.nextFrame(), 'depth 3 is allowed');
});

test('a huge declared bulk reply is neither allocated nor rejected early', () => {
  const before = process.memoryUsage().arrayBuffers;
  const s = new ReplyScanner();
  s.feed(b('$536870912\r\nabc'));
  assert.equal(s.nextFrame(), null);
  assert.ok(s.bufferedBytes() < 64);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
});

test('large array replies in small chunks: linear work, original bytes', () => {
  const n = 30000;
  const data = Buffer.concat([b(`*${n}\r\n`), ...Array.from({ length: n }, (_, i) => b(`$${String(i).length}\r\n${i}\r\n`))]);
  const orig = Buffer.allocUnsafe;
  let allocated = 0;
  Buffer.allocUnsafe = ((k: number) => { allocated += k; return orig(k); }) as typeof Buffer.allocUnsafe;
  let frames;
  try {
    frames = scanChunks(randomChunks(data, 5, 11));
  } finally {
    Buffer.allocUnsafe = orig;
  }
  assert.equal(frames.length, 1);
  assert.ok(frames[0].frame.equals(data));
  assert.ok(allocated < 8 * data.length, `allocated ${allocated} bytes for ${data.length}`);
});

test('only frames straddling a chunk boundary are copied; the rest stay in place', () => {
  const frames = ['+OK\r\n', '$10\r\n0123456789\r\n', ':1\r\n', '*2\r\n+a\r\n+b\r\n', '+last\r\n'];
  const data = b(frames.join(''));
  const cut = 12; // inside the bulk
  const own = (x: Buffer) => { const o = Buffer.alloc(x.length); x.copy(o); return o; }; // unpooled
  const c1 = own(data.subarray(0, cut));
  const c2 = own(data.subarray(cut));
  const inside = (f: Buffer, c: Buffer) => f.buffer === c.buffer && f.byteOffset >= c.byteOffset && f.byteOffset + f.length <= c.byteOffset + c.length;
  const s = new ReplyScanner();
  const where: string[] = [];
  for (const c of [c1, c2]) {
    s.feed(c);
    let f;
    while ((f = s.nextFrame())) where.push(inside(f, c1) ? 'c1' : inside(f, c2) ? 'c2' : 'copy');
  }
  assert.deepEqual(where, ['c1', 'copy', 'c2', 'c2', 'c2']);

  const cmds = [encodeCommand(['GET', 'a']), encodeCommand(['SET', 'key', 'value']), encodeCommand(['GET', 'b']), encodeCommand(['GET', 'c'])];
  const req = Buffer.concat(cmds);
  const r1 = own(req.subarray(0, cmds[0].length + 10));
  const r2 = own(req.subarray(cmds[0].length + 10));
  const p = new RequestParser();
  const bufs: string[] = [];
  for (const c of [r1, r2]) {
    p.feed(c);
    while (p.parseNext()) bufs.push(p.buffer === r1 ? 'r1' : p.buffer === r2 ? 'r2' : 'copy');
  }
  assert.deepEqual(bufs, ['r1', 'copy', 'r2', 'r2']);
});

test('arrayElements returns the original bytes of each element', () => {
  const frame = b('*4\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n:2\r\n-ERR x\r\n');
  assert.deepEqual(arrayElements(frame)?.map((e) => e.toString('latin1')), ['$1\r\na\r\n', '$-1\r\n', '*2\r\n:1\r\n:2\r\n', '-ERR x\r\n']);
  assert.equal(arrayElements(b('*-1\r\n')), null);
  assert.equal(arrayElements(b('_\r\n')), null);
  assert.deepEqual(arrayElements(b('*0\r\n')), []);
  assert.deepEqual(arrayElements(b('%1\r\n+k\r\n:1\r\n'))?.map(String), ['+k\r\n', ':1\r\n']);
  assert.throws(() => arrayElements(b('*3\r\n:1\r\n')), /truncated/);
  assert.throws(() => arrayElements(b('*1\r\n:1\r\n:2\r\n')), /trailing/);
  assert.throws(() => arrayElements(b('+OK\r\n')), /expected an array/);
  assert.deepEqual(arrayElements(b('*1\r\n:7\r\n'))?.map(String), [':7\r\n'], 'usable again after errors');
});

test('deep nesting up to maxDepth, beyond the default', () => {
  const depth = 200;
  const frame = b('*1\r\n'.repeat(depth) + ':1\r\n');
  const s = new ReplyScanner({ maxDepth: depth });
  s.feed(frame.subarray(0, 333));
  assert.equal(s.nextFrame(), null);
  s.feed(frame.subarray(333));
  assert.deepEqual(s.nextFrame(), frame);
  const t = new ReplyScanner({ maxDepth: depth - 1 });
  t.feed(frame);
  assert.throws(() => t.nextFrame(), /nested too deeply/);
});
