/**
 * twemproxy's ketama continuum, reproduced exactly (nc_ketama.c):
 * - points per server computed in IEEE single precision (Math.fround at every step), so 25
 *   equal servers get 156 points each, not 160;
 * - 4 points per MD5 digest of "<identity>-<i>", little-endian uint32 words;
 * - stable sort by value (ties keep insertion order, as glibc's merge-sort qsort does);
 * - lookup: first point with value >= hash, wrapping to the first point.
 * Identities of 86+ bytes are not reproducible: nutcracker 0.5.0 formats them into an
 * 86-byte buffer and hashes past its end.
 */
import { hash as cryptoHash } from 'node:crypto';

export const KETAMA_POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;

export interface RingMember {
  /** The string hashed onto the ring (see serverIdentity). */
  identity: string;
  weight: number;
}

/** Points twemproxy gives a server of `weight` out of `totalWeight` with `nLive` live servers. */
export function ketamaPoints(weight: number, totalWeight: number, nLive: number): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalWeight));
  const perHash = f(f(f(f(pct * KETAMA_POINTS_PER_SERVER) / 4) * f(nLive)) + 1e-10);
  return Math.floor(perHash) * POINTS_PER_HASH;
}

export class KetamaContinuum {
  /** Sorted point values. */
  readonly values: Uint32Array;
  /** owners[i] = index (into the members array) of the server owning values[i]. */
  readonly owners: Int32Array;
  /** Points given to each member (0 for members that are not live). */
  readonly pointsPerServer: number[];

  /** live[i] === false leaves member i off the ring (auto_eject_hosts); default all live. */
  constructor(members: readonly RingMember[], live?: readonly boolean[]) {
    const isLive = (i: number) => !live || live[i] !== false;
    let totalWeight = 0;
    let nLive = 0;
    for (let i = 0; i < members.length; i++) {
      if (!isLive(i)) continue;
      nLive++;
      totalWeight += members[i].weight;
    }
    this.pointsPerServer = members.map((m, i) => (isLive(i) ? ketamaPoints(m.weight, totalWeight, nLive) : 0));
    const total = this.pointsPerServer.reduce((a, b) => a + b, 0);
    const rawValues = new Uint32Array(total);
    const rawOwners = new Int32Array(total);
    let n = 0;
    for (let s = 0; s < members.length; s++) {
      const hashes = this.pointsPerServer[s] / POINTS_PER_HASH;
      for (let i = 0; i < hashes; i++) {
        const d = cryptoHash('md5', `${members[s].identity}-${i}`, 'buffer');
        for (let a = 0; a < POINTS_PER_HASH; a++) {
          rawValues[n] = d.readUInt32LE(a * 4);
          rawOwners[n++] = s;
        }
      }
    }
    // Stable sort by value: ties keep insertion order (server index, then i, then a).
    const order = Array.from({ length: total }, (_, i) => i);
    order.sort((x, y) => rawValues[x] - rawValues[y] || x - y);
    this.values = new Uint32Array(total);
    this.owners = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      this.values[i] = rawValues[order[i]];
      this.owners[i] = rawOwners[order[i]];
    }
  }

  /** Number of points on the ring. */
  get points(): number {
    return this.values.length;
  }

  /** The owner of the first point >= hash (wrapping); -1 when the ring is empty. */
  lookup(hash: number): number {
    const v = this.values;
    const n = v.length;
    if (n === 0) return -1;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === n ? 0 : lo];
  }
}
