/**
 * Splitting a multi-key request (MGET, MSET, DEL, ...) by destination (a shard, or a Redis
 * Cluster slot), shared by both command splitters. Built for the hot path: nothing is allocated
 * per request. The layout lives in a pooled Gather, sub-commands are encoded straight into the
 * upstream connections' staging buffers, and the grouping works in scratch memory reused
 * across requests. (A version with an array per group grown by push() cost ~2.5 KB per 10-key
 * MGET, and the young-generation GCs that followed showed up in the proxy's p99.)
 */
import { arrayHeader, type RequestParser } from '../resp/index.js';
import { transientBuffer } from '../net-io/transient-buffers.js';
import { copyBytes, Gather, type Merge } from './fragments.js';
import { KeyLayout } from './key-layout.js';
import type { ReplyTarget } from './upstream-connection.js';
import type { Encodable } from './out-queue.js';

export { KeyLayout };

/**
 * Sends sub-command `index` of a split request to its destination (shard or slot): encoded on
 * the spot (request.encodeInto) or kept (request.toBuffer()), as it is valid only during the
 * call. Its reply goes to gather (as a TaggedTarget with tag = index, or through gather.fragment(index)).
 */
export type SendFragment = (dest: number, request: SubCommand, gather: Gather, index: number) => void;

/**
 * Splits a request whose key at client position j goes to dests[j] (>= 0): one sub-command
 * per destination, sent through `send`; their replies are merged into `target`. Returns the
 * number of sub-commands.
 */
export function splitRequest(
  grouper: KeyGrouper, p: RequestParser, keys: number[], dests: Int32Array, pairs: boolean,
  target: ReplyTarget, merge: Merge, send: SendFragment,
): number {
  const nk = keys.length;
  const gather = Gather.forSplit(target, merge, nk);
  const layout = grouper.group(dests, nk, gather.layout!);
  const groups = layout.groups;
  gather.expect(groups);
  const dest = grouper.dest;
  const sub = scratchSubCommand;
  try {
    for (let g = 0; g < groups; g++) send(dest[g], sub.set(p, keys, layout, g, pairs), gather, g);
  } finally {
    sub.reset();
  }
  return groups;
}

export class KeyGrouper {
  /** Destination → group index, -1 when unused (reset after each call). */
  private groupOf: Int32Array = new Int32Array(16).fill(-1);
  private keyGroup = new Int32Array(64);
  private cursor = new Int32Array(16);
  /** The destination of each group of the last grouping (valid until the next call). */
  dest = new Int32Array(16);

  /** Groups keys 0..n-1 by dests[j] (each >= 0) into layout (a new one by default); returns it. */
  group(dests: Int32Array, n: number, layout = new KeyLayout()): KeyLayout {
    if (this.keyGroup.length < n) this.keyGroup = new Int32Array(n * 2);
    const keyGroup = this.keyGroup;
    let groupOf = this.groupOf;
    let groups = 0;
    for (let j = 0; j < n; j++) {
      const d = dests[j];
      if (d >= groupOf.length) groupOf = this.growGroupOf(d);
      let g = groupOf[d];
      if (g < 0) {
        if (groups === this.dest.length) this.growGroups();
        g = groupOf[d] = groups;
        this.dest[groups] = d;
        this.cursor[groups] = 0;
        groups++;
      }
      keyGroup[j] = g;
      this.cursor[g]++;
    }
    const { start, order } = layout;
    layout.groups = groups;
    start[0] = 0;
    for (let g = 0; g < groups; g++) {
      start[g + 1] = start[g] + this.cursor[g];
      this.cursor[g] = start[g];
      groupOf[this.dest[g]] = -1;
    }
    // Filled out of order below: grow it first, so it stays a packed array.
    while (order.length < n) order.push(0);
    for (let j = 0; j < n; j++) order[this.cursor[keyGroup[j]]++] = j;
    return layout;
  }

  private growGroupOf(d: number): Int32Array {
    const next = new Int32Array(Math.max(d + 1, this.groupOf.length * 2)).fill(-1);
    next.set(this.groupOf);
    return (this.groupOf = next);
  }

  private growGroups(): void {
    const n = this.dest.length * 2;
    const dest = new Int32Array(n);
    dest.set(this.dest);
    const cursor = new Int32Array(n);
    cursor.set(this.cursor);
    this.dest = dest;
    this.cursor = cursor;
  }
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) { n = Math.floor(n / 10); d++; }
  return d;
}

/** Bytes of argument k's original `$len\r\n...\r\n` encoding (the parser only accepts canonical lengths). */
function argBytes(st: Int32Array, en: Int32Array, k: number): number {
  const len = en[k] - st[k];
  return len + decimalDigits(len) + 5;
}

function copyArg(p: RequestParser, k: number, out: Buffer, off: number): number {
  const len = p.argEnd[k] - p.argStart[k];
  return copyBytes(p.buffer, p.argStart[k] - 3 - decimalDigits(len), p.argEnd[k] + 2, out, off);
}

const NO_KEYS: number[] = [];
const NO_HEAD = Buffer.alloc(0);

/**
 * Fragment g's sub-command: the command name, then its keys (each followed by its value when
 * pairs), copied as their original encodings. keys[j] is the argument index of the key at
 * client position j. Encoded where it is needed (Encodable): straight into an upstream
 * connection's staging buffer on the hot path, so no buffer per sub-command. Valid only during
 * the send it is passed to (it reads the client's request in place).
 */
export class SubCommand implements Encodable {
  private p: RequestParser | null = null;
  private keys: number[] = NO_KEYS;
  private layout: KeyLayout | null = null;
  private g = 0;
  private pairs = false;
  /** The `*argc` line (cached by arrayHeader for common sizes). */
  private head: Buffer = NO_HEAD;
  size = 0;

  set(p: RequestParser, keys: number[], layout: KeyLayout, g: number, pairs: boolean): this {
    this.p = p; this.keys = keys; this.layout = layout; this.g = g; this.pairs = pairs;
    const { order, start } = layout;
    const st = p.argStart;
    const en = p.argEnd;
    const from = start[g];
    const to = start[g + 1];
    this.head = arrayHeader(1 + (to - from) * (pairs ? 2 : 1));
    let total = this.head.length + argBytes(st, en, 0);
    for (let i = from; i < to; i++) {
      const k = keys[order[i]];
      total += argBytes(st, en, k);
      if (pairs) total += argBytes(st, en, k + 1);
    }
    this.size = total;
    return this;
  }

  /** Forgets the request (so a closed client's parser is not kept alive by the splitter). */
  reset(): void { this.p = null; this.layout = null; this.keys = NO_KEYS; this.head = NO_HEAD; }

  encodeInto(out: Buffer, off: number): number {
    const p = this.p!;
    const { order, start } = this.layout!;
    const keys = this.keys;
    const pairs = this.pairs;
    const from = start[this.g];
    const to = start[this.g + 1];
    const head = this.head;
    off = copyBytes(head, 0, head.length, out, off);
    off = copyArg(p, 0, out, off);
    for (let i = from; i < to; i++) {
      const k = keys[order[i]];
      off = copyArg(p, k, out, off);
      if (pairs) off = copyArg(p, k + 1, out, off);
    }
    return off;
  }

  /** As a buffer of its own (for paths that keep or re-route the request). */
  toBuffer(): Buffer {
    const out = transientBuffer(this.size);
    this.encodeInto(out, 0);
    return out;
  }
}

/** Requests are split one at a time (synchronously), so one SubCommand serves them all. */
const scratchSubCommand = new SubCommand();
