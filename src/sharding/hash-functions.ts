/**
 * twemproxy's key hash functions, bit-exact with nutcracker on x86-64.
 * All take a byte range [start, end) of a Buffer and return a uint32.
 *
 * Quirk kept on purpose: twemproxy reads key bytes through a signed `char` in fnv1_64,
 * fnv1a_64, fnv1_32, fnv1a_32, one_at_a_time and the 3-byte tail of hsieh, so bytes >= 0x80
 * are sign-extended (x86 behaviour; an ARM build of nutcracker would hash them differently).
 */
import { hashCrc16, hashCrc32, hashCrc32a } from './crc.js';
import { md5First32 } from './md5.js';

export type HashName =
  | 'one_at_a_time' | 'md5' | 'crc16' | 'crc32' | 'crc32a' | 'fnv1_64' | 'fnv1a_64'
  | 'fnv1_32' | 'fnv1a_32' | 'hsieh' | 'murmur' | 'jenkins';

export const HASH_NAMES: readonly HashName[] = Object.freeze([
  'one_at_a_time', 'md5', 'crc16', 'crc32', 'crc32a', 'fnv1_64', 'fnv1a_64',
  'fnv1_32', 'fnv1a_32', 'hsieh', 'murmur', 'jenkins',
] as const);

export type KeyHash = (key: Buffer, start?: number, end?: number) => number;

/** A byte as C's signed char widened to 32 bits. */
const sx = (b: number): number => (b << 24) >> 24;

/** fnv1_64 keeps a 64-bit state but returns its low 32 bits, which depend only on low bits. */
export function fnv1_64(buf: Buffer, start = 0, end = buf.length): number {
  let h = 0x84222325 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h, 0x1b3) ^ sx(buf[i]);
  return h >>> 0;
}

/** Not a 64-bit FNV: 32-bit state seeded with the low half of the FNV-64 basis and prime. */
export function fnv1a_64(buf: Buffer, start = 0, end = buf.length): number {
  let h = 0x84222325 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ sx(buf[i]), 0x1b3);
  return h >>> 0;
}

export function fnv1_32(buf: Buffer, start = 0, end = buf.length): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h, 0x01000193) ^ sx(buf[i]);
  return h >>> 0;
}

export function fnv1a_32(buf: Buffer, start = 0, end = buf.length): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ sx(buf[i]), 0x01000193);
  return h >>> 0;
}

export function oneAtATime(buf: Buffer, start = 0, end = buf.length): number {
  let v = 0;
  for (let i = start; i < end; i++) {
    v = (v + sx(buf[i])) | 0;
    v = (v + (v << 10)) | 0;
    v ^= v >>> 6;
  }
  v = (v + (v << 3)) | 0;
  v ^= v >>> 11;
  v = (v + (v << 15)) | 0;
  return v >>> 0;
}

/** The md5 hash: the first 4 digest bytes as a little-endian uint32. */
export function md5(buf: Buffer, start = 0, end = buf.length): number {
  return md5First32(buf, start, end);
}

export function hsieh(buf: Buffer, start = 0, end = buf.length): number {
  let len = end - start;
  if (len <= 0) return 0;
  const rem = len & 3;
  let p = start;
  let h = 0;
  for (len >>>= 2; len > 0; len--) {
    h = (h + (buf[p] | (buf[p + 1] << 8))) | 0;
    const tmp = ((buf[p + 2] | (buf[p + 3] << 8)) << 11) ^ h;
    h = (h << 16) ^ tmp;
    p += 4;
    h = (h + (h >>> 11)) | 0;
  }
  switch (rem) {
    case 3:
      h = (h + (buf[p] | (buf[p + 1] << 8))) | 0;
      h ^= h << 16;
      h ^= sx(buf[p + 2]) << 18;
      h = (h + (h >>> 11)) | 0;
      break;
    case 2:
      h = (h + (buf[p] | (buf[p + 1] << 8))) | 0;
      h ^= h << 11;
      h = (h + (h >>> 17)) | 0;
      break;
    case 1:
      h = (h + buf[p]) | 0;
      h ^= h << 10;
      h = (h + (h >>> 1)) | 0;
      break;
  }
  h ^= h << 3;
  h = (h + (h >>> 5)) | 0;
  h ^= h << 4;
  h = (h + (h >>> 17)) | 0;
  h ^= h << 25;
  h = (h + (h >>> 6)) | 0;
  return h >>> 0;
}

/** MurmurHash2 with twemproxy's length-derived seed (0xdeadbeef × length). */
export function murmur(buf: Buffer, start = 0, end = buf.length): number {
  const m = 0x5bd1e995;
  let len = end - start;
  let h = Math.imul(0xdeadbeef, len) ^ len;
  let p = start;
  while (len >= 4) {
    let k = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
    p += 4;
    len -= 4;
  }
  if (len >= 3) h ^= buf[p + 2] << 16;
  if (len >= 2) h ^= buf[p + 1] << 8;
  if (len >= 1) h = Math.imul(h ^ buf[p], m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h >>> 0;
}

const le32 = (buf: Buffer, i: number): number => buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
const rot = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** Bob Jenkins' lookup3 hashlittle with libmemcached's initval 13. */
export function jenkins(buf: Buffer, start = 0, end = buf.length): number {
  let len = end - start;
  let a = (0xdeadbeef + len + 13) | 0;
  let b = a;
  let c = a;
  let p = start;
  while (len > 12) {
    a = (a + le32(buf, p)) | 0; b = (b + le32(buf, p + 4)) | 0; c = (c + le32(buf, p + 8)) | 0;
    a = (a - c) | 0; a ^= rot(c, 4); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rot(a, 6); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rot(b, 8); b = (b + a) | 0;
    a = (a - c) | 0; a ^= rot(c, 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rot(a, 19); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rot(b, 4); b = (b + a) | 0;
    len -= 12;
    p += 12;
  }
  if (len === 0) return c >>> 0;
  // Last 1..12 bytes, little-endian into a, b, c (zero-padded).
  for (let i = 0; i < len; i++) {
    const v = buf[p + i] << ((i & 3) * 8);
    if (i < 4) a = (a + v) | 0;
    else if (i < 8) b = (b + v) | 0;
    else c = (c + v) | 0;
  }
  c ^= b; c = (c - rot(b, 14)) | 0;
  a ^= c; a = (a - rot(c, 11)) | 0;
  b ^= a; b = (b - rot(a, 25)) | 0;
  c ^= b; c = (c - rot(b, 16)) | 0;
  a ^= c; a = (a - rot(c, 4)) | 0;
  b ^= a; b = (b - rot(a, 14)) | 0;
  c ^= b; c = (c - rot(b, 24)) | 0;
  return c >>> 0;
}

const FUNCTIONS: Record<HashName, KeyHash> = {
  one_at_a_time: oneAtATime,
  md5,
  crc16: hashCrc16,
  crc32: hashCrc32,
  crc32a: hashCrc32a,
  fnv1_64,
  fnv1a_64,
  fnv1_32,
  fnv1a_32,
  hsieh,
  murmur,
  jenkins,
};

export function isHashName(name: string): name is HashName {
  return Object.prototype.hasOwnProperty.call(FUNCTIONS, name);
}

/** The twemproxy hash function called `name` (same names as nutcracker's `hash:` key). */
export function hashFunction(name: HashName): KeyHash {
  if (!isHashName(name)) throw new Error(`unknown hash "${String(name)}"; expected one of ${HASH_NAMES.join(', ')}`);
  return FUNCTIONS[name];
}
