/**
 * Bytes queued for one socket during an event-loop turn and written with one write at the
 * turn's end. Most turns queue a single buffer (one reply or request per connection at
 * `-P 1`), which is kept aside and written as it is: no array, no concat.
 */
import type { SocketWriter } from '../net-io/socket-write.js';

/** Above this, queued buffers are written one by one (corked) instead of concatenated. */
const CONCAT_LIMIT = 256 * 1024;

export class OutQueue {
  private first: Buffer | null = null;
  private rest: Buffer[] | null = null;
  bytes = 0;

  get empty(): boolean { return this.first === null; }

  push(buf: Buffer): void {
    if (this.first === null) this.first = buf;
    else if (this.rest === null) this.rest = [buf];
    else this.rest.push(buf);
    this.bytes += buf.length;
  }

  /** Writes everything queued and empties the queue. */
  writeTo(w: SocketWriter): void {
    const first = this.first;
    if (first === null) return;
    const rest = this.rest;
    if (rest === null) w.write(first);
    else if (this.bytes <= CONCAT_LIMIT) w.write(concat(first, rest, this.bytes));
    else {
      const sock = w.socket;
      sock.cork();
      sock.write(first);
      for (let i = 0; i < rest.length; i++) sock.write(rest[i]);
      sock.uncork();
    }
    this.clear();
  }

  clear(): void {
    this.first = null;
    this.rest = null;
    this.bytes = 0;
  }
}

function concat(first: Buffer, rest: Buffer[], total: number): Buffer {
  const out = Buffer.allocUnsafe(total);
  first.copy(out, 0);
  let at = first.length;
  for (let i = 0; i < rest.length; i++) at += rest[i].copy(out, at);
  return out;
}
