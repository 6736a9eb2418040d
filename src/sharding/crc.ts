/**
 * CRC tables and the CRC-based hashes:
 * - crc16: Redis Cluster's CRC16 (XMODEM: poly 0x1021, init 0), 16-bit result.
 * - hashCrc16: twemproxy/libmemcached "crc16" — same table, but the 32-bit accumulator is
 *   shifted left without masking, so results exceed 16 bits (crc16 hash of "apple" = 3662830516).
 * - hashCrc32: libmemcached "crc32": standard CRC-32 then `(~crc >> 16) & 0x7fff`.
 * - hashCrc32a: standard CRC-32 (IEEE, reflected, as zlib).
 */

function makeXmodemTable(): Uint16Array {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
}

function makeCrc32Table(): Int32Array {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[i] = c;
  }
  return t;
}

const XMODEM = makeXmodemTable();
const CRC32 = makeCrc32Table();

/** Redis Cluster CRC16 (XMODEM) of buf[start..end). */
export function crc16(buf: Buffer, start = 0, end = buf.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ XMODEM[((crc >>> 8) ^ buf[i]) & 0xff]) & 0xffff;
  return crc;
}

/** twemproxy's `crc16` hash: XMODEM steps on an unmasked 32-bit accumulator. */
export function hashCrc16(buf: Buffer, start = 0, end = buf.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc << 8) ^ XMODEM[((crc >>> 8) ^ buf[i]) & 0xff];
  return crc >>> 0;
}

function crc32Raw(buf: Buffer, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC32[(crc ^ buf[i]) & 0xff];
  return ~crc >>> 0;
}

/** twemproxy's `crc32` hash (libmemcached-compatible, 15-bit result). */
export function hashCrc32(buf: Buffer, start = 0, end = buf.length): number {
  return (crc32Raw(buf, start, end) >>> 16) & 0x7fff;
}

/** twemproxy's `crc32a` hash: the standard CRC-32. */
export function hashCrc32a(buf: Buffer, start = 0, end = buf.length): number {
  return crc32Raw(buf, start, end);
}
