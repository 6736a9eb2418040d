/**
 * The lean forwarding path for /function/{name}/...: one object per client connection parses
 * each request head once, takes a lease from the activator, rewrites the head for the
 * instance, and passes body bytes both ways untouched (streamed, with backpressure), reading
 * the response head only to find its end and add X-Call-Id / X-Start-Time /
 * X-Duration-Seconds. Any other request hands the connection to the management server.
 */
import type net from 'node:net';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Activator, InstanceLease } from '../activator/types.js';
import { ActivationError } from '../activator/types.js';
import type { FunctionMetrics } from './metrics.js';
import {
  BODY_CHUNKED, BODY_UNTIL_CLOSE, HeadError, MAX_HEAD_BYTES, assemble, findHeadEnd, parseRequestHead,
  parseResponseHead, type RequestHead, type ResponseHead,
} from './http1.js';
import { ChunkedTracker } from './chunked.js';
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

/** Unix time in nanoseconds as a decimal string (OpenFaaS' X-Start-Time). */
export function unixNanos(): string {
  const t = TIME_ORIGIN + performance.now();
  const ms = Math.floor(t);
  const frac = Math.floor((t - ms) * 1e6);
  return ms + String(frac).padStart(6, '0');
}

/** Bodies up to this size travel in the same buffer (one syscall) as the head before them. */
const JOIN_LIMIT = 16 * 1024;

export class ClientConnection implements UpstreamOwner {
  private state = State.Head;
  private buf: Buffer | null = null;
  private scanFrom = 0;
  private clientEnded = false;

  // the current exchange
  private req: RequestHead | null = null;
  private fn: FunctionRoute | null = null;
  private path = '';
  private callId = '';
  private startNs = '';
  private startMs = 0;
  /** When the exchange in flight times out (performance.now() ms); Infinity when none is. */
  deadline = Infinity;
  private lease: InstanceLease | null = null;
  private up: UpstreamConn | null = null;
  /** The client buffer holding the request head (header ranges point into it). */
  private headBuf: Buffer | null = null;
  private upPrefix = '';
  private upExtras = '';
  /** The upstream head has not been written yet (it goes out with the first body bytes). */
  private upHeadPending = false;
  private respHeadBuf: Buffer | null = null;
  private respExtras = '';
  private retried = false;
  private reqRemaining = 0;
  private reqDone = false;
  private reqTracker: ChunkedTracker | null = null;
  private respBuf: Buffer | null = null;
  private resp: ResponseHead | null = null;
  private respHeadSent = false;
  private respRemaining = 0;
  private respTracker: ChunkedTracker | null = null;
  private status = 0;
  private closeAfter = false;
  private readonly remoteAddr: string;

  private readonly onData = (chunk: Buffer) => this.handleData(chunk);
  private readonly onEnd = () => this.handleClientEnd();
  private readonly onClose = () => this.handleClientClose();
  private readonly onError = () => { /* 'close' follows */ };
  private readonly onDrain = () => { if (this.up !== null && this.up.sock.isPaused()) this.up.sock.resume(); };
  private readonly onLease = (lease: InstanceLease) => { this.held = null; this.leased(lease); };
  private readonly onLeaseError = (err: unknown) => { this.held = null; this.leaseFailed(err); };
  /** Aborts the activator's hold on this request when the client goes away. */
  private held: AbortController | null = null;

  constructor(private readonly sock: net.Socket, private readonly ctx: FastPathContext) {
    this.remoteAddr = sock.remoteAddress ?? '';
    sock.on('data', this.onData);
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
    let req: RequestHead;
    try {
      req = parseRequestHead(buf, end);
    } catch (err) {
      this.reject(400, err instanceof HeadError ? err.message : 'malformed request');
      return;
    }
    if (!req.target.startsWith(FUNCTION_PREFIX)) { this.handOff(); return; }
    this.buf = end < buf.length ? buf.subarray(end) : null;
    this.headBuf = buf;
    this.req = req;
    this.startMs = performance.now();
    this.startNs = unixNanos();
    this.callId = req.callId !== '' ? req.callId : randomUUID();
    this.closeAfter = req.close || this.clientEnded;

    const target = req.target;
    let nameEnd = target.length;
    for (let i = FUNCTION_PREFIX.length; i < target.length; i++) {
      const c = target.charCodeAt(i);
      if (c === 47 /* / */ || c === 63 /* ? */) { nameEnd = i; break; }
    }
    const name = target.slice(FUNCTION_PREFIX.length, nameEnd);
    this.path = nameEnd === target.length ? '/' : target.charCodeAt(nameEnd) === 63 ? '/' + target.slice(nameEnd) : target.slice(nameEnd);
    const fn = this.ctx.lookup(name);
    if (fn === undefined) { this.localReply(404, `function "${name.slice(0, 80)}" not found`); return; }
    if (this.ctx.invokeAuth !== null && !this.ctx.invokeAuth(req.authorization)) {
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

  private leased(lease: InstanceLease): void {
    if (this.state !== State.Lease) { lease.release({ ok: false, durationMs: 0 }); return; }
    this.lease = lease;
    const req = this.req!;
    const xff = req.forwardedFor !== '' ? req.forwardedFor + ', ' + this.remoteAddr : this.remoteAddr;
    this.upPrefix = req.method + ' ' + this.path + ' HTTP/1.1\r\n';
    this.upExtras = 'X-Call-Id: ' + this.callId + '\r\nX-Start-Time: ' + this.startNs + '\r\nX-Forwarded-For: ' + xff +
      (req.host !== '' ? '\r\nX-Forwarded-Host: ' + req.host : '\r\nHost: ' + lease.host + ':' + lease.port) + '\r\n\r\n';
    this.state = State.Forward;
    this.deadline = this.startMs + this.fn!.timeoutMs;
    if (req.body === 0) {
      this.reqDone = true;
      this.connectUpstream(false);
      this.up!.sock.write(assemble(this.upPrefix, this.headBuf!, req.keep, this.upExtras, null, 0, 0));
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

  /** Writes the upstream head, joined with the first body bytes when they are small. */
  private writeUpstreamHead(part: Buffer | null, len: number): boolean {
    this.upHeadPending = false;
    const sock = this.up!.sock;
    const join = part !== null && len <= JOIN_LIMIT;
    const head = assemble(this.upPrefix, this.headBuf!, this.req!.keep, this.upExtras, join ? part : null, 0, len);
    if (part === null || join) return sock.write(head);
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
      let resp: ResponseHead;
      try {
        resp = parseResponseHead(buf, end, this.req!.method, this.closeAfter);
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
      const seconds = (performance.now() - this.startMs) / 1000;
      this.respExtras = 'X-Call-Id: ' + this.callId + '\r\nX-Start-Time: ' + this.startNs +
        '\r\nX-Duration-Seconds: ' + seconds.toFixed(6) + (this.closeAfter ? '\r\nConnection: close\r\n\r\n' : '\r\n\r\n');
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
      ok = this.sock.write(assemble('', this.respHeadBuf!, resp.keep, this.respExtras, join ? chunk : null, start, end));
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
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Call-Id: ${this.callId}\r\nX-Start-Time: ${this.startNs}\r\n` +
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
