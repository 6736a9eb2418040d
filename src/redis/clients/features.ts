/**
 * The proxy's stateful commands in one place: transactions, blocking calls, pub/sub, SCAN,
 * SELECT n, RESP3 (HELLO 3), RESET and the CLIENT family. The command splitter asks
 * `handler(name)` when it compiles a route (these override its defaults), hands every request
 * of a client with state to `intercept` first, and sends blocking calls to `blockingCall`.
 */
import { bulkReply, OK, type RequestParser } from '../../resp/index.js';
import type { RedisPoolConfig } from '../../config/index.js';
import { isBlocking, type CommandSpec } from '../commands/index.js';
import { BlockingCommands } from '../blocking/blocking.js';
import { DbConnections, DedicatedPool } from '../dedicated/index.js';
import { errorReply } from '../errors.js';
import { PubSubCommands } from '../pubsub/pubsub-commands.js';
import { subscribedPong } from '../pubsub/frames.js';
import { PubSubHub, type SubKind } from '../pubsub/pubsub-hub.js';
import { resp3Converter } from '../resp3/convert.js';
import { scan } from '../scan/scan.js';
import type { Router } from '../router.js';
import type { ClientSession } from '../session.js';
import { Transactions } from '../transactions/transaction.js';
import type { ReplyTarget } from '../upstream-connection.js';
import { clientCommand } from './client-commands.js';
import { helloAnswer } from './hello.js';
import { ClientRegistry } from './client-registry.js';
import { ClientState } from './client-state.js';
import type { FeatureContext } from './context.js';

/** Operator view of the stateful features (proxy stats and INFO). */
export interface FeatureStats {
  /** Dedicated upstream connections open now (transactions, blocking calls, SELECT n, subscribers). */
  dedicated_connections: number;
  dedicated_idle: number;
  /** Requests refused because a backend's dedicated-connection budget was used up. */
  dedicated_exhausted: number;
  blocked_clients: number;
  blocked_total: number;
  pubsub_channels: number;
  pubsub_patterns: number;
  pubsub_shard_channels: number;
  /** Messages fanned out to this proxy's subscribers (one per upstream message). */
  pubsub_messages: number;
  /** Subscribers disconnected for falling more than 32 MiB behind (Redis' pubsub output buffer limit). */
  pubsub_slow_clients_closed: number;
}

export type FeatureHandler = (s: ClientSession, p: RequestParser) => void;

const SUBSCRIBED_OK = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);
const RESET = Buffer.from('+RESET\r\n');

function argsFrom(p: RequestParser, from: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = from; i < p.argc; i++) out.push(Buffer.from(p.arg(i)));
  return out;
}

export class StatefulFeatures implements FeatureContext {
  readonly pool: DedicatedPool;
  readonly clients = new ClientRegistry();
  private readonly dbs: DbConnections;
  private readonly tx: Transactions;
  readonly blocking: BlockingCommands;
  readonly pubsub: PubSubHub;
  private readonly pubsubCmds: PubSubCommands;
  private readonly handlers = new Map<string, FeatureHandler>();

  /** basic(name): the proxy's plain local handler for a command (fallback for CLIENT subcommands, HELLO 2). */
  private readonly config: () => RedisPoolConfig;

