/**
 * Client side of the async API, for the CLI (`trellis async ...`, `trellis fn invoke --async
 * [--wait]`): submit, read status, list, re-drive, and wait for a result.
 */
export interface AsyncAuth { username: string; password: string }

export interface AsyncSubmitOptions {
  path?: string;
  query?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  callbackUrl?: string;
  idempotencyKey?: string;
}

export interface AsyncCallView {
  callId: string;
  function: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';
  attempts: number;
  maxAttempts: number;
  enqueuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  nextAttemptAt?: string;
  lastError?: string;
  callbackUrl?: string;
  /** How the callback ended, once attempted. */
  callback?: { url: string; status: 'delivered' | 'failed'; attempts: number; statusCode?: number; lastError?: string; at: string };
  result?: { statusCode: number; headers: Record<string, string>; durationSeconds: number; body: string; bodyEncoding: 'utf8' | 'base64' };
}

export class AsyncClientError extends Error {
  constructor(message: string, readonly status: number) { super(message); this.name = 'AsyncClientError'; }
}

const FINAL = new Set(['succeeded', 'failed', 'dead']);

export class AsyncClient {
  private readonly base: string;
  constructor(gatewayUrl: string, private readonly auth?: AsyncAuth) { this.base = gatewayUrl.replace(/\/+$/, ''); }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h = { ...extra };
    if (this.auth) h.authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}`;
    return h;
  }

  private async call(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Response> {
    try {
      return await fetch(this.base + path, { method, headers: this.headers(init.headers), ...(init.body !== undefined ? { body: init.body } : {}) });
    } catch (e) {
      throw new AsyncClientError(`cannot reach the gateway at ${this.base}: ${(e as Error).message}`, 0);
    }
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = (await res.text().catch(() => '')).trim();
    if (res.status === 401) throw new AsyncClientError(`unauthorized (${what}): run "trellis login" or set TRELLIS_PASSWORD`, 401);
    throw new AsyncClientError(`${what}: ${res.status} ${text || res.statusText}`, res.status);
  }

  /** POST /async-function/{name}[path]: resolves once the job is durably queued (202). */
  async submit(name: string, o: AsyncSubmitOptions = {}): Promise<{ callId: string; duplicate: boolean }> {
    const sub = o.path && o.path !== '/' ? (o.path.startsWith('/') ? o.path : `/${o.path}`) : '';
    const q = o.query ? (o.query.startsWith('?') ? o.query : `?${o.query}`) : '';
    const headers = { ...o.headers };
    if (o.callbackUrl) headers['x-callback-url'] = o.callbackUrl;
    if (o.idempotencyKey) headers['x-idempotency-key'] = o.idempotencyKey;
    const res = await this.call('POST', `/async-function/${encodeURIComponent(name)}${sub}${q}`, { headers, body: o.body ?? '' });
    if (res.status !== 202) await this.fail(res, `async invoke ${name}`);
    await res.arrayBuffer();
    return { callId: res.headers.get('x-call-id') ?? '', duplicate: res.headers.get('x-idempotent-replay') === 'true' };
  }

  async get(callId: string): Promise<AsyncCallView | undefined> {
    const res = await this.call('GET', `/system/async/${encodeURIComponent(callId)}`);
    if (res.status === 404) { await res.arrayBuffer(); return undefined; }
    if (!res.ok) await this.fail(res, `get ${callId}`);
    return res.json() as Promise<AsyncCallView>;
  }

  async list(o: { status?: string; limit?: number } = {}): Promise<AsyncCallView[]> {
    const p = new URLSearchParams();
    if (o.status) p.set('status', o.status);
    if (o.limit) p.set('limit', String(o.limit));
    const res = await this.call('GET', `/system/async${p.size ? `?${p}` : ''}`);
    if (!res.ok) await this.fail(res, 'list');
    return res.json() as Promise<AsyncCallView[]>;
  }

  async retry(callId: string): Promise<void> {
    const res = await this.call('POST', `/system/async/${encodeURIComponent(callId)}/retry`);
    if (res.status !== 202) await this.fail(res, `retry ${callId}`);
    await res.arrayBuffer();
  }

  /** Polls until the call is succeeded, failed or dead (or the timeout passes). */
  async wait(callId: string, o: { timeoutMs?: number; intervalMs?: number } = {}): Promise<AsyncCallView> {
    const deadline = Date.now() + (o.timeoutMs ?? 300_000);
    let interval = o.intervalMs ?? 100;
    for (;;) {
      const v = await this.get(callId);
      if (!v) throw new AsyncClientError(`async call ${callId} not found`, 404);
      if (FINAL.has(v.status)) return v;
      if (Date.now() > deadline) throw new AsyncClientError(`async call ${callId} still ${v.status} after the wait timeout`, 504);
      await new Promise((r) => setTimeout(r, interval));
      interval = Math.min(interval * 2, 2000);
    }
  }
}

/** The result body of a finished call as bytes. */
export function resultBody(v: AsyncCallView): Buffer {
  if (!v.result) return Buffer.alloc(0);
  return Buffer.from(v.result.body, v.result.bodyEncoding === 'base64' ? 'base64' : 'utf8');
}
