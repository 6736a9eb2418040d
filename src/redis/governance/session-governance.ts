/**
 * Governance for one client connection: authentication state, caller identity (for stats and
 * rate limits), permissions, bytes in flight, and the per-request bookkeeping (stats row,
 * start time, retry/delay/timeout extras) the core carries in its reply slots.
 */
import { performance } from 'node:perf_hooks';
import { encodeCommand, encodeValue, errorReply, type RequestParser, type RespValue } from '../../resp/index.js';
import type { DownstreamUser } from '../../config/redis-governance.js';
import { CommandFlag, commandKeys, REDIS_VERSION } from '../commands/index.js';
import { stripPrefixes } from '../routing/prefix-routes.js';
import { HELLO_NOAUTH, keysAllowed, NOAUTH, NOPERM_KEYS, nopermCommand, WRONGPASS } from '../auth/downstream-auth.js';
import type { ClientSession, Slot } from '../session.js';
import { subcommandClass, type CommandInfo, type Klass } from './command-info.js';
import type { SessionGovernance } from './hooks.js';
import { helloAnswer } from '../clients/hello.js';
import type { PoolGovernance } from './pool-governance.js';

/** Per-request extras, allocated only when a delay, retry or class timeout applies. */
export class RequestExt {
  done = false;
  attempts = 0;
  retrying = false;
  deadline = 0;
  constructor(
    readonly session: ClientSession,
    readonly delayMs: number,
    readonly raw: Buffer | null,
    readonly keyStart: number,
    readonly keyEnd: number,
    readonly klass: Klass,
  ) {}
}

const OK = Buffer.from('+OK\r\n');
const NO_BACKEND = errorReply('ERR no backend serves this key');
const REWRITE_CROSS = errorReply("CROSSSHARD keys of a remove_prefix route must all map to one backend in one command");
const REWRITE_STATEFUL = errorReply('ERR keys of a remove_prefix route cannot be used inside MULTI, SELECT n or other stateful client modes');
const REWRITE_BLOCKING = errorReply('ERR blocking commands are not supported on keys of a remove_prefix route');

export class SessionGov implements SessionGovernance {
  user: DownstreamUser | null = null;
  private seenName = '';
  caller = 0;
  identity: string;
  inflightBytes = 0;
  readonly address: string;
  private lastName = '';
  private lastInfo: CommandInfo | null = null;
  private lastCaller = -1;
  private lastRow = -1;

  constructor(private readonly pg: PoolGovernance, readonly session: ClientSession) {
    this.address = session.socket.remoteAddress ?? 'unknown';
    this.identity = this.address;
    this.caller = pg.stats.caller(this.identity);
  }

  refreshCaller(s: ClientSession): void {
    this.seenName = s.name;
    const user = this.user && this.user.username !== 'default' ? this.user.username : '';
    this.identity = s.name || user || this.address;
    this.caller = this.pg.stats.caller(this.identity);
  }

