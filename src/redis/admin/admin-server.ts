/**
 * The admin HTTP endpoint (`--admin 127.0.0.1:PORT`): /metrics (Prometheus), /stats (JSON),
 * /healthz (the process is alive) and /ready (every pool has a healthy, connected backend).
 */
import http from 'node:http';
import type { RedisProxy } from '../proxy.js';
import { createProxyRegistry } from '../stats/prometheus.js';
import { scrapeWithProcessMetrics, startProcessMetrics } from '../../mesh/index.js';

export interface AdminServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

export function readiness(proxies: readonly RedisProxy[]): { ready: boolean; pools: Record<string, string> } {
  const pools: Record<string, string> = {};
  let ready = proxies.length > 0;
  for (const p of proxies) {
    const st = p.stats();
    const healthy = st.backends.filter((b, i) => b.connected && (st.governance?.backends[i].healthy ?? true)).length;
    pools[p.config.name] = `${healthy}/${st.backends.length} backends healthy and connected`;
    if (healthy === 0) ready = false;
  }
  return { ready, pools };
}

export async function startAdminServer(listen: { host: string; port: number }, proxies: () => readonly RedisProxy[]): Promise<AdminServer> {
  const registry = createProxyRegistry(proxies);
  startProcessMetrics();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') {
      scrapeWithProcessMetrics(registry).then((m) => send(200, registry.contentType, m), (e: Error) => send(500, 'text/plain', `${e.message}\n`));
    } else if (path === '/stats') {
      send(200, 'application/json', JSON.stringify({ pools: proxies().map((p) => p.stats()) }, null, 2));
    } else if (path === '/healthz') {
      send(200, 'text/plain', 'ok\n');
    } else if (path === '/ready') {
      const r = readiness(proxies());
      send(r.ready ? 200 : 503, 'application/json', JSON.stringify(r));
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
