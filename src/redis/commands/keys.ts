/**
 * Key positions of a concrete command line, interpreting Redis 7 key specs the way Redis'
 * COMMAND GETKEYS does, with Redis' own key extractors where the specs are incomplete
 * (SORT ... STORE, MIGRATE ... KEYS). Never throws: odd input yields fewer or no keys and
 * the backend (or the proxy's arity check) reports the error.
 */
import { CommandFlag, type CommandSpec, type KeySpec } from './spec.js';

export type GetArg = (i: number) => Buffer;

/** ASCII case-insensitive comparison of an argument with a lowercase word. */
export function argIs(arg: Buffer | undefined, lowerWord: Buffer | string): boolean {
  if (!arg) return false;
  const w = typeof lowerWord === 'string' ? lowerWord : undefined;
  const len = w !== undefined ? w.length : (lowerWord as Buffer).length;
  if (arg.length !== len) return false;
  for (let i = 0; i < len; i++) {
    let c = arg[i];
    if (c >= 65 && c <= 90) c += 32;
    const e = w !== undefined ? w.charCodeAt(i) : (lowerWord as Buffer)[i];
    if (c !== e) return false;
  }
  return true;
}

/** Parses a canonical decimal integer the way Redis' string2ll does; NaN when invalid. */
export function parseInteger(arg: Buffer | undefined): number {
  if (!arg || arg.length === 0 || arg.length > 20) return NaN;
  let i = 0;
  let neg = false;
  if (arg[0] === 45 /* - */) { neg = true; i = 1; if (arg.length === 1) return NaN; }
  if (arg[i] === 48 /* 0 */ && arg.length > i + 1) return NaN;
  let n = 0;
  for (; i < arg.length; i++) {
    const d = arg[i] - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

/** Appends the keys of one spec; returns false when the spec does not apply to this line (Redis' "invalid spec"). */
function keysOfSpec(ks: KeySpec, argc: number, getArg: GetArg, out: number[]): boolean {
  let first = 0;
  const bs = ks.beginSearch;
  if (bs.type === 'index') {
    first = bs.index;
  } else if (bs.type === 'keyword') {
    const start = bs.startFrom > 0 ? bs.startFrom : argc + bs.startFrom;
    const end = bs.startFrom > 0 ? argc - 1 : 0;
    for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
      if (i >= argc || i < 1) break;
      if (argIs(getArg(i), ks.keyword!)) { first = i + 1; break; }
    }
    if (first === 0) return true; // keyword absent: this spec contributes no keys
  } else {
    return false;
  }
  let last: number;
  let step: number;
  const fk = ks.findKeys;
  if (fk.type === 'range') {
    step = fk.keyStep;
    if (fk.lastKey >= 0) last = first + fk.lastKey;
    else if (fk.limit === 0) last = argc + fk.lastKey;
    else last = first + (Math.floor((argc - first) / fk.limit) + fk.lastKey);
  } else if (fk.type === 'keynum') {
    step = fk.keyStep;
    if (first + fk.keyNumIdx >= argc) return false;
    const numKeys = parseInteger(getArg(first + fk.keyNumIdx));
    if (!(numKeys >= 0)) return false;
    first += fk.firstKey;
    last = first + numKeys - 1;
  } else {
    return false;
  }
  if (last >= argc || last < first || first >= argc || step <= 0) return false;
  for (let i = first; i <= last; i += step) out.push(i);
  return !ks.flags.has('incomplete');
}

/** SORT: the sorted key, plus the last STORE destination (BY/GET patterns are not keys). */
function sortKeys(argc: number, getArg: GetArg): number[] {
  const keys = [1];
  let store = 0;
  for (let i = 2; i < argc; i++) {
    const a = getArg(i);
    if (argIs(a, 'limit')) i += 2;
    else if (argIs(a, 'get') || argIs(a, 'by')) i += 1;
    else if (argIs(a, 'store') && i + 1 < argc) store = i + 1;
  }
  if (store) keys.push(store);
  return keys;
}

/** MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS k...]. */
function migrateKeys(argc: number, getArg: GetArg): number[] {
  for (let i = 6; i < argc; i++) {
    const a = getArg(i);
    if (argIs(a, 'keys')) {
      if (getArg(3).length > 0) return [];
      const keys: number[] = [];
      for (let k = i + 1; k < argc; k++) keys.push(k);
      return keys;
    }
    if (argIs(a, 'auth')) i += 1;
    else if (argIs(a, 'auth2')) i += 2;
  }
  return argc > 3 ? [3] : [];
}

/**
 * Key argument indexes (argv positions, 0 = command name) of a command line. For a subcommand
 * pass the subcommand's spec. argc includes the command name; getArg(i) returns argument i.
 */
export function commandKeys(spec: CommandSpec, argc: number, getArg: GetArg): number[] {
  if (spec.singleKeyIndex !== 0) return spec.singleKeyIndex < argc ? [spec.singleKeyIndex] : [];
  if (spec.keyless) return [];
  const out: number[] = [];
  for (const ks of spec.keySpecs) {
    if (ks.notKey) continue;
    if (!keysOfSpec(ks, argc, getArg, out)) return fallbackKeys(spec, argc, getArg);
  }
  return out;
}

/**
 * Redis' per-command extractors, used when the specs cannot describe the line (unknown or
 * incomplete specs, bad numkeys). Only SORT and MIGRATE find keys there; for the others a
 * failing spec means the line is malformed and Redis finds no keys either.
 */
function fallbackKeys(spec: CommandSpec, argc: number, getArg: GetArg): number[] {
  if (spec.name === 'sort') return argc > 1 ? sortKeys(argc, getArg) : [];
  if (spec.name === 'sort_ro') return argc > 1 ? [1] : [];
  if (spec.name === 'migrate') return argc > 3 ? migrateKeys(argc, getArg) : [];
  return [];
}

/** The first key's index, or 0 for a keyless line; cheaper than commandKeys for single-key routing. */
export function firstKeyIndex(spec: CommandSpec, argc: number, getArg: GetArg): number {
  if (spec.singleKeyIndex !== 0) return spec.singleKeyIndex < argc ? spec.singleKeyIndex : 0;
  const keys = commandKeys(spec, argc, getArg);
  return keys.length > 0 ? keys[0] : 0;
}

/** XREAD/XREADGROUP: BLOCK before STREAMS. */
function streamReadBlocks(spec: CommandSpec, argc: number, getArg: GetArg): boolean {
  for (let i = 1; i < argc; i++) {
    const a = getArg(i);
    if (argIs(a, 'streams')) return false;
    if (argIs(a, 'block')) return true;
    if (argIs(a, 'count')) i += 1;
    else if (spec.name === 'xreadgroup' && argIs(a, 'group')) i += 2;
  }
  return false;
}

/**
 * Would this line block its connection until data or a timeout arrives? BLPOP & co. always
 * may; XREAD/XREADGROUP only with BLOCK; WAIT waits for replicas.
 */
export function isBlocking(spec: CommandSpec, argc: number, getArg: GetArg): boolean {
  if (spec.name === 'wait') return true;
  if ((spec.flagBits & CommandFlag.BLOCKING) === 0) return false;
  if (spec.name === 'xread' || spec.name === 'xreadgroup') return streamReadBlocks(spec, argc, getArg);
  return true;
}