  onRequest(s: ClientSession, p: RequestParser): boolean {
    const pg = this.pg;
    const name = p.commandName();
    if (s.name !== this.seenName) this.refreshCaller(s);
    // Pipelines repeat commands: the last lookup is reused (names are interned strings).
    let info = this.lastInfo;
    if (name !== this.lastName || this.lastCaller !== this.caller || info === null) {
      info = pg.commands.get(name);
      this.lastName = name;
      this.lastInfo = info;
      this.lastCaller = this.caller;
      this.lastRow = pg.stats.row(this.caller, info.id);
    }
    s.curStat = this.lastRow;
    s.curT0 = performance.now();
    s.curBytes = 0;
    if (pg.auth !== null) {
      if (name === 'auth') { this.auth(s, p); return true; }
      if (name === 'hello') { this.hello(s, p); return true; }
      if (this.user === null && name !== 'quit') return this.refuse(s, 'noauth', NOAUTH);
    }
    const u = this.user;
    if (u !== null && (u.readOnly || u.keyPrefixes !== undefined) && this.denied(s, p, info, u)) return true;
    const klass = pg.needsClass ? this.klassOf(p, info) : 'other';
    if (pg.rateRules !== null) {
      const refusal = pg.rateLimit(this.identity, klass);
      if (refusal !== null) return this.refuse(s, 'rate_limited', refusal);
    }
    if (pg.maxClientQueuedBytes > 0) {
      const bytes = p.rawEnd - p.rawStart;
      if (this.inflightBytes + bytes > pg.maxClientQueuedBytes && this.inflightBytes > 0) return this.refuse(s, 'client_queue_overflow', pg.queueOverloaded);
      this.inflightBytes += bytes;
      s.curBytes = bytes;
    }
    let delayMs = 0;
    if (pg.faults !== null) {
      const f = pg.fault(name);
      if (f !== null) {
        if (f.type === 'error') return this.refuse(s, 'fault', pg.faultError);
        delayMs = f.delayMs;
      }
    }
    if (pg.mirror !== null) pg.mirror.offer(p, info, klass);
    let rewritten: Buffer[] | null = null;
    let keys: number[] = [];
    if (pg.prefixes !== null && info.spec !== undefined && !info.spec.keyless && info.spec.subcommands === undefined) {
      keys = commandKeys(info.spec, p.argc, (i) => p.arg(i));
      rewritten = stripPrefixes(pg.prefixes, p.buffer, p.argStart, p.argEnd, p.argc, keys);
    }
    const retry = rewritten === null && pg.retry !== null && info.retryable;
    // Blocking calls wait as long as the client asked (Redis' own timeout); cutting them could lose a popped element.
    const timeout = info.spec !== undefined && (info.spec.flagBits & CommandFlag.BLOCKING) !== 0 ? 0 : pg.timeoutFor(klass);
    if (delayMs > 0 || retry || timeout > 0) {
      let raw: Buffer | null = null;
      let ks = 0;
      let ke = 0;
      if (retry && p.argc > info.spec!.singleKeyIndex) {
        raw = Buffer.from(p.raw());
        ks = p.argStart[info.spec!.singleKeyIndex] - p.rawStart;
        ke = p.argEnd[info.spec!.singleKeyIndex] - p.rawStart;
      }
      const ext = new RequestExt(s, delayMs, raw, ks, ke, klass);
      s.curExt = ext;
      if (timeout > 0) pg.watchDeadline(ext, timeout);
    }
    if (rewritten !== null) return this.sendRewritten(s, p, info, keys, rewritten);
    return false;
  }

  /** remove_prefix: sends the request with stripped keys to the one backend all its keys map to. */
  private sendRewritten(s: ClientSession, p: RequestParser, info: CommandInfo, keys: number[], args: Buffer[]): true {
    if (s.state !== null) return this.refuse(s, 'remove_prefix', REWRITE_STATEFUL);
    if ((info.spec!.flagBits & CommandFlag.BLOCKING) !== 0) return this.refuse(s, 'remove_prefix', REWRITE_BLOCKING);
    const r = this.pg.router;
    let shard = -2;
    for (const k of keys) {
      const sh = r.shardOf(p.buffer, p.argStart[k], p.argEnd[k]);
      if (shard === -2) shard = sh;
      else if (sh !== shard) return this.refuse(s, 'remove_prefix', REWRITE_CROSS);
    }
    if (shard < 0) { s.curExt = null; s.reply(NO_BACKEND); return true; }
    r.backends[shard].send(s.id, encodeCommand(args), s.slot());
    return true;
  }

  private klassOf(p: RequestParser, info: CommandInfo): Klass {
    return info.spec?.subcommands !== undefined && p.argc >= 2 ? subcommandClass(info.spec, p.argString(1)) : info.klass;
  }

  private refuse(s: ClientSession, reason: string, reply: Buffer): true {
    this.pg.countRejection(reason);
    s.reply(reply);
    return true;
  }

  private denied(s: ClientSession, p: RequestParser, info: CommandInfo, u: DownstreamUser): boolean {
    let spec = info.spec;
    if (spec === undefined) return false; // local or unknown: the splitter answers
    if (spec.subcommands !== undefined && p.argc >= 2) spec = spec.subcommands.get(p.argString(1).toLowerCase()) ?? spec;
    const klass = info.spec!.subcommands !== undefined ? this.klassOf(p, info) : info.klass;
    if (u.readOnly && (klass === 'write' || klass === 'admin')) {
      return this.refuse(s, 'noperm', nopermCommand(u.username, spec.name));
    }
    const prefixes = u.keyPrefixes;
    if (prefixes !== undefined) {
      const keys = commandKeys(spec, p.argc, (i) => p.arg(i));
      if (keys.length === 0) {
        const cats = spec.aclCategories;
        if (klass === 'admin' || klass === 'write' || cats.has('keyspace') || cats.has('dangerous') || cats.has('@keyspace') || cats.has('@dangerous')) {
          return this.refuse(s, 'noperm', nopermCommand(u.username, spec.name));
        }
      } else if (!keysAllowed(prefixes, p.buffer, p.argStart, p.argEnd, keys)) {
        return this.refuse(s, 'noperm', NOPERM_KEYS);
      }
    }
    return false;
  }

