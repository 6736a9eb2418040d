/**
 * The lean forwarding path for /function/{name}/...: one object per client connection parses
 * each request head once, takes a lease from the activator, rewrites the head for the
 * instance, and passes body bytes both ways untouched (streamed, with backpressure), reading
 * the response head only to find its end and add X-Call-Id / X-Start-Time /
 * X-Duration-Seconds. Any other request hands the connection to the management server.
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Activator, InstanceLease } from '../activator/types.js';
import { ActivationError } from '../activator/types.js';
import type { FunctionMetrics } from './metrics.js';
import { readAcceptedInto } from '../../net-io/socket-read.js';
import {
  BODY_CHUNKED, BODY_UNTIL_CLOSE, HeadError, MAX_HEAD_BYTES, findHeadEnd, newRequestHead, newResponseHead,
  parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead,
} from './http1.js';
import { CALL_ID_LENGTH, callIdString, newCallId, putCallId } from './call-id.js';
import { ChunkedTracker } from './chunked.js';
import { SocketWriter } from '../../net-io/socket-write.js';
import { bytesEqual, digitCount, putAscii, putBytes, putUint } from './head-bytes.js';
import type { UpstreamConn, UpstreamOwner, UpstreamPool } from './upstream-pool.js';

/** What the invocation paths need to know about a deployed function. */
export interface FunctionRoute {
  name: string;
  timeoutMs: number;
  metrics: FunctionMetrics;
}

export interface FastPathContext {
  lookup(name: string): FunctionRoute | undefined;
  activator: Activator;
  pool: UpstreamPool;
  /** null = invocation is open; else checks the Authorization header value. */
  invokeAuth: ((authorization: string) => boolean) | null;
  /** Gives the connection (with bytes already read) to the management HTTP server. */
  handOff(socket: net.Socket, buffered: Buffer): void;
}

const FUNCTION_PREFIX = '/function/';
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
const enum State { Head, Lease, Forward, Closed }

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 413: 'Payload Too Large',
  431: 'Request Header Fields Too Large', 499: 'Client Closed Request', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

const TIME_ORIGIN = performance.timeOrigin;

// Unix time of a performance.now() reading as whole seconds + nanoseconds (set by stamp()):
// two small integers, written as digits without building a string.
let stampSec = 0;
let stampNsec = 0;

function stamp(now: number): void {
  const t = TIME_ORIGIN + now;
  let sec = Math.floor(t / 1000);
  let ns = Math.floor((t - sec * 1000) * 1e6);
  if (ns < 0) { sec--; ns += 1e9; } else if (ns >= 1e9) { sec++; ns -= 1e9; }
  stampSec = sec;
  stampNsec = ns;
}

function nanosString(sec: number, nsec: number): string {
  return String(sec) + String(nsec).padStart(9, '0');
}

/** Unix time in nanoseconds as a decimal string (OpenFaaS' X-Start-Time). */
export function unixNanos(): string {
  stamp(performance.now());
  return nanosString(stampSec, stampNsec);
}

/** Bodies up to this size travel in the same buffer (one syscall) as the head before them. */
const JOIN_LIMIT = 16 * 1024;

const UP_VERSION = ' HTTP/1.1\r\n';
const CALL_ID = 'X-Call-Id: ';
const START_TIME = '\r\nX-Start-Time: ';
const FORWARDED_FOR = '\r\nX-Forwarded-For: ';
const FORWARDED_HOST = '\r\nX-Forwarded-Host: ';
const HOST = '\r\nHost: ';
const DURATION = '\r\nX-Duration-Seconds: ';
const CLOSE_END = '\r\nConnection: close\r\n\r\n';

export class ClientConnection implements UpstreamOwner {
  private state = State.Head;
  private buf: Buffer | null = null;
  private scanFrom = 0;
  private clientEnded = false;

