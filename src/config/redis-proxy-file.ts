/**
 * Reads a Redis proxy YAML file: either ours, or a twemproxy (nutcracker) file as it is.
 *
 * Ours:
 *   redis_proxy:            # optional wrapper
 *     workers: 2
 *     pools:                # or a single pool's keys at the top level
 *       - name: main
 *         listen: 127.0.0.1:6380
 *         backends: [127.0.0.1:7001, "127.0.0.1:7002:1:shard-b"]
 *
 * twemproxy: one map per pool name with `listen`, `servers` ("host:port:weight [name]"), ...
 * Each twemproxy pool becomes a listener.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, normalizePool, parseTwemServer, type RedisPoolConfig, type RedisProxyConfig } from './redis-proxy.js';

/** twemproxy keys we honour, and those accepted but without effect (documented in README). */
const TWEM_HONOURED = new Set([
  'listen', 'hash', 'hash_tag', 'distribution', 'timeout', 'servers', 'redis', 'server_connections',
  'auto_eject_hosts', 'server_retry_timeout', 'server_failure_limit', 'redis_auth', 'redis_db',
]);
const TWEM_IGNORED = new Set(['backlog', 'preconnect', 'client_connections', 'tcpkeepalive', 'reuseport']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function looksLikeTwemproxy(doc: Record<string, unknown>): boolean {
  const values = Object.values(doc);
  return values.length > 0 && values.every((v) => isRecord(v) && 'servers' in v && 'listen' in v);
}

function twemPool(name: string, p: Record<string, unknown>): RedisPoolConfig {
  for (const key of Object.keys(p)) {
    if (TWEM_HONOURED.has(key) || TWEM_IGNORED.has(key)) continue;
    throw new ConfigError(`${name}.${key}: unknown twemproxy setting`);
  }
  if (p.redis !== true) throw new ConfigError(`${name}.redis: must be true (memcached pools are not supported)`);
  if (!Array.isArray(p.servers) || p.servers.length === 0) throw new ConfigError(`${name}.servers: expected a non-empty list`);
  const backends = p.servers.map((s, i) => parseTwemServer(String(s), `${name}.servers[${i}]`));
  if (typeof p.listen === 'string' && p.listen.startsWith('/')) throw new ConfigError(`${name}.listen: unix sockets are not supported`);
  const ours: Record<string, unknown> = {
    name,
    listen: p.listen,
    hash: p.hash,
    hash_tag: p.hash_tag,
    distribution: p.distribution,
    timeout: p.timeout,
    server_connections: p.server_connections,
    redis_db: p.redis_db,
    auto_eject_hosts: p.auto_eject_hosts,
    server_retry_timeout: p.server_retry_timeout,
    server_failure_limit: p.server_failure_limit,
    backends: backends.map((b) => ({ ...b })),
    // twemproxy's redis_auth: clients must AUTH with it, and it is sent to every server.
    ...(p.redis_auth !== undefined ? { auth: { passwords: [String(p.redis_auth)] }, upstream_auth: { password: String(p.redis_auth) } } : {}),
  };
  for (const k of Object.keys(ours)) if (ours[k] === undefined) delete ours[k];
  return normalizePool(ours, name, name);
}

/** Parses YAML text (ours or twemproxy's) into a validated config. */
export function parseProxyConfigText(text: string, source = 'config'): RedisProxyConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new ConfigError(`${source}: expected a YAML map at the top level`);
  if (isRecord(doc.redis_proxy)) doc = doc.redis_proxy;
  const d = doc as Record<string, unknown>;
  if (looksLikeTwemproxy(d)) {
    const pools = Object.entries(d).map(([name, p]) => twemPool(name, p as Record<string, unknown>));
    checkDistinctListeners(pools);
    return { workers: 1, pools };
  }
  const { workers = 1, pools, ...single } = d;
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new ConfigError('workers: expected an integer between 1 and 256');
  }
  let list: RedisPoolConfig[];
  if (pools !== undefined) {
    if (Object.keys(single).length) throw new ConfigError(`${Object.keys(single)[0]}: unexpected next to "pools" (put it inside a pool)`);
    if (!Array.isArray(pools) || pools.length === 0) throw new ConfigError('pools: expected a non-empty list');
    list = pools.map((p, i) => normalizePool(p, `pools[${i}]`, `pool${i}`));
  } else {
    list = [normalizePool(single, '', 'default')];
  }
  checkDistinctListeners(list);
  return { workers, pools: list };
}

function checkDistinctListeners(pools: RedisPoolConfig[]): void {
  const seen = new Set<string>();
  for (const p of pools) {
    const k = `${p.listen.host}:${p.listen.port}`;
    if (p.listen.port !== 0 && seen.has(k)) throw new ConfigError(`${p.name}.listen: ${k} is used by two pools`);
    seen.add(k);
  }
}

/** Reads and validates a config file (ours or twemproxy's). */
export function loadProxyConfig(path: string): RedisProxyConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config: cannot read ${path}: ${(err as Error).message}`);
  }
  return parseProxyConfigText(text, path);
}
