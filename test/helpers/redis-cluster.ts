/**
 * A real Redis Cluster for tests: N masters + N×R replicas (redis-server --cluster-enabled yes,
 * joined by `redis-cli --cluster create`) on free loopback ports, plus the operations the
 * cluster tests need: kill a master, CLUSTER FAILOVER, and a manual slot migration
 * (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE). Everything stops with t.after.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { keySlot } from '../../src/sharding/index.js';
import { RedisServer } from '../../src/util/redis-server.js';
import { getFreePort } from '../../src/util/net.js';

const run = promisify(execFile);

interface HasAfter { after(fn: () => unknown): void }

export interface ClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** cluster-node-timeout in ms: how soon a dead master is failed over. */
  nodeTimeoutMs?: number;
  /** Every node requires this password (requirepass) and replicas use it towards their master (masterauth). */
  password?: string;
  /** TLS only: clients, the cluster bus and replication (tls-cluster, tls-replication); the cert is also the CA. */
  tls?: { certFile: string; keyFile: string };
}

export interface ShardView {
  master: string;
  masterId: string;
  replicas: string[];
  slots: Array<[number, number]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TestCluster {
  private readonly admins = new Map<string, Redis>();

  constructor(readonly servers: RedisServer[], readonly password?: string, private readonly caFile?: string) {}

  /** host:port of every node (the seeds to give a proxy or client). */
  get addresses(): string[] { return this.servers.map((s) => s.address); }

  /** An admin connection to one node (plain, non-cluster ioredis; errors surface as rejections). */
  admin(address: string): Redis {
    let c = this.admins.get(address);
    if (!c) {
      const [host, port] = address.split(':');
      const tls = this.caFile ? { tls: { ca: readFileSync(this.caFile) } } : {};
      c = new Redis({ host, port: Number(port), password: this.password, ...tls, lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: true, retryStrategy: () => null });
      c.on('error', () => { /* node may be killed on purpose */ });
      this.admins.set(address, c);
    }
    return c;
  }

  private dropAdmin(address: string): void {
    this.admins.get(address)?.disconnect();
    this.admins.delete(address);
  }

  private live(): RedisServer[] { return this.servers.filter((s) => s.process.running); }

  /** Shards as one live node sees them (CLUSTER SHARDS, Redis 7). */
  async shards(via?: string): Promise<ShardView[]> {
    const node = via ?? this.live()[0].address;
    const raw = (await this.admin(node).call('CLUSTER', 'SHARDS')) as unknown[];
    return raw.map((entry) => {
      const e = toMap(entry as unknown[]);
      const flat = e.get('slots') as Array<number | string>;
      const slots: Array<[number, number]> = [];
      for (let i = 0; i < flat.length; i += 2) slots.push([Number(flat[i]), Number(flat[i + 1])]);
      const nodes = (e.get('nodes') as unknown[][]).map(toMap);
      const addr = (n: Map<string, unknown>) => `${String(n.get('ip'))}:${String(n.get('port') ?? n.get('tls-port'))}`;
      const master = nodes.find((n) => n.get('role') === 'master' && n.get('health') !== 'fail') ?? nodes.find((n) => n.get('role') === 'master');
      return {
        master: master ? addr(master) : '',
        masterId: master ? String(master.get('id')) : '',
        replicas: nodes.filter((n) => n !== master && n.get('health') !== 'fail').map(addr),
        slots,
      };
    }).filter((s) => s.slots.length > 0);
  }

  async shardOfSlot(slot: number, via?: string): Promise<ShardView> {
    const s = (await this.shards(via)).find((sh) => sh.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!s) throw new Error(`no shard serves slot ${slot}`);
    return s;
  }

  async nodeId(address: string): Promise<string> {
    return String(await this.admin(address).call('CLUSTER', 'MYID'));
  }

  /** Waits until every live node reports cluster_state:ok and they agree on the slot owners. */
  async waitOk(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const live = this.live();
        const infos = await Promise.all(live.map((s) => this.admin(s.address).call('CLUSTER', 'INFO') as Promise<string>));
        const ok = infos.every((i) => i.includes('cluster_state:ok'));
        if (ok) {
          const views = await Promise.all(live.map((s) => this.shards(s.address)));
          const sig = (v: ShardView[]) => v.map((s) => `${s.master}=${JSON.stringify(s.slots)}`).sort().join('|');
          if (views.every((v) => sig(v) === sig(views[0]))) return;
          last = 'nodes disagree on slot owners';
        } else {
          last = infos.map((i) => /cluster_state:\w+/.exec(i)?.[0]).join(',');
        }
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`cluster not ok after ${timeoutMs} ms: ${last}`);
  }

  /** Kills (SIGKILL) the master serving `slot`; returns its address and its replicas. */
  async killMasterOf(slot: number): Promise<{ killed: string; replicas: string[] }> {
    const shard = await this.shardOfSlot(slot);
    const srv = this.servers.find((s) => s.address === shard.master)!;
    srv.process.signal('SIGKILL');
    await srv.process.waitExit();
    this.dropAdmin(shard.master);
    return { killed: shard.master, replicas: shard.replicas };
  }

