/**
 * `trellis redis-proxy`: the Redis proxy from flags, from our YAML, or from a twemproxy
 * (nutcracker) YAML file as it is (each pool becomes a listener). `--workers N` runs N
 * processes sharing the listen ports (node:cluster, kernel-balanced accepts).
 */
import cluster from 'node:cluster';
import type { Command } from 'commander';
import {
  ConfigError, loadProxyConfig, parseBackendFlag, poolFromOptions, type PoolOptions, type RedisProxyConfig,
} from '../../config/index.js';
import { READ_POLICIES, type ReadPolicy } from '../../config/redis-cluster.js';
import { startRedisProxy, type RedisProxy } from '../../redis/index.js';
import { prepareAdmin, startProxyServices, startWorkersAdmin } from '../../redis/admin/cli-hooks.js';

interface Flags {
  listen?: string;
  backend: string[];
  distribution?: string;
  hash?: string;
  hashTag?: string;
  timeout?: string;
  connectTimeout?: string;
  serverConnections?: string;
  redisDb?: string;
  readPolicy?: string;
  maxRedirects?: string;
  config?: string;
  workers?: string;
  admin?: string;
}

const FLAG_OF: Record<string, string> = {
  listen: '--listen', distribution: '--distribution', hash: '--hash', hash_tag: '--hash-tag', timeout: '--timeout',
  connect_timeout: '--connect-timeout', server_connections: '--server-connections', redis_db: '--redis-db', backends: '--backend',
};

function intFlag(v: string | undefined, flag: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new ConfigError(`${flag}: expected an integer ≥ ${min}, got "${v}"`);
  return Number(v);
}

