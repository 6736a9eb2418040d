/**
 * Request mirroring (Envoy request_mirror_policy): a sample of commands (all, or writes only
 * with exclude_read_commands) is copied to a second pool, fire-and-forget: replies are counted, never awaited,
 * and a slow mirror sheds copies (bounded pending) instead of slowing the primary path.
 */
import type { RedisPoolConfig } from '../../config/index.js';
import { poolFromOptions } from '../../config/index.js';
import type { MirrorConfig } from '../../config/redis-governance.js';
import type { RequestParser } from '../../resp/index.js';
import { commandKeys } from '../commands/index.js';
import { Router } from '../router.js';
import type { ReplyTarget } from '../upstream-connection.js';
import type { CommandInfo, Klass } from './command-info.js';

const MAX_PENDING = 1024;

export class Mirror implements ReplyTarget {
  private readonly router: Router;
  sent = 0;
  errors = 0;
  skipped = 0;
  dropped = 0;

  constructor(private readonly m: MirrorConfig, pool: RedisPoolConfig) {
    this.router = new Router(poolFromOptions({
      name: `${pool.name}-mirror`, listen: '127.0.0.1:0', backends: m.backends, distribution: m.distribution,
      hash: m.hash, hashTag: m.hashTag, connectTimeoutMs: pool.connectTimeoutMs, timeoutMs: pool.timeoutMs || 5000,
      // The copied traffic lands in the same database as the original (redis_db).
      redisDb: pool.redisDb,
    }, 'mirror'));
    for (const b of this.router.backends) {
      b.gate = (clientId) => (b.connectionFor(clientId).outstanding >= MAX_PENDING ? (this.dropped++, SHED) : null);
    }
  }

  start(): void { this.router.start(); }
  tick(now: number): void { this.router.tick(now); }
  close(): void { this.router.close(); }

  onReply(reply: Buffer): void {
    if (reply === SHED) return;
    if (reply[0] === 45) this.errors++;
  }

  /** Copies the request to the mirror when it is sampled and its keys live on one mirror shard. */
  offer(p: RequestParser, info: CommandInfo, klass: Klass): void {
    if (this.m.excludeReadCommands && klass !== 'write') return;
    if (this.m.percent < 100 && Math.random() * 100 >= this.m.percent) return;
    const spec = info.spec;
    if (spec === undefined || spec.keyless) return;
    const keys = commandKeys(spec, p.argc, (i) => p.arg(i));
    if (keys.length === 0) return;
    const shard = this.router.shardOf(p.buffer, p.argStart[keys[0]], p.argEnd[keys[0]]);
    for (let i = 1; i < keys.length; i++) {
      if (this.router.shardOf(p.buffer, p.argStart[keys[i]], p.argEnd[keys[i]]) !== shard) { this.skipped++; return; }
    }
    if (shard < 0) { this.skipped++; return; }
    this.sent++;
    this.router.backends[shard].send(0, Buffer.from(p.raw()), this);
  }

  stats(): { sent: number; errors: number; skipped_cross_shard: number; dropped: number } {
    return { sent: this.sent, errors: this.errors, skipped_cross_shard: this.skipped, dropped: this.dropped };
  }
}

const SHED = Buffer.from('-ERR mirror overloaded\r\n');
