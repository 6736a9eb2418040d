/**
 * Downstream request parser (the proxy's hot path): RESP2 multibulk requests and inline
 * commands, split across any chunk boundary, many pipelined per chunk.
 *
 * Usage: feed(chunk); while (p.parseNext()) { use p.argc / p.arg(i) / p.raw() ... }
 * Arguments are described by offsets into `buffer` (no copies, no per-command objects).
 * Parsing is resumable per argument, so a command with many arguments arriving in small
 * pieces is not re-parsed from its start on every chunk.
 * After a RespProtocolError the parser is unusable (every later call rethrows): the client
 * must be answered with `-ERR <message>` and disconnected.
 */
import {
  ERR_BIG_INLINE, ERR_EXPECTED_CRLF, ERR_INVALID_BULK_LEN, ERR_INVALID_MULTIBULK_LEN, ERR_REQUEST_TOO_BIG,
  ERR_INLINE_NUL, ERR_UNBALANCED_QUOTES, expectedDollar, resolveLimits, RespProtocolError, type ParserLimits,
} from './errors.js';
import { InputBuffer } from './input-buffer.js';
import { splitInlineArgs } from './inline.js';
import { encodeCommand } from './encode.js';
import { lowerName } from './command-name.js';

const EMPTY = Buffer.alloc(0);

export class RequestParser extends InputBuffer {
  private limits: ParserLimits;
  private cur: Buffer = EMPTY;
  private cmdStart = 0;
  private cmdEnd = 0;
  private isInline = false;
  /** Number of arguments of the current command. */
  argc = 0;
  private starts = new Int32Array(16);
  private ends = new Int32Array(16);
  // Resumable state of a partially received multibulk command.
  private expected = 0;
  private parsed = 0;
  private pos = 0;
  /** Where the search for an inline command's LF resumes. */
  private lineScan = 0;
  private failure: RespProtocolError | null = null;

  constructor(limits?: Partial<ParserLimits>) {
    super();
    this.limits = resolveLimits(limits);
  }

  /** Changes limits from the next command on (e.g. tighter ones until a client has authenticated, like Redis). */
  setLimits(limits: Partial<ParserLimits>): void {
    this.limits = resolveLimits({ ...this.limits, ...limits });
  }

  /** Backing buffer the offsets refer to (valid until the next feed()/parseNext()). */
  get buffer(): Buffer { return this.cur; }
  get argStart(): Int32Array { return this.starts; }
  get argEnd(): Int32Array { return this.ends; }
  get inline(): boolean { return this.isInline; }

  /** Bounds of the command's original bytes in `buffer` (allocation-free alternative to raw()). */
  get rawStart(): number { return this.cmdStart; }
  get rawEnd(): number { return this.cmdEnd; }

  /** The command's original bytes (inline commands: re-encoded as multibulk). A subarray, no copy. */
  raw(): Buffer {
    const c = this.cur;
    // One command per read (unpipelined clients): the chunk itself, no new view.
    return this.cmdStart === 0 && this.cmdEnd === c.length ? c : c.subarray(this.cmdStart, this.cmdEnd);
  }
  arg(i: number): Buffer { return this.cur.subarray(this.starts[i], this.ends[i]); }
  argString(i: number): string { return this.cur.toString('utf8', this.starts[i], this.ends[i]); }
  argLength(i: number): number { return this.ends[i] - this.starts[i]; }
  /** Lower-cased command name (ASCII folding, like Redis' command lookup); cached, so repeated names do not allocate. */
  commandName(): string { return this.argc === 0 ? '' : lowerName(this.cur, this.starts[0], this.ends[0]); }

  next(): { args: Buffer[]; raw: Buffer; inline: boolean } | null {
    if (!this.parseNext()) return null;
    const args: Buffer[] = new Array(this.argc);
    for (let i = 0; i < this.argc; i++) args[i] = this.arg(i);
    return { args, raw: this.raw(), inline: this.isInline };
  }

  override feed(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    super.feed(chunk);
  }

  parseNext(): boolean {
    if (this.failure) throw this.failure;
    try {
      return this.parse();
    } catch (e) {
      if (e instanceof RespProtocolError) this.failure = e;
      throw e;
    }
  }

  private parse(): boolean {
    if (this.starved()) return false;
    for (;;) {
      const r = this.step();
      if (r > 0) return true;
      if (r < 0 && !this.refill()) {
        this.releaseIfEmpty();
        return false;
      }
    }
  }

