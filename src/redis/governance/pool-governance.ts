/**
 * Governance of one pool: owns the deciders (src/mesh) and state shared by its sessions —
 * users, caller stats, connection/pending/queued-bytes limits, rate limits, faults, retries,
 * class timeouts, mirroring and health — and installs the backend gates. Created by the proxy
 * only when the pool config has governance settings.
 */
import net from 'node:net';
import { KeyedRateLimiter, ResourceLimits, RetryBudget, backoffMs } from '../../mesh/index.js';
import { errorReply } from '../../resp/index.js';
import type { RedisPoolConfig } from '../../config/index.js';
import type { GovernanceConfig } from '../../config/redis-governance.js';
import { Authenticator } from '../auth/downstream-auth.js';
import { HealthManager } from '../health/health-manager.js';
import type { Router } from '../router.js';
import type { ClientSession, Slot } from '../session.js';
import { CommandStats } from '../stats/command-stats.js';
import { createListener } from '../tls/listener.js';
import { CommandTable, type Klass } from './command-info.js';
import { Mirror } from './mirror.js';
import { prefixDistributor, type PrefixDistributor } from '../routing/prefix-routes.js';
import { RequestExt, SessionGov } from './session-governance.js';

interface RateRule { klass: Klass | 'all'; limiter: KeyedRateLimiter; ratePerSec: number; refusal: string }
interface Fault { type: 'error' | 'delay'; percent: number; delayMs: number; commands: Set<string> | null }

/** Envoy's default fault targets: every command but AUTH and PING. */
const NO_FAULT = new Set(['auth', 'ping', 'hello', 'quit']);

export class PoolGovernance {
  readonly g: GovernanceConfig;
  readonly commands: CommandTable;
  readonly stats: CommandStats;
  readonly auth: Authenticator | null;
  readonly limits: ResourceLimits | null;
  readonly maxPending: number;
  readonly maxClientQueuedBytes: number;
  readonly rateRules: RateRule[] | null;
  readonly faults: Fault[] | null;
  readonly mirror: Mirror | null;
  readonly retry: RetryScheduler | null;
  readonly health: HealthManager | null;
  /** Prefix routes when some route strips its prefix (requests are rewritten). */
  readonly prefixes: PrefixDistributor | null;
  /** Whether any feature needs the command class (rate limits, timeouts, mirroring). */
  readonly needsClass: boolean;
  readonly queueOverloaded: Buffer;
  readonly faultError = errorReply('ERR Fault Injected: Error');
  private readonly timeouts: Partial<Record<Klass, number>>;
  private readonly deadlines: RequestExt[] = [];
  readonly sessions = new Set<SessionGov>();
  readonly rejected: Record<string, number>;
  private readonly overloadedPending: Buffer;
  pendingOverflows: number[];
  /** Bytes of closed sessions (live ones are read from their sockets). */
  closedBytesIn = 0;
  closedBytesOut = 0;
  private ticker: NodeJS.Timeout | null = null;