  constructor(readonly router: Router, config: RedisPoolConfig | (() => RedisPoolConfig), basic: (name: string) => FeatureHandler | undefined) {
    this.config = typeof config === 'function' ? config : () => config;
    this.pool = new DedicatedPool(router, config);
    this.dbs = new DbConnections(this.pool, router);
    this.tx = new Transactions(this);
    this.blocking = new BlockingCommands(this);
    this.pubsub = new PubSubHub(this);
    this.pubsubCmds = new PubSubCommands(this, (n) => this.pubsub.channelShard(n));
    const h = this.handlers;
    h.set('multi', (s) => this.tx.multi(s));
    h.set('exec', (s) => this.tx.exec(s));
    h.set('discard', (s) => this.tx.discard(s));
    h.set('watch', (s, p) => this.tx.watch(s, p));
    h.set('unwatch', (s) => this.tx.unwatch(s));
    for (const [name, kind, on] of [
      ['subscribe', 'channel', true], ['psubscribe', 'pattern', true], ['ssubscribe', 'shard', true],
      ['unsubscribe', 'channel', false], ['punsubscribe', 'pattern', false], ['sunsubscribe', 'shard', false],
    ] as Array<[string, SubKind, boolean]>) {
      h.set(name, (s, p) => {
        this.stateOf(s);
        if (on) this.pubsub.subscribe(s, argsFrom(p, 1), kind);
        else this.pubsub.unsubscribe(s, argsFrom(p, 1), kind);
      });
    }
    h.set('publish', (s, p) => this.pubsubCmds.publish(s, p));
    h.set('spublish', (s, p) => this.pubsubCmds.publish(s, p));
    for (const sub of ['channels', 'numsub', 'numpat', 'shardchannels', 'shardnumsub']) {
      h.set(`pubsub|${sub}`, (s, p) => { this.pubsubCmds.pubsub(s, p, sub); });
    }
    h.set('scan', (s, p) => scan(this, s, p));
    h.set('select', (s, p) => this.select(s, p));
    h.set('hello', (s, p) => this.hello(s, p, basic('hello')));
    h.set('reset', (s) => this.reset(s));
    const basicClient = basic('client') ?? ((s) => s.reply(errorReply('ERR unknown subcommand')));
    h.set('client', clientCommand(this.clients, this.blocking, basicClient));
  }

  handler(name: string): FeatureHandler | undefined { return this.handlers.get(name); }

  stateOf(s: ClientSession): ClientState {
    let st = s.state;
    if (st === null) st = s.state = new ClientState();
    return st;
  }

  sendTo(s: ClientSession, shard: number, raw: Buffer, target: ReplyTarget): void {
    const db = s.state === null ? 0 : s.state.db;
    if (db === 0) this.router.backends[shard].send(s.id, raw, target);
    else this.dbs.send(shard, db, raw, target);
  }

  /** Requests of clients with state come here first; true when answered here. */
  intercept(s: ClientSession, p: RequestParser): boolean {
    const st = s.state!;
    const name = p.commandName();
    st.lastCommand = name;
    st.lastActive = Date.now();
    s.nextConv = null;
    if (st.tx !== null && name !== 'quit' && name !== 'reset') { this.tx.queue(s, p, st); return true; }
    if (st.proto === 2 && st.subscriptions > 0) {
      if (!SUBSCRIBED_OK.has(name)) {
        s.reply(errorReply(`ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`));
        return true;
      }
      if (name === 'ping') { s.reply(p.argc > 2 ? errorReply("ERR wrong number of arguments for 'ping' command") : subscribedPong(p.argc === 2 ? p.arg(1) : null)); return true; }
    }
    if (st.proto === 3 && !this.handlers.has(name)) s.nextConv = resp3Converter(name, p);
    return false;
  }

  /** A blocking command outside MULTI (the splitter detected it). */
  blockingCall(s: ClientSession, p: RequestParser, spec: CommandSpec): void {
    if (!isBlocking(spec, p.argc, (i) => p.arg(i))) return;
    this.blocking.run(s, p, spec);
  }

