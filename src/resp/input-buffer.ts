/**
 * Input accumulation shared by RequestParser and ReplyScanner.
 *
 * - A chunk that arrives while nothing is buffered is parsed in place (zero copy).
 * - Otherwise it is appended to an owned store that grows geometrically, so data arriving in
 *   tiny pieces costs amortized O(1) per byte.
 * - While the parser waits for a known number of bytes (a large bulk body), chunks are only
 *   collected in a list and joined once, when enough has arrived: never one copy per chunk,
 *   never an allocation sized by a declared (untrusted) length.
 * - Bytes once written to a store are never overwritten (stores are append-only and abandoned
 *   when consumed), so subarrays handed out earlier stay intact while the caller holds them.
 *
 * Subclasses keep absolute offsets into `store`; `rebase(delta)` tells them the live region
 * was moved down by `delta` bytes.
 */
import { RespProtocolError } from './errors.js';

const EMPTY = Buffer.alloc(0);
const MAX_SLACK = 16 * 1024 * 1024;

export abstract class InputBuffer {
  protected store: Buffer = EMPTY;
  /** True when `store` is ours, so bytes past `end` may be written. */
  protected owned = false;
  /** First byte not yet consumed (start of the partial frame, if any). */
  protected start = 0;
  /** End of valid data in `store`. */
  protected end = 0;
  /** Bytes (counted from `start`) needed before parsing can make progress. */
  protected need = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  feed(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    const live = this.end - this.start;
    if (live === 0 && this.pendingBytes === 0) {
      const delta = this.start;
      this.store = chunk;
      this.owned = false;
      this.start = 0;
      this.end = n;
      this.need = 0;
      if (delta !== 0) this.rebase(delta);
      return;
    }
    if (live + this.pendingBytes + n < this.need) {
      this.pending.push(chunk);
      this.pendingBytes += n;
      return;
    }
    if (this.owned && this.store.length - this.end >= this.pendingBytes + n) {
      for (const p of this.pending) this.end += p.copy(this.store, this.end);
      this.end += chunk.copy(this.store, this.end);
      if (this.pendingBytes !== 0) {
        this.pending = [];
        this.pendingBytes = 0;
      }
      return;
    }
    const total = live + this.pendingBytes + n;
    // Exact size when joining a mostly collected body; geometric slack otherwise, so a
    // frame growing by small pieces costs amortized O(1) per byte.
    const cap = this.pendingBytes > live ? total : total + Math.min(total >> 1, MAX_SLACK);
    const next = Buffer.allocUnsafe(cap);
    this.store.copy(next, 0, this.start, this.end);
    let off = live;
    for (const p of this.pending) {
      p.copy(next, off);
      off += p.length;
    }
    chunk.copy(next, off);
    const delta = this.start;
    this.store = next;
    this.owned = true;
    this.start = 0;
    this.end = total;
    this.pending = [];
    this.pendingBytes = 0;
    this.rebase(delta);
  }

  /** Bytes held and not yet returned as parsed frames. */
  bufferedBytes(): number {
    return this.end - this.start + this.pendingBytes;
  }

  /** True when a parse attempt cannot progress (collected chunks still short of `need`). */
  protected starved(): boolean {
    return this.pendingBytes !== 0 || this.end - this.start < this.need;
  }

  /** Drops the store once everything is consumed, so a large buffer is not retained. */
  protected releaseIfEmpty(): void {
    if (this.start === this.end && this.pendingBytes === 0) {
      const delta = this.start;
      this.store = EMPTY;
      this.owned = false;
      this.start = 0;
      this.end = 0;
      this.need = 0;
      if (delta !== 0) this.rebase(delta);
    }
  }

  /** Value of the last readInt(). */
  protected num = 0;

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
