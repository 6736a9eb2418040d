/**
 * A pool's health: active checks (thresholds), passive outlier detection (OutlierDetector over
 * backend connection events) and rejected upstream credentials, combined into one verdict per
 * backend. A verdict change goes to the router (ring rebuild under auto_eject_hosts) and to
 * the backend gate (fail fast otherwise), and is logged with its reason.
 */
import { OutlierDetector, type FailureKind } from '../../mesh/index.js';
import type { RedisPoolConfig } from '../../config/index.js';
import { errorReply } from '../../resp/index.js';
import type { Router } from '../router.js';
import type { UpstreamEvent } from '../upstream-connection.js';
import { backendHandshake, upstreamTlsOptions } from '../governance/backend-options.js';
import { ActiveChecker } from './active-checker.js';

export interface BackendHealth {
  healthy: boolean;
  /** Why it is unhealthy (empty when healthy). */
  reason: string;
  activeHealthy: boolean;
  activeReason: string;
  outlierEjected: boolean;
  outlierReason: string;
  authRejected: boolean;
  ejections: number;
  checks: number;
  checkFailures: number;
  /** Fail-fast reply while unhealthy. */
  refusal: Buffer | null;
}

const FAILURE_OF: Partial<Record<UpstreamEvent, FailureKind>> = {
  'connect-failed': 'connect_failure', timeout: 'timeout', eof: 'reset', error: 'reset',
};

export class HealthManager {
  readonly state: BackendHealth[];
  private readonly checkers: Array<ActiveChecker | null>;
  private readonly outlier: OutlierDetector | null;
  private readonly names: string[];
  private readonly okStreak: number[];
  private readonly failStreak: number[];
  private readonly lastResponses: number[];
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;

  constructor(private readonly pool: RedisPoolConfig, private readonly router: Router, private readonly log: (line: string) => void) {
    const g = pool.governance!;
    this.names = router.backends.map((b) => b.name);
    this.state = this.names.map(() => ({
      healthy: true, reason: '', activeHealthy: true, activeReason: '', outlierEjected: false, outlierReason: '', authRejected: false,
      ejections: 0, checks: 0, checkFailures: 0, refusal: null,
    }));
    this.okStreak = this.names.map(() => 0);
    this.failStreak = this.names.map(() => 0);
    this.lastResponses = this.names.map(() => 0);
    const hc = g.healthCheck;
    const tlsOpts = upstreamTlsOptions(pool);
    this.checkers = pool.backends.map((spec) => hc ? new ActiveChecker({
      host: spec.host, port: spec.port, timeoutMs: hc.timeoutMs, key: hc.key,
      handshake: backendHandshake(pool, spec), tls: tlsOpts,
    }) : null);
    const od = g.outlierDetection;
    this.outlier = od ? new OutlierDetector(this.names, {
      consecutive5xx: od.consecutive5xx, consecutiveGatewayFailure: od.consecutiveGatewayFailure,
      enforcingConsecutiveGatewayFailure: od.enforcingConsecutiveGatewayFailure, intervalMs: od.intervalMs,
      baseEjectionTimeMs: od.baseEjectionTimeMs, maxEjectionTimeMs: od.maxEjectionTimeMs, maxEjectionPercent: od.maxEjectionPercent,
    }) : null;
  }

  start(): void {
    const hc = this.pool.governance!.healthCheck;
    if (hc) {
      void this.runChecks();
      this.timer = setInterval(() => void this.runChecks(), hc.intervalMs);
      this.timer.unref();
    }
  }

  /** Backend connection event (from the router). */
  onEvent(i: number, ev: UpstreamEvent): void {
    const st = this.state[i];
    if (st === undefined) return; // a backend removed by a reload, still draining
    if (ev === 'auth-failed') {
      if (!st.authRejected) { st.authRejected = true; this.update(i); }
      return;
    }
    if (ev === 'authenticated') {
      if (st.authRejected) { st.authRejected = false; this.update(i); }
      return;
    }
    const kind = FAILURE_OF[ev];
    if (kind && this.outlier) {
      const e = this.outlier.recordFailure(this.names[i], kind, Date.now());
      if (e?.type === 'eject') {
        st.outlierEjected = true;
        st.outlierReason = `outlier detection: ${e.reason}, ejected for ${e.ejectionTimeMs} ms`;
        this.update(i);
      }
      else if (e?.type === 'overflow') this.log(`backend ${this.names[i]} reached ${e.reason} but max_ejection_percent keeps it in service`);
    }
  }

  /** Periodic: successes for outlier detection and un-ejections. */
  tick(now: number): void {
    if (!this.outlier) return;
    this.router.backends.forEach((b, i) => {
      const r = b.stats().responses;
      if (r > this.lastResponses[i]) this.outlier!.recordSuccess(this.names[i], now);
      this.lastResponses[i] = r;
    });
    for (const e of this.outlier.tick(now)) {
      const i = this.names.indexOf(e.host);
      if (i >= 0 && e.type === 'uneject') { this.state[i].outlierEjected = false; this.router.backends[i].retryNow(); this.update(i); }
    }
  }

  private async runChecks(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    const hc = this.pool.governance!.healthCheck!;
    try {
      await Promise.all(this.checkers.map(async (c, i) => {
        if (!c) return;
        const r = await c.check();
        if (this.closed) return;
        const st = this.state[i];
        st.checks++;
        if (r.ok) {
          this.failStreak[i] = 0;
          this.router.backends[i]?.retryNow(); // reachable: do not wait for the data connections' back-off
          if (!st.activeHealthy && ++this.okStreak[i] >= hc.healthyThreshold) { st.activeHealthy = true; st.activeReason = ''; this.update(i); }
        } else {
          st.checkFailures++;
          this.okStreak[i] = 0;
          if (st.activeHealthy && ++this.failStreak[i] >= hc.unhealthyThreshold) {
            st.activeHealthy = false;
            st.activeReason = `health check failed: ${r.reason}`;
            this.update(i);
          }
        }
      }));
    } finally {
      this.checking = false;
    }
  }

  private update(i: number): void {
    const st = this.state[i];
    const reasons: string[] = [];
    if (!st.activeHealthy) reasons.push(st.activeReason);
    if (st.outlierEjected) reasons.push(st.outlierReason);
    if (st.authRejected) {
      const why = this.router.backends[i]?.authInfo().lastAuthError;
      reasons.push(why ? `upstream auth rejected: ${why}` : 'upstream auth rejected');
    }
    const healthy = reasons.length === 0;
    const reason = reasons.join('; ');
    if (healthy === st.healthy && reason === st.reason) return;
    const was = st.healthy;
    st.healthy = healthy;
    st.reason = reason;
    const mode = this.pool.autoEjectHosts ? 'removed from the ring' : 'its keys fail fast';
    st.refusal = healthy ? null : errorReply(`ERR backend ${this.names[i]} is unhealthy (${reason}); ${mode} until it recovers`);
    if (was && !healthy) st.ejections++;
    this.router.setHealthy(i, healthy);
    if (was !== healthy) this.log(healthy ? `backend ${this.names[i]} is healthy again` : `backend ${this.names[i]} ejected: ${reason} (${mode})`);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const c of this.checkers) c?.close();
  }
}
