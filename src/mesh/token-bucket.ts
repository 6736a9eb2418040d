/**
 * Token-bucket rate limiting (Envoy local_ratelimit semantics: `max_tokens` = burst,
 * refilled continuously at `tokens_per_fill / fill_interval` = ratePerSec). Pure: the caller
 * passes `now` in milliseconds; nothing here reads the clock or sets timers.
 */

export interface TokenBucketOptions {
  /** Tokens added per second (> 0). */
  ratePerSec: number;
  /** Bucket size: the largest burst allowed after idling (>= 1). Default: max(1, ratePerSec). */
  burst?: number;
}

function checkOptions(o: TokenBucketOptions): Required<TokenBucketOptions> {
  const burst = o.burst ?? Math.max(1, o.ratePerSec);
  if (!(o.ratePerSec > 0) || !Number.isFinite(o.ratePerSec)) throw new Error(`rate limit: ratePerSec must be a positive number, got ${o.ratePerSec}`);
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new Error(`rate limit: burst must be >= 1, got ${burst}`);
  return { ratePerSec: o.ratePerSec, burst };
}

export class TokenBucket {
  readonly ratePerSec: number;
  readonly burst: number;
  private tokens: number;
  private last: number;

  /** Starts full at time `now`. */
  constructor(opts: TokenBucketOptions, now: number) {
    const o = checkOptions(opts);
    this.ratePerSec = o.ratePerSec;
    this.burst = o.burst;
    this.tokens = o.burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
    }
    // A clock that steps backwards refills nothing and never drains the bucket.
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Takes n tokens if available at `now`. */
  tryTake(now: number, n = 1): boolean {
    this.refill(now);
    if (this.tokens + 1e-9 < n) return false;
    this.tokens = Math.max(0, this.tokens - n);
    return true;
  }

  /** Milliseconds until n tokens are available (0 = now; Infinity when n > burst). */
  retryAfterMs(now: number, n = 1): number {
    if (n > this.burst) return Infinity;
    this.refill(now);
    const missing = n - this.tokens;
    return missing <= 1e-9 ? 0 : Math.ceil((missing * 1000) / this.ratePerSec);
  }

  /** True when the bucket is full at `now` (an idle caller: safe to forget). */
  isFull(now: number): boolean {
    return this.available(now) >= this.burst;
  }
}

export interface KeyedRateLimiterOptions extends TokenBucketOptions {
  /** Most keys tracked at once; beyond it the least recently used key is forgotten. Default 10000. */
  maxKeys?: number;
}

/**
 * One token bucket per key (caller identity: client name, ACL user, source address…), with a
 * bounded number of keys. When full, the least recently used key is evicted; a forgotten key
 * comes back with a full bucket, so the bound trades a little leniency for bounded memory.
 */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly opts: Required<TokenBucketOptions>;
  readonly maxKeys: number;
  /** Keys evicted to respect maxKeys (for stats). */
  evictions = 0;

  constructor(opts: KeyedRateLimiterOptions) {
    this.opts = checkOptions(opts);
    this.maxKeys = opts.maxKeys ?? 10_000;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) throw new Error(`rate limit: maxKeys must be a positive integer, got ${opts.maxKeys}`);
  }

  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string, now: number): TokenBucket {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-insert: Map order is our LRU order
    } else {
      b = new TokenBucket(this.opts, now);
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
        this.evictions++;
      }
    }
    this.buckets.set(key, b);
    return b;
  }

  tryTake(key: string, now: number, n = 1): boolean {
    return this.bucket(key, now).tryTake(now, n);
  }

  retryAfterMs(key: string, now: number, n = 1): number {
    const b = this.buckets.get(key);
    return b ? b.retryAfterMs(now, n) : n > this.opts.burst ? Infinity : 0;
  }

  /** Forgets keys whose buckets have refilled completely (idle callers). Returns how many. */
  sweepIdle(now: number): number {
    let n = 0;
    for (const [key, b] of this.buckets) {
      if (b.isFull(now)) {
        this.buckets.delete(key);
        n++;
      }
    }
    return n;
  }
}
