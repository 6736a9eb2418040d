/**
 * The command splitter of a `distribution: cluster` pool. Same contract as the core
 * CommandSplitter (one reply per request, in the client's order), routed by Redis Cluster
 * slots over the live topology:
 *   - keyed commands go to the owner of their slot (or a replica for reads, per read_policy);
 *   - MGET/MSET/DEL/UNLINK/EXISTS/TOUCH over several slots split into one sub-command per
 *     slot (Redis Cluster itself refuses multi-slot requests, even on one node) and merge;
 *   - other multi-key commands must stay in one slot: `-CROSSSLOT`, as Redis answers;
 *   - whole-keyspace commands fan out to every master; CLUSTER INFO/SLOTS/SHARDS/NODES
 *     answer from one node, so cluster-aware tools still see the real topology;
 *   - PUBLISH goes to any node (the cluster bus spreads it), SPUBLISH to its channel's slot;
 *   - SCAN walks the masters one after the other (cluster-scan.ts);
 *   - blocking commands wait on a dedicated connection (cluster-blocking.ts), transactions
 *     run in one slot on one (cluster-transactions.ts), subscribers get a relay to one node
 *     (cluster-pubsub.ts); sharded SSUBSCRIBE is refused for now.
 * A plain (non-cluster) client never sees MOVED or ASK: ClusterRequest follows them.
 */
import { OK, type RequestParser } from '../../resp/index.js';
import { keySlot } from '../../sharding/index.js';
import { CommandFlag, commandKeys, isBlocking, parseInteger, type CommandSpec, type GetArg } from '../commands/index.js';
import { errorReply, notSupported } from '../errors.js';
import { Gather, type Merge } from '../fragments.js';
import { KeyGrouper, splitRequest, type SendFragment } from '../key-split.js';
import { LOCAL_COMMANDS, type LocalHandler } from '../local-commands.js';
import { callsByCommand, FAN_OUT, mergeInfoReplies, ONE_SHARD, resolveRoute, SPLIT } from '../split-common.js';
import type { ClientSession, RequestHandler } from '../session.js';
import type { ReplyTarget } from '../upstream-connection.js';
import type { SplitterStats } from '../command-splitter.js';
import type { ClusterRouter } from './cluster-router.js';
import { clusterScan } from './cluster-scan.js';

const enum Kind { Single, Keyed, Local, FanOut, AnyNode, SlotArg, ChannelSlot, Scan, Subscribe, Refuse, Container }

interface Route {
  readonly kind: Kind;
  readonly name: string;
  readonly spec: CommandSpec | undefined;
  readonly arity: number;
  readonly keyIndex: number;
  /** Served by replicas under a replica read policy (READONLY command, not a write). */
  readonly read: boolean;
  readonly split: 'each' | 'pairs' | undefined;
  readonly merge: Merge | undefined;
  readonly local: LocalHandler | undefined;
  readonly refusal: Buffer | undefined;
  readonly mayBlock: boolean;
  calls: number;
}

/** Keyless commands one node answers (read-only views of the cluster or server; PUBLISH, which the cluster bus spreads). */
const ANY_NODE = new Set([
  'publish', ...ONE_SHARD,
  'cluster|info', 'cluster|slots', 'cluster|shards', 'cluster|nodes', 'cluster|keyslot', 'cluster|help', 'cluster|links',
]);

/** Commands whose argument 2 is a slot: sent to that slot's master. */
const SLOT_ARG = new Set(['cluster|countkeysinslot', 'cluster|getkeysinslot']);

/** READONLY / READWRITE / ASKING from cluster-aware clients: the proxy manages these itself. */
const ACCEPTED: LocalHandler = (s) => s.reply(OK);

const MODE = '(not available with distribution: cluster yet)';
const REFUSED: Record<string, string> = {
  monitor: '', wait: '(replication is per node)',
  swapdb: '(Redis Cluster only has database 0)', move: '(Redis Cluster only has database 0)',
};

export const CROSSSLOT = errorReply("CROSSSLOT Keys in request don't hash to the same slot");

export class ClusterSplitter implements RequestHandler {
  private readonly routes = new Map<string, Route>();
  private cur: RequestParser | null = null;
  private readonly getArg: GetArg = (i) => this.cur!.arg(i);
  private unsupported = 0;
  private invalid = 0;
  private crossSlot = 0;
  private fragments = 0;
  /** Scratch for split(): each key's slot, and the grouping by slot. */
  private keySlots = new Int32Array(64);
  private readonly grouper = new KeyGrouper();

