/** Redis Cluster key slots: CRC16 (XMODEM) of the key or its {hash tag}, mod 16384. */
import { crc16 } from './crc.js';
import { findByte } from './hash-tag.js';

export const SLOT_COUNT = 16384;
const OPEN = 0x7b; // '{'
const CLOSE = 0x7d; // '}'

/** Redis Cluster slot (0..16383) of the key in buf[start..end), with Redis' {} hash-tag rule. */
export function keySlot(buf: Buffer, start = 0, end = buf.length): number {
  const o = findByte(buf, OPEN, start, end);
  if (o >= 0) {
    const c = findByte(buf, CLOSE, o + 1, end);
    if (c > o + 1) return crc16(buf, o + 1, c) & (SLOT_COUNT - 1);
  }
  return crc16(buf, start, end) & (SLOT_COUNT - 1);
}

/** Parses slot ranges like "0-5460,5461,6000-6100" into inclusive [first, last] pairs. */
export function parseSlotRanges(spec: string): Array<[number, number]> {
  return spec.split(',').map((part) => {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Error(`invalid slot range "${part}" (expected N or N-M)`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (first > last || last >= SLOT_COUNT) throw new Error(`invalid slot range "${part}" (slots are 0..${SLOT_COUNT - 1})`);
    return [first, last];
  });
}
