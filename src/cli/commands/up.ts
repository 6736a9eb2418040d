/**
 * `trellis up`: the all-in-one command. Starts every component the config asks for (for now the
 * Redis proxy, in front of managed redis-servers when the config names no backends), prints
 * what runs where, and stops everything cleanly on SIGINT/SIGTERM.
 *
 * Components are entries of UP_COMPONENTS: each reads its own section of the config file and
 * returns a running handle. A new component (e.g. the function gateway) adds one entry.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ConfigError, parseProxyConfigText, startRedisProxy, type RedisProxy } from '../../redis/index.js';
import { ManagedBackends } from '../../redis/managed-backends.js';
import { prepareAdmin, startProxyServices } from '../../redis/admin/cli-hooks.js';
import { gatewayComponent } from './up-gateway.js';

export interface UpOptions {
  config?: string;
  /** Redis proxy listen address (default 127.0.0.1:6380). */
  listen?: string;
  /** How many managed redis-servers when the config names no backends (default 3). */
  managedBackends: number;
  /** false = do not start the function gateway (--no-gateway). */
  gateway?: boolean;
  /** Gateway listen address (default 127.0.0.1:8080). */
  gatewayListen?: string;
  /** Gateway data directory (default ./.trellis). */
  dataDir?: string;
  /** Redis proxy admin HTTP server (host:port): /metrics, /stats, /healthz, /ready. */
  admin?: string;
}

/** The parsed `trellis up` config file: one optional section per component. */
export type UpConfig = Record<string, unknown>;

export interface RunningComponent {
  /** Lines telling the user what runs where. */
  describe(): string[];
  /** Stops the component and everything it started; must not throw. */
  stop(): Promise<void>;
}

export interface UpComponent {
  name: string;
  /** Starts the component, or returns undefined when the config does not ask for it. */
  start(config: UpConfig, opts: UpOptions): Promise<RunningComponent | undefined>;
}

const DEFAULT_LISTEN = '127.0.0.1:6380';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** twemproxy files are maps of pool name → pool with `servers`; ours use `backends`. */
function namesBackends(section: Record<string, unknown>): boolean {
  const pools = Array.isArray(section.pools) ? section.pools : [section, ...Object.values(section)];
  return pools.some((p) => isRecord(p) && (p.backends !== undefined || p.servers !== undefined));
}

function placeholders(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.1:${i + 1}`);
}

/** The redis_proxy section with managed backends filled in and --listen (or 6380) applied. */
function proxySection(base: Record<string, unknown>, opts: UpOptions, managed: string[]): Record<string, unknown> {
  let section = { ...base };
  if (managed.length > 0) {
    if (Array.isArray(section.pools)) {
      section.pools = section.pools.map((p) => (isRecord(p) ? { ...p, backends: managed } : p));
    } else {
      section = { ...section, backends: managed };
    }
  }
  const twemproxyFile = Object.values(section).some((v) => isRecord(v) && 'servers' in v);
  if (!Array.isArray(section.pools) && !twemproxyFile) {
    // --listen (or the 6380 default) applies to a single pool that names no listener itself.
    if (opts.listen !== undefined || section.listen === undefined) section.listen = opts.listen ?? DEFAULT_LISTEN;
  } else if (opts.listen !== undefined) {
    throw new ConfigError('--listen: the config defines several pools; set each pool\'s listen in the file');
  }
  return section;
}

/**
 * The Redis proxy: the `redis_proxy` section (same shape as `trellis redis-proxy --config`, or a
 * twemproxy file). Without backends, Trellis starts managed redis-servers and shards over them.
 */
const redisProxyComponent: UpComponent = {
  name: 'redis-proxy',
  async start(config, opts) {
    const base: Record<string, unknown> = isRecord(config.redis_proxy) ? { ...config.redis_proxy } : {};
    const managedCount = namesBackends(base) ? 0 : opts.managedBackends;
    const source = opts.config ?? 'trellis up';
    // Validate before starting anything (placeholder addresses stand in for managed servers).
    parseProxyConfigText(stringifyYaml({ redis_proxy: proxySection(base, opts, placeholders(managedCount)) }), source);
    let managed: ManagedBackends | undefined;
    const proxies: RedisProxy[] = [];
    let stopServices: (() => Promise<void>) | undefined;
    let workers = 1;
    try {
      if (managedCount > 0) managed = await ManagedBackends.start({ count: managedCount });
      const section = proxySection(base, opts, managed?.addresses ?? []);
      const parsed = parseProxyConfigText(stringifyYaml({ redis_proxy: section }), source);
      // `up` runs its pools in this one process (it says so when the file asks for workers),
      // so --admin always applies.
      workers = parsed.workers;
      prepareAdmin({ ...parsed, workers: 1 }, opts.admin);
      for (const pool of parsed.pools) proxies.push(await startRedisProxy(pool));
      stopServices = await startProxyServices({ admin: opts.admin, command: 'trellis up' }, proxies);
    } catch (err) {
      await Promise.all(proxies.map((p) => p.close(0)));
      await managed?.stop();
      throw err;
    }
    return {
      describe: () => [
        ...proxies.map((p) => {
          const { host, port } = p.address();
          const c = p.config;
          return `redis-proxy  pool "${c.name}" listening on ${host}:${port} -> ${c.backends.length} backends (${c.distribution}, ${c.hash}${c.hashTag ? `, hash_tag ${c.hashTag}` : ''})`;
        }),
        ...(managed?.servers ?? []).map((s) => `redis-server ${s.address} pid ${s.process.proc.pid} (managed, no persistence)`),
        ...(workers > 1 ? [`redis-proxy  note: workers: ${workers} is not used by trellis up, which runs every pool in one process; \`trellis redis-proxy --config FILE\` runs ${workers} workers`] : []),
      ],
      async stop() {
        await stopServices?.().catch(() => undefined);
        await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
        await managed?.stop().catch(() => undefined);
      },
    };
  },
};

