/**
 * Bytes queued for one socket during an event-loop turn and written with one write at the
 * turn's end. Two kinds of entries, kept in order:
 * - buffers pushed as they are (a forwarded request or a reply: views into received chunks).
 *   Most turns queue a single one (one reply or request per connection at `-P 1`), which is
 *   written as it is: no array, no concat.
 * - requests the proxy builds itself (split sub-commands), encoded straight into a staging
 *   buffer this queue keeps across turns: no buffer of their own, and the few a held upstream
 *   flush gathers leave as one write. The staging buffer is reused once a write released it.
 */
import type { SocketWriter } from '../net-io/socket-write.js';
import { transientBuffer } from '../net-io/transient-buffers.js';

/** Above this, queued buffers are written one by one (corked) instead of concatenated. */
const CONCAT_LIMIT = 256 * 1024;
/** Staging buffer size; a larger encoding gets a buffer of its size, not kept after the write. */
const STAGE_SIZE = 16 * 1024;

/** Bytes the proxy encodes itself: `size` bytes, written by encodeInto at `off` (returns the end). */
export interface Encodable {
  readonly size: number;
  encodeInto(out: Buffer, off: number): number;
}

export class OutQueue {
  private first: Buffer | null = null;
  /** Buffers after the first, in rest[0, restCount); the array is kept across turns. */
  private rest: Buffer[] | null = null;
  private restCount = 0;
  /** Staged bytes not yet made an entry: stage[stageFrom, stageTo). */
  private stage: Buffer = EMPTY;
  private stageFrom = 0;
  private stageTo = 0;
  bytes = 0;

  get empty(): boolean { return this.first === null && this.stageTo === this.stageFrom; }

  push(buf: Buffer): void {
    if (this.stageTo !== this.stageFrom) this.sealStage();
    this.entry(buf);
    this.bytes += buf.length;
  }

  /** Queues enc's bytes, encoded into the staging buffer. */
  append(enc: Encodable): void {
    const n = enc.size;
    if (this.stageTo + n > this.stage.length) this.newStage(n);
    const end = enc.encodeInto(this.stage, this.stageTo);
    if (end !== this.stageTo + n) throw new Error(`encoder wrote ${end - this.stageTo} bytes, announced ${n}`);
    this.stageTo = end;
    this.bytes += n;
  }

  /** Writes everything queued and empties the queue. */
  writeTo(w: SocketWriter): void {
    const staged = this.stageTo !== 0;
    if (this.stageTo !== this.stageFrom) this.sealStage();
    const first = this.first;
    if (first === null) return;
    const n = this.restCount;
    // Whether nothing can still refer to the staging buffer after this write.
    let released = true;
    if (w.backlog > 0) {
      // The peer is not keeping up, so these bytes will wait. Queued buffers are views into
      // shared read chunks (64 KiB slabs); waiting there, each would pin a whole slab. A copy
      // of their own keeps what a slow client holds equal to what it is owed.
      w.write(concatInto(Buffer.allocUnsafeSlow(this.bytes), first, this.rest, n));
    } else if (n === 0 && (!staged || w.direct)) {
      w.write(first);
      released = w.lastWriteReleased;
    } else if (this.bytes <= CONCAT_LIMIT) {
      w.write(concatInto(transientBuffer(this.bytes), first, this.rest, n));
    } else {
      const sock = w.socket;
      sock.cork();
      sock.write(first);
      for (let i = 0; i < n; i++) sock.write(this.rest![i]);
      sock.uncork();
      released = false;
    }
    this.clear();
    if (staged && (!released || this.stage.length > STAGE_SIZE)) this.stage = EMPTY;
  }

  /** Drops everything queued (the bytes will not be written). */
  clear(): void {
    const rest = this.rest;
    if (rest !== null) {
      // Drop the references (the bytes are written) but keep the array's storage.
      for (let i = 0; i < this.restCount; i++) rest[i] = EMPTY;
      // A burst made it large: let it go rather than keep it for ever.
      if (rest.length > 1024) this.rest = null;
    }
    this.first = null;
    this.restCount = 0;
    this.bytes = 0;
    // Whatever referred to the staging buffer was queued here (writeTo lets a buffer that is
    // still being written go), so it can be filled again from the start.
    this.stageFrom = this.stageTo = 0;
  }

  private entry(buf: Buffer): void {
    if (this.first === null) this.first = buf;
    else {
      if (this.rest === null) this.rest = [];
      this.rest[this.restCount++] = buf;
    }
  }

  /** Makes the staged bytes an entry (a view), so that what is queued next comes after them. */
  private sealStage(): void {
    this.entry(this.stage.subarray(this.stageFrom, this.stageTo));
    this.stageFrom = this.stageTo;
  }

  /** A fresh staging buffer with room for n bytes; the old one stays referenced by its entries. */
  private newStage(n: number): void {
    if (this.stageTo !== this.stageFrom) this.sealStage();
    this.stage = Buffer.allocUnsafeSlow(Math.max(n, STAGE_SIZE));
    this.stageFrom = this.stageTo = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/** Copies first and rest[0, n) one after the other into out (exactly their size). */
function concatInto(out: Buffer, first: Buffer, rest: Buffer[] | null, n: number): Buffer {
  first.copy(out, 0);
  let at = first.length;
  for (let i = 0; i < n; i++) at += rest![i].copy(out, at);
  return out;
}
