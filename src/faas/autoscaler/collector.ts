/**
 * Per-function metric collector: 1-second buckets of time-weighted average concurrency and of
 * request arrivals (Knative's `TimedFloat64Buckets`, linear averaging). Pure: fed with
 * timestamps, no timers. A window average covers the seconds since the first observation
 * when that is shorter than the window, so a burst from zero counts at full weight.
 */
export interface WindowAverages {
  stableConcurrency: number;
  panicConcurrency: number;
  stableRps: number;
  panicRps: number;
}

const SECOND = 1000;

export class MetricCollector {
  /** second index → concurrency-ms accumulated in that second. */
  private readonly area = new Map<number, number>();
  /** second index → requests that arrived in that second. */
  private readonly arrivals = new Map<number, number>();
  private firstMs: number | undefined;
  private lastMs = 0;
  private current = 0;

  /** @param retainMs how much history to keep (the largest window asked for). */
  constructor(private readonly retainMs: number) {}

  /** Concurrency right now (in-flight plus held requests). */
  get concurrency(): number { return this.current; }

  get hasData(): boolean { return this.firstMs !== undefined; }

  /** A request started (delta +1) or finished (delta −1) at `now`. */
  change(now: number, delta: number): void {
    this.advance(now);
    this.current = Math.max(0, this.current + delta);
    if (delta > 0) {
      const s = Math.floor(now / SECOND);
      this.arrivals.set(s, (this.arrivals.get(s) ?? 0) + delta);
    }
  }

  /** Marks the start of observation without a request (e.g. min-scale instances exist). */
  touch(now: number): void { this.advance(now); }

  /** Averages over the last `stableMs` and `panicMs`; undefined before any observation. */
  averages(now: number, stableMs: number, panicMs: number): WindowAverages | undefined {
    if (this.firstMs === undefined) return undefined;
    this.advance(now);
    const [stableConcurrency, stableRps] = this.windowAverage(now, stableMs);
    const [panicConcurrency, panicRps] = this.windowAverage(now, panicMs);
    return { stableConcurrency, panicConcurrency, stableRps, panicRps };
  }

  /** [average concurrency, requests per second] over the window ending at `now`. */
  private windowAverage(now: number, windowMs: number): [number, number] {
    const nowSec = Math.floor(now / SECOND);
    const windowSecs = Math.max(1, Math.round(windowMs / SECOND));
    const startSec = Math.max(Math.floor(this.firstMs! / SECOND), nowSec - windowSecs);
    // The window's whole seconds before the current one, plus the elapsed part of the current one.
    const span = (nowSec - startSec) + (now - nowSec * SECOND) / SECOND;
    if (span <= 0) return [this.current, 0];
    let area = 0;
    let reqs = 0;
    for (let s = startSec; s <= nowSec; s++) {
      area += this.area.get(s) ?? 0;
      reqs += this.arrivals.get(s) ?? 0;
    }
    return [area / SECOND / span, reqs / span];
  }

  /** Integrates the current concurrency from the last event up to `now`, per second. */
  private advance(now: number): void {
    if (this.firstMs === undefined) { this.firstMs = now; this.lastMs = now; return; }
    if (now <= this.lastMs) return;
    if (this.current > 0) {
      // Only the retained history matters; skip further back after a long busy gap.
      let t = Math.max(this.lastMs, now - this.retainMs - SECOND);
      while (t < now) {
        const s = Math.floor(t / SECOND);
        const end = Math.min(now, (s + 1) * SECOND);
        this.area.set(s, (this.area.get(s) ?? 0) + (end - t) * this.current);
        t = end;
      }
    }
    this.lastMs = now;
    this.prune(now);
  }

  private prunedSec = 0;

  private prune(now: number): void {
    const oldest = Math.floor((now - this.retainMs) / SECOND) - 1;
    if (oldest <= this.prunedSec) return;
    this.prunedSec = oldest;
    for (const m of [this.area, this.arrivals]) {
      if (m.size === 0) continue;
      for (const s of m.keys()) if (s < oldest) m.delete(s);
    }
  }
}
