import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeCommand, RequestParser } from '../../src/resp/index.js';
import { KeyGrouper, SubCommand, type KeyLayout } from '../../src/redis/key-split.js';

function groupsOf(grouper: KeyGrouper, layout: KeyLayout): { dest: number; positions: number[] }[] {
  const out = [];
  for (let g = 0; g < layout.groups; g++) {
    out.push({ dest: grouper.dest[g], positions: layout.order.slice(layout.start[g], layout.start[g + 1]) });
  }
  return out;
}

test('KeyGrouper groups positions by destination in first-seen order, keeping client order inside a group', () => {
  const grouper = new KeyGrouper();
  const layout = grouper.group(Int32Array.from([3, 1, 3, 0, 1, 3]), 6);
  assert.deepEqual(groupsOf(grouper, layout), [
    { dest: 3, positions: [0, 2, 5] },
    { dest: 1, positions: [1, 4] },
    { dest: 0, positions: [3] },
  ]);
});

test('KeyGrouper resets its scratch between calls and grows for slots and many groups', () => {
  const grouper = new KeyGrouper();
  grouper.group(Int32Array.from([5, 6]), 2);
  // Same destinations again: nothing left over from the previous call.
  assert.deepEqual(groupsOf(grouper, grouper.group(Int32Array.from([6, 5, 6]), 3)), [
    { dest: 6, positions: [0, 2] },
    { dest: 5, positions: [1] },
  ]);
  // Cluster slots (up to 16383) and more groups than the initial scratch holds.
  const n = 200;
  const dests = Int32Array.from({ length: n }, (_, j) => (j * 7919) % 16384);
  const layout = grouper.group(dests, n);
  const groups = groupsOf(grouper, layout);
  assert.equal(groups.length, n);
  groups.forEach((g, i) => assert.deepEqual(g, { dest: dests[i], positions: [i] }));
  // Only the first n entries of a larger scratch array count.
  assert.deepEqual(groupsOf(grouper, grouper.group(Int32Array.from([9, 9, 1, 1]), 2)), [{ dest: 9, positions: [0, 1] }]);
});

/** Fragment g's sub-command as a buffer of its own. */
function subCommand(p: RequestParser, keys: number[], layout: KeyLayout, g: number, pairs: boolean): Buffer {
  return new SubCommand().set(p, keys, layout, g, pairs).toBuffer();
}

function parse(args: string[]): RequestParser {
  const p = new RequestParser();
  p.feed(encodeCommand(args.map((a) => Buffer.from(a))));
  assert.ok(p.parseNext());
  return p;
}

test('subCommand copies the name and each group\'s keys (and values for pairs) as valid RESP', () => {
  const keys = ['k1', 'key-two', 'k3', 'a-much-longer-key-'.repeat(8)];
  const mget = parse(['MGET', ...keys]);
  const grouper = new KeyGrouper();
  const layout = grouper.group(Int32Array.from([0, 1, 0, 1]), 4);
  const keyArgs = [1, 2, 3, 4];
  assert.equal(subCommand(mget, keyArgs, layout, 0, false).toString(), encodeCommand(['MGET', 'k1', 'k3'].map((a) => Buffer.from(a))).toString());
  assert.equal(subCommand(mget, keyArgs, layout, 1, false).toString(), encodeCommand(['MGET', keys[1], keys[3]].map((a) => Buffer.from(a))).toString());

  const mset = parse(['MSET', 'a', '1', 'b', 'x'.repeat(1000), 'c', '']);
  const pairLayout = grouper.group(Int32Array.from([2, 0, 2]), 3);
  const pairKeys = [1, 3, 5];
  assert.equal(subCommand(mset, pairKeys, pairLayout, 0, true).toString(), encodeCommand(['MSET', 'a', '1', 'c', ''].map((a) => Buffer.from(a))).toString());
  assert.equal(subCommand(mset, pairKeys, pairLayout, 1, true).toString(), encodeCommand(['MSET', 'b', 'x'.repeat(1000)].map((a) => Buffer.from(a))).toString());
});

test('Gather merges MGET replies delivered as ranges of larger chunks, in the client order, errors per shard', async () => {
  const { Gather, mergeMget } = await import('../../src/redis/fragments.js');
  const grouper = new KeyGrouper();
  // Keys at client positions 0..4 on shards 1, 0, 1, 2, 0.
  const layout = grouper.group(Int32Array.from([1, 0, 1, 2, 0]), 5);
  let merged: Buffer | undefined;
  const g = new Gather({ onReply: (b) => { merged = b; } }, 3, mergeMget, layout, 5);
  // Each reply sits inside a chunk with other replies' bytes around it.
  const chunk = (reply: string) => Buffer.from(`+OK\r\n${reply}:7\r\n`);
  const deliver = (tag: number, reply: string) => g.onTaggedReply(chunk(reply), 5, 5 + reply.length, tag);
  deliver(2, '-ERR backend 127.0.0.1:1 unavailable\r\n'); // group 2 = shard 2: position 3
  deliver(0, '*2\r\n$1\r\na\r\n$-1\r\n'); // group 0 = shard 1: positions 0, 2
  assert.equal(merged, undefined);
  deliver(1, '*2\r\n$2\r\nbb\r\n:5\r\n'); // group 1 = shard 0: positions 1, 4
  assert.equal(merged!.toString(), '*5\r\n$1\r\na\r\n$2\r\nbb\r\n$-1\r\n-ERR backend 127.0.0.1:1 unavailable\r\n:5\r\n');
});

