/**
 * The async HTTP API, as route handlers for the gateway (node:http request/response):
 *   POST /async-function/{name}[/sub/path]   → 202 + X-Call-Id once stored (404 unknown fn)
 *   GET  /system/async/{callId}              → status, attempts, timestamps, result
 *   GET  /system/async?status=dead&limit=N   → list
 *   POST /system/async/{callId}/retry        → re-drive a dead/failed job
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JOB_STATUSES, type AsyncQueue, type JobState, type JobStatus } from './types.js';
import { nowNs } from './codec.js';
import { DEFAULT_RETRY_POLICY, retryPolicyFor, type RetryPolicy } from './worker/retry-policy.js';
import { forwardableHeaders } from './worker/http-invoker.js';
import type { FunctionMetaLookup } from './worker/types.js';
import { NO_METRICS, type QueueMetrics } from './metrics.js';

export type AsyncRouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface AsyncApiOptions {
  queue: AsyncQueue;
  /** A function's labels/annotations; undefined = no such function (404). */
  functionMeta: FunctionMetaLookup;
  retry?: Partial<RetryPolicy>;
  /** Largest accepted body. Default 1 MiB minus room for headers (fits NATS' default max_payload). */
  maxBodyBytes?: number;
  log?: (line: string) => void;
  metrics?: QueueMetrics;
}

export const DEFAULT_MAX_ASYNC_BODY = 1024 * 1024 - 64 * 1024;
const NOT_STORED = new Set(['x-callback-url', 'x-idempotency-key', 'idempotency-key', 'x-call-id', 'x-start-time']);

export function createAsyncApi(o: AsyncApiOptions): { invokeAsync: AsyncRouteHandler; system: AsyncRouteHandler } {
  const maxBody = o.maxBodyBytes ?? DEFAULT_MAX_ASYNC_BODY;
  const defaults: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...o.retry };
  const log = o.log ?? (() => undefined);

  const invokeAsync: AsyncRouteHandler = async (req, res, url) => {
    const startTimeNs = nowNs();
    const m = /^\/async-function\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!m) return send(res, 404, 'expected /async-function/{name}[/path]\n');
    if (req.method !== 'POST') return send(res, 405, 'async invocation needs POST\n', { allow: 'POST' });
    // OpenFaaS callers may name the namespace (`fn.openfaas-fn`); Trellis has only that one.
    const fn = decodeURIComponent(m[1]).replace(/\.openfaas-fn$/, '');
    const meta = await o.functionMeta(fn);
    if (!meta) { req.resume(); return send(res, 404, `function "${fn}" not found\n`); }
    const callbackUrl = header(req, 'x-callback-url');
    if (callbackUrl !== undefined && !isHttpUrl(callbackUrl)) {
      req.resume();
      return send(res, 400, `X-Callback-Url must be an absolute http(s) URL, got "${callbackUrl}"\n`);
    }
    const idempotencyKey = header(req, 'x-idempotency-key') ?? header(req, 'idempotency-key');
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 512)) {
      req.resume();
      return send(res, 400, 'idempotency key must be 1..512 characters\n');
    }
    const body = await readBody(req, maxBody);
    if (!body) return send(res, 413, `request body exceeds ${maxBody} bytes\n`, { connection: 'close' });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(forwardableHeaders(flatHeaders(req)))) if (!NOT_STORED.has(k)) headers[k] = v;
    const { policy, problems } = retryPolicyFor(meta, defaults);
    for (const p of problems) log(`async: function ${fn}: ignoring ${p}`);
    let result;
    try {
      result = await o.queue.enqueue({
        fn, callbackUrl, idempotencyKey, startTimeNs, maxAttempts: policy.maxAttempts,
        request: { method: 'POST', path: m[2] ?? '/', query: url.search.replace(/^\?/, ''), headers, body },
      });
    } catch (err) {
      log(`async: enqueue for ${fn} failed: ${(err as Error).message}`);
      return send(res, 503, `async queue unavailable: ${(err as Error).message}\n`, { 'retry-after': '1' });
    }
    if (!result.duplicate) (o.metrics ?? NO_METRICS).submitted(fn);
    const h: Record<string, string> = { 'x-call-id': result.callId, 'x-start-time': startTimeNs };
    if (result.duplicate) h['x-idempotent-replay'] = 'true';
    send(res, 202, '', h);
  };

  const system: AsyncRouteHandler = async (req, res, url) => {
    const parts = url.pathname.split('/').filter(Boolean); // ['system', 'async', id?, 'retry'?]
    if (parts[1] !== 'async') return send(res, 404, `no route for ${req.method} ${url.pathname}\n`);
    if (parts.length === 2 && req.method === 'GET') {
      const status = url.searchParams.get('status') ?? undefined;
      if (status !== undefined && !JOB_STATUSES.includes(status as JobStatus)) {
        return send(res, 400, `status must be one of ${JOB_STATUSES.join(', ')}\n`);
      }
      const limitRaw = url.searchParams.get('limit');
      const limit = limitRaw === null ? 100 : Number(limitRaw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return send(res, 400, 'limit must be an integer in 1..10000\n');
      const list = await o.queue.list({ ...(status ? { status: status as JobStatus } : {}), limit });
      return sendJson(res, 200, list.map(stateJson));
    }
    if (parts.length === 3 && req.method === 'GET') {
      const s = await o.queue.status(decodeURIComponent(parts[2]));
      return s ? sendJson(res, 200, stateJson(s)) : send(res, 404, `no async call "${parts[2]}"\n`);
    }
    if (parts.length === 4 && parts[3] === 'retry' && req.method === 'POST') {
      const id = decodeURIComponent(parts[2]);
      const s = await o.queue.status(id);
      if (!s) return send(res, 404, `no async call "${id}"\n`);
      if (!(await o.queue.retry(id))) return send(res, 409, `async call "${id}" is ${s.status}; only dead or failed calls can be retried\n`);
      return sendJson(res, 202, { callId: id, status: 'queued' }, { 'x-call-id': id });
    }
    send(res, 404, `no route for ${req.method} ${url.pathname}\n`);
  };

  return { invokeAsync, system };
}

