/**
 * Just enough HTTP/1.1 for the forwarding path: find the end of a head, read the few
 * headers that decide framing and routing, and track chunked bodies without decoding them.
 * Heads are handled as latin1 strings (one byte = one char), so offsets equal byte offsets.
 */

export const MAX_HEAD_BYTES = 64 * 1024;

/** Body framing: a length (0 = none), `chunked`, or (responses only) until the connection closes. */
export const BODY_CHUNKED = -1;
export const BODY_UNTIL_CLOSE = -2;

export interface RequestHead {
  method: string;
  target: string;
  /** HTTP/1.1 → true; HTTP/1.0 → false. */
  http11: boolean;
  /** Content length, BODY_CHUNKED, or 0. */
  body: number;
  /** Client asked to close after this exchange (Connection: close, or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** Header block (every line with its CRLF) without the lines we re-emit ourselves. */
  headers: string;
  callId: string;
  host: string;
  forwardedFor: string;
  expectContinue: boolean;
  authorization: string;
}

export interface ResponseHead {
  status: number;
  statusLine: string;
  body: number;
  close: boolean;
  headers: string;
}

export class HeadError extends Error {}

/** Index just past the CRLFCRLF ending a head in buf (searching from `from`), or -1. */
export function findHeadEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf('\r\n\r\n', from < 3 ? 0 : from - 3, 'latin1');
  return i < 0 ? -1 : i + 4;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Walks header lines from `start` in `head` (which ends with CRLFCRLF), calling `onHeader`
 * for the headers whose lower-cased name is interesting; returns the kept header block.
 * Lines for which onHeader returns true are dropped from the block.
 */
function walkHeaders(head: string, start: number, onHeader: (name: string, value: string) => boolean): string {
  let kept = '';
  let runStart = start;
  let pos = start;
  const end = head.length - 2; // the final empty line's CRLF
  while (pos < end) {
    const eol = head.indexOf('\r\n', pos);
    if (eol < 0 || eol > end) throw new HeadError('malformed header line');
    const c0 = head.charCodeAt(pos);
    if (c0 === 32 || c0 === 9) throw new HeadError('obsolete header folding is not accepted');
    const colon = head.indexOf(':', pos);
    if (colon < 0 || colon > eol || colon === pos) throw new HeadError('header line without a name');
    const nameLen = colon - pos;
    if (head.indexOf('\n', pos) < eol || head.indexOf('\r', pos) < eol) throw new HeadError('bare CR or LF in header');
    const name = head.slice(pos, colon);
    if (!TOKEN.test(name)) throw new HeadError(`invalid header name "${name.slice(0, 40)}"`);
    let drop = false;
    if (INTERESTING_LENGTHS[nameLen] === 1) {
      const lower = name.toLowerCase();
      if (INTERESTING.has(lower)) drop = onHeader(lower, head.slice(colon + 1, eol).trim());
    }
    if (drop) {
      if (pos > runStart) kept += head.slice(runStart, pos);
      runStart = eol + 2;
    }
    pos = eol + 2;
  }
  if (runStart === start) return head.slice(start, end);
  return runStart < end ? kept + head.slice(runStart, end) : kept;
}

const INTERESTING = new Set([
  'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'x-call-id',
  'host', 'x-forwarded-for', 'expect', 'authorization', 'te', 'upgrade', 'x-start-time', 'x-duration-seconds',
]);
const INTERESTING_LENGTHS: number[] = [];
for (const n of INTERESTING) INTERESTING_LENGTHS[n.length] = 1;

function contentLength(value: string, previous: number): number {
  if (!/^\d{1,15}$/.test(value)) throw new HeadError(`invalid Content-Length "${value.slice(0, 40)}"`);
  const n = Number(value);
  if (previous >= 0 && previous !== n) throw new HeadError('conflicting Content-Length headers');
  return n;
}

function hasToken(value: string, token: string): boolean {
  const v = value.toLowerCase();
  if (v === token) return true;
  return v.split(',').some((p) => p.trim() === token);
}

/** Parses a request head (`head` = latin1 text up to and including CRLFCRLF). */
export function parseRequestHead(head: string): RequestHead {
  const lineEnd = head.indexOf('\r\n');
  const sp1 = head.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : head.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || sp2 > lineEnd) throw new HeadError('malformed request line');
  const method = head.slice(0, sp1);
  const target = head.slice(sp1 + 1, sp2);
  const version = head.slice(sp2 + 1, lineEnd);
  if (!TOKEN.test(method)) throw new HeadError('invalid method');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw new HeadError(`unsupported protocol "${version.slice(0, 20)}"`);
  if (target.length === 0 || /[\s\x00-\x1f\x7f]/.test(target)) throw new HeadError('invalid request target');
  const http11 = version === 'HTTP/1.1';
  let length = -1;
  let chunked = false;
  let close = !http11;
  let callId = '';
  let host = '';
  let forwardedFor = '';
  let expectContinue = false;
  let authorization = '';
  const headers = walkHeaders(head, lineEnd + 2, (name, value) => {
    switch (name) {
      case 'content-length': length = contentLength(value, length); return false;
      case 'transfer-encoding':
        if (value.toLowerCase() !== 'chunked') throw new HeadError(`unsupported Transfer-Encoding "${value.slice(0, 40)}"`);
        chunked = true; return false;
      case 'connection':
        if (hasToken(value, 'close')) close = true;
        else if (!http11 && hasToken(value, 'keep-alive')) close = false;
        return true;
      case 'x-call-id': callId = value; return true;
      case 'host': host = value; return false;
      case 'x-forwarded-for': forwardedFor = value; return true;
      case 'expect': expectContinue = value.toLowerCase() === '100-continue'; return false;
      case 'authorization': authorization = value; return false;
      case 'x-start-time': return true;
      default: return true; // keep-alive, proxy-connection, te, upgrade: hop-by-hop
    }
  });
  if (chunked && length >= 0) throw new HeadError('both Content-Length and Transfer-Encoding');
  return {
    method, target, http11, body: chunked ? BODY_CHUNKED : Math.max(length, 0), close, headers,
    callId, host, forwardedFor, expectContinue, authorization,
  };
}