  // the current exchange
  /** The parsed head of the request in progress: `head` while there is one, else null. */
  private req: RequestHead | null = null;
  private readonly head = newRequestHead();
  private fn: FunctionRoute | null = null;
  /** The target past the function name (the instance's path) is headBuf[nameEnd..req.targetEnd). */
  private nameEnd = 0;
  /** The last function name seen on this connection (requests mostly repeat it: no string per request). */
  private lastName = '';
  /** The client's X-Call-Id, or '' when the gateway made one (then it is in callIdBytes). */
  private callId = '';
  private readonly callIdBytes = new Uint8Array(16);
  /** X-Start-Time as Unix seconds + nanoseconds, and its digits (startDigits[0..startLen)). */
  private startSec = 0;
  private startNsec = 0;
  private readonly startDigits = Buffer.alloc(24);
  private startLen = 0;
  private startMs = 0;
  /** When the exchange in flight times out (performance.now() ms); Infinity when none is. */
  deadline = Infinity;
  private lease: InstanceLease | null = null;
  private up: UpstreamConn | null = null;
  /** The client buffer holding the request head (header ranges point into it). */
  private headBuf: Buffer | null = null;
  /** The upstream head has not been written yet (it goes out with the first body bytes). */
  private upHeadPending = false;
  private respHeadBuf: Buffer | null = null;
  /** X-Duration-Seconds in microseconds, taken when the response head arrived. */
  private durationMicros = 0;
  private retried = false;
  private reqRemaining = 0;
  private reqDone = false;
  private reqTracker: ChunkedTracker | null = null;
  private respBuf: Buffer | null = null;
  /** The parsed response head: `respHead` once the final one arrived, else null. */
  private resp: ResponseHead | null = null;
  private readonly respHead = newResponseHead();
  private respHeadSent = false;
  private respRemaining = 0;
  private respTracker: ChunkedTracker | null = null;
  private status = 0;
  private closeAfter = false;
  private readonly remoteAddr: string;

  private readonly onData = (chunk: Buffer) => this.handleData(chunk);
  /** Reads come straight from the handle (socket-read.ts), not as 'data' events. */
  private readonly direct: boolean;
  /** The connection belongs to the management server now. */
  private handedOff = false;
  private readonly onEnd = () => this.handleClientEnd();
  private readonly onClose = () => this.handleClientClose();
  private readonly onError = () => { /* 'close' follows */ };
  private readonly onDrain = () => { if (this.up !== null && this.up.sock.isPaused()) this.up.sock.resume(); };
  /** Writes response heads (and the bodies joined to them) to the client. */
  private readonly out: SocketWriter;
  private readonly onLease = (lease: InstanceLease) => { this.held = null; this.leased(lease); };
  private readonly onLeaseError = (err: unknown) => { this.held = null; this.leaseFailed(err); };
  /** Aborts the activator's hold on this request when the client goes away. */
  private held: AbortController | null = null;

  constructor(private readonly sock: net.Socket, private readonly ctx: FastPathContext) {
    this.remoteAddr = sock.remoteAddress ?? '';
    this.out = new SocketWriter(sock, this.onDrain);
    this.direct = readAcceptedInto(sock, this.onData);
    if (!this.direct) sock.on('data', this.onData);
    sock.on('end', this.onEnd);
    sock.on('close', this.onClose);
    sock.on('error', this.onError);
    sock.on('drain', this.onDrain);
  }

  // ---- client side ----

  private clientPaused = false;
  /** When the bytes now buffered started arriving; when the connection last finished an exchange. */
  private headStartedAt = 0;
  private lastActive = performance.now();

  /**
   * Called periodically: closes a connection idle between requests for longer than idleMs,
   * or one that has not completed a request head within headMs (slowloris).
   */
  checkIdle(now: number, idleMs: number, headMs: number): void {
    if (this.state !== State.Head) return;
    if (this.buf === null ? now - this.lastActive > idleMs : now - this.headStartedAt > headMs) {
      this.state = State.Closed;
      this.sock.destroy();
    }
  }

  private pauseClient(): void { if (!this.clientPaused) { this.clientPaused = true; this.sock.pause(); } }
  private resumeClient(): void { if (this.clientPaused) { this.clientPaused = false; this.sock.resume(); } }

  private handleData(chunk: Buffer): void {
    if (this.state === State.Forward && !this.reqDone) { this.forwardBody(chunk); return; }
    if (this.handedOff) { this.passToManagement(chunk); return; }
    if (this.buf === null) { this.buf = chunk; this.headStartedAt = performance.now(); }
    else this.buf = Buffer.concat([this.buf, chunk]);
    if (this.state === State.Head) this.nextRequest();
    else if (this.buf.length > MAX_HEAD_BYTES) this.pauseClient(); // pipelined bytes wait for this exchange
  }

