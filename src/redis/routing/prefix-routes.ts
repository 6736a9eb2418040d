/**
 * Envoy's prefix_routes: the longest key prefix that matches picks a route's backends (with
 * their own distribution); keys matching no prefix use the pool's own backends, which play
 * Envoy's catch_all_route. Each route's placement is computed over its own backends only, so
 * it is the same (twemproxy-compatible) placement a separate pool of those backends would use.
 */
import type { RedisPoolConfig } from '../../config/index.js';
import type { PrefixRoute } from '../../config/redis-governance.js';
import { createDistributor, type DistributionName, type Distributor, type HashName } from '../../sharding/index.js';

export interface CompiledRoute { prefix: Buffer; start: number; dist: Distributor; removePrefix?: boolean }

function lower(c: number): number { return c >= 65 && c <= 90 ? c + 32 : c; }

export class PrefixDistributor implements Distributor {
  readonly size: number;
  /** Routes by the prefix's first byte, longest prefix first. */
  private readonly byFirst: Array<CompiledRoute[] | undefined> = new Array(256);
  /** Whether some route strips its prefix (requests then need rewriting). */
  readonly rewrites: boolean;

  constructor(private readonly catchAll: Distributor, routes: CompiledRoute[], size: number, private readonly ci: boolean) {
    this.size = size;
    this.rewrites = routes.some((r) => r.removePrefix);
    for (const r of [...routes].sort((a, b) => b.prefix.length - a.prefix.length)) (this.byFirst[r.prefix[0]] ??= []).push(r);
  }

  /** The route whose prefix is the longest one the key starts with, or undefined. */
  route(key: Buffer, start: number, end: number): CompiledRoute | undefined {
    if (end <= start) return undefined;
    const list = this.byFirst[this.ci ? lower(key[start]) : key[start]];
    if (list === undefined) return undefined;
    for (const r of list) {
      const p = r.prefix;
      if (p.length > end - start) continue;
      let i = 1;
      if (this.ci) while (i < p.length && lower(key[start + i]) === p[i]) i++;
      else while (i < p.length && key[start + i] === p[i]) i++;
      if (i === p.length) return r;
    }
    return undefined;
  }

  serverFor(key: Buffer, start = 0, end = key.length): number {
    const r = this.route(key, start, end);
    if (r === undefined) return this.catchAll.serverFor(key, start, end);
    const i = r.dist.serverFor(key, r.removePrefix ? start + r.prefix.length : start, end);
    return i < 0 ? -1 : r.start + i;
  }
}

export function prefixDistributor(pool: RedisPoolConfig, live: boolean[] | undefined): PrefixDistributor {
  const pr = pool.governance!.prefixRoutes!;
  const own = pr.routes.length ? pr.routes[0].start : pool.backends.length;
  const slice = (a: number, n: number) => ({ servers: pool.backends.slice(a, a + n), live: live?.slice(a, a + n) });
  const catchAll = createDistributor({
    distribution: pool.distribution as DistributionName, hash: pool.hash as HashName, hashTag: pool.hashTag, ...slice(0, own),
  });
  const routes = pr.routes.map((r: PrefixRoute) => ({
    prefix: r.prefix,
    start: r.start,
    removePrefix: r.removePrefix,
    dist: createDistributor({
      distribution: (r.distribution ?? (pool.distribution === 'slots' ? 'ketama' : pool.distribution)) as DistributionName,
      hash: (r.hash ?? pool.hash) as HashName, hashTag: r.hashTag ?? pool.hashTag, ...slice(r.start, r.count),
    }),
  }));
  return new PrefixDistributor(catchAll, routes, pool.backends.length, pr.caseInsensitive);
}

/**
 * remove_prefix: the request with the matched prefix cut from every key of a stripping route,
 * or null when no key needs it. Keys in the original are at p.argStart/argEnd.
 */
export function stripPrefixes(d: PrefixDistributor, buf: Buffer, starts: Int32Array, ends: Int32Array, argc: number, keys: readonly number[]): Buffer[] | null {
  let args: Buffer[] | null = null;
  for (const k of keys) {
    const r = d.route(buf, starts[k], ends[k]);
    if (r === undefined || !r.removePrefix) continue;
    if (args === null) args = Array.from({ length: argc }, (_, i) => buf.subarray(starts[i], ends[i]));
    args[k] = buf.subarray(starts[k] + r.prefix.length, ends[k]);
  }
  return args;
}