  constructor(private readonly router: ClusterRouter, private readonly infoSection: () => string) {}

  handle(s: ClientSession, p: RequestParser): void {
    this.cur = p;
    const ps = this.router.pubsub;
    if (ps.size !== 0 && ps.subscribed(s.id)) {
      if (p.commandName() === 'quit') return LOCAL_COMMANDS.get('quit')!(s, p);
      return ps.forward(s, p.raw());
    }
    if (this.txCommand(s, p)) return;
    const r = resolveRoute(this.routes, Kind.Container, this.compileRoute, s, p, this.getArg);
    if (typeof r === 'number') { this.invalid += r; return; }
    switch (r.kind) {
      case Kind.Single: {
        const k = r.keyIndex;
        return this.router.send(s.id, p.raw(), keySlot(p.buffer, p.argStart[k], p.argEnd[k]), r.read, s.slot());
      }
      case Kind.Keyed: return this.keyed(s, p, r);
      case Kind.Local: return r.local!(s, p);
      case Kind.FanOut: return this.fanOut(s, p.raw(), r.merge!);
      case Kind.AnyNode: return this.anyNode(s, p.raw());
      case Kind.Subscribe: return this.router.pubsub.subscribe(s, p.raw());
      case Kind.Scan: return clusterScan(this.router, s.id, p, s.slot());
      case Kind.ChannelSlot: // SPUBLISH: the shard channel is hashed like a key
        return this.router.send(s.id, p.raw(), keySlot(p.buffer, p.argStart[1], p.argEnd[1]), false, s.slot());
      case Kind.SlotArg: {
        const slot = parseInteger(p.arg(2));
        if (!(slot >= 0 && slot < 16384)) return s.reply(errorReply('ERR Invalid or out of range slot'));
        return this.router.send(s.id, p.raw(), slot, r.read, s.slot());
      }
      default:
        this.unsupported++;
        return s.reply(r.refusal!);
    }
  }

  onSessionClosed(s: ClientSession): void {
    this.router.blocking.onSessionClosed(s.id);
    this.router.transactions.onSessionClosed(s.id);
  }

  /** MULTI & co., and every command while the client is in MULTI (cheap when nobody is). */
  private txCommand(s: ClientSession, p: RequestParser): boolean {
    const tx = this.router.transactions;
    if (tx.active === 0) {
      const c = p.argc > 0 ? p.buffer[p.argStart[0]] | 0x20 : 0;
      // Only MULTI and WATCH start transaction state (EXEC/DISCARD/UNWATCH alone answer locally there too).
      if (c !== 109 /* m */ && c !== 119 /* w */ && c !== 101 /* e */ && c !== 100 /* d */ && c !== 117 /* u */) return false;
    }
    return tx.handle(s.id, p.commandName(), p, () => s.slot(), this.getArg);
  }

  private keyed(s: ClientSession, p: RequestParser, r: Route): void {
    const argc = p.argc;
    const blocking = r.mayBlock && isBlocking(r.spec!, argc, this.getArg);
    const keys = commandKeys(r.spec!, argc, this.getArg);
    if (keys.length === 0) return this.anyNode(s, p.raw());
    const buf = p.buffer;
    const st = p.argStart;
    const en = p.argEnd;
    const first = keySlot(buf, st[keys[0]], en[keys[0]]);
    let i = 1;
    while (i < keys.length && keySlot(buf, st[keys[i]], en[keys[i]]) === first) i++;
    if (i === keys.length) {
      if (blocking) return this.router.blocking.call(s, Buffer.from(p.raw()), first, s.slot());
      return this.router.send(s.id, p.raw(), first, r.read, s.slot());
    }
    if (r.split === undefined || blocking) {
      this.crossSlot++;
      return s.reply(CROSSSLOT);
    }
    this.split(s, p, r, keys);
  }

  /** One sub-command per slot (Redis Cluster refuses multi-slot requests even on one node). */
  private split(s: ClientSession, p: RequestParser, r: Route, keys: number[]): void {
    const nk = keys.length;
    if (this.keySlots.length < nk) this.keySlots = new Int32Array(nk * 2);
    const slots = this.keySlots;
    for (let j = 0; j < nk; j++) slots[j] = keySlot(p.buffer, p.argStart[keys[j]], p.argEnd[keys[j]]);
    this.splitFor = s;
    this.splitRead = r.read;
    this.fragments += splitRequest(this.grouper, p, keys, slots, r.split === 'pairs', s.slot(), r.merge!, this.sendFragment);
    this.splitFor = null;
  }

