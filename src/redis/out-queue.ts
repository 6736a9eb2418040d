/**
 * Bytes queued for one socket during an event-loop turn and written with one write at the
 * turn's end. Most turns queue a single buffer (one reply or request per connection at
 * `-P 1`), which is kept aside and written as it is: no array, no concat.
 */
import type { SocketWriter } from '../net-io/socket-write.js';
import { transientBuffer } from '../net-io/transient-buffers.js';

/** Above this, queued buffers are written one by one (corked) instead of concatenated. */
const CONCAT_LIMIT = 256 * 1024;

export class OutQueue {
  private first: Buffer | null = null;
  /** Buffers after the first, in rest[0, restCount); the array is kept across turns. */
  private rest: Buffer[] | null = null;
  private restCount = 0;
  bytes = 0;

  get empty(): boolean { return this.first === null; }

  push(buf: Buffer): void {
    if (this.first === null) this.first = buf;
    else {
      if (this.rest === null) this.rest = [];
      this.rest[this.restCount++] = buf;
    }
    this.bytes += buf.length;
  }

  /** Writes everything queued and empties the queue. */
  writeTo(w: SocketWriter): void {
    const first = this.first;
    if (first === null) return;
    const n = this.restCount;
    if (w.backlog > 0) {
      // The peer is not keeping up, so these bytes will wait. Queued buffers are views into
      // shared read chunks (64 KiB slabs); waiting there, each would pin a whole slab. A copy
      // of their own keeps what a slow client holds equal to what it is owed.
      w.write(concatInto(Buffer.allocUnsafeSlow(this.bytes), first, this.rest, n));
      this.clear();
      return;
    }
    if (n === 0) w.write(first);
    else if (this.bytes <= CONCAT_LIMIT) w.write(concatInto(transientBuffer(this.bytes), first, this.rest, n));
    else {
      const sock = w.socket;
      sock.cork();
      sock.write(first);
      for (let i = 0; i < n; i++) sock.write(this.rest![i]);
      sock.uncork();
    }
    this.clear();
  }

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
