/**
 * Full decoding of reply frames into RespValue (slow paths: clients, health checks, merging
 * fan-out replies). Attributes (`|`) are parsed and dropped; the annotated value is returned.
 */
import { DEFAULT_LIMITS, RespProtocolError, type ParserLimits } from './errors.js';
import { ReplyScanner } from './reply-scanner.js';
import type { RespValue } from './types.js';

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer, readonly maxDepth: number) {}

  fail(what: string): never {
    throw new RespProtocolError(`Protocol error: ${what}`);
  }

  /** Line from pos to CRLF (exclusive); advances past CRLF. */
  line(): [number, number] {
    const s = this.pos;
    const cr = this.buf.indexOf(13, s);
    if (cr < 0 || cr + 1 >= this.buf.length || this.buf[cr + 1] !== 10) this.fail('incomplete or malformed reply line');
    this.pos = cr + 2;
    return [s, cr];
  }

  text(): string {
    const [s, e] = this.line();
    return this.buf.toString('utf8', s, e);
  }

  /** A length/count line: optional '-' and 1..18 digits. */
  int(): number {
    const buf = this.buf;
    let i = this.pos;
    const neg = buf[i] === 45;
    if (neg) i++;
    const digits = i;
    let v = 0;
    while (i < buf.length && buf[i] >= 48 && buf[i] <= 57) v = v * 10 + buf[i++] - 48;
    if (i === digits || i - digits > 18 || buf[i] !== 13 || buf[i + 1] !== 10) {
      this.fail(`invalid length '${buf.toString('latin1', this.pos, Math.min(buf.length, i + 1, this.pos + 30))}'`);
    }
    this.pos = i + 2;
    return neg ? -v : v;
  }

  blob(len: number): Buffer {
    const s = this.pos;
    if (s + len + 2 > this.buf.length || this.buf[s + len] !== 13 || this.buf[s + len + 1] !== 10) this.fail('invalid bulk payload');
    this.pos = s + len + 2;
    return this.buf.subarray(s, s + len);
  }
}

function count(c: Cursor, allowNull: boolean): number {
  const n = c.int();
  if (n < -1 || (n === -1 && !allowNull)) c.fail('invalid multibulk length');
  return n;
}

function items(c: Cursor, n: number, depth: number): RespValue[] {
  const out: RespValue[] = [];
  for (let i = 0; i < n; i++) out.push(value(c, depth));
  return out;
}

function value(c: Cursor, depth: number): RespValue {
  if (depth > c.maxDepth) c.fail('reply nested too deeply');
  if (c.pos >= c.buf.length) c.fail('incomplete reply');
  const t = c.buf[c.pos++];
  switch (t) {
    case 43: return { type: 'simple', value: c.text() };
    case 45: return { type: 'error', value: c.text() };
    case 58: {
      const from = c.pos;
      const [s, e] = c.line();
      if (e - s <= 15) {
        c.pos = from;
        return { type: 'integer', value: c.int() };
      }
      const str = c.buf.toString('latin1', s, e);
      if (!/^-?\d+$/.test(str)) c.fail(`invalid integer '${str}'`);
      const n = Number(str);
      return { type: 'integer', value: Number.isSafeInteger(n) ? n : BigInt(str) };
    }
    case 36: {
      const len = c.int();
      if (len === -1) return { type: 'bulk', value: null };
      if (len < 0) c.fail('invalid bulk length');
      return { type: 'bulk', value: c.blob(len) };
    }
    case 42: {
      const n = count(c, true);
      return { type: 'array', value: n === -1 ? null : items(c, n, depth + 1) };
    }
    case 95: c.line(); return { type: 'null' };
    case 44: {
      const s = c.text();
      const d = s === 'inf' || s === '+inf' ? Infinity : s === '-inf' ? -Infinity : s === 'nan' || s === '-nan' ? NaN : Number(s);
      if (Number.isNaN(d) && s !== 'nan' && s !== '-nan') c.fail(`invalid double '${s}'`);
      return { type: 'double', value: d };
    }
    case 35: {
      const s = c.text();
      if (s !== 't' && s !== 'f') c.fail(`invalid boolean '${s}'`);
      return { type: 'boolean', value: s === 't' };
    }
    case 40: {
      const s = c.text();
      if (!/^-?\d+$/.test(s)) c.fail(`invalid big number '${s}'`);
      return { type: 'bignum', value: BigInt(s) };
    }
    case 33: {
      const len = c.int();
      if (len < 0) c.fail('invalid bulk length');
      return { type: 'bulkError', value: c.blob(len).toString('utf8') };
    }
    case 61: {
      const len = c.int();
      if (len < 4) c.fail('invalid verbatim string length');
      const b = c.blob(len);
      if (b[3] !== 58) c.fail('invalid verbatim string format');
      return { type: 'verbatim', format: b.toString('latin1', 0, 3), value: b.subarray(4) };
    }
    case 37: {
      const n = count(c, false);
      const pairs: Array<[RespValue, RespValue]> = [];
      for (let i = 0; i < n; i++) pairs.push([value(c, depth + 1), value(c, depth + 1)]);
      return { type: 'map', value: pairs };
    }
    case 126: return { type: 'set', value: items(c, count(c, false), depth + 1) };
    case 62: return { type: 'push', value: items(c, count(c, false), depth + 1) };
    case 124: {
      const n = count(c, false);
      items(c, n * 2, depth + 1); // attribute: parsed, dropped
      return value(c, depth);
    }
    default:
      return c.fail(`unexpected reply type '${String.fromCharCode(t)}'`);
  }
}

/** Decodes exactly one complete frame (as returned by ReplyScanner.nextFrame()). */
export function decodeReply(frame: Buffer, maxDepth: number = DEFAULT_LIMITS.maxDepth): RespValue {
  const c = new Cursor(frame, maxDepth);
  const v = value(c, 0);
  if (c.pos !== frame.length) c.fail('trailing bytes after reply');
  return v;
}

/** Streaming decoder for clients and health checkers. Bulk values are subarrays of received data. */
export class ReplyDecoder {
  private readonly scanner: ReplyScanner;
  private readonly maxDepth: number;

  constructor(limits?: Partial<ParserLimits>) {
    this.scanner = new ReplyScanner(limits);
    this.maxDepth = limits?.maxDepth ?? DEFAULT_LIMITS.maxDepth;
  }

  feed(chunk: Buffer): void { this.scanner.feed(chunk); }

  next(): RespValue | undefined {
    const frame = this.scanner.nextFrame();
    return frame === null ? undefined : decodeReply(frame, this.maxDepth);
  }

  bufferedBytes(): number { return this.scanner.bufferedBytes(); }
}
