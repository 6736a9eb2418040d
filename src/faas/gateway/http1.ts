/**
 * Just enough HTTP/1.1 for the forwarding path, working on the received bytes: find the end
 * of a head, validate it, read the few headers that decide routing and framing, and record
 * which header lines to forward (as byte ranges, so heads are copied, never re-encoded).
 * Chunked bodies are followed in chunked.ts.
 */

export const MAX_HEAD_BYTES = 64 * 1024;

/** Body framing: a length (0 = none), `chunked`, or (responses only) until the connection closes. */
export const BODY_CHUNKED = -1;
export const BODY_UNTIL_CLOSE = -2;

/** A parsed request head; one object per connection, refilled for each request. */
export interface RequestHead {
  /** Common methods are shared constant strings (no string built per request). */
  method: string;
  /** Index of the space after the method. */
  methodEnd: number;
  /** The request target is buf[targetStart..targetEnd). */
  targetStart: number;
  targetEnd: number;
  /** Content length, BODY_CHUNKED, or 0. */
  body: number;
  /** Client asked to close after this exchange (Connection: close, or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** Byte ranges [start, end, start, end, ...] of the header lines to forward. */
  keep: number[];
  callId: string;
  /** The Host value is buf[hostStart..hostEnd) (empty when none). */
  hostStart: number;
  hostEnd: number;
  forwardedFor: string;
  /** The Authorization value is buf[authStart..authEnd) (empty when none). */
  authStart: number;
  authEnd: number;
}

export function newRequestHead(): RequestHead {
  return {
    method: '', methodEnd: 0, targetStart: 0, targetEnd: 0, body: 0, close: false, keep: [], callId: '',
    hostStart: 0, hostEnd: 0, forwardedFor: '', authStart: 0, authEnd: 0,
  };
}

/** A parsed response head; one object per connection, refilled for each response. */
export interface ResponseHead {
  status: number;
  body: number;
  /** The instance will close this connection after the response. */
  close: boolean;
  /** Byte ranges of the status line and header lines to forward. */
  keep: number[];
}

export function newResponseHead(): ResponseHead {
  return { status: 0, body: 0, close: false, keep: [] };
}

export class HeadError extends Error {}

/**
 * Index just past the CRLFCRLF ending a head in buf (searching from `from`), or -1.
 * A byte loop: heads end within a few hundred bytes, where Buffer#indexOf's call into C++
 * costs more than the search.
 */
