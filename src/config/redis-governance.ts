/**
 * Governance settings of a Redis pool (YAML, snake_case, times in ms like the rest of the pool):
 * downstream users, upstream credentials, health checks, outlier detection, circuit breakers,
 * rate limits, retries, per-class timeouts, faults, mirroring, TLS and stats bounds.
 * All optional: a pool without any of them runs the plain proxy with no governance cost.
 * Passwords are kept only as SHA-256 digests for downstream users; upstream passwords must be
 * kept to be sent, but nothing here ever formats them into a message.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

const ms = (min = 0) => z.number().int().min(min);
const pct = z.number().min(0).max(100);
const COMMAND_CLASSES = ['read', 'write', 'admin', 'other', 'all'] as const;
export type CommandClass = (typeof COMMAND_CLASSES)[number];

const userSchema = z.strictObject({
  username: z.string().min(1).default('default'),
  password: z.string().min(1),
  read_only: z.boolean().default(false),
  key_prefixes: z.array(z.string()).optional(),
});

const credsSchema = z.strictObject({ username: z.string().min(1).optional(), password: z.string().min(1) });

const tlsFiles = {
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  ca_file: z.string().min(1).optional(),
};

/** Keys added to the pool schema (spread into the core's strict pool object). */
export const governanceShape = {
  auth: z.strictObject({
    users: z.array(userSchema).min(1).optional(),
    /** Envoy downstream_auth_passwords: any of them authenticates `AUTH <password>` as "default". */
    passwords: z.array(z.string().min(1)).min(1).optional(),
  }).optional(),
  upstream_auth: z.strictObject({
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** Per-backend override, keyed by "host:port" or the backend's name. */
    backends: z.record(z.string(), credsSchema).optional(),
  }).optional(),
  health_check: z.strictObject({
    interval: ms(10).default(1000),
    timeout: ms(1).default(1000),
    healthy_threshold: z.number().int().min(1).default(1),
    unhealthy_threshold: z.number().int().min(1).default(2),
    /** Envoy's redis health checker `key`: EXISTS key; the key being present means "drain me". */
    key: z.string().min(1).optional(),
  }).optional(),
  outlier_detection: z.strictObject({
    consecutive_5xx: z.number().int().min(1).default(5),
    consecutive_gateway_failure: z.number().int().min(1).default(5),
    enforcing_consecutive_gateway_failure: pct.default(0),
    interval: ms(1).default(10_000),
    base_ejection_time: ms(1).default(30_000),
    max_ejection_time: ms(1).default(300_000),
    max_ejection_percent: pct.default(10),
  }).optional(),
  circuit_breakers: z.strictObject({
    max_connections: z.number().int().min(1).optional(),
    max_pending_requests: z.number().int().min(1).optional(),
    max_client_queued_bytes: z.number().int().min(1024).optional(),
  }).optional(),
  rate_limits: z.array(z.strictObject({
    class: z.enum(COMMAND_CLASSES).default('all'),
    requests_per_second: z.number().positive(),
    burst: z.number().min(1).optional(),
    max_callers: z.number().int().min(1).default(10_000),
  })).optional(),
  retry: z.strictObject({
    retries: z.number().int().min(0).max(5).default(1),
    budget_percent: pct.default(20),
    min_retry_concurrency: z.number().int().min(0).default(3),
    backoff_base: ms(0).default(25),
  }).optional(),
  timeouts: z.strictObject({
    read: ms(1).optional(), write: ms(1).optional(), admin: ms(1).optional(), other: ms(1).optional(),
  }).optional(),
  faults: z.array(z.strictObject({
    type: z.enum(['error', 'delay']),
    percent: pct,
    delay: ms(0).default(0),
    commands: z.array(z.string().min(1)).optional(),
  })).optional(),
  mirror: z.strictObject({
    backends: z.array(z.string()).min(1),
    distribution: z.enum(['ketama', 'modula', 'random']).default('ketama'),
    hash: z.string().default('fnv1a_64'),
    hash_tag: z.string().length(2).optional(),
    percent: pct.default(100),
    /** Envoy exclude_read_commands: mirror writes only (default: everything, as Envoy). */
    exclude_read_commands: z.boolean().default(false),
  }).optional(),
  tls: z.strictObject({ cert_file: z.string().min(1), key_file: z.string().min(1), ca_file: z.string().min(1).optional(),
    require_client_cert: z.boolean().default(false) }).optional(),
  upstream_tls: z.strictObject({ ...tlsFiles, server_name: z.string().optional(), verify: z.boolean().default(true) }).optional(),
  /** Envoy prefix_routes: the longest matching key prefix picks the backends; other keys use the pool's own. */
  prefix_routes: z.strictObject({
    case_insensitive: z.boolean().default(false),
    routes: z.array(z.strictObject({
      prefix: z.string().min(1).max(1000),
      backends: z.array(z.string()).min(1),
      distribution: z.enum(['ketama', 'modula', 'random']).optional(),
      hash: z.string().optional(),
      hash_tag: z.string().length(2).optional(),
      /** Strip the prefix from the key sent upstream (and hash the rest), as Envoy's remove_prefix. */
      remove_prefix: z.boolean().default(false),
    })).min(1),
  }).optional(),
  stats: z.strictObject({
    /** Callers shown with their own label (the rest as "other"). */
    top_callers: z.number().int().min(1).max(1000).default(20),
    /** Callers tracked at all (memory bound). */
    max_callers: z.number().int().min(1).max(10_000).default(200),
  }).optional(),
};