  /** 1: a command is ready; 0: skipped an empty command, go on; -1: incomplete (state saved, `need` set). */
  private step(): number {
    const buf = this.store;
    const end = this.end;
    const lim = this.limits;
    let p: number;
    let idx: number;
    let expected = this.expected;
    const s = this.start;
    if (expected === 0) {
      if (s >= end) return this.wait(0);
      if (buf[s] !== 42) return this.parseInline(buf, s, end);
      p = this.readInt(buf, s + 1, end, ERR_INVALID_MULTIBULK_LEN);
      if (p < 0) return this.wait(0);
      expected = this.num;
      if (expected > lim.maxArrayLength) throw new RespProtocolError(ERR_INVALID_MULTIBULK_LEN);
      if (expected <= 0) { // like Redis: an empty multibulk is skipped
        this.start = p;
        return 0;
      }
      idx = 0;
      this.expected = expected;
    } else {
      p = this.pos;
      idx = this.parsed;
    }
    while (idx < expected) {
      if (p >= end) return this.suspend(p, idx, 0);
      if (buf[p] !== 36) throw expectedDollar(buf[p]);
      const q = this.readInt(buf, p + 1, end, ERR_INVALID_BULK_LEN);
      if (q < 0) return this.suspend(p, idx, 0);
      const len = this.num;
      if (len < 0 || len > lim.maxBulkBytes) throw new RespProtocolError(ERR_INVALID_BULK_LEN);
      const after = q + len + 2;
      if (after - s > lim.maxRequestBytes) throw new RespProtocolError(ERR_REQUEST_TOO_BIG);
      if (after > end) return this.suspend(p, idx, after - s);
      if (buf[after - 2] !== 13 || buf[after - 1] !== 10) throw new RespProtocolError(ERR_EXPECTED_CRLF);
      if (idx === this.starts.length) this.grow();
      this.starts[idx] = q;
      this.ends[idx] = q + len;
      idx++;
      p = after;
    }
    this.expected = 0;
    this.need = 0;
    this.cur = buf;
    this.cmdStart = s;
    this.cmdEnd = p;
    this.argc = expected;
    this.isInline = false;
    this.start = p;
    return 1;
  }

  private wait(need: number): number {
    this.need = need;
    return -1;
  }

  private suspend(p: number, idx: number, need: number): number {
    this.pos = p;
    this.parsed = idx;
    this.need = need;
    return -1;
  }

  private grow(): void {
    const n = this.starts.length * 2;
    const s = new Int32Array(n);
    const e = new Int32Array(n);
    s.set(this.starts);
    e.set(this.ends);
    this.starts = s;
    this.ends = e;
  }

  /** 1: parsed a command, 0: skipped a blank line, -1: incomplete. */
  private parseInline(buf: Buffer, s: number, end: number): number {
    const from = this.lineScan > s ? this.lineScan : s;
    let lf = from < end ? buf.indexOf(10, from) : -1;
    if (lf >= end) lf = -1;
    const max = this.limits.maxInlineBytes;
    if (lf < 0) {
      if (end - s > max) throw new RespProtocolError(ERR_BIG_INLINE);
      this.lineScan = end;
      this.need = 0;
      return -1;
    }
    if (lf - s > max) throw new RespProtocolError(ERR_BIG_INLINE);
    this.lineScan = 0;
    this.need = 0;
    const e = lf > s && buf[lf - 1] === 13 ? lf - 1 : lf;
    // Redis never executes such a line (it searches the newline with strchr and stalls);
    // running a silently truncated command would be worse.
    for (let i = s; i < e; i++) if (buf[i] === 0) throw new RespProtocolError(ERR_INLINE_NUL);
    const args = splitInlineArgs(buf, s, e);
    if (args === null) throw new RespProtocolError(ERR_UNBALANCED_QUOTES);
    this.start = lf + 1;
    if (args.length === 0) return 0;
    const enc = encodeCommand(args);
    // Walk the encoding we just produced to fill the offsets.
    while (this.starts.length < args.length) this.grow();
    let p = enc.indexOf(10) + 1;
    for (let i = 0; i < args.length; i++) {
      const hdrEnd = enc.indexOf(10, p) + 1;
      this.starts[i] = hdrEnd;
      this.ends[i] = hdrEnd + args[i].length;
      p = hdrEnd + args[i].length + 2;
    }
    this.cur = enc;
    this.cmdStart = 0;
    this.cmdEnd = enc.length;
    this.argc = args.length;
    this.isInline = true;
    return 1;
  }

  protected rebase(delta: number): void {
    if (this.expected > 0) {
      this.pos -= delta;
      for (let i = 0; i < this.parsed; i++) {
        this.starts[i] -= delta;
        this.ends[i] -= delta;
      }
    }
    if (this.lineScan > 0) this.lineScan = Math.max(0, this.lineScan - delta);
  }
}
