/**
 * Key → backend: the pool's distribution (twemproxy-exact Ketama, modula, random, or static
 * slots) over its backends, plus twemproxy's auto_eject_hosts: after server_failure_limit
 * consecutive failures a backend leaves the ring for server_retry_timeout, then returns.
 */
import type { RedisPoolConfig } from '../config/index.js';
import { createDistributor, type Distributor, type HashName } from '../sharding/index.js';
import { Backend } from './backend.js';

export class Router {
  readonly backends: Backend[];
  private dist: Distributor;
  private readonly live: boolean[];
  private readonly failures: number[];
  private readonly ejectedUntil: number[];

  constructor(private readonly pool: RedisPoolConfig) {
    this.backends = pool.backends.map((spec, i) => new Backend(spec, {
      connections: pool.serverConnections,
      connectTimeoutMs: pool.connectTimeoutMs,
      timeoutMs: pool.timeoutMs,
      maxReplyBytes: Math.max(pool.maxRequestBytes, 512 * 1024 * 1024),
    }, (ok) => this.onOutcome(i, ok)));
    this.live = pool.backends.map(() => true);
    this.failures = pool.backends.map(() => 0);
    this.ejectedUntil = pool.backends.map(() => 0);
    this.dist = this.build();
  }

  private build(): Distributor {
    return createDistributor({
      distribution: this.pool.distribution,
      hash: this.pool.hash as HashName,
      hashTag: this.pool.hashTag,
      servers: this.pool.backends,
      live: this.pool.autoEjectHosts ? this.live : undefined,
    });
  }

  start(): void { for (const b of this.backends) b.start(); }

  /** Backend index for the key at buf[start, end), or -1 when no backend can take it. */
  shardOf(buf: Buffer, start: number, end: number): number {
    return this.dist.serverFor(buf, start, end);
  }

  /** First backend with a live connection (for keyless commands answered by one shard). */
  anyShard(): number {
    for (let i = 0; i < this.backends.length; i++) if (this.backends[i].available && this.live[i]) return i;
    return 0;
  }

  get ejected(): string[] {
    return this.backends.filter((_, i) => !this.live[i]).map((b) => b.name);
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

  private onOutcome(i: number, ok: boolean): void {
    if (i < 0 || !this.pool.autoEjectHosts) return;
    if (ok) { this.failures[i] = 0; return; }
    if (++this.failures[i] < this.pool.serverFailureLimit || !this.live[i]) return;
    this.live[i] = false;
    this.ejectedUntil[i] = Date.now() + this.pool.serverRetryTimeoutMs;
    this.dist = this.build();
  }

  close(): void { for (const b of this.backends) b.close(); }
}
