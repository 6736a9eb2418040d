/**
 * Input accumulation shared by RequestParser and ReplyScanner.
 *
 * Received chunks are parsed in place (zero copy). Only a frame that straddles a chunk
 * boundary is copied: its tail plus exactly the bytes it still needs from the following chunk(s)
 * go into an owned store, and parsing then continues in place in the next chunk. So:
 * - a pipeline of small frames costs no copying except at chunk boundaries;
 * - a large bulk arriving in many chunks is only queued until all of it is there, then joined
 *   with one copy (never one copy per chunk, never an allocation sized by a declared length);
 * - a frame growing by tiny pieces is appended into a store with geometric slack (amortized O(1)
 *   per byte).
 * Bytes once written to a store are never overwritten (stores are append-only and abandoned
 * when consumed), so subarrays handed out earlier stay intact while the caller holds them.
 *
 * Subclasses keep absolute offsets into `store`; `rebase(delta)` tells them every offset must
 * be reduced by `delta` because the live region moved to another buffer.
 */
import { RespProtocolError } from './errors.js';

const EMPTY = Buffer.alloc(0);
const MAX_SLACK = 16 * 1024 * 1024;

export abstract class InputBuffer {
  protected store: Buffer = EMPTY;
  /** First byte not yet consumed (start of the partial frame, if any). */
  protected start = 0;
  /** End of valid data in `store`. */
  protected end = 0;
  /** Set by the subclass when a frame is incomplete: total bytes (from `start`) it needs, or 0 for "up to the next LF". */
  protected need = 0;
  /** Value of the last readInt(). */
  protected num = 0;
  /** True when `store` is ours, so bytes past `end` may be written. */
  private owned = false;
  /** Chunks received but not yet in `store`; the first one may be partly taken already. */
  private queue: Buffer[] = [];
  private qHead = 0;
  private headTaken = 0;
  private queued = 0;

  feed(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.start === this.end && this.queued === 0) {
      const delta = this.start;
      this.store = chunk;
      this.owned = false;
      this.start = 0;
      this.end = n;
      if (delta !== 0) this.rebase(delta);
      return;
    }
    this.queue.push(chunk);
    this.queued += n;
  }

  /** Bytes held and not yet returned as parsed frames. */
  bufferedBytes(): number {
    return this.end - this.start + this.queued;
  }

  /** True when the incomplete frame's known byte count cannot be met yet. */
  protected starved(): boolean {
    return this.need > 0 && this.end - this.start + this.queued < this.need;
  }

  /**
   * Makes more input available in `store` after the subclass found its frame incomplete (and
   * set `need`). Returns false when there is nothing (useful) to add yet.
   */
  protected refill(): boolean {
    if (this.queued === 0) return false;
    const live = this.end - this.start;
    if (live === 0) {
      // Nothing partial: continue in place inside the next chunk.
      const head = this.queue[this.qHead];
      const from = this.headTaken;
      this.dropHead();
      this.queued -= head.length - from;
      const delta = this.start - from;
      this.store = head;
      this.owned = false;
      this.start = from;
      this.end = head.length;
      if (delta !== 0) this.rebase(delta);
      return true;
    }
    let take: number;
    if (this.need > 0) {
      take = this.need - live;
      if (take <= 0 || this.queued < take) return false;
    } else {
      take = this.bytesThroughNextLf();
    }
    this.reserve(take);
    while (take > 0) {
      const head = this.queue[this.qHead];
      const avail = head.length - this.headTaken;
      const n = avail < take ? avail : take;
      head.copy(this.store, this.end, this.headTaken, this.headTaken + n);
      this.end += n;
      this.queued -= n;
      take -= n;
      if (n === avail) this.dropHead();
      else this.headTaken += n;
    }
    return true;
  }

  /** Queued bytes up to and including the next LF (all queued bytes when there is none). */
  private bytesThroughNextLf(): number {
    let total = 0;
    let from = this.headTaken;
    for (let i = this.qHead; i < this.queue.length; i++) {
      const c = this.queue[i];
      const lf = c.indexOf(10, from);
      if (lf >= 0) return total + lf + 1 - from;
      total += c.length - from;
      from = 0;
    }
    return total;
  }

  private dropHead(): void {
    this.queue[this.qHead++] = EMPTY;
    this.headTaken = 0;
    if (this.qHead === this.queue.length) {
      this.queue = [];
      this.qHead = 0;
    }
  }

  /** Ensures `extra` bytes fit after `end`, moving the live region to a new store if needed. */
  private reserve(extra: number): void {
    if (this.owned && this.store.length - this.end >= extra) return;
    const live = this.end - this.start;
    const total = live + extra;
    // Exact size when mostly new data (e.g. joining a large body); geometric slack when a
    // frame grows by small pieces.
    const cap = extra > live ? total : total + Math.min(total >> 1, MAX_SLACK);
    const next = Buffer.allocUnsafe(cap);
    this.store.copy(next, 0, this.start, this.end);
    const delta = this.start;
    this.store = next;
    this.owned = true;
    this.start = 0;
    this.end = live;
    if (delta !== 0) this.rebase(delta);
  }

  /** Drops a consumed store once nothing else is buffered, so a large buffer is not retained. */
  protected releaseIfEmpty(): void {
    if (this.start === this.end && this.queued === 0 && this.store !== EMPTY) {
      const delta = this.start;
      this.store = EMPTY;
      this.owned = false;
      this.start = 0;
      this.end = 0;
      if (delta !== 0) this.rebase(delta);
    }
  }

  /**
   * Reads a CRLF-terminated integer at `p` the way Redis' string2ll does (optional '-', no
   * '+', no leading zeros, no spaces). Returns the position after CRLF and sets `num`, or -1
   * when the line is incomplete. Throws `err` on malformed input.
   */
  protected readInt(buf: Buffer, p: number, end: number, err: string): number {
    let i = p;
    let neg = false;
    if (i < end && buf[i] === 45) {
      neg = true;
      i++;
    }
    const digits = i;
    let v = 0;
    while (i < end) {
      const c = buf[i];
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      if (++i - digits > 18) throw new RespProtocolError(err);
    }
    if (i >= end) return -1;
    if (buf[i] !== 13 || i === digits || (buf[digits] === 48 && (neg || i - digits > 1))) throw new RespProtocolError(err);
    if (i + 1 >= end) return -1;
    if (buf[i + 1] !== 10) throw new RespProtocolError(err);
    this.num = neg ? -v : v;
    return i + 2;
  }

  protected abstract rebase(delta: number): void;
}
