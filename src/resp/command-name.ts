/**
 * ASCII-lower-cased command names without allocating on the hot path: a small direct-mapped
 * cache keyed by a case-insensitive hash of the name's bytes. Unknown or garbage names only
 * evict a slot, so memory stays bounded.
 */
const SLOTS = 1024;
const MAX_CACHED_LEN = 48;
const keys: Array<Buffer | undefined> = new Array(SLOTS).fill(undefined);
const names: string[] = new Array(SLOTS).fill('');

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

export function lowerName(buf: Buffer, s: number, e: number): string {
  const len = e - s;
  if (len > MAX_CACHED_LEN) return decodeLower(buf, s, e).toString('latin1');
  let h = 0x811c9dc5 ^ len;
  for (let i = s; i < e; i++) h = Math.imul(h ^ lower(buf[i]), 16777619);
  const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
  const k = keys[slot];
  if (k !== undefined && k.length === len) {
    let i = 0;
    while (i < len && k[i] === lower(buf[s + i])) i++;
    if (i === len) return names[slot];
  }
  const lowered = decodeLower(buf, s, e);
  const name = lowered.toString('latin1');
  keys[slot] = lowered;
  names[slot] = name;
  return name;
}

function decodeLower(buf: Buffer, s: number, e: number): Buffer {
  const out = Buffer.allocUnsafe(e - s);
  for (let i = s; i < e; i++) out[i - s] = lower(buf[i]);
  return out;
}