/** Every component `trellis up` knows, in start order (stopped in reverse). */
export const UP_COMPONENTS: UpComponent[] = [redisProxyComponent, gatewayComponent];

export function readUpConfig(path: string | undefined): UpConfig {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config: cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: invalid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isRecord(doc)) throw new ConfigError(`${path}: expected a YAML map at the top level`);
  // A plain proxy config (ours or twemproxy's) is accepted as the redis_proxy section.
  const known = UP_COMPONENTS.map((c) => c.name.replace('-', '_'));
  if (!Object.keys(doc).some((k) => known.includes(k))) return { redis_proxy: doc };
  return doc;
}

/** Starts every component; on failure stops the ones already running and rethrows. */
export async function startUp(opts: UpOptions): Promise<RunningComponent[]> {
  const config = readUpConfig(opts.config);
  const running: RunningComponent[] = [];
  try {
    for (const c of UP_COMPONENTS) {
      const r = await c.start(config, opts);
      if (r) running.push(r);
    }
  } catch (err) {
    for (const r of running.reverse()) await r.stop();
    throw err;
  }
  return running;
}

export async function stopUp(running: RunningComponent[]): Promise<void> {
  for (const r of [...running].reverse()) await r.stop();
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('Run everything: the Redis proxy on 127.0.0.1:6380 (in front of 3 managed redis-servers unless the config names backends) and the function gateway on 127.0.0.1:8080 with the examples deployed')
    .option('--config <file>', 'YAML config: redis_proxy and gateway sections (a plain proxy or twemproxy file is read as redis_proxy)')
    .option('--listen <host:port>', `Redis proxy listen address (default ${DEFAULT_LISTEN})`)
    .option('--managed-backends <n>', 'managed redis-servers to start when the config names no backends', '3')
    .option('--gateway-listen <host:port>', 'function gateway listen address (default 127.0.0.1:8080)')
    .option('--data-dir <dir>', 'function gateway data directory (default ./.trellis)')
    .option('--no-gateway', 'do not start the function gateway')
    .option('--admin <host:port>', 'Redis proxy admin HTTP server: /metrics (Prometheus), /stats, /healthz, /ready')
    .action(async (o: { config?: string; listen?: string; managedBackends: string; gateway: boolean; gatewayListen?: string; dataDir?: string; admin?: string }) => {
      const n = Number(o.managedBackends);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new ConfigError('--managed-backends: expected an integer between 1 and 64');
      const running = await startUp({
        config: o.config, listen: o.listen, managedBackends: n,
        gateway: o.gateway, gatewayListen: o.gatewayListen, dataDir: o.dataDir, admin: o.admin,
      });
      process.stdout.write(`trellis up: running\n${running.flatMap((r) => r.describe()).map((l) => `  ${l}\n`).join('')}Press Ctrl-C to stop.\n`);
      let stopping = false;
      const onSignal = (sig: NodeJS.Signals) => {
        if (stopping) {
          process.stderr.write(`trellis up: ${sig} again, exiting now\n`);
          process.exit(1);
        }
        stopping = true;
        process.stdout.write(`trellis up: ${sig}, stopping\n`);
        stopUp(running).then(
          () => { process.stdout.write('trellis up: stopped\n'); process.exit(0); },
          (err: unknown) => { process.stderr.write(`trellis up: error while stopping: ${String(err)}\n`); process.exit(1); },
        );
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
}