const governanceObject = z.object(governanceShape);
export type GovernanceInput = z.input<typeof governanceObject>;
type Parsed = z.output<typeof governanceObject>;

export interface DownstreamUser {
  username: string;
  /** SHA-256 of the password (compared in constant time). */
  passwordSha256: Buffer;
  readOnly: boolean;
  keyPrefixes?: Buffer[];
}

export interface Credentials { username?: string; password: string }

export interface TlsFiles { certFile?: string; keyFile?: string; caFile?: string }

export interface MirrorConfig {
  backends: string[];
  distribution: 'ketama' | 'modula' | 'random';
  hash: string;
  hashTag?: string;
  percent: number;
  excludeReadCommands: boolean;
}

/** Minimal backend shape (the pool's BackendSpec) to keep this module free of the pool schema. */
export interface RouteBackend { host: string; port: number; weight: number; name?: string }

export interface PrefixRoute {
  prefix: Buffer;
  /** Index of the route's first backend in the pool's backend list, and how many it has. */
  start: number;
  count: number;
  distribution?: 'ketama' | 'modula' | 'random';
  hash?: string;
  hashTag?: string;
  removePrefix: boolean;
  backends: RouteBackend[];
}

export interface GovernanceConfig {
  users?: DownstreamUser[];
  upstreamAuth?: { username?: string; password?: string; backends?: Record<string, Credentials> };
  healthCheck?: { intervalMs: number; timeoutMs: number; healthyThreshold: number; unhealthyThreshold: number; key?: string };
  outlierDetection?: {
    consecutive5xx: number; consecutiveGatewayFailure: number; enforcingConsecutiveGatewayFailure: number;
    intervalMs: number; baseEjectionTimeMs: number; maxEjectionTimeMs: number; maxEjectionPercent: number;
  };
  circuitBreakers?: { maxConnections?: number; maxPendingRequests?: number; maxClientQueuedBytes?: number };
  rateLimits?: Array<{ class: CommandClass; ratePerSec: number; burst?: number; maxCallers: number }>;
  retry?: { retries: number; budgetPercent: number; minRetryConcurrency: number; backoffBaseMs: number };
  timeouts?: Partial<Record<Exclude<CommandClass, 'all'>, number>>;
  faults?: Array<{ type: 'error' | 'delay'; percent: number; delayMs: number; commands?: string[] }>;
  mirror?: MirrorConfig;
  tls?: TlsFiles & { requireClientCert: boolean };
  upstreamTls?: TlsFiles & { serverName?: string; verify: boolean };
  prefixRoutes?: { caseInsensitive: boolean; routes: PrefixRoute[] };
  stats: { topCallers: number; maxCallers: number };
}

