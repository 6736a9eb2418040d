/**
 * The command splitter (Envoy's name): looks each request up once by name (routes are
 * compiled from the command table and cached), checks arity, and then
 *   - forwards single-key and same-shard commands as their original bytes to one backend,
 *   - splits MGET/MSET/DEL/UNLINK/EXISTS/TOUCH into one sub-command per shard and merges,
 *   - fans whole-keyspace commands out to every shard and merges,
 *   - answers local commands, and refuses what the proxy cannot do with a clear error.
 */
import type { RequestParser } from '../resp/index.js';
import { CommandFlag, commandKeys, isBlocking, type CommandSpec, type GetArg } from './commands/index.js';
import { CROSSSHARD, errorReply, notSupported, wrongArity } from './errors.js';
import { Gather, mergeAllOk, type Merge } from './fragments.js';
import { KeyGrouper, splitRequest, type SendFragment } from './key-split.js';
import { callsByCommand, FAN_OUT as FAN_OUT_COMMON, mergeInfoReplies, ONE_SHARD, resolveRoute, SPLIT } from './split-common.js';
import { LOCAL_COMMANDS, type LocalHandler } from './local-commands.js';
import type { Router } from './router.js';
import type { ClientSession, RequestHandler } from './session.js';
import type { StatefulFeatures } from './clients/features.js';
import type { ReplyTarget } from './upstream-connection.js';

const enum Kind { Forward, Keyed, Local, FanOut, OneShard, Refuse, Container }

interface Route {
  readonly kind: Kind;
  /** Canonical lowercase name ('get', 'config|set'). */
  readonly name: string;
  readonly spec: CommandSpec | undefined;
  readonly arity: number;
  /** Kind.Forward: the key's argument index. */
  readonly keyIndex: number;
  /** Kind.Keyed: how keys on several shards are split (undefined = cross-shard error). */
  readonly split: 'each' | 'pairs' | undefined;
  readonly merge: Merge | undefined;
  readonly local: LocalHandler | undefined;
  readonly refusal: Buffer | undefined;
  readonly mayBlock: boolean;
  calls: number;
}

/** Whole-keyspace commands sent to every shard (split-common.ts), and SWAPDB on every backend. */
const FAN_OUT: Record<string, Merge | 'info'> = { ...FAN_OUT_COMMON, swapdb: mergeAllOk };

/** Only a splitter built without client-state features (clients/features.ts) refuses these. */
const NEEDS_STATE = '(it needs per-client state, which this splitter was built without)';
const REFUSED: Record<string, string> = {
  multi: NEEDS_STATE, exec: NEEDS_STATE, discard: NEEDS_STATE, watch: NEEDS_STATE, unwatch: NEEDS_STATE,
  scan: NEEDS_STATE, monitor: '', wait: '(replication is per backend)',
};

const NO_HOST = errorReply('ERR no backend serves this key');

/** Requests with fewer arguments than this reuse their split key list. */
const SPLIT_KEYS_CACHED = 256;

export interface SplitterStats {
  unsupported_command: number;
  invalid_request: number;
  cross_shard: number;
  fragments: number;
  commands: Record<string, number>;
}

export class CommandSplitter implements RequestHandler {
  private readonly routes = new Map<string, Route>();
  private cur: RequestParser | null = null;
  private readonly getArg: GetArg = (i) => this.cur!.arg(i);
  private unsupported = 0;
  private invalid = 0;
  private crossShard = 0;
  private fragments = 0;
  /** Scratch: each key's shard for the request being routed. */
  private keyShards = new Int32Array(64);
  private readonly grouper = new KeyGrouper();
  /** splitKeys() results by argc (shared, read-only). */
  private readonly eachKeys: number[][] = [];
  private readonly pairKeys: number[][] = [];

  /** features: transactions, blocking calls, pub/sub, SCAN, SELECT n, RESP3, CLIENT LIST/KILL (clients/features.ts). */
  constructor(private readonly router: Router, private readonly infoSection: () => string, private readonly features: StatefulFeatures | null = null) {}

  handle(s: ClientSession, p: RequestParser): void {
    this.cur = p;
    if (s.state !== null && this.features !== null && this.features.intercept(s, p)) return;
    const r = resolveRoute(this.routes, Kind.Container, this.compileRoute, s, p, this.getArg);
    if (typeof r === 'number') { this.invalid += r; return; }
    switch (r.kind) {
      case Kind.Forward: {
        const k = r.keyIndex;
        return this.forward(s, this.router.shardOf(p.buffer, p.argStart[k], p.argEnd[k]), p.raw());
      }
      case Kind.Keyed: return this.keyed(s, p, r);
      case Kind.Local: return r.local!(s, p);
      case Kind.FanOut: return this.fanOut(s, p.raw(), r.merge!);
      case Kind.OneShard: return this.forward(s, this.router.anyShard(), p.raw());
      default:
        this.unsupported++;
        return s.reply(r.refusal!);
    }
  }

  onSessionClosed(s: ClientSession): void { this.features?.onClosed(s); }

  private forward(s: ClientSession, shard: number, raw: Buffer): void {
    if (shard < 0) return s.reply(NO_HOST);
    if (s.state !== null && s.state.db !== 0) return this.features!.sendTo(s, shard, raw, s.slot());
    this.router.backends[shard].send(s.id, raw, s.slot());
  }

  /** Sends in the client's database (SELECT n goes through the features' per-database connections). */
  private sendTo(s: ClientSession, shard: number, raw: Buffer, target: ReplyTarget): void {
    if (s.state !== null && s.state.db !== 0) this.features!.sendTo(s, shard, raw, target);
    else this.router.backends[shard].send(s.id, raw, target);
  }