test('Gather falls back to the general MGET merge for nested replies, and plain fragments still work', async () => {
  const { Gather, mergeMget } = await import('../../src/redis/fragments.js');
  const grouper = new KeyGrouper();
  const layout = grouper.group(Int32Array.from([0, 1]), 2);
  let merged: Buffer | undefined;
  const g = new Gather({ onReply: (b) => { merged = b; } }, 2, mergeMget, layout, 2);
  g.fragment(1).onReply(Buffer.from('*1\r\n$1\r\nz\r\n'));
  const nested = Buffer.from('xx*1\r\n*1\r\n$1\r\ny\r\nyy');
  g.onTaggedReply(nested, 2, nested.length - 2, 0);
  assert.equal(merged!.toString(), '*2\r\n*1\r\n$1\r\ny\r\n$1\r\nz\r\n');
});

test('split requests reuse their Gather once answered, without mixing up replies', async () => {
  const { mergeMget, mergeSum } = await import('../../src/redis/fragments.js');
  const { splitRequest } = await import('../../src/redis/key-split.js');
  const grouper = new KeyGrouper();
  // A fake "backend" per destination that answers MGET with each key's name and DEL with 1 per key.
  type Sent = { dest: number; request: Buffer; reply: (buf: Buffer) => void };
  const run = (args: string[], dests: number[], merge: typeof mergeMget) => {
    const p = parse(args);
    const sent: Sent[] = [];
    const gathers = new Set<object>();
    let merged: Buffer | undefined;
    const keys = dests.map((_, j) => j + 1);
    splitRequest(grouper, p, keys, Int32Array.from(dests), false, { onReply: (b) => { merged = b; } }, merge, (dest, request, gather, index) => {
      gathers.add(gather);
      const raw = request.toBuffer();
      sent.push({ dest, request: Buffer.from(raw), reply: (buf) => gather.onTaggedReply(buf, 0, buf.length, index) });
    });
    return { sent, gathers, result: () => merged };
  };
  const answer = (s: Sent) => {
    const q = new RequestParser();
    q.feed(s.request);
    assert.ok(q.parseNext());
    const names = Array.from({ length: q.argc - 1 }, (_, i) => q.arg(i + 1).toString());
    if (q.arg(0).toString() === 'DEL') return Buffer.from(`:${names.length}\r\n`);
    return Buffer.from(`*${names.length}\r\n${names.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`);
  };
  const first = run(['MGET', 'a', 'b', 'c', 'd'], [0, 1, 0, 2], mergeMget);
  // A second request in flight at the same time gets a Gather of its own.
  const second = run(['DEL', 'x', 'y', 'z'], [2, 2, 1], mergeSum);
  const [g1] = first.gathers;
  const [g2] = second.gathers;
  assert.notEqual(g1, g2);
  for (const s of second.sent.reverse()) s.reply(answer(s));
  assert.equal(second.result()!.toString(), ':3\r\n');
  for (const s of first.sent) s.reply(answer(s));
  assert.equal(first.result()!.toString(), '*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n');
  // Both are free again: the next two splits (in flight together) take them, one each, and
  // merge their own replies only.
  const third = run(['MGET', 'k1', 'k2', 'k3'], [1, 1, 0], mergeMget);
  const fourth = run(['MGET', 'm1', 'm2'], [3, 0], mergeMget);
  const [g3] = third.gathers;
  const [g4] = fourth.gathers;
  assert.ok(g3 === g1 || g3 === g2, 'a Gather is reused');
  assert.ok(g4 === g1 || g4 === g2, 'a Gather is reused');
  assert.notEqual(g3, g4, 'a Gather in use is not handed out again');
  assert.equal(third.sent.length, 2);
  third.sent[0].reply(answer(third.sent[0]));
  fourth.sent[1].reply(answer(fourth.sent[1]));
  third.sent[1].reply(answer(third.sent[1]));
  fourth.sent[0].reply(answer(fourth.sent[0]));
  assert.equal(third.result()!.toString(), '*3\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\nk3\r\n');
  assert.equal(fourth.result()!.toString(), '*2\r\n$2\r\nm1\r\n$2\r\nm2\r\n');
});
