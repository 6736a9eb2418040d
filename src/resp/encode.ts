/**
 * Encoding: commands (multibulk), reply helpers for hot paths, and RespValue → bytes with
 * RESP3 → RESP2 down-conversion the way Redis does it for a RESP2 client.
 * Constant replies are shared Buffers: callers must never write into them.
 */
import type { RespValue } from './types.js';

const CRLF = '\r\n';

export const OK: Buffer = Buffer.from('+OK\r\n');
export const PONG: Buffer = Buffer.from('+PONG\r\n');
export const QUEUED: Buffer = Buffer.from('+QUEUED\r\n');
export const NULL_BULK: Buffer = Buffer.from('$-1\r\n');
export const NULL_ARRAY: Buffer = Buffer.from('*-1\r\n');
export const RESP3_NULL: Buffer = Buffer.from('_\r\n');
export const EMPTY_ARRAY: Buffer = Buffer.from('*0\r\n');

const SMALL = 1024;
const intCache: Buffer[] = [];
const headerCache: Buffer[] = [];
for (let i = 0; i < SMALL; i++) {
  intCache.push(Buffer.from(`:${i}\r\n`));
  headerCache.push(Buffer.from(`*${i}\r\n`));
}

/** Removes CR and LF, which cannot appear inside a simple string or error line. */
function oneLine(s: string): string {
  return s.indexOf('\r') < 0 && s.indexOf('\n') < 0 ? s : s.replace(/[\r\n]+/g, ' ');
}

export function simpleString(s: string): Buffer {
  return Buffer.from(`+${oneLine(s)}${CRLF}`);
}

/** `-<msg>\r\n`; CR/LF inside msg become spaces. msg should start with an error code (ERR, WRONGTYPE...). */
export function errorReply(msg: string): Buffer {
  return Buffer.from(`-${oneLine(msg)}${CRLF}`);
}

export function integerReply(n: number | bigint): Buffer {
  if (typeof n === 'number') {
    if (n >= 0 && n < SMALL && Number.isInteger(n)) return intCache[n];
    if (!Number.isSafeInteger(n)) throw new RangeError(`integer reply must be an integer, got ${n}`);
  }
  return Buffer.from(`:${n}${CRLF}`, 'latin1');
}

export function arrayHeader(n: number): Buffer {
  if (n >= 0 && n < SMALL) return headerCache[n];
  if (n === -1) return NULL_ARRAY;
  return Buffer.from(`*${n}${CRLF}`, 'latin1');
}

export function bulkReply(b: Buffer | string | null): Buffer {
  if (b === null) return NULL_BULK;
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = String(body.length);
  const out = Buffer.allocUnsafe(1 + len.length + 2 + body.length + 2);
  out[0] = 36;
  let p = 1 + out.write(len, 1, 'latin1');
  out[p++] = 13;
  out[p++] = 10;
  p += body.copy(out, p);
  out[p++] = 13;
  out[p] = 10;
  return out;
}

/** Multibulk request: *N\r\n$len\r\narg\r\n... (numbers are written in decimal). */
export function encodeCommand(args: ReadonlyArray<string | Buffer | number>): Buffer {
  const n = args.length;
  const bufs: Buffer[] = new Array(n);
  let total = 1 + String(n).length + 2;
  for (let i = 0; i < n; i++) {
    const a = args[i];
    const b = Buffer.isBuffer(a) ? a : Buffer.from(typeof a === 'number' ? String(a) : a);
    bufs[i] = b;
    total += 1 + String(b.length).length + 2 + b.length + 2;
  }
  const out = Buffer.allocUnsafe(total);
  out[0] = 42;
  let p = 1 + out.write(String(n), 1, 'latin1');
  out[p++] = 13;
  out[p++] = 10;
  for (let i = 0; i < n; i++) {
    const b = bufs[i];
    out[p++] = 36;
    p += out.write(String(b.length), p, 'latin1');
    out[p++] = 13;
    out[p++] = 10;
    p += b.copy(out, p);
    out[p++] = 13;
    out[p++] = 10;
  }
  return out;
}

/** Redis' textual form of a double (inf, -inf, nan, shortest round-trip decimal otherwise). */
export function formatDouble(d: number): string {
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (Number.isNaN(d)) return 'nan';
  if (Object.is(d, -0)) return '-0';
  return String(d);
}

/** Encodes a value for a client speaking `protocol`; RESP3-only types are down-converted for 2. */
export function encodeValue(v: RespValue, protocol: 2 | 3): Buffer {
  const parts: Buffer[] = [];
  writeValue(v, protocol === 3, parts, 0);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

function line(prefix: string, body: string): Buffer {
  return Buffer.from(`${prefix}${oneLine(body)}${CRLF}`);
}

function blob(prefix: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${prefix}${body.length}${CRLF}`), body, Buffer.from(CRLF)]);
}

function writeValue(v: RespValue, r3: boolean, out: Buffer[], depth: number): void {
  if (depth > 512) throw new RangeError('value nested too deeply to encode');
  switch (v.type) {
    case 'simple': out.push(line('+', v.value)); return;
    case 'error': out.push(line('-', v.value)); return;
    case 'integer': out.push(integerReply(v.value)); return;
    case 'bulk': out.push(v.value === null ? (r3 ? RESP3_NULL : NULL_BULK) : blob('$', v.value)); return;
    case 'null': out.push(r3 ? RESP3_NULL : NULL_BULK); return;
    case 'double': out.push(r3 ? line(',', formatDouble(v.value)) : blob('$', Buffer.from(formatDouble(v.value)))); return;
    case 'boolean': out.push(r3 ? Buffer.from(v.value ? '#t\r\n' : '#f\r\n') : intCache[v.value ? 1 : 0]); return;
    case 'bignum': out.push(r3 ? line('(', v.value.toString()) : blob('$', Buffer.from(v.value.toString()))); return;
    case 'verbatim': {
      if (!r3) { out.push(blob('$', v.value)); return; }
      const fmt = Buffer.from(v.format.padEnd(3, ' ').slice(0, 3), 'latin1');
      out.push(blob('=', Buffer.concat([fmt, Buffer.from(':'), v.value])));
      return;
    }
    case 'bulkError': out.push(r3 ? blob('!', Buffer.from(v.value)) : line('-', v.value)); return;
    case 'array':
      if (v.value === null) { out.push(r3 ? RESP3_NULL : NULL_ARRAY); return; }
      aggregate('*', v.value, r3, out, depth);
      return;
    case 'set': aggregate(r3 ? '~' : '*', v.value, r3, out, depth); return;
    case 'push': aggregate(r3 ? '>' : '*', v.value, r3, out, depth); return;
    case 'map':
      out.push(Buffer.from(r3 ? `%${v.value.length}${CRLF}` : `*${v.value.length * 2}${CRLF}`));
      for (const [k, val] of v.value) {
        writeValue(k, r3, out, depth + 1);
        writeValue(val, r3, out, depth + 1);
      }
      return;
    default: {
      const never: never = v;
      throw new TypeError(`unknown RESP value ${JSON.stringify(never)}`);
    }
  }
}

function aggregate(prefix: string, items: RespValue[], r3: boolean, out: Buffer[], depth: number): void {
  out.push(prefix === '*' ? arrayHeader(items.length) : Buffer.from(`${prefix}${items.length}${CRLF}`));
  for (const it of items) writeValue(it, r3, out, depth + 1);
}
