/**
 * Requests answered by several backends: a Gather collects one reply per fragment (per
 * shard) and, once all arrived, merges them into the client's single reply. Merge functions
 * work on original reply bytes: elements are sliced out, never decoded and re-encoded.
 */
import { arrayHeader, ReplyScanner } from '../resp/index.js';
import { errorReply } from './errors.js';
import { transientBuffer } from '../net-io/transient-buffers.js';
import { KeyLayout } from './key-layout.js';
import type { ReplyTarget, TaggedTarget } from './upstream-connection.js';

export type Merge = (replies: Buffer[], g: Gather) => Buffer;

const NO_REPLIES: Buffer[] = [];
const EMPTY = Buffer.alloc(0);

/** Gathers of split requests waiting for reuse (see Gather.forSplit). */
const pool: Gather[] = [];
const POOL_MAX = 4096;

/**
 * One reply per fragment, merged when the last arrives. On the hot path (a split request
 * over upstream connections) each fragment is sent with the Gather itself as a tagged target
 * and its reply arrives as a range of the received chunk: no object per fragment, no view per
 * reply. Elsewhere, fragment(i) gives a plain ReplyTarget.
 *
 * Split requests take their Gather (and its key layout) from a pool and give it back once the
 * merged reply is handed on. That is safe because every request is answered exactly once
 * (the contract of ReplyTarget): after the last fragment's reply nothing refers to it.
 */
export class Gather implements TaggedTarget {
  private target: ReplyTarget | null;
  private merge: Merge;
  /** Fragments expected, and those not answered yet. */
  private count = 0;
  private remaining = 0;
  /** Fragment i's reply is bufs[i][bounds[2i], bounds[2i + 1]). Arrays kept across reuse. */
  private readonly bufs: Buffer[] = [];
  private readonly bounds: number[] = [];
  /** Split requests: the client positions each fragment holds, and how many keys in all. */
  readonly layout: KeyLayout | undefined;
  total: number;
  private readonly pooled: boolean;

  constructor(target: ReplyTarget, n: number, merge: Merge, layout?: KeyLayout, total = 0, pooled = false) {
    this.target = target;
    this.merge = merge;
    this.layout = layout;
    this.total = total;
    this.pooled = pooled;
    if (n > 0) this.expect(n);
  }

  /** A Gather (reused when one is free) for a split request of `total` keys; call expect() once its layout is filled. */
  static forSplit(target: ReplyTarget, merge: Merge, total: number): Gather {
    const g = pool.pop();
    if (g === undefined) return new Gather(target, 0, merge, new KeyLayout(), total, true);
    g.target = target;
    g.merge = merge;
    g.total = total;
    return g;
  }

  /** Sets the number of fragments to wait for (before any is sent). */
  expect(n: number): void {
    this.count = this.remaining = n;
    while (this.bufs.length < n) { this.bufs.push(EMPTY); this.bounds.push(0, 0); }
  }

  fragment(i: number): ReplyTarget { return new Fragment(this, i); }

  complete(i: number, reply: Buffer): void { this.onTaggedReply(reply, 0, reply.length, i); }

  onTaggedReply(buf: Buffer, start: number, end: number, i: number): void {
    this.bufs[i] = buf;
    this.bounds[2 * i] = start;
    this.bounds[2 * i + 1] = end;
    if (--this.remaining === 0) this.finish();
  }

  get fragments(): number { return this.count; }
  replyBuffer(i: number): Buffer { return this.bufs[i]; }
  replyStart(i: number): number { return this.bounds[2 * i]; }
  replyEnd(i: number): number { return this.bounds[2 * i + 1]; }

  /** Every fragment's reply as its own buffer (for the merges that are not on the hot path). */
  views(): Buffer[] {
    const out: Buffer[] = new Array(this.count);
    for (let i = 0; i < out.length; i++) {
      const b = this.bufs[i];
      const s = this.bounds[2 * i];
      const e = this.bounds[2 * i + 1];
      out[i] = s === 0 && e === b.length ? b : b.subarray(s, e);
    }
    return out;
  }

  private finish(): void {
    let merged: Buffer;
    try {
      // mergeMget reads the ranges itself.
      merged = this.merge(this.merge === mergeMget ? NO_REPLIES : this.views(), this);
    } catch (err) {
      merged = errorReply(`ERR proxy could not merge shard replies: ${(err as Error).message}`);
    }
    const target = this.target!;
    if (this.pooled) this.release();
    target.onReply(merged);
  }

