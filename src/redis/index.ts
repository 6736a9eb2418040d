/**
 * The Redis proxy: `startRedisProxy(pool)` listens for clients and shards their commands over
 * the pool's backends. `loadProxyConfig` / `parseBackendFlag` build pools from files and flags.
 */
import { poolFromOptions, type PoolOptions, type RedisPoolConfig } from '../config/index.js';
import { RedisProxy } from './proxy.js';

export { RedisProxy, type ProxyStats } from './proxy.js';
export type { BackendStats } from './backend.js';
export type { SplitterStats } from './command-splitter.js';
export { startAdminServer, type AdminServer } from './admin/admin-server.js';
export { watchConfig } from './admin/reload.js';
export { createProxyRegistry } from './stats/prometheus.js';
export type { GovernanceStats, BackendGovernanceStats } from './stats/governance-report.js';
export type { GovernanceConfig, GovernanceInput } from '../config/redis-governance.js';
export {
  loadProxyConfig, parseProxyConfigText, parseBackendFlag, poolFromOptions, ConfigError,
  type RedisPoolConfig, type RedisProxyConfig, type PoolOptions, type BackendSpec,
} from '../config/index.js';

function isNormalized(c: RedisPoolConfig | PoolOptions): c is RedisPoolConfig {
  const l = (c as RedisPoolConfig).listen;
  return typeof l === 'object' && l !== null && typeof (c as RedisPoolConfig).connectTimeoutMs === 'number'
    && c.backends.every((b) => typeof b === 'object');
}

/**
 * Starts one listener. Accepts a validated pool (from loadProxyConfig) or loose options, e.g.
 * `{ listen: '127.0.0.1:0', backends: ['127.0.0.1:7001', '127.0.0.1:7002'] }` (port 0 = any).
 */
export async function startRedisProxy(config: RedisPoolConfig | PoolOptions): Promise<RedisProxy> {
  const pool = isNormalized(config) ? config : poolFromOptions(config);
  const proxy = new RedisProxy(pool);
  await proxy.listen();
  return proxy;
}
