/**
 * Writing HTTP heads straight into a Buffer from JS. Heads are short (a few hundred bytes),
 * and for that size a byte loop beats Buffer#write / Buffer#copy, each of which crosses into
 * C++ (or builds a typed-array view) per call, and building a string first (concatenation,
 * then flattening it to write it) costs more again. All strings here are latin1.
 */

/** Writes latin1 string s at out[o..]; returns the offset past it. */
export function putAscii(out: Buffer, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i);
  return o;
}

/** Copies src[from..to) to out[o..]; returns the offset past it. */
export function putBytes(out: Buffer, o: number, src: Buffer, from: number, to: number): number {
  if (to - from > 256) return o + src.copy(out, o, from, to);
  for (let i = from; i < to; i++) out[o++] = src[i];
  return o;
}

/** Decimal digits of a non-negative integer. */
export function digitCount(n: number): number {
  let d = 1;
  for (let p = 10; n >= p; p *= 10) d++;
  return d;
}

/** Writes non-negative integer n in decimal, zero-padded to `width` digits; returns the offset past it. */
export function putUint(out: Buffer, o: number, n: number, width: number): number {
  const len = Math.max(width, digitCount(n));
  let i = o + len - 1;
  // Past 2^31 the digits come from float division; below it, int32 division (a multiply).
  for (; n > 0x7fffffff; i--) {
    const q = Math.floor(n / 10);
    out[i] = 48 + (n - q * 10);
    n = q;
  }
  for (; i >= o; i--) {
    const q = (n / 10) | 0;
    out[i] = 48 + (n - q * 10);
    n = q;
  }
  return o + len;
}

/** True when buf[from..to) holds exactly the latin1 string s. */
export function bytesEqual(buf: Buffer, from: number, to: number, s: string): boolean {
  if (to - from !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (buf[from + i] !== s.charCodeAt(i)) return false;
  return true;
}
