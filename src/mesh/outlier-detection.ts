/**
 * Passive health checking: a subset of Envoy's outlier detection, pure (caller passes `now`).
 *
 * - Every failure kind counts towards consecutive_5xx (Envoy maps local-origin errors —
 *   connect failures, timeouts, resets — to 5xx unless split_external_local_origin_errors);
 *   connect failures, timeouts and resets also count towards consecutive_gateway_failure.
 *   A success resets both counters.
 * - Reaching a threshold ejects the host with probability enforcing_…/100 (defaults 100 for
 *   5xx, 0 for gateway failures, as Envoy), unless the share of hosts already ejected is at
 *   or above max_ejection_percent (Envoy's check: so one ejection may go past the cap, and
 *   with few hosts the first ejection is always allowed).
 * - Ejection time = base_ejection_time × times ejected, capped at max_ejection_time
 *   (but never below base_ejection_time). The multiplier drops by one for every `interval`
 *   a host spends un-ejected.
 * - A host is back in service as soon as its ejection time has passed (isEjected() is
 *   time-based); tick(now) reports the ejections and un-ejections since the previous tick.
 */

export type FailureKind = 'error' | 'connect_failure' | 'timeout' | 'reset';

export interface OutlierDetectionOptions {
  /** Envoy consecutive_5xx; default 5. */
  consecutive5xx?: number;
  /** Envoy enforcing_consecutive_5xx (percent); default 100. */
  enforcingConsecutive5xx?: number;
  /** Envoy consecutive_gateway_failure; default 5. */
  consecutiveGatewayFailure?: number;
  /** Envoy enforcing_consecutive_gateway_failure (percent); default 0. */
  enforcingConsecutiveGatewayFailure?: number;
  /** Envoy interval; default 10 s. */
  intervalMs?: number;
  /** Envoy base_ejection_time; default 30 s. */
  baseEjectionTimeMs?: number;
  /** Envoy max_ejection_time; default 300 s. */
  maxEjectionTimeMs?: number;
  /** Envoy max_ejection_percent; default 10. */
  maxEjectionPercent?: number;
  /** Uniform [0, 1) source for the enforcing_* percentages; default Math.random. */
  random?: () => number;
}

export const OUTLIER_DEFAULTS = Object.freeze({
  consecutive5xx: 5, enforcingConsecutive5xx: 100, consecutiveGatewayFailure: 5,
  enforcingConsecutiveGatewayFailure: 0, intervalMs: 10_000, baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000, maxEjectionPercent: 10,
});

export type EjectionReason = 'consecutive_5xx' | 'consecutive_gateway_failure';

export type OutlierEvent =
  | { type: 'eject'; host: string; at: number; reason: EjectionReason; ejectionTimeMs: number; timesEjected: number }
  | { type: 'uneject'; host: string; at: number }
  /** The host reached a threshold but max_ejection_percent prevented the ejection (Envoy ejections_overflow). */
  | { type: 'overflow'; host: string; at: number; reason: EjectionReason };

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejectedUntil: number; // 0 = not ejected
  timesEjected: number; // the ejection-time multiplier
}

export class OutlierDetector {
  private readonly o: Required<Omit<OutlierDetectionOptions, 'random'>>;
  private readonly random: () => number;
  private readonly hosts = new Map<string, HostState>();
  private events: OutlierEvent[] = [];
  private lastInterval: number | undefined;