  /** `carry`: the governance this one replaces on a hot reload (its counters continue). */
  constructor(readonly pool: RedisPoolConfig, readonly router: Router, private readonly logSink: (line: string) => void = defaultLog, carry: PoolGovernance | null = null) {
    const g = pool.governance!;
    this.g = g;
    const keepStats = carry !== null && carry.g.stats.maxCallers === g.stats.maxCallers && carry.g.stats.topCallers === g.stats.topCallers;
    this.commands = keepStats ? carry.commands : new CommandTable();
    this.stats = keepStats ? carry.stats : new CommandStats(g.stats.maxCallers, g.stats.topCallers, (id) => this.commands.list[id]?.name ?? 'unknown');
    this.rejected = carry ? carry.rejected : {};
    if (carry) { this.closedBytesIn = carry.closedBytesIn; this.closedBytesOut = carry.closedBytesOut; }
    this.auth = g.users ? new Authenticator(g.users) : null;
    const cb = g.circuitBreakers;
    this.limits = cb?.maxConnections ? new ResourceLimits({ maxConnections: cb.maxConnections }) : null;
    this.maxPending = cb?.maxPendingRequests ?? 0;
    this.maxClientQueuedBytes = cb?.maxClientQueuedBytes ?? 0;
    this.queueOverloaded = errorReply(`ERR client has more than ${this.maxClientQueuedBytes} request bytes in flight: proxy overloaded`);
    this.overloadedPending = errorReply(`ERR backend pending requests at max_pending_requests (${this.maxPending}): proxy overloaded`);
    this.pendingOverflows = router.backends.map(() => 0);
    this.rateRules = g.rateLimits ? g.rateLimits.map((r) => ({
      klass: r.class, ratePerSec: r.ratePerSec,
      limiter: new KeyedRateLimiter({ ratePerSec: r.ratePerSec, burst: r.burst, maxKeys: r.maxCallers }),
      refusal: `${r.class === 'all' ? '' : `${r.class} `}commands, ${r.ratePerSec}/s`,
    })) : null;
    this.faults = g.faults ? g.faults.map((f) => ({ ...f, commands: f.commands ? new Set(f.commands) : null })) : null;
    this.timeouts = g.timeouts ?? {};
    this.mirror = g.mirror ? new Mirror(g.mirror, pool) : null;
    this.retry = g.retry ? new RetryScheduler(this, g.retry) : null;
    const pd = g.prefixRoutes ? prefixDistributor(pool, undefined) : null;
    this.prefixes = pd !== null && pd.rewrites ? pd : null;
    this.needsClass = this.rateRules !== null || Object.keys(this.timeouts).length > 0 || this.mirror !== null;
    this.health = g.healthCheck || g.outlierDetection || g.upstreamAuth ? new HealthManager(pool, router, (l) => this.log(l)) : null;
    router.onBackendEvent = null;
    for (const b of router.backends) b.gate = null;
    if (this.health) router.onBackendEvent = (i, ev) => this.health!.onEvent(i, ev);
    if (this.health || this.maxPending > 0) this.installGates();
  }

  log(line: string): void { this.logSink(`trellis redis-proxy: pool ${this.pool.name}: ${line}`); }

  private installGates(): void {
    const max = this.maxPending;
    this.router.backends.forEach((b, i) => {
      const st = this.health?.state[i];
      b.gate = (clientId) => {
        if (st !== undefined && st.refusal !== null) return st.refusal;
        if (max > 0 && b.connectionFor(clientId).outstanding >= max) {
          this.pendingOverflows[i]++;
          return this.overloadedPending;
        }
        return null;
      };
    });
  }

  /** Listener: TLS when configured. */
  createServer(onSocket: (s: net.Socket) => void): net.Server {
    return createListener(this.g.tls, onSocket);
  }

  start(): void {
    this.health?.start();
    this.mirror?.start();
    const ms = [...Object.values(this.timeouts), 250].filter((v): v is number => typeof v === 'number');
    this.ticker = setInterval(() => this.tick(Date.now()), Math.max(5, Math.min(...ms) >> 2));
    this.ticker.unref();
  }

  /** Downstream connection limit; false = refused (the socket is answered and closed). */
  admit(sock: net.Socket): boolean {
    if (this.limits === null || this.limits.tryAcquire('connections')) return true;
    this.countRejection('max_connections');
    sock.end('-ERR max number of clients reached (max_connections): proxy overloaded\r\n');
    sock.on('error', () => {});
    return false;
  }

  attach(session: ClientSession): void {
    const sg = new SessionGov(this, session);
    session.gov = sg;
    this.sessions.add(sg);
  }

  detach(session: ClientSession): void {
    const sg = session.gov as SessionGov | null;
    if (sg === null || !this.sessions.delete(sg)) return;
    this.closedBytesIn += session.socket.bytesRead;
    this.closedBytesOut += session.socket.bytesWritten;
    this.limits?.release('connections');
  }

  countRejection(reason: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  }

  rateLimit(identity: string, klass: Klass): Buffer | null {
    const now = Date.now();
    for (const r of this.rateRules!) {
      if (r.klass !== 'all' && r.klass !== klass) continue;
      if (!r.limiter.tryTake(identity, now)) {
        const wait = r.limiter.retryAfterMs(identity, now);
        return errorReply(`ERR rate limit exceeded for caller '${identity.slice(0, 64)}' (${r.refusal}); retry in ${wait} ms`);
      }
    }
    return null;
  }

  fault(name: string): Fault | null {
    for (const f of this.faults!) {
      if (f.commands === null ? NO_FAULT.has(name) : !f.commands.has(name)) continue;
      if (Math.random() * 100 < f.percent) return f;
    }
    return null;
  }

