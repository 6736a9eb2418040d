/**
 * Invokes functions over HTTP through a gateway's `/function/{name}` route: what a standalone
 * queue-worker uses (OpenFaaS' queue-worker calls the gateway the same way). Inside a gateway
 * process use the gateway's own invoke path instead.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { InvokeFn, InvokeRequest, InvokeResponse } from './types.js';

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'proxy-connection', 'te', 'trailer']);

export function forwardableHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

export function createHttpInvoker(
  gatewayUrl: string,
  opts: { timeoutMs?: number; connections?: number; /** e.g. authorization when the gateway guards invocations */ headers?: Record<string, string> } = {},
): InvokeFn & { close(): Promise<void> } {
  const base = gatewayUrl.replace(/\/+$/, '');
  const agent = new Agent({ connections: opts.connections ?? 128, keepAliveTimeout: 10_000 });
  const timeout = opts.timeoutMs ?? 300_000;
  const invoke = async (fn: string, req: InvokeRequest): Promise<InvokeResponse> => {
    const sub = req.path === '/' || req.path === '' ? '' : req.path;
    const url = `${base}/function/${encodeURIComponent(fn)}${sub}${req.query ? `?${req.query}` : ''}`;
    const method = req.method.toUpperCase() as Dispatcher.HttpMethod;
    const res = await request(url, {
      method, headers: { ...forwardableHeaders(req.headers), ...opts.headers }, dispatcher: agent, headersTimeout: timeout, bodyTimeout: timeout,
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: req.body }),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.statusCode, headers, body };
  };
  return Object.assign(invoke, { close: () => agent.close() });
}