  constructor(hosts: Iterable<string>, opts: OutlierDetectionOptions = {}) {
    const { random, ...rest } = opts;
    this.o = { ...OUTLIER_DEFAULTS, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
    this.random = random ?? Math.random;
    for (const [k, v] of Object.entries(this.o)) {
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new Error(`outlier detection: ${k} must be a non-negative number, got ${v}`);
    }
    if (this.o.consecutive5xx < 1 || this.o.consecutiveGatewayFailure < 1) throw new Error('outlier detection: consecutive thresholds must be >= 1');
    this.setHosts(hosts);
  }

  /** Replaces the host set (config reload); known hosts keep their state. */
  setHosts(hosts: Iterable<string>): void {
    const next = new Set(hosts);
    for (const h of this.hosts.keys()) if (!next.has(h)) this.hosts.delete(h);
    for (const h of next) if (!this.hosts.has(h)) this.hosts.set(h, { consecutive5xx: 0, consecutiveGateway: 0, ejectedUntil: 0, timesEjected: 0 });
  }

  private state(host: string): HostState {
    const s = this.hosts.get(host);
    if (!s) throw new Error(`outlier detection: unknown host "${host}"`);
    return s;
  }

  /** Queues an event for tick(); bounded (oldest dropped) when nobody calls tick(). */
  private push(ev: OutlierEvent): void {
    if (this.events.length >= 1024) this.events.shift();
    this.events.push(ev);
  }

  /** Un-ejects every host whose ejection time has passed by `now`. */
  private expire(now: number): void {
    for (const [host, s] of this.hosts) {
      if (s.ejectedUntil !== 0 && now >= s.ejectedUntil) {
        s.ejectedUntil = 0;
        s.consecutive5xx = 0;
        s.consecutiveGateway = 0;
        this.push({ type: 'uneject', host, at: now });
      }
    }
  }

  /** Hosts ejected at `now`. */
  ejectedCount(now: number): number {
    this.expire(now);
    let n = 0;
    for (const s of this.hosts.values()) if (s.ejectedUntil !== 0) n++;
    return n;
  }

  isEjected(host: string, now: number): boolean {
    const s = this.state(host);
    if (s.ejectedUntil !== 0 && now >= s.ejectedUntil) this.expire(now);
    return s.ejectedUntil !== 0;
  }

  /** When the ejected host returns to service (undefined when it is not ejected). */
  ejectedUntil(host: string, now: number): number | undefined {
    return this.isEjected(host, now) ? this.state(host).ejectedUntil : undefined;
  }

  /** How many times the host has been ejected (decays while it stays healthy). */
  timesEjected(host: string): number {
    return this.state(host).timesEjected;
  }

  recordSuccess(host: string, now: number): void {
    const s = this.state(host);
    if (this.isEjected(host, now)) return;
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
  }

  /** Counts a failure; returns the ejection (or overflow) event it caused, if any. */
  recordFailure(host: string, kind: FailureKind, now: number): OutlierEvent | undefined {
    const s = this.state(host);
    if (this.isEjected(host, now)) return undefined;
    s.consecutive5xx++;
    if (kind !== 'error') s.consecutiveGateway++;
    let reason: EjectionReason | undefined;
    if (s.consecutiveGateway >= this.o.consecutiveGatewayFailure) {
      s.consecutiveGateway = 0;
      if (this.enforced(this.o.enforcingConsecutiveGatewayFailure)) reason = 'consecutive_gateway_failure';
    }
    if (!reason && s.consecutive5xx >= this.o.consecutive5xx) {
      s.consecutive5xx = 0;
      if (this.enforced(this.o.enforcingConsecutive5xx)) reason = 'consecutive_5xx';
    }
    return reason ? this.eject(host, s, reason, now) : undefined;
  }

  private enforced(percent: number): boolean {
    return percent >= 100 || (percent > 0 && this.random() * 100 < percent);
  }

  private eject(host: string, s: HostState, reason: EjectionReason, now: number): OutlierEvent {
    const active = this.ejectedCount(now);
    let ev: OutlierEvent;
    if ((100 * active) / this.hosts.size >= this.o.maxEjectionPercent) {
      ev = { type: 'overflow', host, at: now, reason };
    } else {
      s.timesEjected++;
      const base = this.o.baseEjectionTimeMs;
      const ejectionTimeMs = Math.min(base * s.timesEjected, Math.max(base, this.o.maxEjectionTimeMs));
      s.ejectedUntil = now + Math.max(1, ejectionTimeMs);
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      ev = { type: 'eject', host, at: now, reason, ejectionTimeMs, timesEjected: s.timesEjected };
    }
    this.push(ev);
    return ev;
  }

  /**
   * Call periodically, at least once per interval: un-ejects hosts whose time has passed, decays the
   * ejection multiplier of healthy hosts once per elapsed interval, and returns every event
   * (eject, uneject, overflow) since the previous tick, in order.
   */
  tick(now: number): OutlierEvent[] {
    this.expire(now);
    if (this.lastInterval === undefined) this.lastInterval = now;
    const intervals = this.o.intervalMs > 0 ? Math.floor((now - this.lastInterval) / this.o.intervalMs) : 0;
    if (intervals > 0) {
      this.lastInterval += intervals * this.o.intervalMs;
      for (const s of this.hosts.values()) {
        if (s.ejectedUntil === 0 && s.timesEjected > 0) s.timesEjected = Math.max(0, s.timesEjected - intervals);
      }
    }
    const out = this.events;
    this.events = [];
    return out;
  }

  /** The next time something changes on its own (earliest un-ejection), for scheduling a timer. */
  nextChangeAt(): number | undefined {
    let next: number | undefined;
    for (const s of this.hosts.values()) if (s.ejectedUntil !== 0 && (next === undefined || s.ejectedUntil < next)) next = s.ejectedUntil;
    return next;
  }
}