  /** Back to the pool, holding no reply bytes (they would pin their read chunks). */
  private release(): void {
    for (let i = 0; i < this.count; i++) this.bufs[i] = EMPTY;
    this.target = null;
    this.count = this.remaining = 0;
    if (pool.length < POOL_MAX) pool.push(this);
  }
}

class Fragment implements ReplyTarget {
  constructor(private readonly g: Gather, private readonly i: number) {}
  onReply(reply: Buffer): void { this.g.complete(this.i, reply); }
}

const MINUS = 45;
const COLON = 58;
const STAR = 42;
const DOLLAR = 36;
const PLUS = 43;
const UNDERSCORE = 95;

export function isError(b: Buffer): boolean { return b[0] === MINUS; }

function firstError(replies: Buffer[]): Buffer | undefined {
  for (const r of replies) if (r[0] === MINUS) return r;
  return undefined;
}

/** The integer of a `:N\r\n` reply, or NaN. */
export function readInteger(b: Buffer): number {
  if (b[0] !== COLON) return NaN;
  return Number(b.toString('latin1', 1, b.length - 2));
}

function integer(n: number): Buffer { return Buffer.from(`:${n}\r\n`); }

/** Elements of an array reply as their original bytes; null for a null array. */
/** Decimal integer in b[s, e) (reply headers come from Redis, so no validation beyond digits). */
function intAt(b: Buffer, s: number, e: number): number {
  let i = s;
  let neg = false;
  if (b[i] === MINUS) { neg = true; i++; }
  let n = 0;
  for (; i < e; i++) n = n * 10 + (b[i] - 48);
  return neg ? -n : n;
}

/**
 * Elements of an array reply as their original bytes; null for a null array. Flat elements
 * (bulk, integer, simple, error, null) are sliced directly; nested ones go through a scanner.
 */
export function arrayElements(b: Buffer): Buffer[] | null {
  if (b[0] !== STAR) throw new Error(`expected an array reply, got "${b.toString('latin1', 0, Math.min(b.length, 40)).trim()}"`);
  const lf = b.indexOf(10);
  const n = intAt(b, 1, lf - 1);
  if (n < 0) return null;
  const out: Buffer[] = new Array(n);
  let p = lf + 1;
  for (let i = 0; i < n; i++) {
    const t = b[p];
    if (t === DOLLAR) {
      const e = b.indexOf(10, p);
      const len = intAt(b, p + 1, e - 1);
      const end = len < 0 ? e + 1 : e + 3 + len;
      if (e < 0 || end > b.length) throw new Error('truncated array reply');
      out[i] = b.subarray(p, end);
      p = end;
    } else if (t === COLON || t === PLUS || t === MINUS || t === UNDERSCORE) {
      const e = b.indexOf(10, p);
      if (e < 0) throw new Error('truncated array reply');
      out[i] = b.subarray(p, e + 1);
      p = e + 1;
    } else {
      const sc = new ReplyScanner({ maxArrayLength: 1 << 30, maxBulkBytes: 1 << 30 });
      sc.feed(b.subarray(p));
      for (; i < n; i++) {
        const f = sc.nextFrame();
        if (f === null) throw new Error('truncated array reply');
        out[i] = f;
      }
    }
  }
  return out;
}

function concatArray(elements: Buffer[]): Buffer {
  const parts: Buffer[] = new Array(elements.length + 1);
  parts[0] = arrayHeader(elements.length);
  for (let i = 0; i < elements.length; i++) parts[i + 1] = elements[i];
  return Buffer.concat(parts);
}

// ---- split multi-key commands (g.layout: which client positions each fragment holds)

/** Copies src[s, e) to dst at off (a plain loop for the short ranges of keys and values: cheaper than a native copy call); returns the new offset. */
export function copyBytes(src: Buffer, s: number, e: number, dst: Buffer, off: number): number {
  const n = e - s;
  if (n > 48) return off + src.copy(dst, off, s, e);
  for (let i = 0; i < n; i++) dst[off + i] = src[s + i];
  return off + n;
}

// Scratch for mergeMget (merges run synchronously): each client position's bytes as (buffer, start, end).
let elemBuf: Buffer[] = [];
let elemStart = new Int32Array(64);
let elemEnd = new Int32Array(64);

/** Index of the LF ending the line that starts at p (before end), or -1. */
function lineEnd(b: Buffer, p: number, end: number): number {
  for (let i = p + 1; i < end; i++) if (b[i] === 10) return i;
  return -1;
}

