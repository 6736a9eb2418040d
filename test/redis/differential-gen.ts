/**
 * Random Redis command lines for the differential test: every client works in its own key
 * space (prefix), with plain keys (spread over shards) and hash-tagged keys (one shard, for
 * commands that must be atomic). Only deterministic commands, so a single direct Redis fed
 * the same sequence must give the same replies.
 */
import { prng } from '../helpers/prng.js';

/** An absolute expiry far in the future, fixed so EXPIRETIME replies are deterministic. */
const FIXED_EXPIREAT = 4_102_444_800; // 2100-01-01

export class CommandGen {
  private readonly r: () => number;
  constructor(seed: number, private readonly prefix: string) { this.r = prng(seed); }

  private int(n: number): number { return Math.floor(this.r() * n); }
  private pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  private chance(p: number): boolean { return this.r() < p; }

  /** A plain key of a family: s(tring) h(ash) l(ist) S(et) z(set); spread over shards. */
  private key(family?: string): string {
    const f = family && !this.chance(0.05) ? family : this.pick(['s', 'h', 'l', 'S', 'z']); // 5%: likely WRONGTYPE
    // The varying part comes first: twemproxy's fnv1a_64 mixes early bytes far better than late ones.
    return `${f}${this.int(6)}.${this.prefix}.k`;
  }
  /** A hash-tagged key: all of one client's tagged keys live on one shard. */
  private tkey(family: string): string {
    return `${family}${this.int(4)}.{${this.prefix}}`;
  }
  private keys(family: string | undefined, min: number, max: number): string[] {
    return Array.from({ length: min + this.int(max - min + 1) }, () => this.key(family));
  }
  private val(): string { return this.chance(0.5) ? String(this.int(200) - 50) : this.pick(['a', 'bb', 'hello', '', '3.5', 'x y']); }
  private member(): string { return this.pick(['m1', 'm2', 'm3', 'm4', 'm5', '7', '-2']); }
  private field(): string { return this.pick(['f1', 'f2', 'f3', 'f4']); }
  private score(): string { return this.pick(['0', '1', '2.5', '-3', '10', '1e3']); }

  next(): string[] {
    const k = this.int(100);
    if (k < 22) return this.stringCmd();
    if (k < 36) return this.hashCmd();
    if (k < 50) return this.listCmd();
    if (k < 62) return this.setCmd();
    if (k < 74) return this.zsetCmd();
    if (k < 92) return this.multiKeyCmd();
    if (k < 97) return this.expiryCmd();
    return this.badCmd();
  }

  private stringCmd(): string[] {
    const key = this.key('s');
    switch (this.int(16)) {
      case 0: return ['SET', key, this.val()];
      case 1: return ['SET', key, this.val(), this.pick(['NX', 'XX', 'GET'])];
      case 2: return ['SET', key, this.val(), 'EX', '1000'];
      case 3: return ['GET', key];
      case 4: return ['INCR', key];
      case 5: return ['INCRBY', key, String(this.int(20) - 10)];
      case 6: return ['DECR', key];
      case 7: return ['APPEND', key, this.val()];
      case 8: return ['STRLEN', key];
      case 9: return ['GETRANGE', key, '0', String(this.int(4))];
      case 10: return ['SETRANGE', key, String(this.int(3)), 'zz'];
      case 11: return ['INCRBYFLOAT', key, this.pick(['1.5', '-0.25', '3'])];
      case 12: return ['SETNX', key, this.val()];
      case 13: return ['GETDEL', key];
      case 14: return ['GETSET', key, this.val()];
      default: return ['MSETNX', this.tkey('s'), this.val(), this.tkey('s'), this.val()];
    }
  }

  private hashCmd(): string[] {
    const key = this.key('h');
    switch (this.int(13)) {
      case 0: return ['HSET', key, this.field(), this.val()];
      case 1: return ['HSET', key, this.field(), this.val(), this.field(), this.val()];
      case 2: return ['HGET', key, this.field()];
      case 3: return ['HMGET', key, this.field(), this.field(), this.field()];
      case 4: return ['HDEL', key, this.field()];
      case 5: return ['HLEN', key];
      case 6: return ['HEXISTS', key, this.field()];
      case 7: return ['HINCRBY', key, this.field(), String(this.int(9) - 3)];
      case 8: return ['HGETALL', key];
      case 9: return ['HKEYS', key];
      case 10: return ['HVALS', key];
      case 11: return ['HSETNX', key, this.field(), this.val()];
      default: return ['HSTRLEN', key, this.field()];
    }
  }

  private listCmd(): string[] {
    const key = this.key('l');
    switch (this.int(14)) {
      case 0: case 1: return ['LPUSH', key, this.val(), this.val()];
      case 2: return ['RPUSH', key, this.val()];
      case 3: return ['LPOP', key];
      case 4: return ['RPOP', key, String(1 + this.int(2))];
      case 5: return ['LRANGE', key, '0', '-1'];
      case 6: return ['LLEN', key];
      case 7: return ['LINDEX', key, String(this.int(4) - 1)];
      case 8: return ['LSET', key, String(this.int(3)), this.val()];
      case 9: return ['LREM', key, '0', this.val()];
      case 10: return ['LTRIM', key, '0', String(this.int(5))];
      case 11: return ['LINSERT', key, this.pick(['BEFORE', 'AFTER']), this.val(), 'ins'];
      case 12: return ['LMOVE', this.tkey('l'), this.tkey('l'), this.pick(['LEFT', 'RIGHT']), this.pick(['LEFT', 'RIGHT'])];
      default: return ['LPOS', key, this.val()];
    }
  }