  private keyed(s: ClientSession, p: RequestParser, r: Route): void {
    const argc = p.argc;
    if (r.mayBlock && isBlocking(r.spec!, argc, this.getArg)) {
      if (this.features !== null) return this.features.blockingCall(s, p, r.spec!);
      this.unsupported++;
      return s.reply(notSupported(r.name, NEEDS_STATE));
    }
    // MGET/DEL/...: every argument is a key; MSET: every other one. No key-spec walk needed.
    const keys = r.split !== undefined ? this.splitKeys(argc, r.split === 'pairs' ? 2 : 1) : commandKeys(r.spec!, argc, this.getArg);
    // No key: EVAL with 0 keys, or a malformed line the backend will reject in Redis' words.
    if (keys.length === 0) return this.forward(s, this.router.anyShard(), p.raw());
    const buf = p.buffer;
    const st = p.argStart;
    const en = p.argEnd;
    const nk = keys.length;
    if (this.keyShards.length < nk) this.keyShards = new Int32Array(nk * 2);
    const ks = this.keyShards;
    const first = ks[0] = this.router.shardOf(buf, st[keys[0]], en[keys[0]]);
    let same = true;
    for (let i = 1; i < nk; i++) {
      const sh = ks[i] = this.router.shardOf(buf, st[keys[i]], en[keys[i]]);
      if (sh !== first) {
        same = false;
        if (r.split === undefined) break;
      }
    }
    if (same) return this.forward(s, first, p.raw());
    if (r.split === undefined) {
      this.crossShard++;
      return s.reply(CROSSSHARD);
    }
    // MSET k v k: Redis' own arity error (its command checks pairs, the table cannot).
    if (r.split === 'pairs' && (argc & 1) === 0) return s.reply(wrongArity(r.name));
    this.split(s, p, r, keys);
  }

  /** Key indexes 1, 1+step, ... (< argc): a pure function of (argc, step), cached for common sizes. */
  private splitKeys(argc: number, step: number): number[] {
    const cache = step === 1 ? this.eachKeys : this.pairKeys;
    const hit = argc < SPLIT_KEYS_CACHED ? cache[argc] : undefined;
    if (hit !== undefined) return hit;
    const out: number[] = [];
    for (let i = 1; i < argc; i += step) out.push(i);
    if (argc < SPLIT_KEYS_CACHED) cache[argc] = out;
    return out;
  }

  private split(s: ClientSession, p: RequestParser, r: Route, keys: number[]): void {
    const ks = this.keyShards;
    for (let j = 0; j < keys.length; j++) if (ks[j] < 0) return s.reply(NO_HOST);
    this.splitFor = s;
    this.fragments += splitRequest(this.grouper, p, keys, ks, r.split === 'pairs', s.slot(), r.merge!, this.sendFragment);
    this.splitFor = null;
  }

  private splitFor: ClientSession | null = null;
  private readonly sendFragment: SendFragment = (shard, request, gather, index) => {
    const s = this.splitFor!;
    if (s.state !== null && s.state.db !== 0) this.features!.sendTo(s, shard, request.toBuffer(), gather.fragment(index));
    else this.router.backends[shard].sendTagged(s.id, request, gather, index);
  };

  private fanOut(s: ClientSession, raw: Buffer, merge: Merge): void {
    const backends = this.router.backends;
    const gather = new Gather(s.slot(), backends.length, merge);
    for (let i = 0; i < backends.length; i++) this.sendTo(s, i, raw, gather.fragment(i));
  }

  private readonly compileRoute = (name: string, spec: CommandSpec | undefined): Route | undefined => this.compile(name, spec);

  private compile(name: string, spec: CommandSpec | undefined): Route | undefined {
    const local = this.features?.handler(name) ?? LOCAL_COMMANDS.get(name);
    if (spec === undefined && local === undefined) return undefined;
    const flags = spec?.flagBits ?? 0;
    let kind: Kind;
    let refusal: Buffer | undefined;
    let merge: Merge | undefined;
    const split = SPLIT[name];
    const fan = FAN_OUT[name];
    if (local) kind = Kind.Local;
    else if (fan) { kind = Kind.FanOut; merge = fan === 'info' ? this.mergeInfo : fan; }
    else if (ONE_SHARD.has(name)) kind = Kind.OneShard;
    else if (REFUSED[name] !== undefined) { kind = Kind.Refuse; refusal = notSupported(name, REFUSED[name]); }
    else if (spec!.subcommands) kind = Kind.Container;
    else if (flags & CommandFlag.PUBSUB) { kind = Kind.Refuse; refusal = notSupported(name, NEEDS_STATE); }
    else if (spec!.keyless) { kind = Kind.Refuse; refusal = notSupported(name.replace('|', ' '), '(it names no key to route by)'); }
    else if (spec!.singleKeyIndex > 0 && !split) kind = Kind.Forward;
    else kind = Kind.Keyed;
    if (kind === Kind.Keyed && split) merge = split.merge;
    const route: Route = {
      kind, name, spec, arity: kind === Kind.Container ? -2 : (spec?.arity ?? -1), keyIndex: spec?.singleKeyIndex ?? 0,
      split: kind === Kind.Keyed ? split?.split : undefined, merge, local, refusal,
      mayBlock: (flags & CommandFlag.BLOCKING) !== 0, calls: 0,
    };
    this.routes.set(name, route);
    return route;
  }

  private readonly mergeInfo: Merge = (replies) => {
    const merged = mergeInfoReplies(replies, this.infoSection());
    return this.features !== null ? this.features.patchInfo(merged) : merged;
  };

  stats(): SplitterStats {
    const commands = callsByCommand(this.routes.values());
    return { unsupported_command: this.unsupported, invalid_request: this.invalid, cross_shard: this.crossShard, fragments: this.fragments, commands };
  }
}