/**
 * MGET: each shard's values back into the client's key order; a failed shard's keys become
 * error elements. Flat replies (the usual case) are copied once, straight from the received
 * chunks, into the merged reply; anything else takes the general path.
 */
export const mergeMget: Merge = (_replies, g) => {
  const total = g.total;
  if (elemStart.length < total) { elemStart = new Int32Array(total * 2); elemEnd = new Int32Array(total * 2); }
  const { order, start } = g.layout!;
  let bytes = 0;
  for (let shard = 0; shard < g.fragments; shard++) {
    const r = g.replyBuffer(shard);
    const rs = g.replyStart(shard);
    const re = g.replyEnd(shard);
    const first = start[shard];
    const np = start[shard + 1] - first;
    if (r[rs] === MINUS) {
      for (let j = 0; j < np; j++) {
        const pos = order[first + j];
        elemBuf[pos] = r; elemStart[pos] = rs; elemEnd[pos] = re;
      }
      bytes += (re - rs) * np;
      continue;
    }
    if (r[rs] !== STAR) return mergeMgetGeneral(g.views(), g);
    const hl = lineEnd(r, rs, re);
    if (hl < 0 || intAt(r, rs + 1, hl - 1) !== np) return mergeMgetGeneral(g.views(), g);
    let p = hl + 1;
    for (let j = 0; j < np; j++) {
      const t = r[p];
      const e = lineEnd(r, p, re);
      if (e < 0) return mergeMgetGeneral(g.views(), g);
      let end: number;
      if (t === DOLLAR) {
        const len = intAt(r, p + 1, e - 1);
        end = len < 0 ? e + 1 : e + 3 + len;
        if (end > re) return mergeMgetGeneral(g.views(), g);
      } else if (t === COLON || t === PLUS || t === MINUS || t === UNDERSCORE) {
        end = e + 1;
      } else {
        return mergeMgetGeneral(g.views(), g);
      }
      const pos = order[first + j];
      elemBuf[pos] = r; elemStart[pos] = p; elemEnd[pos] = end;
      bytes += end - p;
      p = end;
    }
  }
  const head = arrayHeader(total);
  const out = transientBuffer(head.length + bytes);
  let off = copyBytes(head, 0, head.length, out, 0);
  for (let i = 0; i < total; i++) {
    off = copyBytes(elemBuf[i], elemStart[i], elemEnd[i], out, off);
    elemBuf[i] = EMPTY;
  }
  return out;
};

function mergeMgetGeneral(replies: Buffer[], g: Gather): Buffer {
  const out: Buffer[] = new Array(g.total);
  const { order, start } = g.layout!;
  replies.forEach((r, shard) => {
    const elems = r[0] === MINUS ? null : arrayElements(r);
    for (let i = start[shard], j = 0; i < start[shard + 1]; i++, j++) out[order[i]] = elems ? elems[j] : r;
  });
  return concatArray(out);
}

/** DEL, UNLINK, EXISTS, TOUCH: the shards' counts summed. */
export const mergeSum: Merge = (replies) => {
  const err = firstError(replies);
  if (err) return err;
  let sum = 0;
  for (const r of replies) {
    const n = readInteger(r);
    if (Number.isNaN(n)) throw new Error('expected an integer reply');
    sum += n;
  }
  return integer(sum);
};

/** MSET, FLUSHDB, CONFIG SET ...: the first error if any shard failed, else the (identical) reply. */
export const mergeAllOk: Merge = (replies) => firstError(replies) ?? replies[0];

/** KEYS: the union (shards hold disjoint keys). */
export const mergeConcat: Merge = (replies) => {
  const err = firstError(replies);
  if (err) return err;
  const all: Buffer[] = [];
  for (const r of replies) for (const e of arrayElements(r) ?? []) all.push(e);
  return concatArray(all);
};

/** RANDOMKEY: a random key from a random shard that has keys. */
export const mergeRandomNonNull: Merge = (replies) => {
  const withKeys = replies.filter((r) => r[0] === DOLLAR && r[1] !== MINUS);
  if (withKeys.length > 0) return withKeys[Math.floor(Math.random() * withKeys.length)];
  return firstError(replies) ?? replies[0];
};

/** SCRIPT EXISTS: 1 only where every shard has the script. */
export const mergeLogicalAnd: Merge = (replies) => {
  const err = firstError(replies);
  if (err) return err;
  const lists = replies.map((r) => arrayElements(r) ?? []);
  const out = lists[0].map((_, i) => (lists.every((l) => readInteger(l[i]) === 1) ? integer(1) : integer(0)));
  return concatArray(out);
};
