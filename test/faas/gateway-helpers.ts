/** Shared setup for the gateway tests: a gateway on a free port with real function processes. */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/faas/gateway/index.js';
import type { RuntimeProvider } from '../../src/faas/runtime/provider.js';
import { TestProvider } from './gateway-test-provider.js';

export const PASSWORD = 'test-password';
export const AUTH = 'Basic ' + Buffer.from(`admin:${PASSWORD}`).toString('base64');

interface HasAfter { after(fn: () => unknown): void }

export interface Started { gw: Gateway; url: string; dataDir: string; provider: RuntimeProvider; logs: string[] }

export async function startGateway(t: HasAfter, opts: Partial<GatewayOptions> & { dataDir?: string } = {}): Promise<Started> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'trellis-gw-test-'));
  const provider = (opts.provider as RuntimeProvider | undefined) ?? new TestProvider();
  const logs: string[] = [];
  let gw: Gateway | undefined;
  t.after(async () => {
    await gw?.close();
    await provider.close();
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  gw = await createGateway({ listen: '127.0.0.1:0', adminPassword: PASSWORD, log: (l) => logs.push(l), ...opts, dataDir, provider });
  return { gw, url: gw.url(), dataDir, provider, logs };
}

export async function api(url: string, method: string, path: string, body?: unknown, auth: string | null = AUTH): Promise<{ status: number; text: string; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(url + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

export async function deploy(url: string, spec: Record<string, unknown>): Promise<void> {
  const r = await api(url, 'POST', '/system/functions', spec);
  if (r.status !== 202) throw new Error(`deploy ${JSON.stringify(spec)}: ${r.status} ${r.text}`);
}

/** Sends raw bytes on a fresh connection and returns everything received until the server closes (or timeoutMs). */
export function rawExchange(url: string, bytes: string | Buffer, timeoutMs = 5000): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { s.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); }, timeoutMs);
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')); });
    s.write(bytes);
  });
}
