/**
 * An HTTP client for the gateway's OpenFaaS-compatible API (plus Trellis' bundle upload).
 * Errors carry the gateway's one-line reason and the status.
 */
import type { FunctionDeployment, FunctionStatus } from '../../faas/types.js';
import type { Credentials } from './config.js';

export class GatewayError extends Error {
  constructor(message: string, readonly status: number) { super(message); this.name = 'GatewayError'; }
}

export interface LogMessage { name: string; namespace?: string; instance: string; timestamp: string; text: string }
export interface BundleUploadResult { bundleId: string; image: string; runtime?: string; handler?: string; cached?: boolean }
export interface AsyncCallState {
  callId: string;
  function: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';
  attempts: number;
  lastError?: string;
  result?: { statusCode: number; headers: Record<string, string>; body: string; bodyEncoding: 'utf8' | 'base64'; durationSeconds: number };
}
export interface InvokeOptions { method?: string; path?: string; query?: string; headers?: Record<string, string>; body?: Buffer }

export class GatewayClient {
  constructor(readonly url: string, private readonly creds?: Credentials) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.creds) h.authorization = `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`;
    return h;
  }

  private async call(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<Response> {
    const init: RequestInit = { method, headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }) };
    if (body !== undefined) init.body = JSON.stringify(body);
    let res: Response;
    try { res = await fetch(this.url + path, init); }
    catch (e) { throw new GatewayError(`cannot reach the gateway at ${this.url}: ${(e as Error).cause ? String((e as Error).cause) : (e as Error).message}`, 0); }
    if (!res.ok && !okStatuses.includes(res.status)) await this.fail(res, `${method} ${path}`);
    return res;
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = (await res.text().catch(() => '')).trim();
    if (res.status === 401) throw new GatewayError(`unauthorized (${what}): run "trellis login --gateway ${this.url}" or set TRELLIS_PASSWORD`, 401);
    throw new GatewayError(`${what}: ${res.status} ${text || res.statusText}`, res.status);
  }

  async info(): Promise<Record<string, unknown>> { return (await this.call('GET', '/system/info')).json() as Promise<Record<string, unknown>>; }

  async list(): Promise<FunctionStatus[]> { return (await this.call('GET', '/system/functions')).json() as Promise<FunctionStatus[]>; }

  /** undefined when the function does not exist. */
  async get(name: string): Promise<(FunctionStatus & { trellis?: Record<string, unknown> }) | undefined> {
    const res = await this.call('GET', `/system/function/${encodeURIComponent(name)}`, undefined, [404]);
    if (res.status === 404) { await res.text(); return undefined; }
    return res.json() as Promise<FunctionStatus & { trellis?: Record<string, unknown> }>;
  }

  /** POST for a new function, PUT for an existing one (rolling update). */
  async deploy(spec: FunctionDeployment): Promise<'created' | 'updated'> {
    const exists = (await this.get(spec.service)) !== undefined;
    await (await this.call(exists ? 'PUT' : 'POST', '/system/functions', spec)).text();
    return exists ? 'updated' : 'created';
  }

  async remove(name: string): Promise<void> { await (await this.call('DELETE', '/system/functions', { functionName: name })).text(); }

  async scale(name: string, replicas: number): Promise<void> {
    await (await this.call('POST', `/system/scale-function/${encodeURIComponent(name)}`, { serviceName: name, replicas })).text();
  }

  async uploadBundle(gz: Buffer): Promise<BundleUploadResult> {
    let res: Response;
    try { res = await fetch(`${this.url}/system/bundles`, { method: 'POST', headers: this.headers({ 'content-type': 'application/gzip' }), body: gz }); }
    catch (e) { throw new GatewayError(`cannot reach the gateway at ${this.url}: ${(e as Error).message}`, 0); }
    if (!res.ok) await this.fail(res, 'bundle upload');
    return res.json() as Promise<BundleUploadResult>;
  }

  /** Synchronous invocation on /function/<name>[path]; resolves with the raw response. */
  async invoke(name: string, o: InvokeOptions = {}): Promise<Response> {
    const path = o.path && o.path !== '/' ? (o.path.startsWith('/') ? o.path : `/${o.path}`) : '';
    const q = o.query ? (o.query.startsWith('?') ? o.query : `?${o.query}`) : '';
    try {
      return await fetch(`${this.url}/function/${encodeURIComponent(name)}${path}${q}`, { method: o.method ?? 'POST', headers: this.headers(o.headers), body: o.body && o.method !== 'GET' && o.method !== 'HEAD' ? o.body : undefined });
    } catch (e) { throw new GatewayError(`cannot reach the gateway at ${this.url}: ${(e as Error).message}`, 0); }
  }

  /** OpenFaaS async invocation (POST /async-function/<name>); the queue answers 202 + X-Call-Id. */
  async invokeAsync(name: string, o: InvokeOptions & { callbackUrl?: string } = {}): Promise<Response> {
    const path = o.path && o.path !== '/' ? (o.path.startsWith('/') ? o.path : `/${o.path}`) : '';
    const q = o.query ? (o.query.startsWith('?') ? o.query : `?${o.query}`) : '';
    const headers = this.headers({ ...o.headers, ...(o.callbackUrl ? { 'x-callback-url': o.callbackUrl } : {}) });
    try {
      return await fetch(`${this.url}/async-function/${encodeURIComponent(name)}${path}${q}`, { method: 'POST', headers, body: o.body });
    } catch (e) { throw new GatewayError(`cannot reach the gateway at ${this.url}: ${(e as Error).message}`, 0); }
  }

  /** Creates or updates a secret (POST, or PUT when it exists). */
  async putSecret(name: string, value: string): Promise<'created' | 'updated'> {
    const res = await this.call('POST', '/system/secrets', { name, value }, [409]);
    await res.text();
    if (res.status !== 409) return 'created';
    await (await this.call('PUT', '/system/secrets', { name, value })).text();
    return 'updated';
  }

  async listSecrets(): Promise<{ name: string }[]> { return (await this.call('GET', '/system/secrets')).json() as Promise<{ name: string }[]>; }

  async removeSecret(name: string): Promise<void> { await (await this.call('DELETE', '/system/secrets', { name })).text(); }

  /** An async call's state (GET /system/async/{callId}, served by the queue). */
  async asyncStatus(callId: string): Promise<AsyncCallState> {
    return (await this.call('GET', `/system/async/${encodeURIComponent(callId)}`)).json() as Promise<AsyncCallState>;
  }

  /** NDJSON log stream (GET /system/logs); ends unless follow. */
  async *logs(name: string, o: { tail?: number; since?: string; follow?: boolean; instance?: string; signal?: AbortSignal } = {}): AsyncGenerator<LogMessage> {
    const p = new URLSearchParams({ name });
    if (o.tail !== undefined) p.set('tail', String(o.tail));
    if (o.since) p.set('since', o.since);
    if (o.follow) p.set('follow', 'true');
    if (o.instance) p.set('instance', o.instance);
    let res: Response;
    try { res = await fetch(`${this.url}/system/logs?${p}`, { headers: this.headers(), signal: o.signal }); }
    catch (e) { throw new GatewayError(`cannot reach the gateway at ${this.url}: ${(e as Error).message}`, 0); }
    if (!res.ok) await this.fail(res, 'logs');
    if (!res.body) return;
    const decoder = new TextDecoder();
    let rest = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      rest += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = rest.indexOf('\n')) !== -1) {
        const line = rest.slice(0, i).trim();
        rest = rest.slice(i + 1);
        if (line) yield JSON.parse(line) as LogMessage;
      }
    }
  }
}
