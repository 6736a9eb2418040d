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
 *   - undefined/null (200, empty body);
 *   - anything else (object, array, number, boolean): 200 application/json.
 */
import type { ServerResponse } from 'node:http';

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

export function makeRequest(method: string, url: string, headers: HandlerRequest['headers'], body: Buffer): HandlerRequest {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  const query: Record<string, string> = {};
  if (rawQuery) for (const [k, v] of new URLSearchParams(rawQuery)) if (!(k in query)) query[k] = v;
  return {
    method, path, query, rawQuery, headers, body,
    text: () => body.toString('utf8'),
    json: () => JSON.parse(body.toString('utf8')) as unknown,
  };
}

export function writeResult(res: ServerResponse, out: unknown): void {
  let status = 200;
  let headers: Shaped['headers'] = {};
  let body: unknown = out;
  if (out !== null && typeof out === 'object' && !Buffer.isBuffer(out) && !(out instanceof Uint8Array) && isShaped(out)) {
    status = out.status ?? out.statusCode ?? 200;
    headers = out.headers ?? {};
    body = out.body;
  }
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error(`handler returned invalid status ${String(status)}`);
  let payload: Buffer;
  let type: string | undefined;
  if (body === undefined || body === null) payload = Buffer.alloc(0);
  else if (typeof body === 'string') { payload = Buffer.from(body); type = 'text/plain; charset=utf-8'; }
  else if (Buffer.isBuffer(body)) { payload = body; type = 'application/octet-stream'; }
  else if (body instanceof Uint8Array) { payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength); type = 'application/octet-stream'; }
  else { payload = Buffer.from(JSON.stringify(body)); type = 'application/json'; }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v as string | number | string[]);
  if (type && !res.hasHeader('content-type')) res.setHeader('content-type', type);
  res.setHeader('content-length', payload.length);
  res.writeHead(status);
  res.end(payload);
}