  private setCmd(): string[] {
    const key = this.key('S');
    switch (this.int(12)) {
      case 0: case 1: return ['SADD', key, this.member(), this.member()];
      case 2: return ['SREM', key, this.member()];
      case 3: return ['SMEMBERS', key];
      case 4: return ['SCARD', key];
      case 5: return ['SISMEMBER', key, this.member()];
      case 6: return ['SMISMEMBER', key, this.member(), this.member()];
      case 7: return ['SADD', this.tkey('S'), this.member(), this.member()];
      case 8: return ['SINTER', this.tkey('S'), this.tkey('S')];
      case 9: return ['SUNIONSTORE', this.tkey('S'), this.tkey('S'), this.tkey('S')];
      case 10: return ['SMOVE', this.tkey('S'), this.tkey('S'), this.member()];
      default: return ['SINTERCARD', '2', this.tkey('S'), this.tkey('S')];
    }
  }

  private zsetCmd(): string[] {
    const key = this.key('z');
    switch (this.int(13)) {
      case 0: case 1: return ['ZADD', key, this.score(), this.member(), this.score(), this.member()];
      case 2: return ['ZINCRBY', key, this.score(), this.member()];
      case 3: return ['ZSCORE', key, this.member()];
      case 4: return ['ZRANGE', key, '0', '-1', 'WITHSCORES'];
      case 5: return ['ZREVRANGE', key, '0', '2'];
      case 6: return ['ZRANK', key, this.member()];
      case 7: return ['ZREM', key, this.member()];
      case 8: return ['ZCARD', key];
      case 9: return ['ZRANGEBYSCORE', key, '-inf', String(this.int(5))];
      case 10: return ['ZPOPMIN', key];
      case 11: return ['ZADD', this.tkey('z'), this.score(), this.member()];
      default: return ['ZUNIONSTORE', this.tkey('z'), '2', this.tkey('z'), this.tkey('z')];
    }
  }

  private multiKeyCmd(): string[] {
    switch (this.int(9)) {
      case 0: case 1: return ['MGET', ...this.keys('s', 1, 8)];
      case 2: {
        const kv = this.keys('s', 1, 6).flatMap((key) => [key, this.val()]);
        return ['MSET', ...kv];
      }
      case 3: return ['DEL', ...this.keys(undefined, 1, 6)];
      case 4: return ['EXISTS', ...this.keys(undefined, 1, 8)];
      case 5: return ['TOUCH', ...this.keys(undefined, 1, 5)];
      case 6: return ['UNLINK', ...this.keys(undefined, 1, 4)];
      case 7: return ['TYPE', this.key()];
      default: return this.chance(0.5) ? ['RENAME', this.tkey('s'), this.tkey('s')] : ['COPY', this.tkey('s'), this.tkey('s'), 'REPLACE'];
    }
  }

  private expiryCmd(): string[] {
    const key = this.key();
    switch (this.int(7)) {
      case 0: return ['EXPIRE', key, '1000'];
      case 1: return ['EXPIRE', key, this.pick(['0', '-5'])]; // deletes the key at once
      case 2: return ['PERSIST', key];
      case 3: return ['TTL', key];
      case 4: return ['PTTL', key];
      case 5: return ['EXPIREAT', key, String(FIXED_EXPIREAT)];
      default: return ['EXPIRETIME', key];
    }
  }

  private badCmd(): string[] {
    switch (this.int(10)) {
      case 6: return ['NOSUCHCMD', this.key(), 'x'];
      case 7: return ['OBJECT', 'ENCODING', this.key()];
      case 8: return ['OBJECT', 'ENCODING'];
      case 9: return ['CONFIG', 'NOSUCHSUB'];
      case 0: return ['GET'];
      case 1: return ['SET', this.key('s')];
      case 2: return ['HSET', this.key('h'), 'f'];
      case 3: return ['INCR', this.key('s'), 'extra'];
      case 4: return ['MGET'];
      default: return ['LPUSH', this.key('l')];
    }
  }
}

/** Order-insensitive replies (Redis' hashtable iteration order depends on a per-process seed). */
const UNORDERED = new Set(['SMEMBERS', 'SINTER', 'HKEYS', 'HVALS']);

/** A reply made comparable: errors as text, unordered collections sorted, TTLs as their sign. */
export function normalize(cmd: string[], err: Error | null, value: unknown): unknown {
  if (err) return { error: err.message };
  const name = cmd[0].toUpperCase();
  if ((name === 'TTL' || name === 'PTTL') && typeof value === 'number') return value > 0 ? 'positive' : value;
  // After a relative EXPIRE the absolute time depends on when each server ran it; EXPIREAT's is exact.
  if (name === 'EXPIRETIME' && typeof value === 'number' && value > 0 && value !== FIXED_EXPIREAT) return 'relative';
  if (name === 'HGETALL' && value && typeof value === 'object') {
    const entries: Array<[string, unknown]> = [];
    if (Array.isArray(value)) for (let i = 0; i + 1 < value.length; i += 2) entries.push([String(value[i]), value[i + 1]]);
    else entries.push(...Object.entries(value as Record<string, unknown>));
    return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  if (UNORDERED.has(name) && Array.isArray(value)) return [...value].sort();
  return value;
}

/** Reads a key's whole value by its type, for the final state comparison. */
export function readCommandFor(type: string, key: string): string[] | undefined {
  switch (type) {
    case 'string': return ['GET', key];
    case 'hash': return ['HGETALL', key];
    case 'list': return ['LRANGE', key, '0', '-1'];
    case 'set': return ['SMEMBERS', key];
    case 'zset': return ['ZRANGE', key, '0', '-1', 'WITHSCORES'];
    default: return undefined;
  }
}
