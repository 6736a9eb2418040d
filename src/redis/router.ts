/**
 * Key → backend: the pool's distribution (twemproxy-exact Ketama, modula, random, or static
 * slots) over its backends, plus twemproxy's auto_eject_hosts: after server_failure_limit
 * consecutive failures a backend leaves the ring for server_retry_timeout, then returns.
 */
import type { RedisPoolConfig } from '../config/index.js';
import { createDistributor, type DistributionName, type Distributor, type HashName } from '../sharding/index.js';
import { Backend } from './backend.js';
import { backendConnectionOptions, backendHandshake } from './governance/backend-options.js';
import { prefixDistributor } from './routing/prefix-routes.js';
import type { UpstreamEvent } from './upstream-connection.js';

export class Router {
  readonly backends: Backend[];
  private dist: Distributor;
  private readonly live: boolean[];
  private readonly failures: number[];
  private readonly ejectedUntil: number[];
  /** Governance health verdicts (active checks, outlier detection); false = ejected. */
  private readonly healthy: boolean[];
  /** Governance: every backend connection event (passive health checking). */
  onBackendEvent: ((i: number, ev: UpstreamEvent) => void) | null = null;

  constructor(private pool: RedisPoolConfig) {
    this.backends = pool.backends.map((spec) => this.makeBackend(pool, spec));
    this.healthy = pool.backends.map(() => true);
    this.live = pool.backends.map(() => true);
    this.failures = pool.backends.map(() => 0);
    this.ejectedUntil = pool.backends.map(() => 0);
    this.dist = this.build();
  }

  private makeBackend(pool: RedisPoolConfig, spec: RedisPoolConfig['backends'][number]): Backend {
    const b: Backend = new Backend(spec, {
      connections: pool.serverConnections,
      connectTimeoutMs: pool.connectTimeoutMs,
      timeoutMs: pool.timeoutMs,
      maxReplyBytes: Math.max(pool.maxRequestBytes, 512 * 1024 * 1024),
      ...backendConnectionOptions(pool, spec),
      handshake: backendHandshake(pool, spec),
    }, (ok, ev) => this.onOutcome(this.backends.indexOf(b), ok, ev)); // index looked up: hot reload reorders
    return b;
  }

  /**
   * Hot reload: the new backend list and placement settings. Backends whose address, name,
   * weight and connection settings are unchanged keep their connections; the others are
   * returned so the caller can close them once their in-flight requests are answered.
   */
  reconfigure(pool: RedisPoolConfig, sameConnections: boolean): Backend[] {
    const id = (s: RedisPoolConfig['backends'][number]) => `${s.host}:${s.port}:${s.weight}:${s.name ?? ''}:${JSON.stringify(s.slots ?? null)}`;
    const old = new Map(this.backends.map((b) => [id(b.spec), b]));
    const next = pool.backends.map((spec) => {
      const b = sameConnections ? old.get(id(spec)) : undefined;
      if (b) old.delete(id(spec));
      return b ?? this.makeBackend(pool, spec);
    });
    const wasLive = new Map(this.backends.map((b, i) => [b, this.live[i] && this.healthy[i]]));
    this.pool = pool;
    this.backends.splice(0, this.backends.length, ...next);
    this.live.splice(0, this.live.length, ...next.map(() => true));
    this.healthy.splice(0, this.healthy.length, ...next.map(() => true));
    this.failures.splice(0, this.failures.length, ...next.map(() => 0));
    this.ejectedUntil.splice(0, this.ejectedUntil.length, ...next.map(() => 0));
    this.dist = this.build();
    for (const b of next) if (!wasLive.has(b)) b.start();
    return [...old.values()];
  }

  private build(): Distributor {
    if (this.pool.governance?.prefixRoutes) {
      return prefixDistributor(this.pool, this.pool.autoEjectHosts ? this.live.map((l, i) => l && this.healthy[i]) : undefined);
    }
    return createDistributor({
      distribution: this.pool.distribution as DistributionName, // never 'cluster': those pools use ClusterRouter
      hash: this.pool.hash as HashName,
      hashTag: this.pool.hashTag,
      servers: this.pool.backends,
      live: this.pool.autoEjectHosts ? this.live.map((l, i) => l && (this.healthy === undefined || this.healthy[i])) : undefined,
    });
  }

  start(): void { for (const b of this.backends) b.start(); }

  /** Backend index for the key at buf[start, end), or -1 when no backend can take it. */
  shardOf(buf: Buffer, start: number, end: number): number {
    return this.dist.serverFor(buf, start, end);
  }

  /** First backend with a live connection (for keyless commands answered by one shard). */
  anyShard(): number {
    for (let i = 0; i < this.backends.length; i++) if (this.backends[i].available && this.live[i] && this.healthy[i]) return i;
    return 0;
  }

  get ejected(): string[] {
    return this.backends.filter((_, i) => !this.live[i] || !this.healthy[i]).map((b) => b.name);
  }

  /** Governance health verdict; with auto_eject_hosts the ring is rebuilt without unhealthy backends. */
  setHealthy(i: number, healthy: boolean): void {
    if (this.healthy[i] === healthy) return;
    this.healthy[i] = healthy;
    if (this.pool.autoEjectHosts) this.dist = this.build();
  }

  /** Periodic work: request timeouts and the return of ejected backends. */
  tick(now: number): void {
    if (this.pool.timeoutMs > 0) for (const b of this.backends) b.checkTimeouts(now, this.pool.timeoutMs);
    let changed = false;
    for (let i = 0; i < this.live.length; i++) {
      if (!this.live[i] && now >= this.ejectedUntil[i]) {
        this.live[i] = true;
        this.failures[i] = 0;
        changed = true;
      }
    }
    if (changed) this.dist = this.build();
  }

  private onOutcome(i: number, ok: boolean, ev: UpstreamEvent): void {
    if (this.onBackendEvent !== null) this.onBackendEvent(i, ev);
    if (i < 0 || !this.pool.autoEjectHosts) return;
    if (ok) { this.failures[i] = 0; return; }
    if (++this.failures[i] < this.pool.serverFailureLimit || !this.live[i]) return;
    this.live[i] = false;
    this.ejectedUntil[i] = Date.now() + this.pool.serverRetryTimeoutMs;
    this.dist = this.build();
  }

  close(): void { for (const b of this.backends) b.close(); }
}
