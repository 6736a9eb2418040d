/**
 * Routing for a `distribution: cluster` pool: the slot → {master, replicas} table, kept up
 * to date from the seed nodes and every node learned since (CLUSTER SHARDS, CLUSTER SLOTS on
 * older servers), refreshed every refresh_interval (Envoy's cluster_refresh_rate, 5 s) and
 * at once, debounced, after MOVED or a node failure. Reads may go to replicas per read_policy.
 */
import type { BackendSpec, RedisPoolConfig } from '../../config/index.js';
import type { ClusterSettings } from '../../config/redis-cluster.js';
import { errorReply } from '../../resp/index.js';
import type { BackendOptions } from '../backend.js';
import { backendConnectionOptions } from '../governance/backend-options.js';
import { ClusterBlocking } from './cluster-blocking.js';
import { ClusterNode } from './cluster-node.js';
import { ClusterPubSub } from './cluster-pubsub.js';
import { ClusterTransactions } from './cluster-transactions.js';
import { ClusterRequest, type RequestRouter } from './cluster-request.js';
import { fetchTopology } from './topology-fetch.js';
import { SLOTS, type ShardTopology } from './topology.js';

/** Refreshes triggered by redirects or failures start at most this often. */
const MIN_REFRESH_GAP_MS = 100;
const NO_REPLICAS: ClusterNode[] = [];

/** What every connection to one node carries: the AUTH command and TLS options, when configured. */
export type ConnectionExtras = Pick<BackendOptions, 'tls'> & { handshake?: Buffer };

export class ClusterRouter implements RequestRouter {
  readonly settings: ClusterSettings;
  readonly maxRedirects: number;
  readonly failoverWaitMs: number;
  private readonly nodes = new Map<string, ClusterNode>();
  private masterOf: Array<ClusterNode | null> = new Array<ClusterNode | null>(SLOTS).fill(null);
  private replicasOf: ClusterNode[][] = new Array<ClusterNode[]>(SLOTS).fill(NO_REPLICAS);
  private readonly seeds: BackendSpec[];
  private readonly nodeOpts: BackendOptions;
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private lastStart = 0;
  private rr = 0;
  private closed = false;
  private readonly extras = new Map<string, ConnectionExtras>();
  /** Counters for stats and INFO. */
  refreshes = 0;
  refreshFailures = 0;
  redirectsMoved = 0;
  redirectsAsk = 0;
  /** Requests resent after a refresh (node unreachable, CLUSTERDOWN), TRYAGAIN or LOADING. */
  retries = 0;
  lastRefreshError = '';
  /** The topology was loaded at least once. */
  ready = false;
  /** Dedicated connections of blocking calls. */
  readonly blocking: ClusterBlocking;
  /** MULTI/EXEC/WATCH state per client. */
  readonly transactions: ClusterTransactions;
  /** Relays of subscribed clients. */
  readonly pubsub: ClusterPubSub;

  constructor(private readonly pool: RedisPoolConfig) {
    this.settings = pool.cluster ?? { refreshIntervalMs: 5000, refreshTimeoutMs: 3000, readPolicy: 'master', maxRedirects: 5, failoverWaitMs: 0 };
    this.maxRedirects = this.settings.maxRedirects;
    this.failoverWaitMs = this.settings.failoverWaitMs;
    this.seeds = pool.backends;
    this.nodeOpts = {
      connections: pool.serverConnections,
      connectTimeoutMs: pool.connectTimeoutMs,
      timeoutMs: pool.timeoutMs,
      maxReplyBytes: Math.max(pool.maxRequestBytes, 512 * 1024 * 1024),
    };
    this.blocking = new ClusterBlocking(this, this.nodeOpts);
    this.transactions = new ClusterTransactions(this, this.nodeOpts);
    this.pubsub = new ClusterPubSub(this);
  }

  start(): void {
    void this.refreshed();
    this.timer = setInterval(() => { void this.refreshed(); }, this.settings.refreshIntervalMs);
    this.timer.unref();
  }

  tick(now: number): void {
    if (this.pool.timeoutMs > 0) for (const n of this.nodes.values()) n.checkTimeouts(now, this.pool.timeoutMs);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.blocking.close();
    this.transactions.close();
    this.pubsub.close();
    for (const n of this.nodes.values()) n.close();
  }

