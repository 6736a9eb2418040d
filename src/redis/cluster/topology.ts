/**
 * Redis Cluster topology as the proxy uses it: shards (a master, its replicas, its slot
 * ranges), parsed from `CLUSTER SHARDS` (Redis 7) or `CLUSTER SLOTS` (older servers).
 * Pure functions over decoded replies; no I/O.
 */
import type { RespValue } from '../../resp/index.js';

export const SLOTS = 16384;

export interface NodeAddress {
  host: string;
  port: number;
  /** Cluster node id when the reply carries it. */
  id?: string;
}

export interface ShardTopology {
  master: NodeAddress;
  /** Replicas not marked failed. */
  replicas: NodeAddress[];
  /** Inclusive ranges [first, last]. */
  slots: Array<[number, number]>;
}

export function addressOf(n: NodeAddress): string { return `${n.host}:${n.port}`; }

function str(v: RespValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.type === 'bulk') return v.value === null ? undefined : v.value.toString();
  if (v.type === 'simple' || v.type === 'verbatim') return v.value.toString();
  if (v.type === 'integer') return String(v.value);
  return undefined;
}

function num(v: RespValue | undefined): number {
  if (v === undefined) return NaN;
  if (v.type === 'integer') return Number(v.value);
  const s = str(v);
  return s === undefined ? NaN : Number(s);
}

function list(v: RespValue | undefined): RespValue[] {
  if (v === undefined) return [];
  if (v.type === 'array' || v.type === 'set' || v.type === 'push') return v.value ?? [];
  return [];
}

/** A RESP2 flat [k, v, k, v] array or a RESP3 map, as a Map of string keys. */
function fields(v: RespValue): Map<string, RespValue> {
  const m = new Map<string, RespValue>();
  if (v.type === 'map') {
    for (const [k, val] of v.value) { const ks = str(k); if (ks !== undefined) m.set(ks, val); }
    return m;
  }
  const flat = list(v);
  for (let i = 0; i + 1 < flat.length; i += 2) { const ks = str(flat[i]); if (ks !== undefined) m.set(ks, flat[i + 1]); }
  return m;
}

function validPort(p: number): boolean { return Number.isInteger(p) && p > 0 && p < 65536; }

function validRange(a: number, b: number): boolean {
  return Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a <= b && b < SLOTS;
}

/** The address clients should use: the announced endpoint unless it is unknown ('?', ''), else the ip. */
function nodeAddress(f: Map<string, RespValue>): NodeAddress | null {
  const endpoint = str(f.get('endpoint'));
  const ip = str(f.get('ip'));
  const host = endpoint && endpoint !== '?' ? endpoint : ip;
  const port = num(f.get('port') ?? f.get('tls-port'));
  if (!host || !validPort(port)) return null;
  const id = str(f.get('id'));
  return id ? { host, port, id } : { host, port };
}

/** Parses `CLUSTER SHARDS`. Throws on a reply that is not a shard list. */
export function parseClusterShards(v: RespValue): ShardTopology[] {
  if (v.type === 'error' || v.type === 'bulkError') throw new Error(v.value);
  if (v.type !== 'array' || v.value === null) throw new Error('CLUSTER SHARDS: expected an array');
  const out: ShardTopology[] = [];
  for (const entry of v.value) {
    const f = fields(entry);
    const flat = list(f.get('slots')).map(num);
    const slots: Array<[number, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) if (validRange(flat[i], flat[i + 1])) slots.push([flat[i], flat[i + 1]]);
    let master: NodeAddress | null = null;
    const replicas: NodeAddress[] = [];
    for (const n of list(f.get('nodes'))) {
      const nf = fields(n);
      const addr = nodeAddress(nf);
      if (addr === null) continue;
      const role = str(nf.get('role'));
      const health = str(nf.get('health')) ?? 'online';
      if (role === 'master') {
        // After a failover the shard lists the old, failed master too: prefer the healthy one.
        if (master === null || health === 'online') master = addr;
      } else if (health !== 'fail' && health !== 'failed') {
        // Redis 7.0 reports "loading" for any replica whose replication offset is still 0 (an
        // idle master): it serves reads; a replica that really is loading answers -LOADING,
        // and ClusterRequest then reads from the master.
        replicas.push(addr);
      }
    }
    if (master !== null && slots.length > 0) out.push({ master, replicas, slots });
  }
  return out;
}

/** Parses `CLUSTER SLOTS`: [first, last, [ip, port, id], replica...] per range, merged by master. */
export function parseClusterSlots(v: RespValue): ShardTopology[] {
  if (v.type === 'error' || v.type === 'bulkError') throw new Error(v.value);
  if (v.type !== 'array' || v.value === null) throw new Error('CLUSTER SLOTS: expected an array');
  const byMaster = new Map<string, ShardTopology>();
  for (const range of v.value) {
    const r = list(range);
    const a = num(r[0]);
    const b = num(r[1]);
    if (!validRange(a, b) || r.length < 3) continue;
    const nodes: NodeAddress[] = [];
    for (let i = 2; i < r.length; i++) {
      const n = list(r[i]);
      const host = str(n[0]);
      const port = num(n[1]);
      if (!host || !validPort(port)) continue;
      const id = str(n[2]);
      nodes.push(id ? { host, port, id } : { host, port });
    }
    if (nodes.length === 0) continue;
    const key = addressOf(nodes[0]);
    let shard = byMaster.get(key);
    if (!shard) {
      shard = { master: nodes[0], replicas: nodes.slice(1), slots: [] };
      byMaster.set(key, shard);
    }
    shard.slots.push([a, b]);
  }
  return [...byMaster.values()];
}

/** Number of slots the topology assigns (16384 when the cluster is fully covered). */
export function coveredSlots(shards: ShardTopology[]): number {
  let n = 0;
  for (const s of shards) for (const [a, b] of s.slots) n += b - a + 1;
  return n;
}
