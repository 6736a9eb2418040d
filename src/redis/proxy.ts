/**
 * A Redis proxy listener for one pool: accepts clients (one ClientSession each), routes their
 * requests through the command splitter and router to the pool's shared upstream
 * connections, and exposes stats under Envoy's (downstream_*) and twemproxy's (per-server) names.
 */
import net from 'node:net';
import type { RedisPoolConfig } from '../config/index.js';
import type { BackendStats } from './backend.js';
import { CommandSplitter, type SplitterStats } from './command-splitter.js';
import { PoolGovernance } from './governance/pool-governance.js';
import { applyReload } from './admin/reload.js';
import { governanceInfo, governanceStats, type GovernanceStats } from './stats/governance-report.js';
import { Router } from './router.js';
import { ClusterRouter, ClusterSplitter, seedRouterPool } from './cluster/index.js';
import { ClientSession } from './session.js';
import { StatefulFeatures, type FeatureStats } from './clients/features.js';
import { LOCAL_COMMANDS } from './local-commands.js';

export interface ProxyStats {
  pool: string;
  uptime_seconds: number;
  downstream_cx_total: number;
  downstream_cx_active: number;
  downstream_cx_protocol_error: number;
  downstream_rq_total: number;
  splitter: SplitterStats;
  ejected: string[];
  backends: BackendStats[];
  /** Requests per client name (CLIENT SETNAME), for connections open now; '' = unnamed. */
  clients_by_name: Record<string, number>;
  /** Present when the pool has governance settings. */
  governance?: GovernanceStats;
  /** Transactions, blocking calls, pub/sub (clients/features.ts). */
  features: FeatureStats;
}

export class RedisProxy {
  private readonly server: net.Server;
  private readonly router: Router;
  private readonly splitter: CommandSplitter | ClusterSplitter;
  /** distribution: cluster: slot routing over the discovered topology (`router` then only holds the unused seeds). */
  private readonly cluster: ClusterRouter | null;
  /** Transactions, blocking calls, pub/sub, SCAN, SELECT n, RESP3, CLIENT LIST/KILL/UNBLOCK. */
  readonly features: StatefulFeatures;
  private readonly sessions = new Set<ClientSession>();
  private readonly startedAt = Date.now();
  private ticker: NodeJS.Timeout | null = null;
  private cxTotal = 0;
  private protocolErrors = 0;
  /** Requests of sessions already closed (so the total survives disconnects). */
  private closedRequests = 0;
  private closing: Promise<void> | null = null;
  /** Auth, limits, health, caller stats (null when the pool has no governance settings). */
  gov: PoolGovernance | null;

  constructor(public config: RedisPoolConfig) {
    this.cluster = config.distribution === 'cluster' ? new ClusterRouter(config) : null;
    this.router = new Router(this.cluster ? seedRouterPool(config) : config);
    this.gov = config.governance ? new PoolGovernance(config, this.router) : null;
    this.features = new StatefulFeatures(this.router, () => this.config, (name) => LOCAL_COMMANDS.get(name));
    this.splitter = this.cluster
      ? new ClusterSplitter(this.cluster, () => this.infoSection())
      : new CommandSplitter(this.router, () => this.infoSection(), this.features);
    this.server = this.gov !== null
      ? this.gov.createServer((sock) => this.accept(sock))
      : net.createServer({ noDelay: true }, (sock) => this.accept(sock));
  }

