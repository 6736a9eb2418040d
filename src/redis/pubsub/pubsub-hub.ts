/**
 * Pub/Sub through the proxy. A channel lives on the backend its name hashes to (like a key),
 * so every Trellis instance in front of the same backends agrees: PUBLISH goes there and
 * SUBSCRIBE listens there. Patterns may match channels on any backend, so PSUBSCRIBE listens
 * on all of them. Sharded channels (SSUBSCRIBE/SPUBLISH) hash the same way. One subscriber
 * connection per backend is shared by all of this proxy's clients, with reference counts per
 * channel/pattern; messages fan out to the subscribed clients (RESP3 clients get `>` pushes).
 * A client's SUBSCRIBE is confirmed only after the backend confirmed it, so no message
 * published after the confirmation is missed. Lost subscriber connections are re-established
 * and re-subscribed.
 */
import { encodeCommand } from '../../resp/index.js';
import type { DedicatedConnection } from '../dedicated/index.js';
import { backendError } from '../errors.js';
import { Fifo } from '../fifo.js';
import { arrayElements } from '../fragments.js';
import type { FeatureContext } from '../clients/context.js';
import type { ClientSession } from '../session.js';
import { bulkPayload, subscriptionFrame } from './frames.js';

export type SubKind = 'channel' | 'pattern' | 'shard';

/** Like Redis' client-output-buffer-limit for pubsub: a subscriber this far behind is disconnected. */
export const SUBSCRIBER_OUTPUT_LIMIT = 32 * 1024 * 1024;

const VERB: Record<SubKind, [string, string]> = {
  channel: ['SUBSCRIBE', 'UNSUBSCRIBE'],
  pattern: ['PSUBSCRIBE', 'PUNSUBSCRIBE'],
  shard: ['SSUBSCRIBE', 'SUNSUBSCRIBE'],
};

/** A subscription waiting for its backends' confirmations. */
class Pending {
  waiters: Array<(err: Buffer | null) => void> = [];
  constructor(public remaining: number, readonly kind: SubKind, readonly name: string) {}
}

class BackendSubscriber {
  conn: DedicatedConnection | null = null;
  /** Confirmations expected, in the order the backend will send them (null = unsubscribe echo). */
  readonly expect = new Fifo<Pending | null>(16);
  retryTimer: NodeJS.Timeout | null = null;
  failures = 0;
}

export class PubSubHub {
  private readonly subs: Record<SubKind, Map<string, Set<ClientSession>>> = { channel: new Map(), pattern: new Map(), shard: new Map() };
  private readonly pending: Record<SubKind, Map<string, Pending>> = { channel: new Map(), pattern: new Map(), shard: new Map() };
  private readonly backends: BackendSubscriber[];
  messages = 0;
  /** Subscribers disconnected for not reading their messages. */
  slowClients = 0;
  private closedHub = false;

  constructor(private readonly ctx: FeatureContext) {
    this.backends = ctx.router.backends.map(() => new BackendSubscriber());
  }

  /**
   * Backends a subscription of this kind and name lives on. Keyspace notifications are
   * published by the backend that owns the key: `__keyspace@N__:key` lives with its key,
   * `__keyevent@N__:event` may come from any backend.
   */
  private shardsOf(kind: SubKind, name: Buffer): number[] {
    if (kind === 'pattern') return this.backends.map((_, i) => i);
    if (kind === 'channel' && name.length > 14 && name[0] === 95 && name[1] === 95) {
      const m = /^__key(space|event)@\d+__:/.exec(name.toString('latin1', 0, Math.min(name.length, 40)));
      if (m !== null) {
        if (m[1] === 'event') return this.backends.map((_, i) => i);
        const sh = this.ctx.router.shardOf(name, m[0].length, name.length);
        return [sh < 0 ? 0 : sh];
      }
    }
    const sh = this.ctx.router.shardOf(name, 0, name.length);
    return [sh < 0 ? 0 : sh];
  }

  channelShard(name: Buffer): number {
    const sh = this.ctx.router.shardOf(name, 0, name.length);
    return sh < 0 ? 0 : sh;
  }

  private clientSet(s: ClientSession, kind: SubKind): Set<string> {
    const st = this.ctx.stateOf(s);
    return kind === 'channel' ? st.channels : kind === 'pattern' ? st.patterns : st.shardChannels;
  }

