/**
 * The general invocation path on node:http: used for /function/* requests that arrive on a
 * connection already handed to the management server, and for programmatic calls
 * (`gateway.invoke`, e.g. the async queue-worker). Same activator, timeouts, headers and
 * metrics as the fast path; clarity over speed.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { Activator, InstanceLease } from '../activator/types.js';
import { ActivationError } from '../activator/types.js';
import { unixNanos, type FunctionRoute } from './fast-path.js';

export interface InvokeRequest {
  method?: string;
  /** Path below /function/{name} (default "/"). */
  path?: string;
  /** Query string without "?" (or with; either works). */
  query?: string;
  headers?: Record<string, string | string[] | undefined>;
  body?: Buffer | string | Readable;
  /** Aborts the call while the activator holds it (no instance yet): the caller went away. */
  signal?: AbortSignal;
}

export interface InvokeResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export interface SlowPathContext {
  lookup(name: string): FunctionRoute | undefined;
  activator: Activator;
  agent: http.Agent;
}

/** An invocation result whose body is still streaming (or an error text). */
export interface Outcome {
  status: number;
  headers: Record<string, string | string[]>;
  body: Readable | string;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'trailer', 'x-start-time']);

function errorOutcome(status: number, text: string, base: Record<string, string>, extra: Record<string, string> = {}): Outcome {
  return { status, headers: { ...base, 'content-type': 'text/plain; charset=utf-8', ...extra }, body: text + '\n' };
}

/** Runs one invocation; the caller must consume (or destroy) `body` when it is a stream. */
export async function forwardViaHttp(ctx: SlowPathContext, name: string, req: InvokeRequest, remoteAddr = ''): Promise<Outcome> {
  const startMs = performance.now();
  const inHeaders = req.headers ?? {};
  const given = inHeaders['x-call-id'];
  const callId = typeof given === 'string' && given !== '' ? given : randomUUID();
  const startNs = unixNanos();
  const base = { 'x-call-id': callId, 'x-start-time': startNs };
  const fn = ctx.lookup(name);
  if (!fn) return errorOutcome(404, `function "${name.slice(0, 80)}" not found`, base);
  fn.metrics.started();

  let lease: InstanceLease;
  try {
    lease = await ctx.activator.acquire(name, req.signal);
  } catch (err) {
    const status = err instanceof ActivationError ? err.status : 503;
    const retry: Record<string, string> = err instanceof ActivationError && err.retryAfter !== undefined
      ? { 'retry-after': String(Math.max(1, Math.ceil(err.retryAfter))) } : {};
    fn.metrics.finished(status, (performance.now() - startMs) / 1000);
    return errorOutcome(status, (err as Error).message, base, retry);
  }

  let done = false;
  const finish = (status: number) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    const durationMs = performance.now() - startMs;
    lease.release({ ok: status < 500, durationMs });
    fn.metrics.finished(status, durationMs / 1000);
  };

  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(inHeaders)) {
    if (v === undefined) continue;
    const lk = k.toLowerCase();
    if (!HOP_BY_HOP.has(lk)) headers[lk] = v;
  }
  headers['x-call-id'] = callId;
  headers['x-start-time'] = startNs;
  if (remoteAddr) {
    const xff = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = xff ? `${xff}, ${remoteAddr}` : remoteAddr;
  }
  const hostHeader = inHeaders.host;
  if (typeof hostHeader === 'string') headers['x-forwarded-host'] = hostHeader;
  const query = req.query ? (req.query.startsWith('?') ? req.query : '?' + req.query) : '';
  let path = req.path && req.path !== '' ? req.path : '/';
  if (!path.startsWith('/')) path = '/' + path;

  let timer: NodeJS.Timeout;
  return new Promise<Outcome>((resolve) => {
    let answered = false;
    const fail = (status: number, text: string) => {
      if (!answered) { answered = true; finish(status); resolve(errorOutcome(status, text, { ...base, 'x-duration-seconds': secs(startMs) })); }
      else finish(status);
    };
    const upstream = http.request({
      host: lease.host, port: lease.port, method: req.method ?? 'GET', path: path + query, headers, agent: ctx.agent,
    });
    timer = setTimeout(() => {
      fail(504, `function "${name}" timed out after ${fn.timeoutMs / 1000}s`);
      upstream.destroy(new Error('timeout'));
    }, fn.timeoutMs);
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      fail(502, `function "${name}" instance ${lease.instanceId} failed: ${err.code ? `instance connection failed (${err.code})` : err.message}`);
    });
    upstream.on('response', (res) => {
      if (answered) { res.destroy(); return; }
      answered = true;
      const status = res.statusCode ?? 502;
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'x-call-id' && k !== 'x-duration-seconds') out[k] = v;
      }
      Object.assign(out, base, { 'x-duration-seconds': secs(startMs) });
      res.on('end', () => finish(status));
      res.on('close', () => finish(res.complete ? status : 502));
      resolve({ status, headers: out, body: res });
    });
    const body = req.body;
    if (body === undefined) upstream.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) upstream.end(body);
    else {
      body.on('error', (err) => upstream.destroy(err));
      body.pipe(upstream);
    }
  });
}

function secs(startMs: number): string { return ((performance.now() - startMs) / 1000).toFixed(6); }

/** Programmatic invocation: the whole response body buffered. */
export async function invokeBuffered(ctx: SlowPathContext, name: string, req: InvokeRequest): Promise<InvokeResponse> {
  const o = await forwardViaHttp(ctx, name, req);
  if (typeof o.body === 'string') return { status: o.status, headers: o.headers, body: Buffer.from(o.body) };
  const chunks: Buffer[] = [];
  try {
    for await (const c of o.body) chunks.push(c as Buffer);
  } catch (err) {
    return { status: 502, headers: o.headers, body: Buffer.from(`function "${name}" response broke off: ${(err as Error).message}\n`) };
  }
  return { status: o.status, headers: o.headers, body: Buffer.concat(chunks) };
}