/** Flags → validated config; errors name the flag. */
export function configFromFlags(f: Flags): RedisProxyConfig {
  const workers = intFlag(f.workers, '--workers', 1);
  if (f.config) {
    const poolFlags = ['listen', 'distribution', 'hash', 'hashTag', 'timeout', 'connectTimeout', 'serverConnections', 'redisDb', 'readPolicy', 'maxRedirects'] as const;
    const clash = poolFlags.find((k) => f[k] !== undefined) ?? (f.backend.length ? 'backend' : undefined);
    if (clash) throw new ConfigError(`--${clash.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: cannot be combined with --config (put it in the file)`);
    const cfg = loadProxyConfig(f.config);
    return { ...cfg, workers: workers ?? cfg.workers };
  }
  if (f.backend.length === 0) throw new ConfigError('--backend: at least one backend is required (host:port[:weight[:name]]), or use --config');
  const cluster = clusterFlags(f);
  const opts: PoolOptions = {
    listen: f.listen ?? '127.0.0.1:6380',
    backends: f.backend.map((b) => parseBackendFlag(b)),
    distribution: f.distribution as PoolOptions['distribution'],
    hash: f.hash,
    hashTag: f.hashTag,
    timeoutMs: intFlag(f.timeout, '--timeout', 0),
    connectTimeoutMs: intFlag(f.connectTimeout, '--connect-timeout', 1),
    serverConnections: intFlag(f.serverConnections, '--server-connections', 1),
    redisDb: intFlag(f.redisDb, '--redis-db', 0),
    ...(cluster ? { cluster } : {}),
  };
  try {
    return { workers: workers ?? 1, pools: [poolFromOptions(opts, '')] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const m = /^\.?([a-z_]+)(\[\d+\])?(.*)$/.exec(err.message);
    if (m && FLAG_OF[m[1]]) throw new ConfigError(`${FLAG_OF[m[1]]}${m[3]}`);
    throw err;
  }
}

/** --read-policy / --max-redirects: only with --distribution cluster. */
function clusterFlags(f: Flags): PoolOptions['cluster'] {
  if (f.readPolicy === undefined && f.maxRedirects === undefined) return undefined;
  const flag = f.readPolicy !== undefined ? '--read-policy' : '--max-redirects';
  if (f.distribution !== 'cluster') throw new ConfigError(`${flag}: only meaningful with --distribution cluster`);
  if (f.readPolicy !== undefined && !(READ_POLICIES as readonly string[]).includes(f.readPolicy)) {
    throw new ConfigError(`--read-policy: expected one of ${READ_POLICIES.join(', ')}, got "${f.readPolicy}"`);
  }
  const maxRedirects = intFlag(f.maxRedirects, '--max-redirects', 1);
  if (maxRedirects !== undefined && maxRedirects > 100) throw new ConfigError(`--max-redirects: expected an integer from 1 to 100, got "${f.maxRedirects}"`);
  return { readPolicy: f.readPolicy as ReadPolicy | undefined, maxRedirects };
}

async function runPools(cfg: RedisProxyConfig, flags: Flags = { backend: [] }): Promise<void> {
  const proxies: RedisProxy[] = [];
  try {
    for (const pool of cfg.pools) proxies.push(await startRedisProxy(pool));
  } catch (err) {
    await Promise.all(proxies.map((p) => p.close(0)));
    throw err;
  }
  if (!cluster.isWorker) {
    for (const p of proxies) {
      const a = p.address();
      const c = p.config;
      process.stdout.write(`trellis redis-proxy: pool ${c.name} listening on ${a.host}:${a.port} → ${c.backends.length} backends (${c.distribution}, ${c.hash}${c.hashTag ? `, hash_tag ${c.hashTag}` : ''})\n`);
    }
  }
  const stopServices = await startProxyServices({ admin: flags.admin, config: flags.config }, proxies);
  const stop = () => {
    void stopServices().then(() => Promise.all(proxies.map((p) => p.close()))).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function runPrimary(cfg: RedisProxyConfig, admin: string | undefined): Promise<void> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  const stopAdmin = admin !== undefined ? await startWorkersAdmin(admin) : async () => {};
  const fork = () => cluster.fork();
  for (let i = 0; i < cfg.workers; i++) fork();
  let online = 0;
  cluster.on('online', () => {
    if (++online === cfg.workers) {
      for (const p of cfg.pools) {
        process.stdout.write(`trellis redis-proxy: pool ${p.name} listening on ${p.listen.host}:${p.listen.port} with ${cfg.workers} workers → ${p.backends.length} backends\n`);
      }
    }
  });
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    process.stderr.write(`trellis redis-proxy: worker ${w.process.pid} exited (${signal ?? code}); restarting it\n`);
    setTimeout(fork, 500);
  });
  const stop = () => {
    stopping = true;
    void stopAdmin();
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    let left = Object.keys(cluster.workers ?? {}).length;
    if (left === 0) process.exit(0);
    cluster.on('exit', () => { if (--left <= 0) process.exit(0); });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export function registerRedisProxy(program: Command): void {
  program
    .command('redis-proxy')
    .description('Run the Redis proxy (sharding over backends, twemproxy-compatible placement)')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:6380)')
    .option('--backend <host:port[:weight[:name]]>', 'a backend Redis server; repeat for each shard', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--distribution <name>', 'ketama (default), modula, random, slots, or cluster (a Redis Cluster; backends are seed nodes)')
    .option('--read-policy <policy>', 'with --distribution cluster: where reads go, master (default), preferMaster, replica, preferReplica or any')
    .option('--max-redirects <n>', 'with --distribution cluster: MOVED/ASK hops per request before giving up (default 5)')
    .option('--hash <name>', 'twemproxy hash function (default fnv1a_64)')
    .option('--hash-tag <two chars>', 'hash tag, e.g. "{}"')
    .option('--timeout <ms>', 'request timeout in ms (0 = wait forever, like twemproxy)')
    .option('--connect-timeout <ms>', 'backend connect timeout in ms (default 1000)')
    .option('--server-connections <n>', 'connections per backend, shared by all clients (default 1)')
    .option('--redis-db <n>', 'database the backend connections select (twemproxy redis_db); clients see it as database 0 (default 0)')
    .option('--config <file>', 'our YAML or a twemproxy (nutcracker) YAML file')
    .option('--workers <n>', 'processes sharing the listen port (default 1)')
    .option('--admin <host:port>', 'admin HTTP server: /metrics (Prometheus), /stats, /healthz, /ready')
    .action(async (flags: Flags) => {
      let cfg: RedisProxyConfig;
      try {
        cfg = configFromFlags(flags);
        prepareAdmin(cfg, flags.admin);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`trellis redis-proxy: invalid configuration: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      if (cfg.workers > 1 && cluster.isPrimary) return runPrimary(cfg, flags.admin);
      await runPools(cfg, flags);
    });
}