  async listen(): Promise<void> {
    if (this.cluster) this.cluster.start();
    else this.router.start();
    this.gov?.start();
    const tickMs = this.config.timeoutMs > 0 ? Math.max(5, Math.min(250, this.config.timeoutMs >> 2)) : 250;
    this.ticker = setInterval(() => (this.cluster ?? this.router).tick(Date.now()), tickMs);
    this.ticker.unref();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.listen.port, this.config.listen.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Hot reload (admin/reload.ts): backends, placement, limits, users; connected clients stay. Returns notes for the log. */
  reload(next: RedisPoolConfig): string[] {
    const r = applyReload(this.config, next, this.router, this.gov, this.sessions);
    this.config = r.config;
    this.gov = r.gov;
    this.features.reconfigured();
    return r.notes;
  }

  address(): { host: string; port: number } {
    const a = this.server.address();
    if (a === null || typeof a === 'string') return { ...this.config.listen };
    return { host: a.address, port: a.port };
  }

  private accept(sock: net.Socket): void {
    if (this.closing) { sock.destroy(); return; }
    if (this.gov !== null && !this.gov.admit(sock)) return;
    this.cxTotal++;
    const session = new ClientSession(sock, this.splitter, { maxRequestBytes: this.config.maxRequestBytes, maxBulkBytes: this.config.maxRequestBytes });
    this.sessions.add(session);
    this.features.onAccept(session);
    this.gov?.attach(session);
    sock.once('close', () => {
      this.gov?.detach(session);
      this.sessions.delete(session);
      this.features.onClosed(session);
      this.closedRequests += session.requests;
      if (session.protocolError) this.protocolErrors++;
    });
  }

  /**
   * Graceful: stops accepting, lets clients receive replies already owed (up to graceMs),
   * then closes clients and backend connections.
   */
  close(graceMs = 2000): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && [...this.sessions].some((s) => s.head !== null)) {
        await new Promise((r) => setTimeout(r, 10));
      }
      for (const s of this.sessions) s.socket.destroy();
      if (this.ticker) clearInterval(this.ticker);
      this.features.close();
      this.router.close();
      this.cluster?.close();
      this.gov?.close();
      await closed;
    })();
    return this.closing;
  }

  stats(): ProxyStats {
    let rq = this.closedRequests;
    const byName: Record<string, number> = {};
    for (const s of this.sessions) {
      rq += s.requests;
      byName[s.name] = (byName[s.name] ?? 0) + s.requests;
    }
    return {
      pool: this.config.name,
      uptime_seconds: Math.floor((Date.now() - this.startedAt) / 1000),
      downstream_cx_total: this.cxTotal,
      downstream_cx_active: this.sessions.size,
      downstream_cx_protocol_error: this.protocolErrors,
      downstream_rq_total: rq,
      splitter: this.splitter.stats(),
      ejected: (this.cluster ?? this.router).ejected,
      backends: (this.cluster ?? this.router).backends.map((b) => b.stats()),
      clients_by_name: byName,
      ...(this.gov ? { governance: governanceStats(this.gov) } : {}),
      features: this.features.stats(),
    };
  }

  /** The `# Proxy` section appended to a merged INFO. */
  private infoSection(): string {
    const st = this.stats();
    const lines = [
      '# Proxy', 'proxy:trellis', `proxy_process_id:${process.pid}`, `pool:${st.pool}`, `distribution:${this.config.distribution}`, `hash:${this.config.hash}`,
      `backends:${st.backends.length}`, `backends_connected:${st.backends.filter((b) => b.connected).length}`,
      `ejected:${st.ejected.join(',')}`, `uptime_in_seconds:${st.uptime_seconds}`,
      `downstream_cx_total:${st.downstream_cx_total}`, `downstream_cx_active:${st.downstream_cx_active}`,
      `downstream_cx_protocol_error:${st.downstream_cx_protocol_error}`, `downstream_rq_total:${st.downstream_rq_total}`,
      `splitter_unsupported_command:${st.splitter.unsupported_command}`, `splitter_invalid_request:${st.splitter.invalid_request}`,
      `splitter_cross_shard:${st.splitter.cross_shard}`, `fragments:${st.splitter.fragments}`,
    ];
    st.backends.forEach((b, i) => {
      lines.push(`backend${i}:name=${b.name},address=${b.address},connected=${b.connected ? 1 : 0},requests=${b.requests},responses=${b.responses},server_eof=${b.server_eof},server_err=${b.server_err},server_timedout=${b.server_timedout}`);
    });
    lines.push(...this.features.infoLines());
    if (this.gov) lines.push(...governanceInfo(this.gov));
    return lines.join('\r\n') + '\r\n';
  }
}