  /** Every node currently known, for stats (the proxy lists them as its backends). */
  get backends(): ClusterNode[] { return [...this.nodes.values()]; }

  /** Nodes whose last connection attempt failed. */
  get ejected(): string[] { return this.backends.filter((n) => !n.up).map((n) => n.address); }

  /** Distinct masters (fan-out targets). */
  masters(): ClusterNode[] {
    const out = new Set<ClusterNode>();
    for (const m of this.masterOf) if (m !== null) out.add(m);
    return [...out];
  }

  /** Masters ordered by the lowest slot they own (SCAN's shard order). */
  scanOrder(): ClusterNode[] {
    const out: ClusterNode[] = [];
    const seen = new Set<ClusterNode>();
    for (const m of this.masterOf) if (m !== null && !seen.has(m)) { seen.add(m); out.push(m); }
    return out;
  }

  /** Sends a request for `slot`; the reply (or a clear error) reaches `target` exactly once. */
  send(clientId: number, raw: Buffer, slot: number, read: boolean, target: { onReply(b: Buffer): void }): void {
    new ClusterRequest(this, clientId, raw, slot, read, target).dispatch();
  }

  // ---- RequestRouter

  pick(slot: number, read: boolean): ClusterNode | null {
    const m = this.masterOf[slot];
    if (!read) return m;
    const policy = this.settings.readPolicy;
    if (policy === 'master') return m;
    const reps = this.replicasOf[slot];
    switch (policy) {
      case 'preferMaster': return m !== null && m.up ? m : (this.upReplica(reps) ?? m);
      case 'replica': return this.upReplica(reps) ?? (reps.length > 0 ? reps[this.rr++ % reps.length] : null);
      case 'preferReplica': return this.upReplica(reps) ?? m;
      default: { // any
        const n = reps.length + 1;
        for (let k = 0; k < n; k++) {
          const i = this.rr++ % n;
          const c = i === 0 ? m : reps[i - 1];
          if (c !== null && c.up) return c;
        }
        return m;
      }
    }
  }

  private upReplica(reps: ClusterNode[]): ClusterNode | null {
    const n = reps.length;
    for (let k = 0; k < n; k++) {
      const c = reps[this.rr++ % n];
      if (c.up) return c;
    }
    return null;
  }

  isMasterOf(slot: number, node: ClusterNode): boolean { return this.masterOf[slot] === node; }

  nodeAt(host: string, port: number): ClusterNode {
    const key = `${host}:${port}`;
    let n = this.nodes.get(key);
    if (n === undefined) {
      n = new ClusterNode({ host, port, weight: 1 }, { ...this.nodeOpts, ...this.connectionExtras(host, port) });
      this.nodes.set(key, n);
    }
    return n;
  }

  /** Upstream AUTH handshake and TLS options for connections to `host:port` (upstream_auth, upstream_tls). */
  connectionExtras(host: string, port: number): ConnectionExtras {
    const key = `${host}:${port}`;
    let e = this.extras.get(key);
    if (e === undefined) {
      e = backendConnectionOptions(this.pool, { host, port, weight: 1 });
      this.extras.set(key, e);
    }
    return e;
  }

  moved(slot: number, node: ClusterNode): void {
    this.redirectsMoved++;
    this.masterOf[slot] = node;
    node.role = 'master';
    void this.refreshed();
  }

  unserved(slot: number, read: boolean): Buffer {
    if (!this.ready) return errorReply(`CLUSTERDOWN the proxy has no cluster topology yet (${this.lastRefreshError || 'no seed answered'})`);
    if (read && this.settings.readPolicy === 'replica' && this.masterOf[slot] !== null) {
      return errorReply(`ERR no replica serves slot ${slot} (read_policy: replica)`);
    }
    return errorReply(`CLUSTERDOWN Hash slot not served`);
  }