export function findHeadEnd(buf: Buffer, from: number): number {
  const n = buf.length;
  for (let i = from < 3 ? 3 : from; i < n; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

/** RFC 9110 token characters. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN[c] = 1;
for (let c = 97; c <= 122; c++) TOKEN[c] = 1;

/** Headers the gateway reads or rewrites, by id. */
const enum H {
  ContentLength, TransferEncoding, Connection, KeepAlive, ProxyConnection, XCallId, Host, XForwardedFor,
  Te, Upgrade, XStartTime, XDurationSeconds, Authorization,
}
const NAMES: [string, H][] = [
  ['content-length', H.ContentLength], ['transfer-encoding', H.TransferEncoding], ['connection', H.Connection],
  ['keep-alive', H.KeepAlive], ['proxy-connection', H.ProxyConnection], ['x-call-id', H.XCallId], ['host', H.Host],
  ['x-forwarded-for', H.XForwardedFor], ['te', H.Te], ['upgrade', H.Upgrade], ['x-start-time', H.XStartTime],
  ['x-duration-seconds', H.XDurationSeconds], ['authorization', H.Authorization],
];
/** Candidates by name length: [lower-case bytes, id]. */
const BY_LENGTH: [Buffer, H][][] = [];
for (const [n, id] of NAMES) (BY_LENGTH[n.length] ??= []).push([Buffer.from(n, 'latin1'), id]);

/** The id of the header named buf[start..end) (ASCII case-insensitive), or -1. */
function headerId(buf: Buffer, start: number, end: number): number {
  const cands = BY_LENGTH[end - start];
  if (cands === undefined) return -1;
  outer: for (let k = 0; k < cands.length; k++) {
    const name = cands[k][0];
    for (let i = 0; i < name.length; i++) if ((buf[start + i] | 0x20) !== name[i]) continue outer;
    return cands[k][1];
  }
  return -1;
}

type HeaderHandler = (id: number, buf: Buffer, valueStart: number, valueEnd: number) => boolean;

/**
 * Walks the header lines of buf[start..end) (end = just past CRLFCRLF), validating each
 * (token name, colon, no control characters in the value, CRLF endings). For headers the
 * gateway knows it calls onHeader with the trimmed value's range; a true result drops the
 * line from `keep`. The first kept run starts at runFrom (before start: a status line to keep).
 */
function walkHeaders(buf: Buffer, start: number, end: number, keep: number[], onHeader: HeaderHandler, runFrom: number): void {
  const last = end - 2; // start of the empty line's CRLF
  let runStart = runFrom;
  let p = start;
  while (p < last) {
    const lineStart = p;
    while (TOKEN[buf[p]] === 1) p++;
    if (p === lineStart) throw new HeadError(buf[p] === 32 || buf[p] === 9 ? 'obsolete header folding is not accepted' : 'invalid header name');
    if (buf[p] !== 58) throw new HeadError('invalid header name');
    const nameEnd = p++;
    for (;;) {
      const c = buf[p];
      if (c === 13) break;
      if ((c < 32 && c !== 9) || c === 127) throw new HeadError('control character in header value');
      p++;
    }
    if (buf[p + 1] !== 10) throw new HeadError('bare CR in header');
    let ve = p;
    p += 2;
    const id = headerId(buf, lineStart, nameEnd);
    if (id < 0) continue;
    let vs = nameEnd + 1;
    while (vs < ve && (buf[vs] === 32 || buf[vs] === 9)) vs++;
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
    if (onHeader(id, buf, vs, ve)) {
      if (lineStart > runStart) keep.push(runStart, lineStart);
      runStart = p;
    }
  }
  if (last > runStart) keep.push(runStart, last);
}

function contentLength(buf: Buffer, vs: number, ve: number, previous: number): number {
  let n = 0;
  if (ve === vs || ve - vs > 15) throw new HeadError(`invalid Content-Length "${buf.toString('latin1', vs, Math.min(ve, vs + 40))}"`);
  for (let i = vs; i < ve; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) throw new HeadError(`invalid Content-Length "${buf.toString('latin1', vs, Math.min(ve, vs + 40))}"`);
    n = n * 10 + d;
  }
  if (previous >= 0 && previous !== n) throw new HeadError('conflicting Content-Length headers');
  return n;
}

const KEEP_ALIVE = Buffer.from('keep-alive', 'latin1');
const CLOSE = Buffer.from('close', 'latin1');
const CHUNKED = Buffer.from('chunked', 'latin1');

function equalsLower(buf: Buffer, vs: number, ve: number, word: Buffer): boolean {
  if (ve - vs !== word.length) return false;
  for (let i = 0; i < word.length; i++) if ((buf[vs + i] | 0x20) !== word[i]) return false;
  return true;
}

/** Connection header value: 1 close, 2 keep-alive, 0 neither. */
function connectionValue(buf: Buffer, vs: number, ve: number): number {
  if (equalsLower(buf, vs, ve, KEEP_ALIVE)) return 2;
  if (equalsLower(buf, vs, ve, CLOSE)) return 1;
  const tokens = buf.toString('latin1', vs, ve).toLowerCase().split(',').map((t) => t.trim());
  return tokens.includes('close') ? 1 : tokens.includes('keep-alive') ? 2 : 0;
}

// Per-parse state, kept outside the handlers so a parse allocates no closure.
let reqLength = -1;
let reqChunked = false;
let reqClose = false;
let reqHttp11 = true;
let reqCallId = '';
let reqHostStart = 0;
let reqHostEnd = 0;
let reqForwardedFor = '';
let reqAuthStart = 0;
let reqAuthEnd = 0;

function onRequestHeader(id: number, buf: Buffer, vs: number, ve: number): boolean {
  switch (id) {
    case H.ContentLength: reqLength = contentLength(buf, vs, ve, reqLength); return false;
    case H.TransferEncoding:
      if (!equalsLower(buf, vs, ve, CHUNKED)) throw new HeadError(`unsupported Transfer-Encoding "${buf.toString('latin1', vs, Math.min(ve, vs + 40))}"`);
      reqChunked = true;
      return false;
    case H.Connection: {
      const v = connectionValue(buf, vs, ve);
      if (v === 1) reqClose = true;
      else if (v === 2 && !reqHttp11) reqClose = false;
      return true;
    }
    case H.XCallId: reqCallId = buf.toString('latin1', vs, ve); return true;
    case H.Host: reqHostStart = vs; reqHostEnd = ve; return false;
    case H.XForwardedFor: reqForwardedFor = buf.toString('latin1', vs, ve); return true;
    case H.Authorization: reqAuthStart = vs; reqAuthEnd = ve; return false;
    case H.XDurationSeconds: return false;
    default: return true; // keep-alive, proxy-connection, te, upgrade (hop-by-hop), x-start-time (ours)
  }
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];

/** The method in buf[0..end) as a string; the common ones without building a string. */
function methodName(buf: Buffer, end: number): string {
  for (let k = 0; k < METHODS.length; k++) {
    const m = METHODS[k];
    if (m.length !== end) continue;
    let i = 0;
    while (i < end && buf[i] === m.charCodeAt(i)) i++;
    if (i === end) return m;
  }
  return buf.toString('latin1', 0, end);
}

/** Parses the request head in buf[0..end) (end = just past CRLFCRLF) into `out`. Throws HeadError. */
export function parseRequestHead(buf: Buffer, end: number, out: RequestHead): void {
  let p = 0;
  while (TOKEN[buf[p]] === 1) p++;
  if (p === 0 || buf[p] !== 32) throw new HeadError('malformed request line');
  const methodEnd = p;
  const targetStart = ++p;
  while (buf[p] > 32 && buf[p] !== 127) p++;
  if (p === targetStart || buf[p] !== 32) throw new HeadError('malformed request target');
  const targetEnd = p;
  p++;
  // "HTTP/1.1\r\n" or "HTTP/1.0\r\n"
  if (buf[p] !== 72 || buf[p + 1] !== 84 || buf[p + 2] !== 84 || buf[p + 3] !== 80 || buf[p + 4] !== 47 ||
      buf[p + 5] !== 49 || buf[p + 6] !== 46 || (buf[p + 7] !== 49 && buf[p + 7] !== 48) || buf[p + 8] !== 13 || buf[p + 9] !== 10) {
    throw new HeadError('unsupported protocol (HTTP/1.1 or HTTP/1.0 expected)');
  }
  reqHttp11 = buf[p + 7] === 49;
  reqLength = -1;
  reqChunked = false;
  reqClose = !reqHttp11;
  reqCallId = reqForwardedFor = '';
  reqHostStart = reqHostEnd = reqAuthStart = reqAuthEnd = 0;
  const keep = out.keep;
  keep.length = 0;
  walkHeaders(buf, p + 10, end, keep, onRequestHeader, p + 10);
  if (reqChunked && reqLength >= 0) throw new HeadError('both Content-Length and Transfer-Encoding');
  out.method = methodName(buf, methodEnd);
  out.methodEnd = methodEnd;
  out.targetStart = targetStart;
  out.targetEnd = targetEnd;
  out.body = reqChunked ? BODY_CHUNKED : Math.max(reqLength, 0);
  out.close = reqClose;
  out.callId = reqCallId;
  out.hostStart = reqHostStart;
  out.hostEnd = reqHostEnd;
  out.forwardedFor = reqForwardedFor;
  out.authStart = reqAuthStart;
  out.authEnd = reqAuthEnd;
}

let respLength = -1;
let respChunked = false;
let respClose = false;
let respHttp11 = true;
let respDropConnection = false;

function onResponseHeader(id: number, buf: Buffer, vs: number, ve: number): boolean {
  switch (id) {
    case H.ContentLength: respLength = contentLength(buf, vs, ve, respLength); return false;
    case H.TransferEncoding:
      respChunked = ve - vs >= 7 && equalsLower(buf, ve - 7, ve, CHUNKED);
      return false;
    case H.Connection: {
      const v = connectionValue(buf, vs, ve);
      if (v === 1) { respClose = true; return true; }
      if (v === 2 && !respHttp11) respClose = false;
      return respDropConnection;
    }
    case H.KeepAlive: case H.ProxyConnection: return respDropConnection;
    case H.XCallId: case H.XStartTime: case H.XDurationSeconds: return true; // the gateway sets these
    default: return false;
  }
}

/**
 * Parses a response head from an instance into `out`; headRequest: no body follows (a HEAD
 * request). dropConnection: also drop the instance's Connection/Keep-Alive lines (the gateway
 * will close the client connection and says so itself).
 */
export function parseResponseHead(buf: Buffer, end: number, headRequest: boolean, dropConnection: boolean, out: ResponseHead): void {
  if (end < 16 || buf[0] !== 72 || buf[4] !== 47 || buf[5] !== 49 || buf[6] !== 46 || buf[8] !== 32) {
    throw new HeadError('malformed status line');
  }
  const d0 = buf[9] - 48;
  const d1 = buf[10] - 48;
  const d2 = buf[11] - 48;
  if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) throw new HeadError('malformed status code');
  const status = d0 * 100 + d1 * 10 + d2;
  let lineEnd = 12;
  while (lineEnd < end && buf[lineEnd] !== 10) lineEnd++;
  if (lineEnd >= end || buf[lineEnd - 1] !== 13) throw new HeadError('malformed status line');
  respHttp11 = buf[7] === 49;
  respLength = -1;
  respChunked = false;
  respClose = !respHttp11;
  respDropConnection = dropConnection;
  const keep = out.keep;
  keep.length = 0;
  walkHeaders(buf, lineEnd + 1, end, keep, onResponseHeader, 0); // the status line starts the first run
  let body: number;
  if (headRequest || status < 200 || status === 204 || status === 304) body = 0;
  else if (respChunked) body = BODY_CHUNKED;
  else if (respLength >= 0) body = respLength;
  else body = BODY_UNTIL_CLOSE;
  out.status = status;
  out.body = body;
  out.close = respClose;
}
