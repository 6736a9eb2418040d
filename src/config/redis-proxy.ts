/**
 * Redis proxy configuration: one validated, typed shape (`RedisProxyConfig`) built from
 * flags, from our YAML, or from a twemproxy (nutcracker) YAML file read as it is.
 * Every refusal names the offending field.
 */
import { z } from 'zod';
import { governanceShape, normalizeGovernance, type GovernanceConfig, type GovernanceInput } from './redis-governance.js';
import { clusterOptionsToInput, clusterSettings, clusterShape, type ClusterOptions, type ClusterSettings } from './redis-cluster.js';

/** `cluster`: a Redis Cluster behind the proxy; backends are seed nodes (src/redis/cluster). */
export const DISTRIBUTIONS = ['ketama', 'modula', 'random', 'slots', 'cluster'] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];

/** twemproxy's hash function names (src/hashkit). */
export const HASHES = [
  'fnv1a_64', 'fnv1a_32', 'fnv1_64', 'fnv1_32', 'md5', 'crc16', 'crc32', 'crc32a',
  'murmur', 'one_at_a_time', 'hsieh', 'jenkins',
] as const;

export interface BackendSpec {
  host: string;
  port: number;
  weight: number;
  /** Node name: replaces host:port on the Ketama ring (twemproxy `host:port:weight name`). */
  name?: string;
  /** Static slot ranges for the `slots` distribution, e.g. [[0, 8191]]. */
  slots?: Array<[number, number]>;
}

export interface RedisPoolConfig {
  /** Pool name (twemproxy's top-level key); used in stats and logs. */
  name: string;
  listen: { host: string; port: number };
  distribution: Distribution;
  hash: string;
  /** Two characters, e.g. "{}"; undefined = hash the whole key. */
  hashTag?: string;
  /** Request (response) timeout in ms; 0 = wait forever (twemproxy's default). */
  timeoutMs: number;
  /** Connect timeout in ms. */
  connectTimeoutMs: number;
  /** Multiplexed connections per backend (twemproxy `server_connections`). */
  serverConnections: number;
  /** Database the backends' connections select (twemproxy `redis_db`); clients see it as database 0. */
  redisDb: number;
  /** twemproxy ejection: remove a failing backend from the ring for serverRetryTimeoutMs. */
  autoEjectHosts: boolean;
  serverRetryTimeoutMs: number;
  serverFailureLimit: number;
  /** Largest request accepted from a client (Redis proto-max-bulk-len), bytes. */
  maxRequestBytes: number;
  backends: BackendSpec[];
  /** Auth, health, limits, stats... (src/config/redis-governance.ts); absent = plain proxy. */
  governance?: GovernanceConfig;
  /** Present iff distribution is `cluster` (src/config/redis-cluster.ts). */
  cluster?: ClusterSettings;
}

export interface RedisProxyConfig {
  workers: number;
  pools: RedisPoolConfig[];
}

export class ConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

const hostPort = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/;

function parseListen(s: string, field: string): { host: string; port: number } {
  const m = hostPort.exec(s.trim());
  if (!m) throw new ConfigError(`${field}: expected host:port, got "${s}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${field}: port ${port} out of range`);
  return { host: m[1] ?? m[2], port };
}

/** `host:port[:weight[:name]]` as given to `--backend`. */
export function parseBackendFlag(s: string, field = '--backend'): BackendSpec {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})(?::(\d+))?(?::([^\s:]+))?$/.exec(s.trim());
  if (!m) throw new ConfigError(`${field}: expected host:port[:weight[:name]], got "${s}"`);
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`${field}: port ${port} out of range in "${s}"`);
  const weight = m[3] === undefined ? 1 : Number(m[3]);
  if (weight < 1) throw new ConfigError(`${field}: weight must be at least 1 in "${s}"`);
  return m[4] === undefined ? { host, port, weight } : { host, port, weight, name: m[4] };
}

/** twemproxy server line: `host:port:weight [name]`. */
export function parseTwemServer(s: string, field: string): BackendSpec {
  const m = /^(\S+):(\d{1,5}):(\d+)(?:\s+(\S+))?$/.exec(String(s).trim());
  if (!m) throw new ConfigError(`${field}: expected "host:port:weight [name]", got "${s}"`);
  const port = Number(m[2]);
  const weight = Number(m[3]);
  if (port < 1 || port > 65535) throw new ConfigError(`${field}: port ${port} out of range`);
  if (weight < 1) throw new ConfigError(`${field}: weight must be at least 1`);
  return m[4] === undefined ? { host: m[1], port, weight } : { host: m[1], port, weight, name: m[4] };
}

