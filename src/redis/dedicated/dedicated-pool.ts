/**
 * Dedicated upstream connections per backend, bounded (a clear error when a backend's budget
 * is used up), with a small idle list per (backend, database) so short transactions do not
 * pay a TCP handshake each. A connection comes back to the idle list only when its owner
 * says it is clean (no MULTI/WATCH/subscription/blocked call left on it); otherwise it is closed.
 */
import type { RedisPoolConfig } from '../../config/index.js';
import { errorReply } from '../errors.js';
import { backendConnectionOptions, backendHandshake } from '../governance/backend-options.js';
import type { Router } from '../router.js';
import { DedicatedConnection } from './dedicated-connection.js';

/** Default budget of dedicated connections per backend (MULTI, blocking calls, SELECT n, subscribers). */
export const DEFAULT_MAX_DEDICATED = 512;
const MAX_IDLE_PER_KEY = 8;

export interface DedicatedPoolStats {
  /** Open dedicated connections per backend index (current backend list). */
  open: number[];
  idle: number;
  exhausted: number;
}

export class DedicatedPool {
  /** Open connections per backend address (indexes change on hot reload, addresses do not). */
  private readonly open = new Map<string, number>();
  private readonly idle = new Map<string, DedicatedConnection[]>();
  private exhausted = 0;
  private closed = false;

  /** config: the pool's settings, read at each connect (hot reload may change upstream auth). */
  constructor(private readonly router: Router, config: RedisPoolConfig | (() => RedisPoolConfig), readonly maxPerBackend = DEFAULT_MAX_DEDICATED) {
    this.config = typeof config === 'function' ? config : () => config;
  }

  private readonly config: () => RedisPoolConfig;

  get backendCount(): number { return this.router.backends.length; }

  /** A connection to backend `shard` in database `db`, or an error reply when none can be had. */
  acquire(shard: number, db: number): DedicatedConnection | Buffer {
    const b = this.router.backends[shard];
    if (b === undefined) return errorReply('ERR no backend serves this key');
    const key = `${b.address}/${db}`;
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const c = list.pop()!;
      if (!c.closed) return c;
    }
    return this.create(shard, db, key);
  }

  /** A new connection that never goes back to the idle list (subscribers, shared db connections). */
  create(shard: number, db: number, key?: string): DedicatedConnection | Buffer {
    if (this.closed) return errorReply('ERR proxy is shutting down');
    const b = this.router.backends[shard];
    if (b === undefined) return errorReply('ERR no backend serves this key');
    const open = this.open.get(b.address) ?? 0;
    if (open >= this.maxPerBackend) {
      this.exhausted++;
      return errorReply(`ERR proxy has no dedicated connection left for backend ${b.address} (limit ${this.maxPerBackend}); try again later`);
    }
    const spec = b.spec;
    const pool = this.config();
    const extra = backendConnectionOptions(pool, spec);
    // A client's database 0 is the pool's redis_db (twemproxy presents that as 0 too).
    const handshake = backendHandshake(pool, spec, db === 0 ? pool.redisDb : db);
    const c = new DedicatedConnection({
      host: spec.host, port: spec.port, label: b.address, connectTimeoutMs: pool.connectTimeoutMs,
      maxReplyBytes: Math.max(pool.maxRequestBytes, 512 * 1024 * 1024), handshake, tls: extra.tls,
    });
    c.key = key ?? `${b.address}/${db}`;
    c.address = b.address;
    c.db = db;
    this.open.set(b.address, open + 1);
    this.track(c);
    return c;
  }

  private track(c: DedicatedConnection): void {
    c.onClose = () => {
      this.open.set(c.address, (this.open.get(c.address) ?? 1) - 1);
      const list = this.idle.get(c.key);
      if (list) { const i = list.indexOf(c); if (i >= 0) list.splice(i, 1); }
    };
  }

  /** Gives a connection back: kept idle when clean and alive, else closed. */
  release(c: DedicatedConnection, clean: boolean): void {
    if (c.closed) return;
    c.onLost = null;
    const list = this.idle.get(c.key) ?? [];
    if (!clean || this.closed || c.outstanding > 0 || list.length >= MAX_IDLE_PER_KEY || c.onFrame !== null) {
      c.close();
      return;
    }
    list.push(c);
    this.idle.set(c.key, list);
  }

  stats(): DedicatedPoolStats {
    let idle = 0;
    for (const l of this.idle.values()) idle += l.length;
    return { open: this.router.backends.map((b) => this.open.get(b.address) ?? 0), idle, exhausted: this.exhausted };
  }

  close(): void {
    this.closed = true;
    for (const l of this.idle.values()) for (const c of [...l]) c.close();
    this.idle.clear();
  }
}
