/**
 * What `trellis redis-proxy` adds for governance: `--admin host:port` (admin HTTP server, and
 * per-command caller stats on every pool) and hot reload of `--config` (file watch + SIGHUP).
 */
import { ConfigError, type RedisProxyConfig } from '../../config/index.js';
import type { RedisProxy } from '../proxy.js';
import cluster from 'node:cluster';
import { startAdminServer } from './admin-server.js';
import { serveAdminToPrimary, workersAdminSource } from './admin-source.js';
import { watchConfig } from './reload.js';

export function parseAdminFlag(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v.trim());
  if (!m || Number(m[3]) > 65535) throw new ConfigError(`--admin: expected host:port, got "${v}"`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/** Validates --admin and turns on command stats for pools that have no governance settings. */
export function prepareAdmin(cfg: RedisProxyConfig, admin: string | undefined): void {
  if (admin === undefined) return;
  parseAdminFlag(admin);
  for (const p of cfg.pools) p.governance ??= { stats: { topCallers: 20, maxCallers: 200 } };
}

/** Starts the admin server and the config watcher; returns a stop function. */
/** `command` names the CLI command in the line announcing the admin server. */
export async function startProxyServices(o: { admin?: string; config?: string; command?: string }, proxies: RedisProxy[]): Promise<() => Promise<void>> {
  const stops: Array<() => unknown> = [];
  // A worker of `--workers N`: the primary serves the admin port and asks the workers.
  if (o.admin !== undefined && cluster.isWorker) stops.push(serveAdminToPrimary(() => proxies));
  else if (o.admin !== undefined) {
    const a = await startAdminServer(parseAdminFlag(o.admin), () => proxies);
    process.stdout.write(`${o.command ?? 'trellis redis-proxy'}: admin on http://${a.host}:${a.port} (/metrics /stats /healthz /ready)\n`);
    stops.push(() => a.close());
  }
  if (o.config !== undefined) stops.push(watchConfig(o.config, proxies));
  return async () => { for (const s of stops) await s(); };
}

/** In the primary of `--workers N`: the admin server, reporting what the workers answer. */
export async function startWorkersAdmin(admin: string): Promise<() => Promise<void>> {
  const a = await startAdminServer(parseAdminFlag(admin), workersAdminSource());
  process.stdout.write(`trellis redis-proxy: admin on http://${a.host}:${a.port} (/metrics /stats /healthz /ready, every worker)\n`);
  return () => a.close();
}