  private count(s: ClientSession, kind: SubKind): number {
    const st = s.state!;
    return kind === 'shard' ? st.shardChannels.size : st.channels.size + st.patterns.size;
  }

  subscribe(s: ClientSession, names: Buffer[], kind: SubKind): void {
    const mine = this.clientSet(s, kind);
    const verb = VERB[kind][0].toLowerCase();
    for (const nameBuf of names) {
      const name = nameBuf.toString('latin1');
      if (!mine.has(name)) {
        mine.add(name);
        let set = this.subs[kind].get(name);
        if (set === undefined) {
          set = new Set();
          this.subs[kind].set(name, set);
          this.upstream(kind, name, true);
        }
        set.add(s);
      }
      const frame = subscriptionFrame(verb, nameBuf, this.count(s, kind), s.state!.proto);
      const p = this.pending[kind].get(name);
      if (p === undefined) { s.reply(frame); continue; }
      const slot = s.slot();
      p.waiters.push((err) => {
        // the backend did not confirm: the client is not subscribed (it gets the error instead)
        if (err !== null && mine.delete(name)) this.drop(s, kind, name);
        slot.onReply(err ?? frame);
      });
    }
  }

  unsubscribe(s: ClientSession, names: Buffer[], kind: SubKind): void {
    const mine = this.clientSet(s, kind);
    const verb = VERB[kind][1].toLowerCase();
    const list = names.length > 0 ? names : [...mine].map((n) => Buffer.from(n, 'latin1'));
    if (list.length === 0) return s.reply(subscriptionFrame(verb, null, this.count(s, kind), s.state!.proto));
    for (const nameBuf of list) {
      const name = nameBuf.toString('latin1');
      if (mine.delete(name)) this.drop(s, kind, name);
      s.reply(subscriptionFrame(verb, nameBuf, this.count(s, kind), s.state!.proto));
    }
  }

  private drop(s: ClientSession, kind: SubKind, name: string): void {
    const set = this.subs[kind].get(name);
    if (set === undefined) return;
    set.delete(s);
    if (set.size === 0) {
      this.subs[kind].delete(name);
      this.upstream(kind, name, false);
    }
  }

  /** Sends (UN)SUBSCRIBE for one name to the backends it lives on. */
  private upstream(kind: SubKind, name: string, on: boolean): void {
    const nameBuf = Buffer.from(name, 'latin1');
    const shards = this.shardsOf(kind, nameBuf);
    const cmd = encodeCommand([VERB[kind][on ? 0 : 1], nameBuf]);
    let p: Pending | null = null;
    if (on) {
      p = new Pending(shards.length, kind, name);
      this.pending[kind].set(name, p);
    } else {
      const old = this.pending[kind].get(name);
      if (old) this.settle(kind, name, old, null);
    }
    for (const i of shards) {
      const b = this.backends[i];
      const conn = this.connection(i);
      if (conn === null) { if (p) this.confirm(kind, name, p, backendError(this.ctx.router.backends[i].address, 'unavailable')); continue; }
      b.expect.push(p);
      conn.write(cmd);
    }
  }

  private confirm(kind: SubKind, name: string, p: Pending, err: Buffer | null): void {
    if (--p.remaining <= 0 || err !== null) this.settle(kind, name, p, err);
  }

  private settle(kind: SubKind, name: string, p: Pending, err: Buffer | null): void {
    if (this.pending[kind].get(name) === p) this.pending[kind].delete(name);
    const w = p.waiters;
    p.waiters = [];
    p.remaining = 0;
    for (const fn of w) fn(err);
  }

  private connection(i: number): DedicatedConnection | null {
    const b = this.backends[i];
    if (b.conn !== null && !b.conn.closed) return b.conn;
    if (this.closedHub) return null;
    const c = this.ctx.pool.create(i, 0, `sub/${i}`);
    if (Buffer.isBuffer(c)) return null;
    b.conn = c;
    c.onFrame = (f) => this.onFrame(i, f);
    c.onLost = () => this.onLost(i, c);
    return c;
  }