export function sha256(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

const GOV_KEYS = Object.keys(governanceShape) as Array<keyof Parsed>;

/** Builds the typed governance settings from a parsed pool, or undefined when none is set. */
export function normalizeGovernance(
  p: Partial<Parsed>, fail: (path: string, msg: string) => never,
  parseBackend?: (s: string, field: string) => RouteBackend, ownBackends = 0,
): GovernanceConfig | undefined {
  if (!GOV_KEYS.some((k) => p[k] !== undefined)) return undefined;
  const g: GovernanceConfig = { stats: { topCallers: p.stats?.top_callers ?? 20, maxCallers: p.stats?.max_callers ?? 200 } };
  if (g.stats.topCallers > g.stats.maxCallers) fail('stats.top_callers', 'must not exceed stats.max_callers');
  if (p.auth) {
    const users: DownstreamUser[] = [];
    for (const u of p.auth.users ?? []) {
      const user: DownstreamUser = { username: u.username, passwordSha256: sha256(u.password), readOnly: u.read_only };
      if (u.key_prefixes) user.keyPrefixes = u.key_prefixes.map((k) => Buffer.from(k));
      users.push(user);
    }
    for (const pw of p.auth.passwords ?? []) users.push({ username: 'default', passwordSha256: sha256(pw), readOnly: false });
    if (users.length === 0) fail('auth', 'give users or passwords');
    const names = new Set<string>();
    for (const u of p.auth.users ?? []) {
      if (names.has(u.username)) fail('auth.users', `duplicate user "${u.username}"`);
      names.add(u.username);
    }
    g.users = users;
  }
  if (p.upstream_auth) {
    const { backends, ...creds } = p.upstream_auth;
    if (creds.username !== undefined && creds.password === undefined) fail('upstream_auth.password', 'required with username');
    if (creds.password === undefined && !backends) fail('upstream_auth', 'give password (and username) or backends');
    g.upstreamAuth = backends ? { ...creds, backends } : creds;
  }
  const hc = p.health_check;
  if (hc) {
    g.healthCheck = { intervalMs: hc.interval, timeoutMs: hc.timeout, healthyThreshold: hc.healthy_threshold, unhealthyThreshold: hc.unhealthy_threshold, key: hc.key };
  }
  const od = p.outlier_detection;
  if (od) {
    g.outlierDetection = {
      consecutive5xx: od.consecutive_5xx, consecutiveGatewayFailure: od.consecutive_gateway_failure,
      enforcingConsecutiveGatewayFailure: od.enforcing_consecutive_gateway_failure, intervalMs: od.interval,
      baseEjectionTimeMs: od.base_ejection_time, maxEjectionTimeMs: od.max_ejection_time, maxEjectionPercent: od.max_ejection_percent,
    };
  }
  const cb = p.circuit_breakers;
  if (cb) g.circuitBreakers = { maxConnections: cb.max_connections, maxPendingRequests: cb.max_pending_requests, maxClientQueuedBytes: cb.max_client_queued_bytes };
  if (p.rate_limits) {
    g.rateLimits = p.rate_limits.map((r) => ({ class: r.class, ratePerSec: r.requests_per_second, burst: r.burst, maxCallers: r.max_callers }));
  }
  if (p.retry) g.retry = { retries: p.retry.retries, budgetPercent: p.retry.budget_percent, minRetryConcurrency: p.retry.min_retry_concurrency, backoffBaseMs: p.retry.backoff_base };
  if (p.timeouts) g.timeouts = { ...p.timeouts };
  if (p.faults) g.faults = p.faults.map((f) => ({ type: f.type, percent: f.percent, delayMs: f.delay, commands: f.commands?.map((c) => c.toLowerCase()) }));
  p.faults?.forEach((f, i) => { if (f.type === 'delay' && f.delay <= 0) fail(`faults[${i}].delay`, 'a delay fault needs delay > 0 (ms)'); });
  if (p.mirror) {
    const m = p.mirror;
    g.mirror = { backends: m.backends, distribution: m.distribution, hash: m.hash, hashTag: m.hash_tag, percent: m.percent, excludeReadCommands: m.exclude_read_commands };
  }
  if (p.tls) g.tls = { certFile: p.tls.cert_file, keyFile: p.tls.key_file, caFile: p.tls.ca_file, requireClientCert: p.tls.require_client_cert };
  if (p.tls?.require_client_cert && !p.tls.ca_file) fail('tls.ca_file', 'required with require_client_cert');
  const ut = p.upstream_tls;
  if (ut) {
    if ((ut.cert_file === undefined) !== (ut.key_file === undefined)) fail('upstream_tls', 'cert_file and key_file go together');
    g.upstreamTls = { certFile: ut.cert_file, keyFile: ut.key_file, caFile: ut.ca_file, serverName: ut.server_name, verify: ut.verify };
  }
  if (p.prefix_routes) {
    if (!parseBackend) fail('prefix_routes', 'not available here');
    let next = ownBackends;
    const seen = new Set<string>();
    const ci = p.prefix_routes.case_insensitive;
    g.prefixRoutes = { caseInsensitive: ci, routes: p.prefix_routes.routes.map((r, i) => {
      const prefix = ci ? r.prefix.toLowerCase() : r.prefix;
      if (seen.has(prefix)) fail(`prefix_routes.routes[${i}].prefix`, `duplicate prefix "${r.prefix}"`);
      seen.add(prefix);
      const backends = r.backends.map((b, j) => parseBackend!(b, `prefix_routes.routes[${i}].backends[${j}]`));
      const route: PrefixRoute = { prefix: Buffer.from(prefix), start: next, count: backends.length, distribution: r.distribution, hash: r.hash, hashTag: r.hash_tag, removePrefix: r.remove_prefix, backends };
      next += backends.length;
      return route;
    }) };
  }
  return g;
}

/** Credentials for one backend: its override (by address or name), else the pool's. */
export function upstreamCredentials(g: GovernanceConfig | undefined, address: string, name?: string): Credentials | undefined {
  const a = g?.upstreamAuth;
  if (!a) return undefined;
  const o = a.backends?.[address] ?? (name !== undefined ? a.backends?.[name] : undefined);
  if (o) return o;
  return a.password === undefined ? undefined : { username: a.username, password: a.password };
}