/** JSON view of a job state (what GET /system/async/{id} returns). */
export function stateJson(s: JobState): Record<string, unknown> {
  const iso = (ms?: number) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const out: Record<string, unknown> = {
    callId: s.callId, function: s.fn, status: s.status, attempts: s.attempts, maxAttempts: s.maxAttempts,
    enqueuedAt: iso(s.enqueuedAt), startedAt: iso(s.startedAt), finishedAt: iso(s.finishedAt),
    nextAttemptAt: iso(s.nextAttemptAt), lastError: s.lastError, callbackUrl: s.callbackUrl,
  };
  if (s.callback) out.callback = { ...s.callback, at: iso(s.callback.at) };
  if (s.result) {
    const r = s.result;
    const text = isText(r.headers['content-type']) && isUtf8(r.body);
    out.result = {
      statusCode: r.statusCode, headers: r.headers, durationSeconds: r.durationMs / 1000,
      body: text ? r.body.toString('utf8') : r.body.toString('base64'), bodyEncoding: text ? 'utf8' : 'base64',
    };
  }
  return out;
}

function isText(ct: string | undefined): boolean {
  return !ct || /^text\/|json|xml|javascript|x-www-form-urlencoded/i.test(ct);
}

function isUtf8(b: Buffer): boolean {
  try { new TextDecoder('utf-8', { fatal: true }).decode(b); return true; } catch { return false; }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function isHttpUrl(s: string): boolean {
  try { const u = new URL(s); return u.protocol === 'http:' || u.protocol === 'https:'; } catch { return false; }
}

/** The whole body, or undefined when it exceeds max (the rest is drained, not buffered). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) { over = true; chunks.length = 0; return; }
      if (!over) chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