  private select(s: ClientSession, p: RequestParser): void {
    const v = p.argString(1);
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) return s.reply(errorReply('ERR value is not an integer or out of range'));
    const db = Number(v);
    if (db < 0) return s.reply(errorReply('ERR DB index is out of range'));
    const pinned = this.config().redisDb;
    // twemproxy's redis_db: the pool's one database, which clients see as 0.
    if (pinned !== 0 && db !== 0) return s.reply(errorReply(`ERR SELECT is not allowed: this pool serves database ${pinned} (redis_db) as database 0`));
    if (db === 0) { if (s.state !== null) s.state.db = 0; return s.reply(OK); }
    const st = this.stateOf(s);
    const prev = st.db;
    st.db = db; // at once: commands pipelined after SELECT must go to the new database
    // Every backend must accept the database; a PING on each database connection proves it.
    const n = this.router.backends.length;
    let left = n;
    let err: Buffer | null = null;
    const slot = s.slot();
    const ping = Buffer.from('*1\r\n$4\r\nPING\r\n');
    for (let i = 0; i < n; i++) {
      this.dbs.send(i, db, ping, { onReply: (r) => {
        if (r[0] === 45 && err === null) err = r;
        if (--left > 0) return;
        if (err !== null && st.db === db) st.db = prev;
        slot.onReply(err ?? OK);
      } });
    }
  }

  private hello(s: ClientSession, p: RequestParser, basic: FeatureHandler | undefined): void {
    let proto: 2 | 3 | null = null;
    if (p.argc >= 2) {
      const v = p.argString(1);
      if (!/^-?\d+$/.test(v)) return s.reply(errorReply('ERR Protocol version is not an integer or out of range'));
      const n = Number(v);
      if (n !== 2 && n !== 3) return s.reply(errorReply('NOPROTO unsupported protocol version'));
      proto = n;
    }
    for (let i = proto === null ? 1 : 2; i < p.argc; i++) {
      const opt = p.argString(i).toLowerCase();
      const more = p.argc - i - 1;
      if (opt === 'auth' && more >= 2) {
        if (p.argString(i + 1) !== 'default') return s.reply(errorReply('WRONGPASS invalid username-password pair or user is disabled.'));
        i += 2;
      } else if (opt === 'setname' && more >= 1) {
        const name = p.arg(i + 1);
        for (const c of name) if (c < 33 || c > 126) return s.reply(errorReply('ERR Client names cannot contain spaces, newlines or special characters.'));
        s.name = name.toString();
        i += 1;
      } else return s.reply(errorReply(`ERR Syntax error in HELLO option '${p.argString(i)}'`));
    }
    s.reply(helloAnswer(s, proto));
    void basic;
  }

  private reset(s: ClientSession): void {
    const st = s.state;
    if (st !== null) {
      this.tx.reset(st);
      if (st.blocked !== null) this.blocking.closed(s);
      this.pubsub.closed(s);
      st.db = 0;
      st.proto = 2;
    }
    s.name = '';
    s.nextConv = null;
    s.reply(RESET);
  }

  /** Hot reload changed the backends: database connections are re-made on demand, subscriptions re-placed. */
  reconfigured(): void {
    this.dbs.close();
    this.pubsub.reconfigured();
  }

  onAccept(s: ClientSession): void { this.clients.add(s); }

  onClosed(s: ClientSession): void {
    this.clients.remove(s);
    const st = s.state;
    if (st === null) return;
    this.blocking.closed(s);
    this.tx.closed(st);
    this.pubsub.closed(s);
  }

  /** INFO clients as seen through the proxy: its own connected and blocked clients. */
  patchInfo(reply: Buffer): Buffer {
    if (reply[0] !== 36) return reply;
    const lf = reply.indexOf(10);
    let text = reply.toString('utf8', lf + 1, reply.length - 2);
    text = text.replace(/^connected_clients:\d+/m, `connected_clients:${this.clients.size}`)
      .replace(/^blocked_clients:\d+/m, `blocked_clients:${this.blocking.blocked}`)
      .replace(/^pubsub_clients:\d+/m, `pubsub_clients:${this.clients.all().filter((c) => (c.state?.subscriptions ?? 0) > 0).length}`);
    return bulkReply(text);
  }

  stats(): FeatureStats {
    const d = this.pool.stats();
    const ps = this.pubsub.stats();
    return {
      dedicated_connections: d.open.reduce((a, b) => a + b, 0), dedicated_idle: d.idle, dedicated_exhausted: d.exhausted,
      blocked_clients: this.blocking.blocked, blocked_total: this.blocking.total,
      pubsub_channels: ps.channels, pubsub_patterns: ps.patterns, pubsub_shard_channels: ps.shard_channels, pubsub_messages: ps.messages,
      pubsub_slow_clients_closed: ps.slow_clients,
    };
  }

  /** Lines for the proxy's `# Proxy` INFO section. */
  infoLines(): string[] {
    return Object.entries(this.stats()).map(([k, v]) => `${k}:${v}`);
  }

  close(): void {
    this.pubsub.close();
    this.dbs.close();
    this.pool.close();
  }
}