  private handleClientEnd(): void {
    this.clientEnded = true;
    if (this.state === State.Head) this.sock.end();
    // EOF while the activator still holds the request: the client went away (a closing
    // client sends FIN, and with allowHalfOpen no 'close' follows). Like Knative's activator
    // (Go cancels the request's context on EOF), drop it from the queue rather than run it
    // for nobody; destroy → 'close' → handleClientClose aborts the hold.
    else if (this.state === State.Lease && this.held !== null) this.sock.destroy();
  }

  private handleClientClose(): void {
    if (this.state === State.Closed) return;
    const wasBusy = this.state !== State.Head;
    this.state = State.Closed;
    if (!wasBusy) return;
    if (this.held !== null) { this.held.abort(); this.held = null; }
    if (this.up !== null) { this.ctx.pool.discard(this.up); this.up = null; }
    this.finishAccounting(499);
  }

  private nextRequest(): void {
    const buf = this.buf;
    if (buf === null) { this.resumeClient(); return; }
    const end = findHeadEnd(buf, this.scanFrom);
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) { this.reject(431, 'request head too large'); return; }
      this.scanFrom = buf.length;
      this.resumeClient();
      return;
    }
    this.scanFrom = 0;
    const req = this.head;
    try {
      parseRequestHead(buf, end, req);
    } catch (err) {
      this.reject(400, err instanceof HeadError ? err.message : 'malformed request');
      return;
    }
    const targetEnd = req.targetEnd;
    const nameStart = req.targetStart + FUNCTION_PREFIX.length;
    if (nameStart > targetEnd || !bytesEqual(buf, req.targetStart, nameStart, FUNCTION_PREFIX)) { this.handOff(); return; }
    this.buf = end < buf.length ? buf.subarray(end) : null;
    this.headBuf = buf;
    this.req = req;
    const now = performance.now();
    this.startMs = now;
    stamp(now);
    this.startSec = stampSec;
    this.startNsec = stampNsec;
    this.startLen = putUint(this.startDigits, putUint(this.startDigits, 0, stampSec, 0), stampNsec, 9);
    this.callId = req.callId;
    if (req.callId === '') newCallId(this.callIdBytes);
    this.closeAfter = req.close || this.clientEnded;

    let nameEnd = targetEnd;
    for (let i = nameStart; i < targetEnd; i++) {
      const c = buf[i];
      if (c === 47 /* / */ || c === 63 /* ? */) { nameEnd = i; break; }
    }
    this.nameEnd = nameEnd;
    let name = this.lastName;
    if (!bytesEqual(buf, nameStart, nameEnd, name)) this.lastName = name = buf.toString('latin1', nameStart, nameEnd);
    const fn = this.ctx.lookup(name);
    if (fn === undefined) { this.localReply(404, `function "${name.slice(0, 80)}" not found`); return; }
    if (this.ctx.invokeAuth !== null && !this.ctx.invokeAuth(buf.toString('latin1', req.authStart, req.authEnd))) {
      this.localReply(401, 'invocation requires authentication', 'WWW-Authenticate: Basic realm="trellis"\r\n');
      return;
    }
    this.fn = fn;
    fn.metrics.started();
    this.state = State.Lease;
    this.acquire(name);
  }

  /**
   * A lease at once when an instance has room (the activator's synchronous path: no promise),
   * else held by the activator until one does; a client that goes away meanwhile aborts it.
   */
  private acquire(name: string): void {
    const act = this.ctx.activator;
    if (act.tryAcquire !== undefined) {
      const lease = act.tryAcquire(name);
      if (lease !== undefined) { this.leased(lease); return; }
    }
    this.held = new AbortController();
    act.acquire(name, this.held.signal).then(this.onLease, this.onLeaseError);
  }

  private handOff(): void {
    const buf = this.buf!;
    this.buf = null;
    this.state = State.Closed;
    this.handedOff = true;
    const s = this.sock;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onClose);
    s.removeListener('error', this.onError);
    s.removeListener('drain', this.onDrain);
    s.pause();
    this.clientPaused = true;
    this.ctx.handOff(s, buf);
  }

  /**
   * Bytes read from the handle after the hand-off (socket-read.ts cannot be undone): they go
   * into the socket's own stream, where the management server reads them.
   */
  private passToManagement(chunk: Buffer): void {
    if (!this.sock.push(chunk)) this.sock.pause();
  }

  private leased(lease: InstanceLease): void {
    if (this.state !== State.Lease) { lease.release({ ok: false, durationMs: 0 }); return; }
    this.lease = lease;
    const req = this.req!;
    this.state = State.Forward;
    this.deadline = this.startMs + this.fn!.timeoutMs;
    if (req.body === 0) {
      this.reqDone = true;
      this.connectUpstream(false);
      this.up!.out.write(this.upstreamHead(null, 0));
    } else {
      this.reqRemaining = req.body;
      if (req.body === BODY_CHUNKED) this.reqTracker = new ChunkedTracker();
      const pending = this.buf;
      this.buf = null;
      this.connectUpstream(false);
      this.upHeadPending = true;
      if (pending !== null) this.forwardBody(pending);
      else this.writeUpstreamHead(null, 0);
    }
    if (this.state === State.Forward) this.resumeClient();
  }

  private connectUpstream(fresh: boolean): void {
    const lease = this.lease!;
    this.up = this.ctx.pool.take(lease.host, lease.port, this, fresh);
  }

  /**
   * The request head for the instance, and body[0..len) after it: the request line with the
   * instance's path, the client's header lines but hop-by-hop ones and ours, then X-Call-Id,
   * X-Start-Time, X-Forwarded-For and X-Forwarded-Host (or a Host when the client sent none).
   */
  private upstreamHead(body: Buffer | null, len: number): Buffer {
    const req = this.req!;
    const src = this.headBuf!;
    const lease = this.lease!;
    const keep = req.keep;
    const pathStart = this.nameEnd;
    const pathEnd = req.targetEnd;
    const slash = pathStart === pathEnd || src[pathStart] === 63 /* ? */ ? 1 : 0;
    const ff = req.forwardedFor;
    const addr = this.remoteAddr;
    const hasHost = req.hostEnd > req.hostStart;
    let size = req.methodEnd + 1 + slash + (pathEnd - pathStart) + UP_VERSION.length +
      CALL_ID.length + this.callIdLength() + START_TIME.length + this.startLen +
      FORWARDED_FOR.length + (ff !== '' ? ff.length + 2 : 0) + addr.length +
      (hasHost ? FORWARDED_HOST.length + req.hostEnd - req.hostStart : HOST.length + lease.host.length + 1 + digitCount(lease.port)) +
      4 + len;
    for (let k = 0; k < keep.length; k += 2) size += keep[k + 1] - keep[k];
    const out = Buffer.allocUnsafe(size);
    let o = putBytes(out, 0, src, 0, req.methodEnd + 1);
    if (slash === 1) out[o++] = 47;
    o = putBytes(out, o, src, pathStart, pathEnd);
    o = putAscii(out, o, UP_VERSION);
    for (let k = 0; k < keep.length; k += 2) o = putBytes(out, o, src, keep[k], keep[k + 1]);
    o = this.putIds(out, o);
    o = putAscii(out, o, FORWARDED_FOR);
    if (ff !== '') { o = putAscii(out, o, ff); out[o++] = 44; out[o++] = 32; }
    o = putAscii(out, o, addr);
    if (hasHost) {
      o = putAscii(out, o, FORWARDED_HOST);
      o = putBytes(out, o, src, req.hostStart, req.hostEnd);
    } else {
      o = putAscii(out, o, HOST);
      o = putAscii(out, o, lease.host);
      out[o++] = 58;
      o = putUint(out, o, lease.port, 0);
    }
    o = putAscii(out, o, '\r\n\r\n');
    if (body !== null) o = putBytes(out, o, body, 0, len);
    if (o !== size) throw new Error(`upstream head: wrote ${o} of ${size} bytes`);
    return out;
  }

  /** Writes the upstream head, joined with the first body bytes when they are small. */
  private writeUpstreamHead(part: Buffer | null, len: number): boolean {
    this.upHeadPending = false;
    const sock = this.up!.sock;
    const join = part !== null && len <= JOIN_LIMIT;
    const head = this.upstreamHead(join ? part : null, join ? len : 0);
    if (part === null || join) return this.up!.out.write(head);
    sock.cork();
    sock.write(head);
    const ok = sock.write(part);
    sock.uncork();
    return ok;
  }

  private leaseFailed(err: unknown): void {
    if (this.state !== State.Lease) return;
    if (err instanceof ActivationError) {
      const extra = err.retryAfter !== undefined ? `Retry-After: ${Math.max(1, Math.ceil(err.retryAfter))}\r\n` : '';
      this.closeAfter ||= this.req!.body !== 0;
      this.failExchange(err.status, err.message, extra);
    } else {
      this.closeAfter ||= this.req!.body !== 0;
      this.failExchange(503, `no instance of "${this.fn!.name}" available: ${(err as Error)?.message ?? String(err)}`, '');
    }
  }

  /** Passes request body bytes to the instance; keeps bytes past the body for the next request. */
  private forwardBody(chunk: Buffer): void {
    let bodyEnd: number;
    if (this.reqTracker !== null) {
      try {
        bodyEnd = this.reqTracker.feed(chunk, 0, chunk.length);
      } catch (err) {
        this.closeAfter = true;
        this.abortExchange(400, `malformed chunked request body: ${(err as Error).message}`);
        return;
      }
    } else if (chunk.length < this.reqRemaining) {
      this.reqRemaining -= chunk.length;
      bodyEnd = -1;
    } else {
      bodyEnd = this.reqRemaining;
      this.reqRemaining = 0;
    }
    const part = bodyEnd < 0 || bodyEnd === chunk.length ? chunk : chunk.subarray(0, bodyEnd);
    const up = this.up;
    const ok = up === null || up.closed ? true : this.upHeadPending ? this.writeUpstreamHead(part, part.length) : up.sock.write(part);
    if (bodyEnd >= 0) {
      this.reqDone = true;
      this.reqTracker = null;
      if (bodyEnd < chunk.length) this.buf = chunk.subarray(bodyEnd);
    } else if (!ok) {
      this.pauseClient();
    }
  }

  // ---- upstream side ----

  onUpstreamDrain(): void {
    if (this.state === State.Forward && !this.reqDone) this.resumeClient();
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.state !== State.Forward) return;
    if (this.resp === null || this.resp.status < 200) {
      this.readResponseHead(chunk);
      return;
    }
    this.forwardResponseBody(chunk, 0);
  }

  private readResponseHead(chunk: Buffer): void {
    // chunk is the upstream pool's shared read buffer: copy what outlives this call
    let buf = this.respBuf === null ? chunk : Buffer.concat([this.respBuf, chunk]);
    for (;;) {
      const end = findHeadEnd(buf, 0);
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) { this.upstreamFailed('response head too large'); return; }
        this.respBuf = buf === chunk ? Buffer.from(chunk) : buf;
        return;
      }
      this.respBuf = null;
      const resp = this.respHead;
      try {
        parseResponseHead(buf, end, this.req!.method === 'HEAD', this.closeAfter, resp);
      } catch (err) {
        this.upstreamFailed(`invalid response: ${(err as Error).message}`);
        return;
      }
      if (resp.status < 200) {
        // 1xx informational (100 Continue, 103): pass through, then read the real head
        if (resp.status === 101) { this.upstreamFailed('protocol upgrades are not supported'); return; }
        this.sock.write(Buffer.from(buf.subarray(0, end)));
        buf = buf.subarray(end);
        if (buf.length === 0) return;
        continue;
      }
      this.resp = resp;
      this.status = resp.status;
      if (resp.body === BODY_UNTIL_CLOSE) this.closeAfter = true;
      this.durationMicros = Math.round((performance.now() - this.startMs) * 1000);
      this.respHeadBuf = buf;
      this.respRemaining = resp.body;
      if (resp.body === BODY_CHUNKED) this.respTracker = new ChunkedTracker();
      this.forwardResponseBody(buf, end, true);
      return;
    }
  }

  /** Passes response body bytes chunk[start..] to the client; withHead: the response head goes first. */
  private forwardResponseBody(chunk: Buffer, start: number, withHead = false): void {
    let end = chunk.length;
    let complete = false;
    if (this.respRemaining > 0) {
      const avail = end - start;
      if (avail >= this.respRemaining) { end = start + this.respRemaining; this.respRemaining = 0; complete = true; }
      else this.respRemaining -= avail;
    } else if (this.respRemaining === BODY_CHUNKED) {
      let idx: number;
      try {
        idx = this.respTracker!.feed(chunk, start, end);
      } catch (err) {
        this.upstreamFailed(`invalid chunked response: ${(err as Error).message}`);
        return;
      }
      if (idx >= 0) { end = idx; complete = true; }
    } else if (this.respRemaining === 0) {
      complete = true;
      end = start;
    }
    let ok = true;
    if (withHead) {
      this.respHeadSent = true;
      const resp = this.resp!;
      const join = end - start <= JOIN_LIMIT;
      ok = this.out.write(this.clientHead(resp.keep, join ? chunk : null, start, end));
      this.respHeadBuf = null;
      if (!join) ok = this.sock.write(Buffer.from(chunk.subarray(start, end)));
    } else if (end > start) {
      ok = this.sock.write(Buffer.from(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end)));
    }
    if (!ok && !complete && this.up !== null) this.up.sock.pause();
    if (complete) {
      if (end < chunk.length && this.up !== null) { this.ctx.pool.discard(this.up); this.up = null; }
      this.responseComplete();
    }
  }

  /**
   * The response head for the client, and body[from..to) after it: the instance's status line
   * and header lines (but hop-by-hop ones and ours), then X-Call-Id, X-Start-Time,
   * X-Duration-Seconds (and Connection: close when the gateway closes).
   */
  private clientHead(keep: number[], body: Buffer | null, from: number, to: number): Buffer {
    const src = this.respHeadBuf!;
    const micros = this.durationMicros;
    const whole = Math.floor(micros / 1e6);
    let size = CALL_ID.length + this.callIdLength() + START_TIME.length + this.startLen +
      DURATION.length + digitCount(whole) + 7 + (this.closeAfter ? CLOSE_END.length : 4) + (body === null ? 0 : to - from);
    for (let k = 0; k < keep.length; k += 2) size += keep[k + 1] - keep[k];
    const out = Buffer.allocUnsafe(size);
    let o = 0;
    for (let k = 0; k < keep.length; k += 2) o = putBytes(out, o, src, keep[k], keep[k + 1]);
    o = this.putIds(out, o);
    o = putAscii(out, o, DURATION);
    o = putUint(out, o, whole, 0);
    out[o++] = 46;
    o = putUint(out, o, micros - whole * 1e6, 6);
    o = putAscii(out, o, this.closeAfter ? CLOSE_END : '\r\n\r\n');
    if (body !== null) o = putBytes(out, o, body, from, to);
    if (o !== size) throw new Error(`response head: wrote ${o} of ${size} bytes`);
    return out;
  }

  private callIdLength(): number { return this.callId !== '' ? this.callId.length : CALL_ID_LENGTH; }

  private callIdText(): string { return this.callId !== '' ? this.callId : callIdString(this.callIdBytes); }

  /** Writes "X-Call-Id: ...\r\nX-Start-Time: ..." (no line end). */
  private putIds(out: Buffer, o: number): number {
    o = putAscii(out, o, CALL_ID);
    o = this.callId !== '' ? putAscii(out, o, this.callId) : putCallId(out, o, this.callIdBytes);
    o = putAscii(out, o, START_TIME);
    return putBytes(out, o, this.startDigits, 0, this.startLen);
  }

  private isRespComplete(): boolean { return this.respRemaining === 0 && this.respTracker === null && this.respHeadSent; }

  private responseComplete(): void {
    this.respTracker = null;
    this.respRemaining = 0;
    if (this.resp !== null && this.resp.close && this.up !== null) { this.ctx.pool.discard(this.up); this.up = null; }
    if (!this.reqDone) {
      // The instance answered before reading the whole request body: this connection and
      // the client's can no longer be kept in step.
      this.closeAfter = true;
      if (this.up !== null) { this.ctx.pool.discard(this.up); this.up = null; }
    }
    this.finishExchange();
  }

  onUpstreamEnd(error: Error | null): void {
    const up = this.up;
    this.up = null;
    if (this.state !== State.Forward) return;
    if (this.respHeadSent && this.respRemaining === BODY_UNTIL_CLOSE && error === null) { this.finishExchange(); return; }
    if (this.respHeadSent && this.resp !== null && this.isRespComplete()) return;
    // A refused connection (the instance just died) never delivered the request; a reused
    // keep-alive connection closed without an answer most likely did not either (the instance
    // closed it just as we sent). A request without a body is then asked again once, through
    // the activator, which may pick another instance: any method after a refusal, only
    // idempotent ones (GET, HEAD, OPTIONS) after a closed keep-alive connection.
    const code = (error as NodeJS.ErrnoException | null)?.code;
    const req = this.req!;
    if (!this.respHeadSent && this.respBuf === null && this.resp === null && !this.retried && req.body === 0 &&
        (code === 'ECONNREFUSED' || (up !== null && up.reused && IDEMPOTENT.has(req.method)))) {
      this.retried = true;
      if (this.lease !== null) { this.lease.release({ ok: false, durationMs: performance.now() - this.startMs }); this.lease = null; }
      this.deadline = Infinity;
      this.state = State.Lease;
      this.acquire(this.fn!.name);
      return;
    }
    this.upstreamFailed(code ? `instance connection failed (${code})` : (error?.message ?? 'instance closed the connection'));
  }

  private upstreamFailed(reason: string): void {
    if (this.up !== null) { this.ctx.pool.discard(this.up); this.up = null; }
    const name = this.fn!.name;
    const instance = this.lease?.instanceId ?? '?';
    if (!this.reqDone) this.closeAfter = true;
    this.abortExchange(502, `function "${name}" instance ${instance} failed: ${reason}`);
  }

  /** Timeout sweep: called when the deadline has passed. */
  timedOut(): void {
    this.deadline = Infinity;
    if (this.state !== State.Forward) return;
    if (this.up !== null) { this.ctx.pool.discard(this.up); this.up = null; }
    if (!this.reqDone) this.closeAfter = true;
    this.abortExchange(504, `function "${this.fn!.name}" timed out after ${this.fn!.timeoutMs / 1000}s`);
  }

  /** Ends the exchange with an error status, or cuts the client off if a response already started. */
  private abortExchange(status: number, reason: string): void {
    if (this.up !== null) { this.ctx.pool.discard(this.up); this.up = null; }
    if (this.respHeadSent) {
      this.state = State.Closed;
      this.finishAccounting(status);
      this.sock.destroy();
      return;
    }
    this.failExchange(status, reason, '');
  }

  private failExchange(status: number, reason: string, extraHeaders: string): void {
    this.status = status;
    this.writeLocal(status, reason, extraHeaders);
    this.finishExchange();
  }

  private finishExchange(): void {
    if (this.up !== null) { this.ctx.pool.release(this.up); this.up = null; }
    this.finishAccounting(this.status);
    if (this.state === State.Closed) return;
    if (this.closeAfter) { this.state = State.Closed; this.sock.end(); return; }
    this.state = State.Head;
    this.lastActive = performance.now();
    if (this.buf !== null) this.headStartedAt = this.lastActive;
    this.nextRequest();
  }

  private finishAccounting(status: number): void {
    const durationMs = performance.now() - this.startMs;
    if (this.lease !== null) { this.lease.release({ ok: status < 500, durationMs }); this.lease = null; }
    if (this.fn !== null) { this.fn.metrics.finished(status, durationMs / 1000); this.fn = null; }
    this.deadline = Infinity;
    this.req = null;
    this.headBuf = null;
    this.upHeadPending = false;
    this.respHeadBuf = null;
    this.resp = null;
    this.respBuf = null;
    this.respHeadSent = false;
    this.respTracker = null;
    this.reqTracker = null;
    this.reqDone = false;
    this.retried = false;
    this.status = 0;
  }

  // ---- local answers ----

  /** Answers a request that never reached a function (404, 401); the body is not read, so close if one follows. */
  private localReply(status: number, reason: string, extraHeaders = ''): void {
    if (this.req!.body !== 0) this.closeAfter = true;
    this.writeLocal(status, reason, extraHeaders);
    this.req = null;
    if (this.closeAfter) { this.state = State.Closed; this.sock.end(); return; }
    this.nextRequest();
  }

  private writeLocal(status: number, reason: string, extraHeaders: string): void {
    const body = reason + '\n';
    this.sock.write(
      `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Call-Id: ${this.callIdText()}\r\nX-Start-Time: ${nanosString(this.startSec, this.startNsec)}\r\n` +
      `X-Duration-Seconds: ${((performance.now() - this.startMs) / 1000).toFixed(6)}\r\n${extraHeaders}` +
      (this.closeAfter ? 'Connection: close\r\n' : '') + '\r\n' + body,
    );
  }

  /** A malformed request: answer 400 (or 431) and close; nothing else on this connection can be trusted. */
  private reject(status: number, reason: string): void {
    this.state = State.Closed;
    this.buf = null;
    const body = reason + '\n';
    this.sock.end(`HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
}