  timeoutFor(klass: Klass): number {
    return this.timeouts[klass] ?? 0;
  }

  watchDeadline(ext: RequestExt, timeoutMs: number): void {
    ext.deadline = Date.now() + timeoutMs;
    this.deadlines.push(ext);
  }

  /** Answers requests past their class timeout (the backend's late reply is dropped). */
  private sweepDeadlines(now: number): void {
    const d = this.deadlines;
    let keep = 0;
    for (let i = 0; i < d.length; i++) {
      const ext = d[i];
      if (ext.done) continue;
      if (ext.deadline > now) { d[keep++] = ext; continue; }
      const slot = findSlot(ext);
      if (slot === null) continue;
      ext.done = true;
      this.countRejection('timeout');
      const sg = ext.session.gov as SessionGov;
      sg.finish(slot, errorReply(`ERR command timed out after ${this.timeouts[ext.klass]} ms (${ext.klass} timeout)`));
    }
    d.length = keep;
  }

  shouldRetry(ext: RequestExt, reply: Buffer): boolean {
    return this.retry !== null && ext.attempts < this.retry.retries && isConnectionFailure(reply);
  }

  retryDone(): void { this.retry?.budget.release(); }

  tick(now: number): void {
    if (this.deadlines.length) this.sweepDeadlines(now);
    this.health?.tick(now);
    this.mirror?.tick(now);
    if (this.rateRules) for (const r of this.rateRules) if (r.limiter.size > 1000) r.limiter.sweepIdle(now);
  }

  close(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.health?.close();
    this.mirror?.close();
  }

  bytes(): { in: number; out: number } {
    let i = this.closedBytesIn;
    let o = this.closedBytesOut;
    for (const s of this.sessions) { i += s.session.socket.bytesRead; o += s.session.socket.bytesWritten; }
    return { in: i, out: o };
  }
}

/** Retries of read-only single-key commands on connection failure or timeout, within Envoy's retry budget. */
class RetryScheduler {
  readonly budget: RetryBudget;
  readonly retries: number;
  total = 0;
  overflows = 0;
  constructor(private readonly pg: PoolGovernance, o: NonNullable<GovernanceConfig['retry']>) {
    this.budget = new RetryBudget({ budgetPercent: o.budgetPercent, minRetryConcurrency: o.minRetryConcurrency });
    this.retries = o.retries;
    this.baseMs = o.backoffBaseMs;
  }
  private readonly baseMs: number;

  /** Takes a retry from the budget (false = spent: the failure goes to the client as it is). */
  tryStart(ext: RequestExt): boolean {
    let active = 0;
    for (const b of this.pg.router.backends) active += b.stats().in_queue;
    if (!this.budget.tryAcquire(active)) { this.overflows++; return false; }
    ext.attempts++;
    ext.retrying = true;
    this.total++;
    return true;
  }

  /** Sends the request again, after a jittered back-off, to the backend its key maps to now. */
  send(slot: Slot, ext: RequestExt): void {
    // A broken connection reconnects in the background: wait for it (up to the connect timeout).
    const waitUntil = Date.now() + this.pg.pool.connectTimeoutMs;
    const go = (): void => {
      const r = this.pg.router;
      const shard = r.shardOf(ext.raw!, ext.keyStart, ext.keyEnd);
      if (shard < 0) return slot.onReply(errorReply('ERR no backend serves this key'));
      const b = r.backends[shard];
      if (!b.available && Date.now() < waitUntil) { setTimeout(go, 5); return; }
      b.send(slot.session.id, ext.raw!, slot);
    };
    const delay = backoffMs(ext.attempts, this.baseMs);
    if (delay > 0) setTimeout(go, delay);
    else go();
  }
}

/** The proxy's own connection-failure replies (backendError ... unavailable / timed out). */
function isConnectionFailure(reply: Buffer): boolean {
  if (reply.length < 20 || reply[0] !== 45) return false;
  const s = reply.toString('latin1', 0, Math.min(reply.length, 300));
  return s.startsWith('-ERR backend ') && (s.endsWith(' unavailable\r\n') || s.endsWith(' timed out\r\n'));
}

function findSlot(ext: RequestExt): Slot | null {
  for (let s = ext.session.head; s !== null; s = s.next) if (s.ext === ext) return s;
  return null;
}

function defaultLog(line: string): void {
  process.stderr.write(`${line}\n`);
}
