/**
 * RESP3 for clients that said HELLO 3, while upstream connections stay RESP2. Redis answers
 * some commands differently in RESP3; the proxy re-shapes the RESP2 reply the same way:
 *   - nulls (`$-1`, `*-1`, also nested, e.g. MGET) → `_`
 *   - HGETALL, CONFIG GET, HRANDFIELD WITHVALUES(count) → map   (flat pairs → `%`)
 *   - SMEMBERS, SINTER, SUNION, SDIFF → set (`~`)
 *   - ZSCORE, ZINCRBY, ZADD INCR → double (`,`); ZMSCORE → array of doubles
 *   - WITHSCORES replies (ZRANGE family, ZUNION/ZINTER/ZDIFF, ZRANDMEMBER) → [member, double] pairs
 *   - ZPOPMIN/ZPOPMAX: [member, double] (or pairs with COUNT); BZPOPMIN/BZPOPMAX: [key, member, double]
 *   - BZMPOP/ZMPOP: [key, [[member, double] ...]]
 *   - INFO, LOLWUT → verbatim string (`=txt:`)
 *   - XREAD/XREADGROUP → {stream: entries}; XINFO STREAM → map (FULL: top level only); XINFO GROUPS/CONSUMERS → maps
 *   - GEOPOS and GEOSEARCH/GEORADIUS* WITHCOORD → double coordinates
 * Everything else passes as is (RESP2 frames are valid RESP3). Pub/Sub messages become `>` pushes
 * (see the pub/sub hub). Replies that are errors are never converted.
 */
import { decodeReply, encodeValue, type RequestParser, type RespValue } from '../../resp/index.js';

export type Converter = (reply: Buffer) => Buffer;

type Shape = (v: RespValue) => RespValue;

const toDouble: Shape = (v) => (v.type === 'bulk' && v.value !== null ? { type: 'double', value: parseScore(v.value.toString('latin1')) } : v);

function parseScore(s: string): number {
  if (s === 'inf' || s === '+inf') return Infinity;
  if (s === '-inf') return -Infinity;
  return Number(s);
}

const toMap: Shape = (v) => {
  if (v.type !== 'array' || v.value === null) return v;
  const pairs: Array<[RespValue, RespValue]> = [];
  for (let i = 0; i + 1 < v.value.length; i += 2) pairs.push([v.value[i], v.value[i + 1]]);
  return { type: 'map', value: pairs };
};

const toSet: Shape = (v) => (v.type === 'array' && v.value !== null ? { type: 'set', value: v.value } : v);

const eachDouble: Shape = (v) => (v.type === 'array' && v.value !== null ? { type: 'array', value: v.value.map(toDouble) } : v);

/** Flat [m1, s1, m2, s2 ...] → [[m1, s1], [m2, s2] ...] with double scores. */
const scorePairs: Shape = (v) => {
  if (v.type !== 'array' || v.value === null) return v;
  const out: RespValue[] = [];
  for (let i = 0; i + 1 < v.value.length; i += 2) out.push({ type: 'array', value: [v.value[i], toDouble(v.value[i + 1])] });
  return { type: 'array', value: out };
};

/** [m, s] → [m, double]. */
const memberScore: Shape = (v) => (v.type === 'array' && v.value !== null && v.value.length === 2 ? { type: 'array', value: [v.value[0], toDouble(v.value[1])] } : v);

/** [key, m, s] → [key, m, double]. */
const keyMemberScore: Shape = (v) => (v.type === 'array' && v.value !== null && v.value.length === 3 ? { type: 'array', value: [v.value[0], v.value[1], toDouble(v.value[2])] } : v);

/** [key, [m, s, ...]] → [key, [[m, double] ...]] (ZMPOP/BZMPOP). */
const keyPairs: Shape = (v) => {
  if (v.type !== 'array' || v.value === null || v.value.length !== 2) return v;
  const inner = v.value[1];
  if (inner.type !== 'array' || inner.value === null) return v;
  return { type: 'array', value: [v.value[0], { type: 'array', value: inner.value.map((e) => (e.type === 'array' ? memberScore(e) : e)) }] };
};

function converter(shape: Shape | null): Converter {
  return (reply) => {
    if (reply[0] === 45) return reply;
    if (shape === null && !hasNull(reply)) return reply;
    try {
      const v = decodeReply(reply);
      return encodeValue(shape === null ? v : shape(v), 3);
    } catch {
      return reply;
    }
  };
}

/** A null (`$-1` or `*-1`) anywhere in the frame; payload bytes may give false positives (harmless: decoded and re-encoded unchanged). */
function hasNull(b: Buffer): boolean {
  return b.indexOf('$-1\r\n') >= 0 || b.indexOf('*-1\r\n') >= 0;
}

