/**
 * X-Call-Id values made by the gateway: random (version 4) UUIDs like crypto.randomUUID()'s,
 * kept as their 16 bytes and written into heads as hex digits, so a call needs no string
 * (randomUUID builds one from 20 pieces, which then has to be flattened to be written).
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes for 128 ids, refilled when used up (randomUUID buffers the same way). */
const pool = Buffer.allocUnsafe(16 * 128);
let next = pool.length;

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** The length of a call id written by putCallId. */
export const CALL_ID_LENGTH = 36;

/** Fills id (16 bytes) with a new random version 4 UUID. */
export function newCallId(id: Uint8Array): void {
  if (next === pool.length) { randomFillSync(pool); next = 0; }
  for (let i = 0; i < 16; i++) id[i] = pool[next + i];
  next += 16;
  id[6] = (id[6] & 0x0f) | 0x40;
  id[8] = (id[8] & 0x3f) | 0x80;
}

/** Writes id as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx at out[o..]; returns the offset past it. */
export function putCallId(out: Uint8Array, o: number, id: Uint8Array): number {
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out[o++] = 45; // -
    const b = id[i];
    out[o++] = HEX[b >> 4];
    out[o++] = HEX[b & 15];
  }
  return o;
}

export function callIdString(id: Uint8Array): string {
  const out = Buffer.allocUnsafe(CALL_ID_LENGTH);
  putCallId(out, 0, id);
  return out.toString('latin1');
}
