/**
 * Databases other than 0 (SELECT n): per (backend, database) one multiplexed connection that
 * selected that database in its handshake, created on first use and re-created after it
 * breaks. Database 0 keeps using the pool's regular shared connections.
 */
import type { ReplyTarget } from '../upstream-connection.js';
import type { Router } from '../router.js';
import type { DedicatedConnection } from './dedicated-connection.js';
import type { DedicatedPool } from './dedicated-pool.js';

export class DbConnections {
  private readonly conns = new Map<string, DedicatedConnection>();

  constructor(private readonly pool: DedicatedPool, private readonly router: Router) {}

  send(shard: number, db: number, raw: Buffer, target: ReplyTarget): void {
    const b = this.router.backends[shard];
    const key = `${b?.address}/${db}`;
    let c = this.conns.get(key);
    if (c === undefined || c.closed) {
      const made = this.pool.create(shard, db, `db/${key}`);
      if (Buffer.isBuffer(made)) return target.onReply(made);
      c = made;
      this.conns.set(key, c);
    }
    c.send(raw, target);
  }

  get size(): number { return this.conns.size; }

  close(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}