  private onFrame(i: number, f: Buffer): void {
    const b = this.backends[i];
    b.failures = 0;
    if (f[0] === 45) { // an error answers the oldest request
      const p = b.expect.shift();
      if (p) this.confirm(p.kind, p.name, p, f);
      return;
    }
    if (f[0] !== 42 && f[0] !== 62) return;
    const el = arrayElements(f);
    if (el === null || el.length < 3) return;
    const type = bulkPayload(el[0]).toString('latin1');
    if (type === 'message' || type === 'smessage') {
      this.fanOut(this.subs[type === 'message' ? 'channel' : 'shard'].get(bulkPayload(el[1]).toString('latin1')), f);
    } else if (type === 'pmessage') {
      this.fanOut(this.subs.pattern.get(bulkPayload(el[1]).toString('latin1')), f);
    } else if (type === 'subscribe' || type === 'psubscribe' || type === 'ssubscribe' || type.endsWith('unsubscribe')) {
      const p = b.expect.shift();
      if (p) this.confirm(p.kind, p.name, p, null);
    }
  }

  private fanOut(set: Set<ClientSession> | undefined, frame: Buffer): void {
    if (set === undefined) return;
    this.messages++;
    let push: Buffer | null = null;
    for (const s of set) {
      if (s.closed) continue;
      if (s.socket.writableLength > SUBSCRIBER_OUTPUT_LIMIT) { this.slowClients++; s.socket.destroy(); continue; }
      if (s.state!.proto === 3) {
        if (push === null) { push = Buffer.from(frame); push[0] = 62; }
        s.reply(push);
      } else {
        s.reply(frame[0] === 42 ? frame : Buffer.concat([Buffer.from('*'), frame.subarray(1)]));
      }
    }
  }

  /** A subscriber connection broke: fail waiting confirmations, then re-subscribe after a pause. */
  private onLost(i: number, c: DedicatedConnection): void {
    const b = this.backends[i];
    if (b.conn !== c) return;
    b.conn = null;
    const err = c.closeReason ?? backendError(this.ctx.router.backends[i].address, 'unavailable');
    for (let p = b.expect.shift(); p !== undefined; p = b.expect.shift()) {
      if (p) this.confirm(p.kind, p.name, p, err);
    }
    if (this.closedHub || b.retryTimer) return;
    const delay = Math.min(2000, 100 * 2 ** b.failures++);
    b.retryTimer = setTimeout(() => { b.retryTimer = null; this.resubscribe(i); }, delay);
    b.retryTimer.unref();
  }

  private resubscribe(i: number): void {
    for (const kind of ['channel', 'pattern', 'shard'] as SubKind[]) {
      for (const name of this.subs[kind].keys()) {
        const nameBuf = Buffer.from(name, 'latin1');
        if (!this.shardsOf(kind, nameBuf).includes(i)) continue;
        const conn = this.connection(i);
        if (conn === null) return;
        this.backends[i].expect.push(null);
        conn.write(encodeCommand([VERB[kind][0], nameBuf]));
      }
    }
  }

  /**
   * Hot reload changed the backends: channels may hash elsewhere now, so every subscriber
   * connection is closed and all subscriptions are made again under the new placement.
   */
  reconfigured(): void {
    for (const b of this.backends) {
      if (b.retryTimer) clearTimeout(b.retryTimer);
      const c = b.conn;
      b.conn = null;
      if (c) { c.onLost = null; c.onFrame = null; c.close(); }
      for (let p = b.expect.shift(); p !== undefined; p = b.expect.shift()) if (p) this.settle(p.kind, p.name, p, null);
    }
    this.backends.splice(0, this.backends.length, ...this.ctx.router.backends.map(() => new BackendSubscriber()));
    for (let i = 0; i < this.backends.length; i++) this.resubscribe(i);
  }

  /** The client went away: its subscriptions are dropped (and unsubscribed upstream when last). */
  closed(s: ClientSession): void {
    const st = s.state;
    if (st === null) return;
    for (const [kind, set] of [['channel', st.channels], ['pattern', st.patterns], ['shard', st.shardChannels]] as Array<[SubKind, Set<string>]>) {
      for (const name of set) this.drop(s, kind, name);
      set.clear();
    }
  }

  stats(): { channels: number; patterns: number; shard_channels: number; messages: number; slow_clients: number } {
    return { channels: this.subs.channel.size, patterns: this.subs.pattern.size, shard_channels: this.subs.shard.size, messages: this.messages, slow_clients: this.slowClients };
  }

  close(): void {
    this.closedHub = true;
    for (const b of this.backends) {
      if (b.retryTimer) clearTimeout(b.retryTimer);
      b.conn?.close();
    }
  }
}
