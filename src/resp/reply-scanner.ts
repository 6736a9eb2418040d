/**
 * Upstream reply framing: finds complete RESP2/RESP3 reply frames without decoding them, so
 * the proxy forwards the original bytes (a subarray of the received chunk when the frame lies
 * within one chunk). Bulk payloads are skipped by length; nesting is tracked with a counter
 * stack (no recursion); scanning resumes where it stopped when more bytes arrive.
 *
 * RESP3 attributes (`|`) are returned together with the value they annotate, as one frame;
 * `lastType` is then the annotated value's type byte. Push frames (`>`) are frames of their own.
 * Streamed strings/aggregates (`$?`, `*?`) are not supported (Redis never sends them).
 * After a RespProtocolError the scanner stays failed (every later call rethrows).
 */
import { ERR_EXPECTED_CRLF, resolveLimits, RespProtocolError, type ParserLimits } from './errors.js';
import { InputBuffer } from './input-buffer.js';

const ERR_BULK = 'Protocol error: invalid bulk length';
const ERR_AGG = 'Protocol error: invalid multibulk length';
const ERR_DEPTH = 'Protocol error: reply nested too deeply';
const ERR_LINE = 'Protocol error: reply line too long';
const ERR_TOO_BIG = 'Protocol error: reply exceeds the maximum size';

export class ReplyScanner extends InputBuffer {
  private readonly limits: ParserLimits;
  /** Type byte of the frame most recently returned (e.g. 0x2d '-' for errors, 0x3e '>' for push). */
  lastType = 0;
  /** Bounds of the last frame found by scan(), in `buffer`. */
  frameStart = 0;
  frameEnd = 0;
  private cur: Buffer = Buffer.alloc(0);
  private failure: RespProtocolError | null = null;
  private inFrame = false;
  private pos = 0;
  private depth = 0;
  /** Remaining element counts of the open containers (grows up to maxDepth). */
  private counts: Float64Array;
  private valueDepth = 0;
  private topType = 0;

  constructor(limits?: Partial<ParserLimits>) {
    super();
    this.limits = resolveLimits(limits);
    this.counts = new Float64Array(Math.min(this.limits.maxDepth, 64) + 1);
  }

  /** Next complete reply's original bytes (a subarray, no copy), or null when incomplete. */
  nextFrame(): Buffer | null {
    if (!this.scan()) return null;
    const c = this.cur;
    return this.frameStart === 0 && this.frameEnd === c.length ? c : c.subarray(this.frameStart, this.frameEnd);
  }

  /**
   * Allocation-free variant of nextFrame() for hot paths: true when a frame is complete; it is
   * then buffer[frameStart, frameEnd) until the next feed()/scan(). Bytes are never overwritten
   * by the scanner afterwards, but copy them if they are kept for long (they pin the chunk).
   */
  scan(): boolean {
    if (this.failure) throw this.failure;
    if (this.starved()) return false;
    try {
      for (;;) {
        if (this.step()) return true;
        if (!this.refill()) {
          this.releaseIfEmpty();
          return false;
        }
      }
    } catch (e) {
      if (e instanceof RespProtocolError) this.failure = e;
      throw e;
    }
  }

  override feed(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    super.feed(chunk);
  }

  /** Buffer holding the frame found by the last successful scan(). */
  get buffer(): Buffer { return this.cur; }

  /** True when a frame is complete; false when incomplete (state saved, `need` set). */
  private step(): boolean {
    const buf = this.store;
    const end = this.end;
    if (!this.inFrame) {
      if (this.start >= end) {
        this.need = 0;
        return false;
      }
      this.inFrame = true;
      this.pos = this.start;
      this.depth = 0;
      this.valueDepth = 0;
    }
    const lim = this.limits;
    let counts = this.counts;
    let p = this.pos;
    let depth = this.depth;
    for (;;) {
      if (p >= end) return this.suspend(p, depth, 0);
      const t = buf[p];
      if (depth === this.valueDepth && (depth === 0 || counts[depth - 1] === 1)) {
        if (t === 124) this.valueDepth = depth + 1;
        else this.topType = t;
      }
      let next: number;
      switch (t) {
        case 43: case 45: case 58: case 44: case 35: case 40: case 95: { // + - : , # ( _
          let i = p + 1;
          while (i < end && buf[i] !== 13) {
            if (buf[i] === 10) throw new RespProtocolError(ERR_EXPECTED_CRLF);
            i++;
          }
          if (i + 1 >= end) {
            if (i - p > lim.maxBulkBytes) throw new RespProtocolError(ERR_LINE);
            return this.suspend(p, depth, 0);
          }
          if (buf[i + 1] !== 10 || (t === 95 && i !== p + 1)) throw new RespProtocolError(ERR_EXPECTED_CRLF);
          next = i + 2;
          break;
        }
        case 36: case 33: case 61: { // $ ! =
          const q = this.readInt(buf, p + 1, end, ERR_BULK);
          if (q < 0) return this.suspend(p, depth, 0);
          const len = this.num;
          if (len < 0) {
            if (len !== -1 || t !== 36) throw new RespProtocolError(ERR_BULK);
            next = q;
            break;
          }
          if (len > lim.maxBulkBytes) throw new RespProtocolError(ERR_BULK);
          next = q + len + 2;
          if (next > end) return this.suspend(p, depth, next - this.start);
          if (buf[next - 2] !== 13 || buf[next - 1] !== 10) throw new RespProtocolError(ERR_EXPECTED_CRLF);
          break;
        }
        case 42: case 37: case 126: case 62: case 124: { // * % ~ > |
          const q = this.readInt(buf, p + 1, end, ERR_AGG);
          if (q < 0) return this.suspend(p, depth, 0);
          let n = this.num;
          if (n < 0) {
            if (n !== -1 || t !== 42) throw new RespProtocolError(ERR_AGG);
            next = q;
            break;
          }
          if (n > lim.maxArrayLength) throw new RespProtocolError(ERR_AGG);
          if (t === 37) n *= 2;
          else if (t === 124) n = n * 2 + 1;
          if (n === 0) {
            next = q;
            break;
          }
          if (depth >= lim.maxDepth) throw new RespProtocolError(ERR_DEPTH);
          if (depth === counts.length) counts = this.growCounts();
          counts[depth++] = n;
          p = q;
          continue;
        }
        default:
          throw new RespProtocolError(`Protocol error: unexpected reply type '${String.fromCharCode(t)}'`);
      }
      p = next;
      // One element done: close every container it completes.
      while (depth > 0 && --counts[depth - 1] === 0) depth--;
      if (depth === 0) {
        this.cur = buf;
        this.frameStart = this.start;
        this.frameEnd = p;
        this.start = p;
        this.inFrame = false;
        this.need = 0;
        this.lastType = this.topType;
        return true;
      }
    }
  }

  private growCounts(): Float64Array {
    const next = new Float64Array(Math.min(this.counts.length * 2, this.limits.maxDepth + 1));
    next.set(this.counts);
    this.counts = next;
    return next;
  }

  private suspend(p: number, depth: number, need: number): false {
    if (need > this.limits.maxRequestBytes || (need === 0 && this.end - this.start > this.limits.maxRequestBytes)) {
      throw new RespProtocolError(ERR_TOO_BIG);
    }
    this.pos = p;
    this.depth = depth;
    this.need = need;
    return false;
  }

  protected rebase(delta: number): void {
    if (this.inFrame) this.pos -= delta;
  }
}