/** Parses a response head from an instance; `method` decides whether a body follows. */
export function parseResponseHead(head: string, method: string): ResponseHead {
  const lineEnd = head.indexOf('\r\n');
  if (!head.startsWith('HTTP/1.') || lineEnd < 12) throw new HeadError('malformed status line');
  const status = Number(head.slice(9, 12));
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new HeadError('malformed status code');
  const http11 = head.charCodeAt(7) === 49;
  let length = -1;
  let chunked = false;
  let close = !http11;
  const headers = walkHeaders(head, lineEnd + 2, (name, value) => {
    switch (name) {
      case 'content-length': length = contentLength(value, length); return false;
      case 'transfer-encoding': chunked = value.toLowerCase().endsWith('chunked'); return false;
      case 'connection':
        if (hasToken(value, 'close')) close = true;
        else if (!http11 && hasToken(value, 'keep-alive')) close = false;
        return true;
      case 'x-call-id': case 'x-start-time': case 'x-duration-seconds': case 'keep-alive': case 'proxy-connection': return true;
      default: return false;
    }
  });
  let body: number;
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) body = 0;
  else if (chunked) body = BODY_CHUNKED;
  else if (length >= 0) body = length;
  else body = BODY_UNTIL_CLOSE;
  return { status, statusLine: head.slice(0, lineEnd + 2), body, close, headers };
}

const enum ChunkState { Size, SizeExt, SizeLf, Data, DataCr, DataLf, Trailer, TrailerLf, TrailerLine, TrailerLineLf }

/**
 * Follows chunked framing byte by byte (sizes, data, CRLFs, trailers) without copying, so
 * the raw bytes can be passed through untouched while we learn where the message ends.
 */
export class ChunkedTracker {
  private state = ChunkState.Size;
  private size = 0;
  private digits = 0;
  private remaining = 0;

  reset(): void { this.state = ChunkState.Size; this.size = 0; this.digits = 0; this.remaining = 0; }

  /** Consumes buf[start..end); returns the index just past the message end, or -1 if not yet. Throws on bad framing. */
  feed(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case ChunkState.Data: {
          const take = Math.min(this.remaining, end - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = ChunkState.DataCr;
          continue;
        }
        case ChunkState.Size: {
          const c = buf[i];
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > 12) throw new HeadError('chunk size too large');
            this.size = this.size * 16 + v;
          } else if (this.digits === 0) {
            throw new HeadError('invalid chunk size');
          } else if (c === 13) {
            this.state = ChunkState.SizeLf;
          } else if (c === 59 || c === 32 || c === 9) {
            this.state = ChunkState.SizeExt;
          } else {
            throw new HeadError('invalid chunk size');
          }
          break;
        }
        case ChunkState.SizeExt:
          if (buf[i] === 13) this.state = ChunkState.SizeLf;
          else if (buf[i] === 10) throw new HeadError('bare LF in chunk extension');
          break;
        case ChunkState.SizeLf:
          if (buf[i] !== 10) throw new HeadError('expected LF after chunk size');
          if (this.size === 0) {
            this.state = ChunkState.Trailer;
          } else {
            this.remaining = this.size;
            this.state = ChunkState.Data;
          }
          this.size = 0;
          this.digits = 0;
          break;
        case ChunkState.DataCr:
          if (buf[i] !== 13) throw new HeadError('expected CRLF after chunk data');
          this.state = ChunkState.DataLf;
          break;
        case ChunkState.DataLf:
          if (buf[i] !== 10) throw new HeadError('expected CRLF after chunk data');
          this.state = ChunkState.Size;
          break;
        case ChunkState.Trailer: // start of a trailer line, or the final CRLF
          this.state = buf[i] === 13 ? ChunkState.TrailerLf : ChunkState.TrailerLine;
          break;
        case ChunkState.TrailerLf:
          if (buf[i] !== 10) throw new HeadError('expected LF ending chunked body');
          this.reset();
          return i + 1;
        case ChunkState.TrailerLine:
          if (buf[i] === 13) this.state = ChunkState.TrailerLineLf;
          break;
        case ChunkState.TrailerLineLf:
          if (buf[i] !== 10) throw new HeadError('expected LF after trailer');
          this.state = ChunkState.Trailer;
          break;
      }
      i++;
    }
    return -1;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
