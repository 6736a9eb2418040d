/**
 * MD5 (RFC 1321) of a byte range, returning only the first digest word: twemproxy's `md5`
 * key hash. Hand-written so the proxy hot path hashes a slice of its parse buffer with no
 * copy, no allocation and no native call (node:crypto costs ~1 µs per small key).
 */

const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;
const S = new Uint8Array([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
]);
const H = new Int32Array(4);
const X = new Int32Array(16);
const TAIL = new Uint8Array(128);

function compress(src: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const o = off + i * 4;
    X[i] = src[o] | (src[o + 1] << 8) | (src[o + 2] << 16) | (src[o + 3] << 24);
  }
  let a = H[0], b = H[1], c = H[2], d = H[3];
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    if (i < 16) { f = (b & c) | (~b & d); g = i; }
    else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
    else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
    else { f = c ^ (b | ~d); g = (7 * i) & 15; }
    const t = (a + f + K[i] + X[g]) | 0;
    a = d;
    d = c;
    c = b;
    b = (b + ((t << S[i]) | (t >>> (32 - S[i])))) | 0;
  }
  H[0] = (H[0] + a) | 0;
  H[1] = (H[1] + b) | 0;
  H[2] = (H[2] + c) | 0;
  H[3] = (H[3] + d) | 0;
}

/** First 4 digest bytes of MD5(buf[start..end)) as a little-endian uint32. */
export function md5First32(buf: Uint8Array, start = 0, end = buf.length): number {
  H[0] = 0x67452301; H[1] = 0xefcdab89 | 0; H[2] = 0x98badcfe | 0; H[3] = 0x10325476;
  const len = end - start;
  let p = start;
  for (; end - p >= 64; p += 64) compress(buf, p);
  const rest = end - p;
  for (let i = 0; i < rest; i++) TAIL[i] = buf[p + i];
  TAIL[rest] = 0x80;
  const total = rest < 56 ? 64 : 128;
  TAIL.fill(0, rest + 1, total - 8);
  const bitsLo = (len * 8) >>> 0;
  const bitsHi = Math.floor(len / 2 ** 29) >>> 0;
  for (let i = 0; i < 4; i++) {
    TAIL[total - 8 + i] = (bitsLo >>> (8 * i)) & 0xff;
    TAIL[total - 4 + i] = (bitsHi >>> (8 * i)) & 0xff;
  }
  compress(TAIL, 0);
  if (total === 128) compress(TAIL, 64);
  return H[0] >>> 0;
}
