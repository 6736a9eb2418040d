/**
 * The admin HTTP endpoint (`--admin 127.0.0.1:PORT`): /metrics (Prometheus), /stats (JSON),
 * /healthz (the process is alive) and /ready (every pool has a healthy, connected backend).
 */
import http from 'node:http';
import type { RedisProxy } from '../proxy.js';
import { localAdminSource, type AdminSource } from './admin-source.js';

export { readiness } from './admin-source.js';

export interface AdminServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/** `from`: this process' proxies, or an AdminSource (the workers of `--workers N`, asked by the primary). */
export async function startAdminServer(listen: { host: string; port: number }, from: (() => readonly RedisProxy[]) | AdminSource): Promise<AdminServer> {
  const source = typeof from === 'function' ? localAdminSource(from) : from;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    const failed = (e: Error) => send(500, 'text/plain', `${e.message}\n`);
    if (path === '/metrics') {
      source.metrics().then((m) => send(200, source.contentType, m), failed);
    } else if (path === '/stats') {
      source.stats().then((s) => send(200, 'application/json', JSON.stringify(s, null, 2)), failed);
    } else if (path === '/healthz') {
      send(200, 'text/plain', 'ok\n');
    } else if (path === '/ready') {
      source.ready().then((r) => send(r.ready ? 200 : 503, 'application/json', JSON.stringify(r)), failed);
    } else {
      send(404, 'text/plain', 'not found: try /metrics, /stats, /healthz, /ready\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => { server.off('error', reject); resolve(); });
  });
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : listen.port;
  return {
    port, host: listen.host,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
