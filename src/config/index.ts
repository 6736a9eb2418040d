export {
  DISTRIBUTIONS, HASHES, ConfigError, parseBackendFlag, parseTwemServer, normalizePool, poolFromOptions,
  type Distribution, type BackendSpec, type RedisPoolConfig, type RedisProxyConfig, type PoolOptions,
} from './redis-proxy.js';
export { parseProxyConfigText, loadProxyConfig } from './redis-proxy-file.js';