  /** Resolves after a topology refresh that starts after this call (coalesced, at most one per 100 ms). */
  refreshed(): Promise<void> {
    if (this.next !== null) return this.next;
    const prev = this.inflight ?? Promise.resolve();
    const p: Promise<void> = prev.then(async () => {
      const wait = this.lastStart + MIN_REFRESH_GAP_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.next === p) this.next = null;
      this.inflight = p;
      this.lastStart = Date.now();
      try {
        await this.refreshOnce();
      } finally {
        if (this.inflight === p) this.inflight = null;
      }
    });
    this.next = p;
    return p;
  }

  /** Asks known masters (random order), then replicas, then the seeds, until one answers. */
  private async refreshOnce(): Promise<void> {
    if (this.closed) return;
    const known = this.backends.filter((n) => n.listed);
    const shuffle = (a: ClusterNode[]) => a.map((n) => [Math.random(), n] as const).sort((x, y) => x[0] - y[0]).map(([, n]) => n);
    const order = [
      ...shuffle(known.filter((n) => n.role === 'master' && n.up)),
      ...shuffle(known.filter((n) => n.role === 'replica' && n.up)),
      ...this.seeds.map((s) => ({ address: `${s.host}:${s.port}` })),
      ...known.filter((n) => !n.up),
    ];
    const tried = new Set<string>();
    const errors: string[] = [];
    for (const c of order) {
      if (tried.has(c.address) || this.closed) continue;
      tried.add(c.address);
      const colon = c.address.lastIndexOf(':');
      try {
        const host = c.address.slice(0, colon);
        const port = Number(c.address.slice(colon + 1));
        const extras = this.connectionExtras(host, port);
        const shards = await fetchTopology(host, port, this.settings.refreshTimeoutMs, extras.handshake, extras.tls);
        if (shards.length === 0) { errors.push(`${c.address}: no slots assigned`); continue; }
        if (!this.closed) this.apply(shards);
        this.refreshes++;
        this.lastRefreshError = '';
        return;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    this.refreshFailures++;
    this.lastRefreshError = errors.slice(0, 3).join('; ');
  }

  private apply(shards: ShardTopology[]): void {
    const masterOf = this.masterOf.slice();
    const replicasOf = this.replicasOf.slice();
    const listed = new Set<ClusterNode>();
    for (const s of shards) {
      const m = this.nodeAt(s.master.host, s.master.port);
      m.role = 'master';
      listed.add(m);
      const reps = s.replicas.map((r) => this.nodeAt(r.host, r.port)).filter((r) => r !== m);
      for (const r of reps) { r.role = 'replica'; listed.add(r); }
      for (const [a, b] of s.slots) {
        for (let slot = a; slot <= b; slot++) { masterOf[slot] = m; replicasOf[slot] = reps; }
      }
    }
    this.masterOf = masterOf;
    this.replicasOf = replicasOf;
    this.ready = true;
    // Nodes gone from the topology: close once idle (requests on them still get their replies).
    for (const [addr, n] of this.nodes) {
      n.listed = listed.has(n);
      if (!n.listed && n.outstanding === 0 && !masterOf.includes(n)) { n.close(); this.nodes.delete(addr); }
    }
  }

  /** The `# ProxyCluster` lines appended to a merged INFO. */
  infoLines(): string[] {
    const ms = this.masters();
    const reps = new Set<string>();
    for (const r of this.replicasOf) for (const n of r) reps.add(n.address);
    let covered = 0;
    for (const m of this.masterOf) if (m !== null) covered++;
    return [
      '# ProxyCluster', `cluster_read_policy:${this.settings.readPolicy}`, `cluster_slots_assigned:${covered}`,
      `cluster_masters:${ms.map((m) => m.address).join(',')}`, `cluster_replicas:${[...reps].join(',')}`,
      `cluster_known_nodes:${this.nodes.size}`, `cluster_refreshes:${this.refreshes}`, `cluster_refresh_failures:${this.refreshFailures}`,
      `cluster_last_refresh_error:${this.lastRefreshError}`, `cluster_redirects_moved:${this.redirectsMoved}`,
      `cluster_redirects_ask:${this.redirectsAsk}`, `cluster_retries:${this.retries}`, `cluster_blocked_calls:${this.blocking.blocked}`,
      `cluster_subscribed_clients:${this.pubsub.size}`,
    ];
  }
}
