/**
 * Hash tags (twemproxy `hash_tag`, Redis Cluster `{}`): with tag "XY", find the first X, then
 * the first Y after it; if both exist and enclose at least one byte, only that content is
 * hashed, otherwise the whole key.
 */

/** Validates a twemproxy-style hash tag: exactly two single-byte characters. */
export function parseHashTag(tag: string): [number, number] {
  const bytes = Buffer.from(tag, 'utf8');
  if (bytes.length !== 2) throw new Error(`hash_tag must be exactly 2 characters (e.g. "{}"), got ${JSON.stringify(tag)}`);
  return [bytes[0], bytes[1]];
}

/** The byte range of buf[start..end) to hash under tag bytes open/close. */
export function tagRange(buf: Buffer, start: number, end: number, open: number, close: number): [number, number] {
  const o = tagOpen(buf, start, end, open, close);
  return o < 0 ? [start, end] : [o + 1, findByte(buf, close, o + 1, end)];
}

/** Index of the tag's opening byte when the key has a non-empty tag, else -1 (no allocation). */
export function tagOpen(buf: Buffer, start: number, end: number, open: number, close: number): number {
  const o = findByte(buf, open, start, end);
  if (o < 0) return -1;
  const c = findByte(buf, close, o + 1, end);
  return c < 0 || c === o + 1 ? -1 : o;
}

/** First index of byte b in buf[from..end), or -1; bounded by end unlike Buffer#indexOf. */
export function findByte(buf: Buffer, b: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === b) return i;
  return -1;
}

/** The byte range to hash for a key in buf[start..end) (the whole range when tag is undefined). */
export function hashTagRange(buf: Buffer, start: number, end: number, tag: string | undefined): [number, number] {
  if (tag === undefined || tag === '') return [start, end];
  const [open, close] = parseHashTag(tag);
  return tagRange(buf, start, end, open, close);
}