  private auth(s: ClientSession, p: RequestParser): void {
    if (p.argc < 2 || p.argc > 3) { s.reply(errorReply("ERR wrong number of arguments for 'auth' command")); return; }
    const user = p.argc === 2 ? 'default' : p.argString(1);
    this.login(s, user, p.arg(p.argc - 1), OK);
  }

  private login(s: ClientSession, username: string, password: Buffer, okReply: Buffer | (() => Buffer)): void {
    const u = this.pg.auth!.check(username, password);
    if (u === null) {
      this.pg.countRejection('wrongpass');
      this.pg.log(`client ${this.address}: authentication failed for user "${username.slice(0, 64)}"`);
      s.reply(WRONGPASS);
      return;
    }
    this.user = u;
    this.refreshCaller(s);
    s.reply(typeof okReply === 'function' ? okReply() : okReply);
  }

  /** HELLO [2 [AUTH user pass] [SETNAME name]] (RESP2 only, as the rest of the proxy). */
  private hello(s: ClientSession, p: RequestParser): void {
    let i = 1;
    let proto: 2 | 3 | null = null;
    if (p.argc >= 2) {
      const v = p.argString(1);
      if (!/^-?\d+$/.test(v)) { s.reply(errorReply('ERR Protocol version is not an integer or out of range')); return; }
      if (Number(v) !== 2 && Number(v) !== 3) { s.reply(errorReply('NOPROTO unsupported protocol version')); return; }
      proto = Number(v) as 2 | 3;
      i = 2;
    }
    let creds: [string, Buffer] | null = null;
    let name: string | undefined;
    for (; i < p.argc; i++) {
      const opt = p.argString(i).toLowerCase();
      const more = p.argc - i - 1;
      if (opt === 'auth' && more >= 2) { creds = [p.argString(i + 1), p.arg(i + 2)]; i += 2; }
      else if (opt === 'setname' && more >= 1) {
        name = p.argString(i + 1);
        if (!/^[\x21-\x7e]*$/.test(name)) { s.reply(errorReply('ERR Client names cannot contain spaces, newlines or special characters.')); return; }
        i += 1;
      } else { s.reply(errorReply(`ERR Syntax error in HELLO option '${p.argString(i)}'`)); return; }
    }
    const answer = (): Buffer => {
      if (name !== undefined) { s.name = name; this.refreshCaller(s); }
      return helloAnswer(s, proto); // switches the client to RESP3 for HELLO 3 (clients/hello.ts)
    };
    if (creds !== null) return this.login(s, creds[0], creds[1], answer);
    if (this.user === null) { this.refuse(s, 'noauth', HELLO_NOAUTH); return; }
    s.reply(answer());
  }

  onImmediateReply(s: ClientSession, reply: Buffer): void {
    if (s.curStat < 0) return;
    this.pg.stats.record(s.curStat, (performance.now() - s.curT0) / 1000, reply[0] === 45);
    this.inflightBytes -= s.curBytes;
    s.curBytes = 0;
    s.curStat = -1;
  }

  onSlotReply(slot: Slot, reply: Buffer): boolean {
    const ext = slot.ext as RequestExt | null;
    if (ext !== null) {
      if (ext.done) return true; // already answered (class timeout); the late reply is dropped
      if (ext.retrying) { ext.retrying = false; this.pg.retryDone(); }
      if (ext.raw !== null && this.pg.shouldRetry(ext, reply) && this.pg.retry!.tryStart(ext)) {
        this.pg.retry!.send(slot, ext);
        return true;
      }
      ext.done = true;
      if (ext.delayMs > 0) {
        setTimeout(() => this.finish(slot, reply), ext.delayMs);
        return true;
      }
    }
    this.account(slot, reply);
    return false;
  }

  /** Stats and bytes-in-flight for a reply about to be delivered. */
  account(slot: Slot, reply: Buffer): void {
    if (slot.stat >= 0) this.pg.stats.record(slot.stat, (performance.now() - slot.t0) / 1000, reply[0] === 45);
    this.inflightBytes -= slot.bytes;
  }

  finish(slot: Slot, reply: Buffer): void {
    this.account(slot, reply);
    slot.fill(reply);
  }
}

function helloReply(id: number): Buffer {
  const bulk = (v: string): RespValue => ({ type: 'bulk', value: Buffer.from(v) });
  const int = (n: number): RespValue => ({ type: 'integer', value: n });
  return encodeValue({ type: 'array', value: [
    bulk('server'), bulk('redis'), bulk('version'), bulk(REDIS_VERSION), bulk('proto'), int(2), bulk('id'), int(id),
    bulk('mode'), bulk('standalone'), bulk('role'), bulk('master'), bulk('modules'), { type: 'array', value: [] }, bulk('proxy'), bulk('trellis'),
  ] }, 2);
}
