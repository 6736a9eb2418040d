/**
 * The node handler contract and how a handler's return value becomes an HTTP response.
 *
 *   export default async (req) => response
 *
 * `req`: { method, path, query, rawQuery, headers, body: Buffer, text(), json() }.
 * The return value may be:
 *   - `{ status?, headers?, body? }` — treated as a response when it has a `body` key or a
 *     numeric `status`/`statusCode`; `body` may be a string, Buffer, or any JSON value;
 *   - a string (200 text/plain), a Buffer/Uint8Array (200 application/octet-stream);
 *   - a Node Readable or web ReadableStream as `body` (or returned directly): streamed as is
 *     (chunked; application/octet-stream unless a content-type header is given);
 *   - undefined/null (200, empty body);
 *   - anything else (object, array, number, boolean): 200 application/json.
 */
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export interface HandlerRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  rawQuery: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  json(): unknown;
}

export type Handler = (req: HandlerRequest) => unknown;

interface Shaped { status?: number; statusCode?: number; headers?: Record<string, string | number | string[]>; body?: unknown }

function isShaped(v: object): v is Shaped {
  const o = v as Record<string, unknown>;
  return 'body' in o || typeof o.status === 'number' || typeof o.statusCode === 'number';
}

const NO_QUERY: Record<string, string> = Object.freeze({}) as Record<string, string>;

class Req implements HandlerRequest {
  private parsed?: Record<string, string>;
  constructor(readonly method: string, readonly path: string, readonly rawQuery: string, readonly headers: HandlerRequest['headers'], readonly body: Buffer) {}
  /** Parsed on first use: most handlers never look. */
  get query(): Record<string, string> {
    if (this.parsed) return this.parsed;
    if (!this.rawQuery) return (this.parsed = NO_QUERY);
    const q: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(this.rawQuery)) if (!(k in q)) q[k] = v;
    return (this.parsed = q);
  }
  text(): string { return this.body.toString('utf8'); }
  json(): unknown { return JSON.parse(this.body.toString('utf8')) as unknown; }
  toJSON(): object { return { method: this.method, path: this.path, query: this.query, rawQuery: this.rawQuery, headers: this.headers }; }
}

export function makeRequest(method: string, url: string, headers: HandlerRequest['headers'], body: Buffer): HandlerRequest {
  const q = url.indexOf('?');
  return q === -1 ? new Req(method, url, '', headers, body) : new Req(method, url.slice(0, q), url.slice(q + 1), headers, body);
}

const TEXT = 'text/plain; charset=utf-8';

export function writeResult(res: ServerResponse, out: unknown): void {
  if (typeof out === 'string') {
    res.writeHead(200, { 'content-type': TEXT, 'content-length': Buffer.byteLength(out) });
    res.end(out);
    return;
  }
  let status = 200;
  let headers: Shaped['headers'] = {};
  let body: unknown = out;
  if (out !== null && typeof out === 'object' && !Buffer.isBuffer(out) && !(out instanceof Uint8Array) && !asStream(out) && isShaped(out)) {
    status = out.status ?? out.statusCode ?? 200;
    headers = out.headers ?? {};
    body = out.body;
  }
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error(`handler returned invalid status ${String(status)}`);
  const stream = asStream(body);
  if (stream) {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v as string | number | string[]);
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/octet-stream');
    res.writeHead(status);
    stream.once('error', (e) => { process.stderr.write(`handler stream error: ${e.message}\n`); res.destroy(e); });
    res.once('close', () => { if (!stream.readableEnded) stream.destroy(); });
    stream.pipe(res);
    return;
  }
  let payload: Buffer;
  let type: string | undefined;
  if (body === undefined || body === null) payload = Buffer.alloc(0);
  else if (typeof body === 'string') { payload = Buffer.from(body); type = TEXT; }
  else if (Buffer.isBuffer(body)) { payload = body; type = 'application/octet-stream'; }
  else if (body instanceof Uint8Array) { payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength); type = 'application/octet-stream'; }
  else { payload = Buffer.from(JSON.stringify(body)); type = 'application/json'; }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v as string | number | string[]);
  if (type && !res.hasHeader('content-type')) res.setHeader('content-type', type);
  res.setHeader('content-length', payload.length);
  res.writeHead(status);
  res.end(payload);
}

function asStream(body: unknown): Readable | undefined {
  if (body instanceof Readable) return body;
  if (body && typeof body === 'object' && typeof (body as WebReadableStream).getReader === 'function') return Readable.fromWeb(body as WebReadableStream);
  return undefined;
}
