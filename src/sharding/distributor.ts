/**
 * Key → server placement with twemproxy's distributions (ketama, modula, random) plus a
 * static Redis-Cluster-style `slots` distribution. serverFor() is on the proxy hot path: the
 * continuum is precomputed into typed arrays and lookups allocate nothing.
 *
 * serverFor() returns an index into the `servers` array, or -1 when no server can take the
 * key: for `slots`, the key's slot is assigned to no server; for the others, no server is
 * live (or every live server got 0 ketama points). The proxy turns -1 into an error reply.
 * As in twemproxy, a single-server pool always answers 0 without hashing, live or not.
 */
import { crc16 } from './crc.js';
import { hashFunction, type HashName } from './hash-functions.js';
import { findByte, parseHashTag } from './hash-tag.js';
import { KetamaContinuum } from './ketama.js';
import { SLOT_COUNT } from './slots.js';

export type DistributionName = 'ketama' | 'modula' | 'random' | 'slots';
export const DISTRIBUTION_NAMES: readonly DistributionName[] = Object.freeze(['ketama', 'modula', 'random', 'slots'] as const);

export interface ShardServer {
  host: string;
  port: number;
  weight: number;
  name?: string;
  /** Inclusive slot ranges [first, last] owned by this server (distribution `slots` only). */
  slots?: Array<[number, number]>;
}

export interface Distributor {
  /** Index into the servers array given to createDistributor, or -1 (see module comment). */
  serverFor(key: Buffer, start?: number, end?: number): number;
  /** Number of servers. */
  readonly size: number;
}

export interface DistributorOptions {
  distribution: DistributionName;
  hash: HashName;
  hashTag?: string;
  servers: ShardServer[];
  /** Which servers are live (auto_eject_hosts); default all. */
  live?: boolean[];
  /** Uniform [0, 1) source for `random`; default Math.random. */
  random?: () => number;
}

/** The string twemproxy puts on the ring: the node name, `host` for port 11211, else host:port. */
export function serverIdentity(s: ShardServer): string {
  if (s.name !== undefined && s.name !== '') return s.name;
  return s.port === 11211 ? s.host : `${s.host}:${s.port}`;
}

/**
 * nutcracker sorts a pool's servers by identity (shorter first, then bytewise) while checking
 * for duplicates, and modula/random continuums and ketama tie order follow that sorted order,
 * not the config order. Returns config indices in twemproxy's order.
 */
export function twemproxyOrder(servers: readonly ShardServer[]): number[] {
  const ids = servers.map((s) => Buffer.from(serverIdentity(s)));
  return servers.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || Buffer.compare(ids[a], ids[b]) || a - b);
}

function validate(opts: DistributorOptions): void {
  if (!(['ketama', 'modula', 'random', 'slots'] as string[]).includes(opts.distribution)) {
    throw new Error(`unknown distribution "${String(opts.distribution)}"; expected ketama, modula, random or slots`);
  }
  if (opts.servers.length === 0) throw new Error('servers: at least one server is required');
  opts.servers.forEach((s, i) => {
    if (!Number.isInteger(s.weight) || s.weight < 1) {
      throw new Error(`servers[${i}] (${serverIdentity(s)}): weight must be a positive integer, got ${s.weight}`);
    }
  });
  const seen = new Map<string, number>();
  opts.servers.forEach((s, i) => {
    const id = serverIdentity(s);
    if (seen.has(id)) throw new Error(`servers[${seen.get(id)}] and servers[${i}] have the same name "${id}"`);
    seen.set(id, i);
  });
  if (opts.live && opts.live.length !== opts.servers.length) {
    throw new Error(`live has ${opts.live.length} entries for ${opts.servers.length} servers`);
  }
}

export function createDistributor(opts: DistributorOptions): Distributor {
  validate(opts);
  const size = opts.servers.length;
  const hash = hashFunction(opts.hash);
  const tag = opts.hashTag ? parseHashTag(opts.hashTag) : undefined;
  if (opts.distribution === 'slots') return slotsDistributor(opts.servers, tag ?? parseHashTag('{}'));

  const open = tag ? tag[0] : -1;
  const close = tag ? tag[1] : -1;
  /** twemproxy's server_pool_idx preprocessing: hash tag, then empty key → 0. */
  const keyHash = (key: Buffer, start: number, end: number): number => {
    if (open >= 0) {
      const o = findByte(key, open, start, end);
      if (o >= 0) {
        const c = findByte(key, close, o + 1, end);
        if (c > o + 1) {
          start = o + 1;
          end = c;
        }
      }
    }
    return end > start ? hash(key, start, end) : 0;
  };

  const live = opts.live;
  const order = twemproxyOrder(opts.servers);
  if (opts.distribution === 'ketama') {
    const members = order.map((i) => ({ identity: serverIdentity(opts.servers[i]), weight: opts.servers[i].weight }));
    const ring = new KetamaContinuum(members, live && order.map((i) => live[i]));
    for (let p = 0; p < ring.owners.length; p++) ring.owners[p] = order[ring.owners[p]];
    return {
      size,
      serverFor(key, start = 0, end = key.length) {
        if (size === 1) return 0; // twemproxy skips hashing for single-server pools
        return ring.lookup(keyHash(key, start, end));
      },
    };
  }

  // modula: each live server repeated `weight` times; random: each live server once.
  const entries: number[] = [];
  for (const i of order) {
    if (live && live[i] === false) continue;
    const copies = opts.distribution === 'modula' ? opts.servers[i].weight : 1;
    for (let k = 0; k < copies; k++) entries.push(i);
  }
  const continuum = Int32Array.from(entries);
  const n = continuum.length;
  if (opts.distribution === 'modula') {
    return {
      size,
      serverFor(key, start = 0, end = key.length) {
        if (size === 1) return 0;
        if (n === 0) return -1;
        return continuum[keyHash(key, start, end) % n];
      },
    };
  }
  const random = opts.random ?? Math.random;
  return {
    size,
    serverFor() {
      if (size === 1) return 0;
      if (n === 0) return -1;
      return continuum[Math.min(n - 1, Math.floor(random() * n))];
    },
  };
}

function slotsDistributor(servers: ShardServer[], tag: [number, number]): Distributor {
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  servers.forEach((s, i) => {
    for (const [first, last] of s.slots ?? []) {
      if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last >= SLOT_COUNT || first > last) {
        throw new Error(`servers[${i}] (${serverIdentity(s)}): invalid slot range ${first}-${last} (slots are 0..${SLOT_COUNT - 1})`);
      }
      for (let slot = first; slot <= last; slot++) {
        if (owner[slot] >= 0 && owner[slot] !== i) {
          throw new Error(`slot ${slot} is assigned to both ${serverIdentity(servers[owner[slot]])} and ${serverIdentity(s)}`);
        }
        owner[slot] = i;
      }
    }
  });
  const [open, close] = tag;
  return {
    size: servers.length,
    serverFor(key, start = 0, end = key.length) {
      const o = findByte(key, open, start, end);
      if (o >= 0) {
        const c = findByte(key, close, o + 1, end);
        if (c > o + 1) return owner[crc16(key, o + 1, c) & (SLOT_COUNT - 1)];
      }
      return owner[crc16(key, start, end) & (SLOT_COUNT - 1)];
    },
  };
}