function parseSlots(v: unknown, field: string): Array<[number, number]> {
  const parts = Array.isArray(v) ? v.map(String) : String(v).split(',');
  return parts.map((p) => {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(p);
    if (!m) throw new ConfigError(`${field}: expected slot ranges like "0-8191,9000", got "${p}"`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > b || b > 16383) throw new ConfigError(`${field}: slot range "${p}" must be within 0-16383`);
    return [a, b];
  });
}

const backendObject = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  weight: z.number().int().min(1).default(1),
  name: z.string().min(1).optional(),
  slots: z.union([z.string(), z.array(z.union([z.string(), z.number()]))]).optional(),
});

const poolSchema = z.strictObject({
  name: z.string().min(1).optional(),
  listen: z.union([z.string(), z.strictObject({ host: z.string(), port: z.number().int().min(0).max(65535) })]).default('127.0.0.1:0'),
  distribution: z.enum(DISTRIBUTIONS).default('ketama'),
  hash: z.enum(HASHES).default('fnv1a_64'),
  hash_tag: z.string().length(2, 'must be exactly two characters, e.g. "{}"').optional(),
  timeout: z.number().int().min(0).default(0),
  connect_timeout: z.number().int().min(1).optional(),
  server_connections: z.number().int().min(1).max(64).default(1),
  redis_db: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  auto_eject_hosts: z.boolean().default(false),
  server_retry_timeout: z.number().int().min(1).default(30000),
  server_failure_limit: z.number().int().min(1).default(2),
  max_request_bytes: z.number().int().min(1024).default(512 * 1024 * 1024),
  backends: z.array(z.union([z.string(), backendObject])).min(1, 'at least one backend is required'),
  ...governanceShape,
  ...clusterShape,
});

export type PoolInput = z.input<typeof poolSchema>;

function issuePath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

function zodFail(prefix: string, err: z.ZodError): never {
  const first = err.issues[0];
  throw new ConfigError(`${issuePath(prefix, first.path)}: ${first.message}`);
}

/** Validates one pool in our own (snake_case YAML) shape. `field` prefixes error paths. */
export function normalizePool(input: unknown, field: string, defaultName = 'default'): RedisPoolConfig {
  const r = poolSchema.safeParse(input);
  if (!r.success) zodFail(field, r.error);
  const p = r.data;
  const listen = typeof p.listen === 'string' ? parseListen(p.listen, `${field}.listen`) : p.listen;
  const backends = p.backends.map((b, i): BackendSpec => {
    const f = `${field}.backends[${i}]`;
    if (typeof b === 'string') return parseBackendFlag(b, f);
    const out: BackendSpec = { host: b.host, port: b.port, weight: b.weight };
    if (b.name !== undefined) out.name = b.name;
    if (b.slots !== undefined) out.slots = parseSlots(b.slots, `${f}.slots`);
    return out;
  });
  const governance = normalizeGovernance(p, (path, msg) => { throw new ConfigError(`${issuePath(field, path.split('.'))}: ${msg}`); }, (s, f) => parseBackendFlag(s, issuePath(field, f.split('.'))), backends.length);
  // prefix_routes backends follow the pool's own (the catch-all route) in one backend list.
  for (const r of governance?.prefixRoutes?.routes ?? []) backends.push(...r.backends);
  const names = new Set<string>();
  backends.forEach((b, i) => {
    const id = b.name ?? `${b.host}:${b.port}`;
    if (names.has(id)) throw new ConfigError(`${field}.backends[${i}]: duplicate backend "${id}"`);
    names.add(id);
  });
  if (p.distribution !== 'slots' && backends.some((b) => b.slots)) {
    throw new ConfigError(`${field}.backends: slots are only meaningful with distribution: slots`);
  }
  const timeoutMs = p.timeout;
  if (p.cluster !== undefined && p.distribution !== 'cluster') throw new ConfigError(`${field}.cluster: only meaningful with distribution: cluster`);
  if (p.distribution === 'cluster' && p.redis_db !== 0) throw new ConfigError(`${field}.redis_db: Redis Cluster only has database 0`);
  if (p.distribution === 'cluster' && governance) {
    const refused = clusterRefusedGovernance(p);
    if (refused) throw new ConfigError(`${issuePath(field, refused.split('.'))}: not supported with distribution: cluster (${CLUSTER_REFUSALS[refused]})`);
  }
  return {
    name: p.name ?? defaultName,
    listen,
    distribution: p.distribution,
    hash: p.hash,
    hashTag: p.hash_tag,
    timeoutMs,
    connectTimeoutMs: p.connect_timeout ?? (timeoutMs > 0 ? Math.min(timeoutMs, 1000) : 1000),
    serverConnections: p.server_connections,
    redisDb: p.redis_db,
    autoEjectHosts: p.auto_eject_hosts,
    serverRetryTimeoutMs: p.server_retry_timeout,
    serverFailureLimit: p.server_failure_limit,
    maxRequestBytes: p.max_request_bytes,
    backends,
    ...(governance ? { governance } : {}),
    ...(p.distribution === 'cluster' ? { cluster: clusterSettings(p.cluster) } : {}),
  };
}

