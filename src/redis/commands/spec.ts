/** Compiled command specs: the generated Redis table turned into fast lookup structures. */
import { COMMAND_TABLE } from './table.generated.js';
import type { RawBeginSearch, RawCommand, RawFindKeys } from './types.js';

/** Command flags as bits, for hot-path tests without Set lookups. */
export const CommandFlag = {
  WRITE: 1 << 0,
  READONLY: 1 << 1,
  DENYOOM: 1 << 2,
  ADMIN: 1 << 3,
  PUBSUB: 1 << 4,
  NOSCRIPT: 1 << 5,
  BLOCKING: 1 << 6,
  LOADING: 1 << 7,
  STALE: 1 << 8,
  FAST: 1 << 9,
  MOVABLEKEYS: 1 << 10,
  NO_AUTH: 1 << 11,
  NO_MULTI: 1 << 12,
  NO_MANDATORY_KEYS: 1 << 13,
  ALLOW_BUSY: 1 << 14,
  SKIP_MONITOR: 1 << 15,
  SKIP_SLOWLOG: 1 << 16,
  NO_ASYNC_LOADING: 1 << 17,
  ASKING: 1 << 18,
} as const;

const FLAG_BY_NAME: Record<string, number> = {
  write: CommandFlag.WRITE, readonly: CommandFlag.READONLY, denyoom: CommandFlag.DENYOOM,
  admin: CommandFlag.ADMIN, pubsub: CommandFlag.PUBSUB, noscript: CommandFlag.NOSCRIPT,
  blocking: CommandFlag.BLOCKING, loading: CommandFlag.LOADING, stale: CommandFlag.STALE,
  fast: CommandFlag.FAST, movablekeys: CommandFlag.MOVABLEKEYS, no_auth: CommandFlag.NO_AUTH,
  no_multi: CommandFlag.NO_MULTI, no_mandatory_keys: CommandFlag.NO_MANDATORY_KEYS,
  allow_busy: CommandFlag.ALLOW_BUSY, skip_monitor: CommandFlag.SKIP_MONITOR,
  skip_slowlog: CommandFlag.SKIP_SLOWLOG, no_async_loading: CommandFlag.NO_ASYNC_LOADING,
  asking: CommandFlag.ASKING,
};

export interface KeySpec {
  /** Redis' key-spec flags: RO, RW, OW, RM, access, update, insert, delete, not_key, incomplete, variable_flags. */
  readonly flags: ReadonlySet<string>;
  readonly beginSearch: RawBeginSearch;
  readonly findKeys: RawFindKeys;
  /** Lowercase keyword bytes for keyword begin-search, precomputed for comparisons. */
  readonly keyword?: Buffer;
  readonly notKey: boolean;
}

export interface CommandSpec {
  /** Lowercase, e.g. 'get', or 'config|set' for a subcommand. */
  readonly name: string;
  /** For a subcommand: its container's name ('config'). */
  readonly container?: string;
  /** Redis arity: N means exactly N arguments (name included), -N means at least N. */
  readonly arity: number;
  readonly flags: ReadonlySet<string>;
  /** The same flags as CommandFlag bits. */
  readonly flagBits: number;
  readonly aclCategories: ReadonlySet<string>;
  /** Redis 7 command tips, e.g. 'request_policy:all_shards', 'nondeterministic_output'. */
  readonly tips: readonly string[];
  /** Legacy (first key, last key, step) as COMMAND reports them; 0,0,0 when keyless. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  readonly keySpecs: readonly KeySpec[];
  readonly group: string;
  readonly summary: string;
  readonly since: string;
  /** Subcommands by lowercase subcommand name ('set' for 'config|set'). */
  readonly subcommands?: ReadonlyMap<string, CommandSpec>;
  /** True when no argument of any form of the command is a key. */
  readonly keyless: boolean;
  /** Fast path: exactly one key at a fixed index (GET, SET, HSET, ...); 0 otherwise. */
  readonly singleKeyIndex: number;
  /** The generated metadata this spec was built from (e.g. to answer COMMAND INFO). */
  readonly raw: RawCommand;
}

function compile(raw: RawCommand, container?: string): CommandSpec {
  let flagBits = 0;
  for (const f of raw.flags) flagBits |= FLAG_BY_NAME[f] ?? 0;
  const keySpecs: KeySpec[] = raw.keySpecs.map((k) => ({
    flags: new Set(k.flags.map((f) => f.toLowerCase())),
    beginSearch: k.beginSearch,
    findKeys: k.findKeys,
    keyword: k.beginSearch.type === 'keyword' ? Buffer.from(k.beginSearch.keyword.toLowerCase()) : undefined,
    notKey: k.flags.some((f) => f.toLowerCase() === 'not_key'),
  }));
  const only = keySpecs.length === 1 ? keySpecs[0] : undefined;
  const singleKeyIndex =
    only && !only.notKey && only.beginSearch.type === 'index' && only.findKeys.type === 'range' && only.findKeys.lastKey === 0
      ? only.beginSearch.index
      : 0;
  let subcommands: Map<string, CommandSpec> | undefined;
  if (raw.subcommands) {
    subcommands = new Map();
    for (const sub of raw.subcommands) {
      const subName = sub.name.slice(sub.name.indexOf('|') + 1);
      subcommands.set(subName, compile(sub, raw.name));
    }
  }
  return {
    name: raw.name,
    container,
    arity: raw.arity,
    flags: new Set(raw.flags),
    flagBits,
    aclCategories: new Set(raw.aclCategories),
    tips: raw.tips,
    firstKey: raw.firstKey,
    lastKey: raw.lastKey,
    step: raw.step,
    keySpecs,
    group: raw.group,
    summary: raw.summary,
    since: raw.since,
    subcommands,
    keyless: keySpecs.every((k) => k.notKey),
    singleKeyIndex,
    raw,
  };
}

export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map(COMMAND_TABLE.map((c) => [c.name, compile(c)]));

/** The spec of a top-level command by its lowercase name, e.g. 'get' or 'config'. */
export function lookupCommand(nameLower: string): CommandSpec | undefined {
  return COMMANDS.get(nameLower);
}

/** A container's subcommand by lowercase name: lookupSubcommand(config, 'set') is 'config|set'. */
export function lookupSubcommand(spec: CommandSpec, subLower: string): CommandSpec | undefined {
  return spec.subcommands?.get(subLower);
}

export function hasFlag(spec: CommandSpec, bit: number): boolean {
  return (spec.flagBits & bit) !== 0;
}

export function isWriteCommand(spec: CommandSpec): boolean {
  return (spec.flagBits & CommandFlag.WRITE) !== 0;
}

export function isPubSubCommand(spec: CommandSpec): boolean {
  return (spec.flagBits & CommandFlag.PUBSUB) !== 0;
}

/** Does argc (command name included) satisfy the spec's arity, as Redis checks it? */
export function arityOk(spec: CommandSpec, argc: number): boolean {
  return spec.arity >= 0 ? argc === spec.arity : argc >= -spec.arity;
}