  /** Waits until some node other than `oldMaster` serves `slot` as master, per every live node. */
  async waitNewMaster(slot: number, oldMaster: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const views = await Promise.all(this.live().map((s) => this.shardOfSlot(slot, s.address)));
        if (views.every((v) => v.master !== oldMaster && v.master === views[0].master)) return views[0].master;
      } catch { /* a node may be mid-change */ }
      await sleep(100);
    }
    throw new Error(`no new master for slot ${slot} after ${timeoutMs} ms`);
  }

  /**
   * CLUSTER FAILOVER on a replica (a coordinated, lossless switch); resolves once it is master.
   * Redis aborts a manual failover that does not complete within 5 s (a busy machine can miss
   * that), so the command is sent again after 6 s without a switch.
   */
  async failover(replica: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let first = true; Date.now() < deadline; first = false) {
      // A resend can meet a replica that was just promoted ("send it to a replica"): the role check decides.
      await this.admin(replica).call('CLUSTER', 'FAILOVER').catch((err: unknown) => { if (first) throw err; });
      const retryAt = Math.min(deadline, Date.now() + 6000);
      while (Date.now() < retryAt) {
        const role = (await this.admin(replica).call('ROLE')) as unknown[];
        if (role[0] === 'master') return;
        await sleep(50);
      }
    }
    throw new Error(`${replica} did not become master after CLUSTER FAILOVER`);
  }

  /**
   * Moves `slot` to the master `to` the way redis-cli --cluster reshard does: IMPORTING on the
   * target, MIGRATING on the source, MIGRATE keys in batches (calling `between` after each
   * batch, so tests can run traffic while the slot is half-moved), then SETSLOT NODE everywhere.
   */
  async migrateSlot(slot: number, to: string, opts: { batch?: number; between?: () => Promise<void> } = {}): Promise<void> {
    const from = (await this.shardOfSlot(slot)).master;
    if (from === to) throw new Error(`slot ${slot} is already on ${to}`);
    const [fromId, toId] = await Promise.all([this.nodeId(from), this.nodeId(to)]);
    const src = this.admin(from);
    const dst = this.admin(to);
    await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
    const [toHost, toPort] = to.split(':');
    for (;;) {
      const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, opts.batch ?? 5)) as string[];
      if (keys.length === 0) break;
      await src.call('MIGRATE', toHost, toPort, '', 0, 5000, 'KEYS', ...keys);
      if (opts.between) await opts.between();
    }
    // The target first (so it answers for the slot), then the source, then everyone else.
    await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    const masters = (await this.shards()).map((s) => s.master).filter((m) => m !== to && m !== from);
    await Promise.all(masters.map((m) => this.admin(m).call('CLUSTER', 'SETSLOT', slot, 'NODE', toId).catch(() => undefined)));
  }

  async stop(): Promise<void> {
    for (const c of this.admins.values()) c.disconnect();
    this.admins.clear();
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

function toMap(flat: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return m;
}

/** Starts the servers, creates the cluster and waits for cluster_state:ok everywhere. */
export async function startRedisCluster(t?: HasAfter, opts: ClusterOptions = {}): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 1;
  const n = masters * (1 + replicas);
  const args = [
    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
    '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 2000),
    // A replica may take over at once after a kill (no data-age limit in tests).
    '--cluster-replica-validity-factor', '0',
    // Replicas sync at once (Redis waits 5 s for more replicas before a diskless sync).
    '--repl-diskless-sync-delay', '0',
    ...(opts.password !== undefined ? ['--requirepass', opts.password, '--masterauth', opts.password] : []),
  ];
  const servers: RedisServer[] = [];
  const cluster = new TestCluster(servers, opts.password, opts.tls?.certFile);
  t?.after(() => cluster.stop());
  const start = async (): Promise<RedisServer> => {
    if (!opts.tls) return RedisServer.start({ args });
    const port = await getFreePort();
    const { certFile, keyFile } = opts.tls;
    return RedisServer.start({ port, args: [...args, '--port', '0', '--tls-port', String(port), '--tls-cert-file', certFile, '--tls-key-file', keyFile,
      '--tls-ca-cert-file', certFile, '--tls-auth-clients', 'no', '--tls-cluster', 'yes', '--tls-replication', 'yes'] });
  };
  const started = await Promise.all(Array.from({ length: n }, start));
  servers.push(...started);
  try {
    const auth = opts.password !== undefined ? ['-a', opts.password, '--no-auth-warning'] : [];
    if (opts.tls) auth.push('--tls', '--cacert', opts.tls.certFile);
    await run('redis-cli', [...auth, '--cluster', 'create', ...cluster.addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 60_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`redis-cli --cluster create failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  await cluster.waitOk();
  // Every replica attached (redis-cli create returns before replication links are up).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const shards = await cluster.shards();
    if (shards.length === masters && shards.every((s) => s.replicas.length === replicas)) break;
    if (Date.now() > deadline) throw new Error(`replicas did not attach: ${JSON.stringify(shards)}`);
    await sleep(100);
  }
  return cluster;
}

/** The Redis Cluster slot of a key. */
export function slotOf(key: string): number { return keySlot(Buffer.from(key)); }

/** A hash tag whose keys (`{tag}...`) all live in `slot`. */
export function tagForSlot(slot: number): string {
  for (let i = 0; ; i++) if (slotOf(`t${i}`) === slot) return `t${i}`;
}

/** Sum of `cmdstat_<cmd>` calls over the given nodes (INFO commandstats). */
export async function commandCalls(cluster: TestCluster, nodes: string[], cmd: string): Promise<number> {
  let n = 0;
  for (const a of nodes) {
    const info = String(await cluster.admin(a).call('INFO', 'commandstats'));
    const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info);
    n += m ? Number(m[1]) : 0;
  }
  return n;
}