/** Governance settings that act per backend of a static list, which a Redis Cluster pool does not have. */
const CLUSTER_REFUSALS: Record<string, string> = {
  health_check: 'the cluster detects failed nodes itself; the proxy follows its topology',
  outlier_detection: 'the cluster detects failed nodes itself; the proxy follows its topology',
  retry: 'cluster requests are resent after a topology refresh already',
  prefix_routes: 'keys are placed by their cluster hash slot',
  'circuit_breakers.max_pending_requests': 'not enforced per cluster node yet',
};

function clusterRefusedGovernance(p: z.output<typeof poolSchema>): string | undefined {
  if (p.health_check !== undefined) return 'health_check';
  if (p.outlier_detection !== undefined) return 'outlier_detection';
  if (p.retry !== undefined) return 'retry';
  if (p.prefix_routes !== undefined) return 'prefix_routes';
  if (p.circuit_breakers?.max_pending_requests !== undefined) return 'circuit_breakers.max_pending_requests';
  return undefined;
}

/** Pool options in camelCase, as the programmatic API and `trellis up` pass them. */
export interface PoolOptions {
  name?: string;
  listen?: string | { host: string; port: number };
  distribution?: Distribution;
  hash?: string;
  hashTag?: string;
  timeoutMs?: number;
  connectTimeoutMs?: number;
  serverConnections?: number;
  redisDb?: number;
  autoEjectHosts?: boolean;
  serverRetryTimeoutMs?: number;
  serverFailureLimit?: number;
  maxRequestBytes?: number;
  backends: Array<string | BackendSpec>;
  /** Governance settings in the YAML (snake_case) shape, e.g. { auth: { users: [...] } }. */
  governance?: GovernanceInput;
  /** distribution: cluster settings. */
  cluster?: ClusterOptions;
}

export function poolFromOptions(o: PoolOptions, field = 'pool'): RedisPoolConfig {
  const input: Record<string, unknown> = {
    name: o.name, listen: o.listen, distribution: o.distribution, hash: o.hash, hash_tag: o.hashTag,
    timeout: o.timeoutMs, connect_timeout: o.connectTimeoutMs, server_connections: o.serverConnections,
    redis_db: o.redisDb, auto_eject_hosts: o.autoEjectHosts, server_retry_timeout: o.serverRetryTimeoutMs,
    server_failure_limit: o.serverFailureLimit, max_request_bytes: o.maxRequestBytes, ...o.governance,
    cluster: o.cluster && clusterOptionsToInput(o.cluster),
    backends: o.backends?.map((b) => (typeof b === 'string' ? b : {
      host: b.host, port: b.port, weight: b.weight ?? 1, name: b.name,
      slots: b.slots?.map(([a, z2]) => `${a}-${z2}`),
    })),
  };
  for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
  for (const b of (input.backends as Array<Record<string, unknown>> | undefined) ?? []) {
    if (typeof b === 'object') for (const k of Object.keys(b)) if (b[k] === undefined) delete b[k];
  }
  return normalizePool(input, field);
}