  private splitFor: ClientSession | null = null;
  private splitRead = false;
  private readonly sendFragment: SendFragment = (slot, request, gather, index) =>
    this.router.send(this.splitFor!.id, request.toBuffer(), slot, this.splitRead, gather.fragment(index));

  /** Commands that need the node list wait for the first topology (clients connecting at startup). */
  private whenReady(s: ClientSession, fn: (target: ReplyTarget) => void): void {
    if (this.router.ready) return fn(s.slot());
    const target = s.slot();
    void this.router.refreshed().then(() => fn(target));
  }

  private fanOut(s: ClientSession, raw: Buffer, merge: Merge): void {
    this.whenReady(s, (target) => this.fanOutTo(target, s.id, raw, merge));
  }

  private fanOutTo(target: ReplyTarget, clientId: number, raw: Buffer, merge: Merge): void {
    const masters = this.router.masters();
    if (masters.length === 0) return target.onReply(this.router.unserved(0, false));
    const gather = new Gather(target, masters.length, merge);
    for (let i = 0; i < masters.length; i++) masters[i].primary.send(clientId, raw, gather.fragment(i));
  }

  private anyNode(s: ClientSession, raw: Buffer): void {
    this.whenReady(s, (target) => {
      const masters = this.router.masters();
      const up = masters.find((m) => m.up) ?? masters[0];
      if (up === undefined) return target.onReply(this.router.unserved(0, false));
      up.primary.send(s.id, raw, target);
    });
  }

  private readonly compileRoute = (name: string, spec: CommandSpec | undefined): Route | undefined => this.compile(name, spec);

  private compile(name: string, spec: CommandSpec | undefined): Route | undefined {
    let local = LOCAL_COMMANDS.get(name);
    if (name === 'readonly' || name === 'readwrite' || name === 'asking') local = ACCEPTED;
    if (spec === undefined && local === undefined) return undefined;
    const flags = spec?.flagBits ?? 0;
    let kind: Kind;
    let refusal: Buffer | undefined;
    let merge: Merge | undefined;
    const split = SPLIT[name];
    const fan = FAN_OUT[name];
    if (local) kind = Kind.Local;
    else if (fan) { kind = Kind.FanOut; merge = fan === 'info' ? this.mergeInfo : fan; }
    else if (ANY_NODE.has(name)) kind = Kind.AnyNode;
    else if (SLOT_ARG.has(name)) kind = Kind.SlotArg;
    else if (name === 'spublish') kind = Kind.ChannelSlot;
    else if (name === 'scan') kind = Kind.Scan;
    else if (name === 'subscribe' || name === 'psubscribe') kind = Kind.Subscribe;
    else if (name === 'unsubscribe' || name === 'punsubscribe') kind = Kind.AnyNode; // not subscribed: Redis' "0 left" reply
    else if (REFUSED[name] !== undefined) { kind = Kind.Refuse; refusal = notSupported(name, REFUSED[name]); }
    else if (spec!.subcommands) kind = Kind.Container;
    else if (flags & CommandFlag.PUBSUB) { kind = Kind.Refuse; refusal = notSupported(name, MODE); }
    else if (spec!.keyless) {
      kind = Kind.Refuse;
      refusal = notSupported(name.replace('|', ' '), name.startsWith('cluster|') ? '(cluster administration goes to the nodes directly)' : '(it names no key to route by)');
    } else if (spec!.singleKeyIndex > 0 && !split) kind = Kind.Single;
    else kind = Kind.Keyed;
    if (kind === Kind.Keyed && split) merge = split.merge;
    const route: Route = {
      kind, name, spec, arity: kind === Kind.Container ? -2 : (spec?.arity ?? -1), keyIndex: spec?.singleKeyIndex ?? 0,
      read: (flags & CommandFlag.READONLY) !== 0 && (flags & CommandFlag.WRITE) === 0,
      split: kind === Kind.Keyed ? split?.split : undefined, merge, local, refusal,
      mayBlock: (flags & CommandFlag.BLOCKING) !== 0, calls: 0,
    };
    this.routes.set(name, route);
    return route;
  }

  private readonly mergeInfo: Merge = (replies) => mergeInfoReplies(replies, `${this.infoSection()}${this.router.infoLines().join('\r\n')}\r\n`);

  stats(): SplitterStats {
    const commands = callsByCommand(this.routes.values());
    return { unsupported_command: this.unsupported, invalid_request: this.invalid, cross_shard: this.crossSlot, fragments: this.fragments, commands };
  }
}