const NULLS_ONLY = converter(null);
const BY_SHAPE = new Map<Shape, Converter>();
function conv(shape: Shape): Converter {
  let c = BY_SHAPE.get(shape);
  if (c === undefined) { c = converter(shape); BY_SHAPE.set(shape, c); }
  return c;
}

/** XREAD/XREADGROUP: [[stream, entries] ...] → {stream: entries}. */
const streamMap: Shape = (v) => {
  if (v.type !== 'array' || v.value === null) return v;
  const pairs: Array<[RespValue, RespValue]> = [];
  for (const e of v.value) if (e.type === 'array' && e.value !== null && e.value.length === 2) pairs.push([e.value[0], e.value[1]]);
  return pairs.length === v.value.length ? { type: 'map', value: pairs } : v;
};

/** XINFO GROUPS/CONSUMERS: an array of maps. */
const eachMap: Shape = (v) => (v.type === 'array' && v.value !== null ? { type: 'array', value: v.value.map(toMap) } : v);

/** GEOPOS: [[lon, lat] | nil ...] with double coordinates. */
const coordinates: Shape = (v) => (v.type === 'array' && v.value !== null ? { type: 'array', value: v.value.map(eachDouble) } : v);

/** GEOSEARCH/GEORADIUS* WITHCOORD: each item's trailing [lon, lat] as doubles. */
const itemCoordinates: Shape = (v) => {
  if (v.type !== 'array' || v.value === null) return v;
  return { type: 'array', value: v.value.map((item) => {
    if (item.type !== 'array' || item.value === null || item.value.length === 0) return item;
    const last = item.value[item.value.length - 1];
    if (last.type !== 'array') return item;
    return { type: 'array', value: [...item.value.slice(0, -1), eachDouble(last)] };
  }) };
};

/** INFO and other human-readable texts are verbatim strings (`=txt:`) in RESP3. */
const toVerbatim: Shape = (v) => (v.type === 'bulk' && v.value !== null ? { type: 'verbatim', format: 'txt', value: v.value } : v);

const FIXED: Record<string, Shape> = {
  info: toVerbatim, lolwut: toVerbatim,
  hgetall: toMap, 'config|get': toMap, smembers: toSet, sinter: toSet, sunion: toSet, sdiff: toSet,
  zscore: toDouble, zincrby: toDouble, zmscore: eachDouble, bzpopmin: keyMemberScore, bzpopmax: keyMemberScore,
  zmpop: keyPairs, bzmpop: keyPairs, xread: streamMap, xreadgroup: streamMap,
  'xinfo|stream': toMap, 'xinfo|groups': eachMap, 'xinfo|consumers': eachMap, geopos: coordinates,
};

const GEO_SEARCH = new Set(['geosearch', 'georadius', 'georadius_ro', 'georadiusbymember', 'georadiusbymember_ro']);

const WITHSCORES = new Set(['zrange', 'zrangebyscore', 'zrevrange', 'zrevrangebyscore', 'zunion', 'zinter', 'zdiff', 'zrandmember']);

function hasArg(p: RequestParser, word: string): boolean {
  for (let i = 1; i < p.argc; i++) if (p.argLength(i) === word.length && p.argString(i).toLowerCase() === word) return true;
  return false;
}

/** The converter for this command line's reply to a RESP3 client. */
export function resp3Converter(name: string, p: RequestParser): Converter {
  let full = name;
  if ((name === 'config' || name === 'object' || name === 'xinfo') && p.argc >= 2) full = `${name}|${p.argString(1).toLowerCase()}`;
  const fixed = FIXED[full];
  if (fixed !== undefined) return conv(fixed);
  if (WITHSCORES.has(name) && hasArg(p, 'withscores')) return conv(scorePairs);
  if (GEO_SEARCH.has(name) && hasArg(p, 'withcoord')) return conv(itemCoordinates);
  if (name === 'zpopmin' || name === 'zpopmax') return conv(p.argc > 2 ? scorePairs : memberScore);
  if (name === 'zadd' && hasArg(p, 'incr')) return conv(toDouble);
  if (name === 'hrandfield' && hasArg(p, 'withvalues')) return conv(scorePairsPlain);
  return NULLS_ONLY;
}

/** HRANDFIELD WITHVALUES: [[field, value] ...] in RESP3. */
const scorePairsPlain: Shape = (v) => {
  if (v.type !== 'array' || v.value === null) return v;
  const out: RespValue[] = [];
  for (let i = 0; i + 1 < v.value.length; i += 2) out.push({ type: 'array', value: [v.value[i], v.value[i + 1]] });
  return { type: 'array', value: out };
};
